from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        from feedback.services import feature_demand_move
        from roadmap.services import feature_merge_participant_register

        # Merging features moves the votes and links that point at them.
        feature_merge_participant_register(feature_demand_move)
