"""Routes of the feedback app under /api/v1/ (included by productops.api.urls)."""

from django.urls import include, path

urlpatterns: list = [
    # Channels: CSV upload, inbound e-mail, signed inbound webhooks.
    path("", include("feedback.api.channel_urls")),
]
