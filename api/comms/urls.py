"""Routes of comms under /api/v1/workspaces/{workspace_slug}/ (included by api.urls).

The close-the-loop previews hang off releases and features (``.../releases/{id}/loop-preview/``,
``.../features/{id}/loop-preview/``): their routers register only that action, so nothing
clashes with the releases and roadmap routes of the same prefix."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.comms import views

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{WORKSPACE}/stakeholders", views.StakeholderViewSet, basename="stakeholder")
router.register(rf"{WORKSPACE}/subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register(rf"{WORKSPACE}/webhook-endpoints", views.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register(rf"{WORKSPACE}/thresholds", views.ThresholdViewSet, basename="threshold")
router.register(rf"{WORKSPACE}/deliveries", views.DeliveryViewSet, basename="delivery")
router.register(rf"{WORKSPACE}/releases", views.ReleaseLoopPreviewViewSet, basename="release-loop")
router.register(rf"{WORKSPACE}/features", views.FeatureLoopPreviewViewSet, basename="feature-loop")

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/comms-settings/",
        views.CommsSettingsView.as_view(),
        name="comms-settings",
    ),
    *router.urls,
]
