from django.apps import AppConfig


class ProductopsConfig(AppConfig):
    name = "productops"
    verbose_name = "Platform"

    def ready(self) -> None:
        # Bounces and complaints the e-mail provider reports through django-anymail's
        # tracking webhooks suppress the address (productops/outbox/tracking.py).
        from anymail.signals import tracking

        from productops.outbox.tracking import tracking_received

        tracking.connect(tracking_received, dispatch_uid="productops.outbox.tracking")

        # The database role's timeouts, set by every migrate (productops/db/roles.py).
        from productops.db.roles import connect_signals

        connect_signals(self)
