from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        from feedback.services import currencies_in_use, feature_demand_move
        from productops.services import currency_users_register
        from roadmap.services import feature_merge_participant_register

        # Merging features moves the votes and links that point at them.
        feature_merge_participant_register(feature_demand_move)
        # A currency some companies' ARR is in keeps its rate.
        currency_users_register(currencies_in_use)
