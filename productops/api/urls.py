"""Routes of /api/v1/. Domain apps register their routes in ``api_routes`` below."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from productops.api import views

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
    path("", include("roadmap.api.urls")),
    path("", include("feedback.api.urls")),
]
