"""Routes of /api/v1/: the platform's own, then each area's URL module."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api.platform import views

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(r"workspaces", views.WorkspaceViewSet, basename="workspace")
router.register(rf"{WORKSPACE}/members", views.MembershipViewSet, basename="membership")
router.register(rf"{WORKSPACE}/invitations", views.InvitationViewSet, basename="invitation")
router.register(rf"{WORKSPACE}/tokens", views.ApiTokenViewSet, basename="api-token")
router.register(rf"{WORKSPACE}/audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    *router.urls,
    path("", include("api.roadmap.urls")),
    path("", include("api.feedback.urls")),
    path("", include("api.releases.urls")),
    path("", include("api.comms.urls")),
]
