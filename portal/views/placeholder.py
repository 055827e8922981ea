"""A stand-in for a page still being built (replaced area by area)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.access import workspace_page


def placeholder(title: str):
    @workspace_page()
    def view(request: HttpRequest, **kwargs: object) -> HttpResponse:
        return render(request, "portal/placeholder.html", {"page_title": title})

    return view
