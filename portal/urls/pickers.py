"""Picker suggestions (portal.views.pickers)."""

from django.urls import path

from portal.views import pickers

urlpatterns = [
    path("pick/<slug:kind>/", pickers.picker, name="picker"),
]
