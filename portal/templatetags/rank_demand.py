"""Demand beside the rank, and the "why #N" sentence, for the team portal's ranked lists.

The sentence is ``priority.explain.rank_sentence`` (pure); these tags only find its inputs in
the template's context: the workspace (its reporting currency), the roadmap settings (the
page's ``settings`` when it has them, else read once per request), the score breakdown on the
feature page, and the scorecard terms a list may have loaded for all its rows at once
(``scorecard_terms``: feature id → terms).
"""

from __future__ import annotations

from typing import Any

from django import template

from priority import explain
from priority.selectors import format_money
from roadmap import selectors as roadmap_selectors
from roadmap.models import RoadmapSettings

register = template.Library()

_CACHE = "_rank_sentence_settings"


def _settings(context: template.Context) -> Any:
    settings_row = context.get("settings")
    if isinstance(settings_row, RoadmapSettings):
        return settings_row
    request = context.get("request")
    cached = getattr(request, _CACHE, None)
    if cached is None:
        cached = roadmap_selectors.roadmap_settings(workspace=context["workspace"])
        if request is not None:
            setattr(request, _CACHE, cached)
    return cached


@register.filter
def money(amount: object, currency: str) -> str:
    """Compact money in the currency: $1.7M, $450k."""
    return format_money(amount or 0, currency or "")


@register.simple_tag(takes_context=True)
def rank_sentence(context: template.Context, feature: Any, move: Any = None) -> str:
    """ "#3 by RICE: reach 2,000 × impact 2 × 80 % ÷ 4 points; 6 companies, $1.7M ARR, 2 deal-blockers"."""
    terms = (context.get("scorecard_terms") or {}).get(feature.pk)
    return explain.rank_sentence(
        feature,
        _settings(context),
        currency=context["workspace"].reporting_currency,
        scorecard_terms=terms,
        move=move,
    )


@register.simple_tag(takes_context=True)
def breakdown_sentence(context: template.Context, feature: Any, breakdown: Any) -> str:
    """The sentence on a page that has the feature's score breakdown (no query)."""
    return explain.rank_sentence(
        feature,
        explain.breakdown_settings(breakdown),
        currency=context["workspace"].reporting_currency,
        scorecard_terms=explain.breakdown_scorecard_terms(breakdown),
    )
