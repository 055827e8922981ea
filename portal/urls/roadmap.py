"""Roadmap pages: the board, timeline, kanban, priority matrix, feature pages, scoring settings."""

from django.urls import path

from portal.views.placeholder import placeholder

urlpatterns = [
    path("roadmap/", placeholder("Roadmap"), name="roadmap-board"),
    path("roadmap/timeline/", placeholder("Timeline"), name="roadmap-timeline"),
    path("roadmap/kanban/", placeholder("Kanban"), name="roadmap-kanban"),
    path("roadmap/matrix/", placeholder("Priority matrix"), name="matrix"),
    path("features/<int:feature_id>/", placeholder("Feature"), name="feature"),
    path("settings/scoring/", placeholder("Scoring"), name="scoring"),
]
