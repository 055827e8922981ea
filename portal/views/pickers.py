"""Picker suggestions: ``pick/<kind>/?q=`` answers the ``<option>`` rows of a picker's datalist.

The query is ``q``, or the value of the form field named by ``field`` (htmx sends the input's
own name and value). For a picker of several values (``multiple=1``) only the text after the
last comma is searched, and each option carries the values before it, so choosing one keeps
them. Viewers may search: every page that shows a picker needs at least that role. At most
``portal.pickers.LIMIT`` options; one query (plus the membership check)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal import pickers
from portal.access import workspace_page


@require_GET
@workspace_page()
def picker(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in pickers.KINDS:
        raise Http404("No such picker.")
    field = request.GET.get("field", "")
    text = request.GET.get("q") or (request.GET.get(field, "") if field and field != "q" else "")
    text = text[:2000]
    before = ""
    if request.GET.get("multiple"):
        before, _, text = text.rpartition(",")
        before = f"{before.strip()}, " if before.strip() else ""
    found = pickers.options(kind=kind, workspace=request.workspace, query=text)
    options = [(before + value, label) for value, label in found]
    return render(request, "portal/partials/picker_options.html", {"options": options})
