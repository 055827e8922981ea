from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The team web portal: server-rendered pages over the apps' services and selectors."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
