"""Routes of the feedback channels (CSV, e-mail, inbound webhooks)."""

urlpatterns: list = []
