"""Workspace settings pages: members and invitations, API tokens."""

from django.urls import path

from portal.views.placeholder import placeholder

urlpatterns = [
    path("settings/members/", placeholder("Members"), name="members"),
    path("settings/tokens/", placeholder("API tokens"), name="tokens"),
]
