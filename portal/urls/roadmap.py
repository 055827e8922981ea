"""Roadmap pages: the board, timeline, kanban, priority matrix, feature pages, scoring settings."""

from django.urls import path

from portal.views import bulk, comments, features, roadmap, scoring

M = "features/<int:feature_id>/metrics/"

urlpatterns = [
    path("roadmap/", roadmap.board, name="roadmap-board"),
    path("roadmap/timeline/", roadmap.timeline, name="roadmap-timeline"),
    path("roadmap/kanban/", roadmap.kanban, name="roadmap-kanban"),
    path("roadmap/matrix/", roadmap.matrix, name="matrix"),
    path("roadmap/closed/", roadmap.closed, name="roadmap-closed"),
    path("features/bulk/", bulk.bulk, name="features-bulk"),
    path("features/<int:feature_id>/", features.feature, name="feature"),
    path("features/<int:feature_id>/comments/", comments.comment_add, name="feature-comment-add"),
    path(
        "features/<int:feature_id>/comments/<int:comment_id>/edit/",
        comments.comment_edit,
        name="feature-comment-edit",
    ),
    path(
        "features/<int:feature_id>/comments/<int:comment_id>/delete/",
        comments.comment_delete,
        name="feature-comment-delete",
    ),
    path("mentions/seen/", comments.mentions_seen, name="mentions-seen"),
    path("features/<int:feature_id>/edit/", features.edit, name="feature-edit"),
    path("features/<int:feature_id>/details/", features.details, name="feature-details"),
    path("features/new/", features.new, name="feature-new"),
    path(
        "features/<int:feature_id>/edit/<slug:section>/", features.edit_section, name="feature-edit-section"
    ),
    path("features/<int:feature_id>/dependencies/", features.dependency_add, name="feature-dependency-add"),
    path(
        "features/<int:feature_id>/dependencies/<int:depends_on_id>/remove/",
        features.dependency_remove,
        name="feature-dependency-remove",
    ),
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
