"""Routes of the feedback app under /api/v1/ (included by api.urls)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api.feedback import themes, views

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{WORKSPACE}/companies", views.CompanyViewSet, basename="company")
router.register(rf"{WORKSPACE}/contacts", views.ContactViewSet, basename="contact")
router.register(rf"{WORKSPACE}/feedback", views.FeedbackItemViewSet, basename="feedback-item")
router.register(rf"{WORKSPACE}/votes", views.VoteViewSet, basename="vote")
router.register(rf"{WORKSPACE}/feedback-links", views.FeedbackLinkViewSet, basename="feedback-link")
router.register(rf"{WORKSPACE}/feedback-themes", themes.ThemeViewSet, basename="feedback-theme")

urlpatterns: list = [
    # Reports, ahead of the item routes so their names are not read as item ids.
    path(
        "workspaces/<slug:workspace_slug>/feedback/volume/",
        views.FeedbackVolumeView.as_view(),
        name="feedback-volume",
    ),
    path(
        "workspaces/<slug:workspace_slug>/feedback/top-features/",
        views.TopFeaturesView.as_view(),
        name="feedback-top-features",
    ),
    path(
        "workspaces/<slug:workspace_slug>/feedback-settings/",
        views.FeedbackSettingsView.as_view(),
        name="feedback-settings",
    ),
    # Channels: CSV upload, inbound e-mail, signed inbound webhooks (ahead of the item routes).
    path("", include("api.feedback.channel_urls")),
    *router.urls,
]
