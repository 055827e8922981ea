"""The global search: ``search/?q=`` finds features, feedback, companies and contacts.

Each kind is one selector (``roadmap.selectors.feature_search``, ``feedback.selectors.
feedback_search`` (the inbox's full-text search), ``company_search``, ``contact_search``):
one query each, at most :data:`RESULTS_PER_KIND` rows, so the page costs the same whatever
the workspace holds. The top bar's box (``portal/static/portal/search.js``) asks for the
same URL with htmx and shows the :data:`PREVIEW_PER_KIND` first of each kind in a dropdown;
without JavaScript the box submits to this page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from feedback import selectors as feedback_selectors
from portal.access import workspace_page
from productops.search import QUERY_MAX_LENGTH, SEARCH_LIMIT
from roadmap import selectors as roadmap_selectors

RESULTS_PER_KIND = SEARCH_LIMIT
PREVIEW_PER_KIND = 5
QUERY_MIN_LENGTH = 2


@dataclass(frozen=True)
class ResultGroup:
    kind: str
    label: str
    rows: list
    more: bool  # more rows than shown match


SEARCHES = (
    ("features", "Features", roadmap_selectors.feature_search),
    ("feedback", "Feedback", feedback_selectors.feedback_search),
    ("companies", "Companies", feedback_selectors.company_search),
    ("contacts", "Contacts", feedback_selectors.contact_search),
)


def search_groups(*, workspace, query: str, per_kind: int) -> list[ResultGroup]:
    """One group per kind, in :data:`SEARCHES`' order: its first ``per_kind`` rows, and whether
    there are more (one more row is read to know)."""
    groups = []
    for kind, label, search in SEARCHES:
        rows = list(search(workspace=workspace, query=query, limit=per_kind + 1))
        groups.append(ResultGroup(kind, label, rows[:per_kind], len(rows) > per_kind))
    return groups


@require_GET
@workspace_page()
def search(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "")[:QUERY_MAX_LENGTH].split())
    preview = bool(request.htmx) and not request.htmx.boosted
    too_short = 0 < len(query) < QUERY_MIN_LENGTH
    groups = []
    if len(query) >= QUERY_MIN_LENGTH:
        per_kind = PREVIEW_PER_KIND if preview else RESULTS_PER_KIND
        groups = search_groups(workspace=request.workspace, query=query, per_kind=per_kind)
    context = {
        "query": query,
        "groups": groups,
        "found": sum(len(g.rows) for g in groups),
        "too_short": too_short,
        "min_length": QUERY_MIN_LENGTH,
        "per_kind": RESULTS_PER_KIND,
        "preview": preview,
    }
    template = "portal/search/_dropdown.html" if preview else "portal/search/page.html"
    return render(request, template, context)
