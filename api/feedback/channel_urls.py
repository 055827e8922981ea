"""Routes of the feedback channels (CSV, e-mail, inbound webhooks), under /api/v1/.

Included by ``api.feedback.urls`` ahead of the feedback item routes, so
``feedback/import-csv/`` and ``feedback/inbound-email/`` are not read as item ids.
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.feedback import channels

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{WORKSPACE}/inbound-webhooks", channels.InboundWebhookViewSet, basename="inbound-webhook")

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/feedback/import-csv/",
        channels.FeedbackCsvImportView.as_view(),
        name="feedback-import-csv",
    ),
    path(
        "workspaces/<slug:workspace_slug>/feedback/inbound-email/",
        channels.FeedbackInboundEmailView.as_view(),
        name="feedback-inbound-email",
    ),
    # Not under a workspace: the signature's secret identifies the webhook and so the workspace.
    path(
        "inbound/<str:public_id>/",
        channels.InboundWebhookReceiveView.as_view(),
        name="inbound-webhook-receive",
    ),
    *router.urls,
]
