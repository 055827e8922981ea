"""Routes of the roadmap under /api/v1/workspaces/{workspace_slug}/ (included by api.urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.roadmap import comments, saved_views, views

WORKSPACE = r"workspaces/(?P<workspace_slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register(rf"{WORKSPACE}/products", views.ProductViewSet, basename="product")
router.register(rf"{WORKSPACE}/saved-views", saved_views.SavedViewViewSet, basename="saved-view")
router.register(rf"{WORKSPACE}/share-links", saved_views.ShareLinkViewSet, basename="share-link")
router.register(rf"{WORKSPACE}/goals", views.GoalViewSet, basename="goal")
router.register(rf"{WORKSPACE}/key-results", views.KeyResultViewSet, basename="key-result")
router.register(rf"{WORKSPACE}/initiatives", views.InitiativeViewSet, basename="initiative")
router.register(rf"{WORKSPACE}/teams", views.TeamViewSet, basename="team")
router.register(rf"{WORKSPACE}/team-capacities", views.TeamCapacityViewSet, basename="team-capacity")
router.register(rf"{WORKSPACE}/features", views.FeatureViewSet, basename="feature")
router.register(
    rf"{WORKSPACE}/features/(?P<feature_id>[0-9]+)/comments",
    comments.FeatureCommentViewSet,
    basename="feature-comment",
)
router.register(
    rf"{WORKSPACE}/scorecard-criteria", views.ScorecardCriterionViewSet, basename="scorecard-criterion"
)
router.register(rf"{WORKSPACE}/tags", views.TagViewSet, basename="tag")
router.register(rf"{WORKSPACE}/competitors", views.CompetitorViewSet, basename="competitor")

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/roadmap-settings/",
        views.RoadmapSettingsView.as_view(),
        name="roadmap-settings",
    ),
    path(
        "workspaces/<slug:workspace_slug>/capacity-fit/", views.CapacityFitView.as_view(), name="capacity-fit"
    ),
    path("workspaces/<slug:workspace_slug>/roadmap/", views.RoadmapView.as_view(), name="roadmap"),
    *router.urls,
]
