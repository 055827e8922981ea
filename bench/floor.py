"""The floor of the API benchmark (bench/api_load.py): the least a Django view can do to
answer the features list's page, on the same stack.

``GET /bench/floor/<slug>/features/?page_size=50`` answers, without authentication, the
same page of the workspace's features as ``GET /api/v1/workspaces/<slug>/features/
?ordering=priority_rank`` (same size, same order: rank, unranked last, then id) with the
feature's own columns from ``.values()``, as JSON: one query, no serializer, no
permission, no throttle, no pagination count. Whatever the app spends above this is its
own. It is served only by the benchmark's settings (``bench.floor_settings``, whose
``ROOT_URLCONF`` is ``bench.floor_urls``: the app's URLs plus the floors), never in production.
"""

from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, JsonResponse

from roadmap.models import Feature

#: The feature's own columns that the API's feature answer carries (relations as their ids).
COLUMNS = (
    "id", "title", "description", "public_title", "release_note", "product_id", "initiative_id",
    "status", "status_changed_at", "horizon", "planned_start", "target_date", "effort", "owner_id",
    "team_id", "is_public", "merged_into_id", "reach", "impact", "confidence_pct", "ice_impact",
    "ice_confidence", "ice_ease", "business_value", "time_criticality", "risk_reduction", "job_size",
    "value", "score_rice", "score_ice", "score_wsjf", "score_value_effort", "score_customer_impact",
    "requesting_companies", "score_scorecard", "priority_score", "priority_rank", "score_state",
    "scores_computed_at", "created_at", "updated_at",
)  # fmt: skip
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


def features_page(request: HttpRequest, slug: str) -> JsonResponse:
    """The first page of the workspace's features by priority, as JSON."""
    try:
        size = min(int(request.GET.get("page_size", PAGE_SIZE)), MAX_PAGE_SIZE)
    except ValueError:
        size = PAGE_SIZE
    rows = list(
        Feature.objects.filter(workspace__slug=slug)
        .order_by(F("priority_rank").asc(nulls_last=True), "id")
        .values(*COLUMNS)[:size]
    )
    return JsonResponse({"results": rows})
