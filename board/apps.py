from django.apps import AppConfig


class BoardConfig(AppConfig):
    """The customer-facing public feedback board and public roadmap (opt-in per workspace)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "board"
