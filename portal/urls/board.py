"""The public board's settings page inside the team portal (the public pages are the board app's)."""

from django.urls import path

from portal.views.placeholder import placeholder

urlpatterns = [
    path("settings/public-board/", placeholder("Public board"), name="board-settings"),
]
