from django.apps import AppConfig


class PriorityConfig(AppConfig):
    """The priority engine (no models: its state lives on the roadmap's features and settings)."""

    name = "priority"
    verbose_name = "Priority engine"

    def ready(self) -> None:
        # The tasks register with Celery in every process, not only where autodiscovery runs:
        # the roadmap sends the recompute by name and a test worker must know it.
        from priority import tasks  # noqa: F401
        from priority.health import recompute_probe
        from priority.services import rescore_after_currency_change
        from productops.health import register_probe
        from productops.services import currency_listeners_register

        register_probe("priority_recompute", recompute_probe)
        # New rates change every company's weight: re-score the workspace.
        currency_listeners_register(rescore_after_currency_change)
