"""The public board's settings page inside the team portal (the public pages are the board app's)."""

from django.urls import path

from portal.views import board as team

urlpatterns = [
    path("settings/public-board/", team.board_settings, name="board-settings"),
    path("settings/public-board/changelog/", team.changelog_settings, name="board-changelog"),
    path(
        "settings/public-board/comments/<int:comment_id>/",
        team.comment_moderate,
        name="board-comment-moderate",
    ),
]
