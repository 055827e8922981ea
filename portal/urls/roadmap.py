"""Roadmap pages: the board, timeline, kanban, priority matrix, feature pages, scoring settings."""

from django.urls import path

from portal.views import features, roadmap, scoring

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
    path("settings/scoring/", scoring.scoring, name="scoring"),
    path("settings/scoring/preview/", scoring.preview, name="scoring-preview"),
    path("settings/scoring/criteria/", scoring.criterion_add, name="scoring-criterion-add"),
    path(
        "settings/scoring/criteria/<int:criterion_id>/delete/",
        scoring.criterion_delete,
        name="scoring-criterion-delete",
    ),
]
