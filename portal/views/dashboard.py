"""The workspace dashboard: top priorities (with the demand beside each rank and why it is
there), what moved this week and why, the features most requested by revenue, deal-blockers
not planned, feedback volume, key results, releases coming up and success metrics due for
review."""

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
from roadmap.models import ScoringModel

TOP_PRIORITIES = 10
VOLUME_WEEKS = 12
MOVERS = 10
MOST_REQUESTED = 8
DEAL_BLOCKERS = 8


@workspace_page()
def dashboard(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    now = timezone.now()
    settings_row = roadmap_selectors.roadmap_settings(workspace=workspace)
    top = roadmap_selectors.feature_rank_list(workspace=workspace, limit=TOP_PRIORITIES)
    scorecard_terms = (
        priority_selectors.scorecard_terms_by_feature(
            workspace=workspace, features=top, settings_row=settings_row
        )
        if settings_row.scoring_model == ScoringModel.SCORECARD
        else {}
    )
    movers = priority_selectors.rank_moves_explained(
        workspace=workspace, since=now - timedelta(days=7), limit=MOVERS
    )
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
            "scorecard_terms": scorecard_terms,
            "movers": movers,
            "most_requested": feedback_selectors.top_features(workspace=workspace, limit=MOST_REQUESTED),
            "deal_blockers": priority_selectors.deal_blockers_unplanned(
                workspace=workspace, limit=DEAL_BLOCKERS
            ),
            "volume_chart": volume_chart,
            "volume_total": sum(count for _, count in weekly),
            "key_results": key_results,
            "upcoming_releases": release_selectors.upcoming_releases(workspace=workspace),
            "reviews_due": reviews_due,
            "settings": settings_row,
            **_mentions(request),
        },
    )


def _mentions(request: HttpRequest) -> dict:
    """The "Mentions" panel (portal/roadmap/_mentions_panel.html): the member's latest mentions."""
    mentions = roadmap_selectors.mentions_for(request.user, request.workspace)
    return {"mentions": mentions, "mentions_unseen": sum(1 for m in mentions if m.seen_at is None)}
