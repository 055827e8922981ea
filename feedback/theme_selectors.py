"""Reads of themes: the list with each theme's typical items, one theme's items, the last run."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from feedback.models import FeedbackItem, Theme, ThemeMember, ThemeRun
from feedback.themes import TYPICAL
from productops.models import Workspace


def _members() -> QuerySet[ThemeMember]:
    return ThemeMember.objects.select_related("item__company", "item__contact__company").order_by(
        "rank", "id"
    )


def theme_list(*, workspace: Workspace | int, period_days: int | None = None) -> QuerySet[Theme]:
    """The workspace's themes (of one period if given), largest first, each with its
    ``typical`` members prefetched (the ``TYPICAL`` closest to the centroid, with item and
    company): a page costs a constant number of queries."""
    themes = Theme.objects.for_workspace(workspace).defer("centroid").order_by("-size", "id")
    if period_days is not None:
        themes = themes.filter(period_days=period_days)
    return themes.prefetch_related(Prefetch("members", queryset=_members()[:TYPICAL], to_attr="typical"))


def theme_members(*, theme: Theme) -> QuerySet[ThemeMember]:
    """The theme's members, most typical first, with their item and its company."""
    return _members().filter(theme=theme)


def theme_member_items(*, theme: Theme) -> QuerySet[FeedbackItem]:
    """The theme's feedback items (a "wrong theme" target is looked up among them)."""
    return FeedbackItem.objects.filter(pk__in=ThemeMember.objects.filter(theme=theme).values("item_id"))


def theme_run(*, workspace: Workspace | int, period_days: int) -> ThemeRun | None:
    """The last run of the period (None: never computed)."""
    return (
        ThemeRun.objects.for_workspace(workspace).filter(period_days=period_days).defer("centroids").first()
    )
