from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"

    def ready(self) -> None:
        # The roadmap sits below: it asks the releases app, through a registry, whether a
        # product's version scheme is in use before letting it change.
        # A feature merged away takes its place in a release with it.
        from releases import services
        from roadmap.services import feature_merge_participant_register, product_version_scheme_users_register

        product_version_scheme_users_register(services.product_uses_version_scheme)
        feature_merge_participant_register(services.scope_follow_merge)
