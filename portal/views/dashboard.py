"""The workspace dashboard: top priorities, what moved this week, feedback volume, key results,
releases coming up and success metrics due for review."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from feedback import selectors as feedback_selectors
from portal import charts
from portal.access import workspace_page
from priority import selectors as priority_selectors
from releases import selectors as release_selectors
from roadmap import selectors as roadmap_selectors

TOP_PRIORITIES = 10
VOLUME_WEEKS = 12


@workspace_page()
def dashboard(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    now = timezone.now()
    top = roadmap_selectors.feature_rank_list(workspace=workspace, limit=TOP_PRIORITIES)
    movers = priority_selectors.priority_movers(workspace=workspace, since=now - timedelta(days=7))
    weekly = feedback_selectors.feedback_weekly_totals(workspace=workspace, weeks=VOLUME_WEEKS, now=now)
    volume_chart = charts.columns(
        [(week.strftime("%d %b"), count) for week, count in weekly],
        title=f"Feedback received per week, last {VOLUME_WEEKS} weeks",
    )
    key_results = list(roadmap_selectors.key_result_list(workspace=workspace))
    reviews_due = [
        {"metric": metric, "actual": release_selectors.metric_actual(metric)}
        for metric in release_selectors.metric_reviews_due(workspace=workspace)
    ]
    return render(
        request,
        "portal/dashboard.html",
        {
            "top": top,
            "movers": movers[:10],
            "volume_chart": volume_chart,
            "volume_total": sum(count for _, count in weekly),
            "key_results": key_results,
            "upcoming_releases": release_selectors.upcoming_releases(workspace=workspace),
            "reviews_due": reviews_due,
            "settings": roadmap_selectors.roadmap_settings(workspace=workspace),
        },
    )
