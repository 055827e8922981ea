"""Roadmap pages: the board, timeline, kanban, priority matrix, feature pages, scoring settings."""

from django.urls import path

from portal.views import features, roadmap, scoring

M = "features/<int:feature_id>/metrics/"

urlpatterns = [
    path("roadmap/", roadmap.board, name="roadmap-board"),
    path("roadmap/timeline/", roadmap.timeline, name="roadmap-timeline"),
    path("roadmap/kanban/", roadmap.kanban, name="roadmap-kanban"),
    path("roadmap/matrix/", roadmap.matrix, name="matrix"),
    path("features/<int:feature_id>/", features.feature, name="feature"),
    path("features/<int:feature_id>/edit/", features.edit, name="feature-edit"),
    path("features/<int:feature_id>/details/", features.details, name="feature-details"),
    path("features/<int:feature_id>/horizon/", roadmap.move, name="feature-move"),
    path("features/<int:feature_id>/status/", roadmap.change_status, name="feature-status"),
    path(M, features.metric_add, name="feature-metric-add"),
    path(M + "<int:metric_id>/", features.metric_edit, name="feature-metric-edit"),
    path(M + "<int:metric_id>/actuals/", features.metric_actual, name="feature-metric-actual"),
    path(M + "<int:metric_id>/review/", features.metric_review, name="feature-metric-review"),
    path(M + "<int:metric_id>/delete/", features.metric_delete, name="feature-metric-delete"),
    path("settings/scoring/", scoring.scoring, name="scoring"),
    path("settings/scoring/preview/", scoring.preview, name="scoring-preview"),
    path("settings/scoring/criteria/", scoring.criterion_add, name="scoring-criterion-add"),
    path(
        "settings/scoring/criteria/<int:criterion_id>/delete/",
        scoring.criterion_delete,
        name="scoring-criterion-delete",
    ),
]
