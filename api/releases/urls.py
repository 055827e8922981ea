"""Routes of releases under /api/v1/workspaces/{workspace_slug}/ (included by api.urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.releases import views

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{WORKSPACE}/releases", views.ReleaseViewSet, basename="release")
router.register(rf"{WORKSPACE}/scope-items", views.ScopeItemViewSet, basename="scope-item")
router.register(rf"{WORKSPACE}/checklist-tasks", views.ChecklistTaskViewSet, basename="checklist-task")
router.register(
    rf"{WORKSPACE}/checklist-template", views.ChecklistTemplateViewSet, basename="checklist-template-item"
)
router.register(rf"{WORKSPACE}/success-metrics", views.SuccessMetricViewSet, basename="success-metric")

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/release-settings/",
        views.ReleaseSettingsView.as_view(),
        name="release-settings",
    ),
    path(
        "workspaces/<slug:workspace_slug>/changelog-settings/",
        views.ChangelogSettingsView.as_view(),
        name="changelog-settings",
    ),
    *router.urls,
]
