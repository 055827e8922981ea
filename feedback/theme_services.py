"""Writes of themes: the recompute (the worker's, on a schedule and on demand), a feature
from a theme, a theme linked to a feature, and "wrong theme".

The clustering itself is pure (feedback.themes); this module reads the period's feedback,
its vectors (feedback.vectors), and stores the result so that a theme keeps its id from run
to run while it keeps most of its members.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from feedback import embeddings, themes, vectors
from feedback.embeddings import DIMENSIONS
from feedback.models import (
    Company,
    FeedbackItem,
    FeedbackLink,
    Importance,
    Theme,
    ThemeDismissal,
    ThemeMember,
    ThemeRun,
)
from feedback.theme_models import PERIOD_CHOICES
from productops.db import long_transaction
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.services import audit_record, require_role
from productops.sql import workspace_rates
from productops.tasking import enqueue_on_commit
from roadmap.models import Feature

PERIODS = tuple(days for days, _ in PERIOD_CHOICES)
#: The most recent unlinked items a run clusters (the view says when there were more).
MAX_ITEMS = 10_000
RECOMPUTE_TASK = "feedback.tasks.themes_recompute"
CENTS = Decimal("0.01")


def check_period(period_days: Any) -> int:
    if period_days not in PERIODS:
        raise ValidationFailed(
            f"Choose one of {', '.join(map(str, PERIODS))} days.", attr="period_days", code="invalid_choice"
        )
    return int(period_days)


# --- what a run reads ------------------------------------------------------------------


def _open_items(workspace_id: int, start: datetime, end: datetime):
    """Feedback of [start, end) that is not merged or archived, linked or not."""
    return (
        FeedbackItem.objects.filter(
            workspace_id=workspace_id, received_at__gte=start, received_at__lt=end, merged_into__isnull=True
        )
        .exclude(state=FeedbackItem.State.ARCHIVED)
        .order_by("-received_at", "-id")
    )


def unlinked_items(workspace_id: int, start: datetime, end: datetime):
    """What themes cluster: open feedback of [start, end) with no link to a feature."""
    linked = FeedbackLink.objects.filter(item_id=OuterRef("pk"))
    return _open_items(workspace_id, start, end).filter(~Exists(linked))


def theme_vectors(*, workspace_id: int, item_ids: list[int]) -> tuple[list[int], np.ndarray]:
    """The items that can be embedded (their stored vectors made first where missing or
    stale), with their contextual unit vectors (``embeddings.embed_in_context``); ids sorted."""
    if not item_ids:
        return [], np.zeros((0, DIMENSIONS), dtype=np.float32)
    ids = vectors.items_with_vector(workspace_id=workspace_id, item_ids=item_ids)
    texts = dict(FeedbackItem.objects.filter(pk__in=ids).values_list("pk", "text"))
    ids = [pk for pk in ids if pk in texts]  # deleted since
    threads = settings.FEEDBACK_THEMES_THREADS
    return ids, embeddings.embed_in_context([texts[pk] for pk in ids], threads=threads)


def _recent_ids(queryset) -> list[int]:
    return sorted(queryset.values_list("pk", flat=True)[:MAX_ITEMS])


def _decode(data: bytes | memoryview | None) -> np.ndarray | None:
    raw = bytes(data or b"")
    if not raw or len(raw) % (4 * DIMENSIONS):
        return None
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, DIMENSIONS).copy()


def _encode(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype=np.float32).tobytes()


def theme_centroid(theme: Theme) -> np.ndarray:
    """The theme's unit centroid (float32, ``DIMENSIONS``)."""
    return np.frombuffer(bytes(theme.centroid), dtype=np.float32).copy()


def _demand(
    workspace: Workspace, item_ids: list[int], companies_of: Mapping[int, int | None]
) -> tuple[int, Decimal]:
    """Distinct companies of the items and their ARR in the reporting currency."""
    company_ids = {companies_of[pk] for pk in item_ids if companies_of.get(pk) is not None}
    if not company_ids:
        return 0, Decimal("0.00")
    rates = workspace_rates(workspace)
    total = Decimal(0)
    for arr, currency in Company.objects.filter(pk__in=company_ids).values_list("arr", "arr_currency"):
        total += Decimal(arr) * Decimal(str(rates.get(currency, 0.0)))
    return len(company_ids), total.quantize(CENTS)


def _companies_of(item_ids: list[int]) -> dict[int, int | None]:
    rows = FeedbackItem.objects.filter(pk__in=item_ids).values_list("pk", "company_id", "contact__company_id")
    return {pk: company or contact_company for pk, company, contact_company in rows}


# --- the recompute ---------------------------------------------------------------------


def themes_recompute(*, workspace_id: int, period_days: int = 30, now: datetime | None = None) -> list[Theme]:
    """Cluster the unlinked feedback of the last ``period_days`` (the ``MAX_ITEMS`` most
    recent) and store the themes, largest first.

    A new cluster takes the id of the previous theme it shares most members with (Jaccard
    ≥ 0.5, best pair first); the others are new themes, and previous themes nobody took are
    deleted. Items dismissed from a theme ("wrong theme") are never put back in it. k-means
    starts from the previous run's centroids, so unchanged data gives the same themes.
    Runs of one workspace and period are serialised (the run row is locked)."""
    period_days = check_period(period_days)
    workspace = Workspace.objects.get(pk=workspace_id)
    now = now or timezone.now()
    start, previous_start = now - timedelta(days=period_days), now - timedelta(days=2 * period_days)

    candidates = unlinked_items(workspace_id, start, now + timedelta(microseconds=1))
    candidate_count = candidates.count()
    ids, matrix = theme_vectors(workspace_id=workspace_id, item_ids=_recent_ids(candidates))
    # The trend: open feedback (linked or not) of this period and of the one before.
    _current_ids, current_matrix = theme_vectors(
        workspace_id=workspace_id,
        item_ids=_recent_ids(_open_items(workspace_id, start, now + timedelta(microseconds=1))),
    )
    _before_ids, before_matrix = theme_vectors(
        workspace_id=workspace_id, item_ids=_recent_ids(_open_items(workspace_id, previous_start, start))
    )

    with long_transaction():
        run, _ = ThemeRun.objects.get_or_create(workspace_id=workspace_id, period_days=period_days)
        run = ThemeRun.objects.select_for_update().get(pk=run.pk)
        clustering = themes.cluster(matrix, previous_centroids=_decode(run.centroids))
        clusters = clustering.clusters
        member_ids = [[ids[row] for row in c.members] for c in clusters]

        previous = list(Theme.objects.filter(workspace_id=workspace_id, period_days=period_days))
        previous_members: dict[int, set[int]] = {t.pk: set() for t in previous}
        for theme_id, item_id in ThemeMember.objects.filter(theme__in=previous).values_list(
            "theme_id", "item_id"
        ):
            previous_members[theme_id].add(item_id)
        dismissed: dict[int, set[int]] = {}
        for theme_id, item_id in ThemeDismissal.objects.filter(theme__in=previous).values_list(
            "theme_id", "item_id"
        ):
            dismissed.setdefault(theme_id, set()).add(item_id)
        taken = themes.match_previous(member_ids, previous_members)

        texts = dict(FeedbackItem.objects.filter(pk__in=ids).values_list("pk", "text"))
        words = themes.label([[texts[pk] for pk in members] for members in member_ids])
        centroids = np.array([c.centroid for c in clusters], dtype=np.float32).reshape(-1, DIMENSIONS)
        trend_now = np.bincount(themes.assign(current_matrix, centroids) + 1, minlength=len(clusters) + 1)[1:]
        trend_before = np.bincount(themes.assign(before_matrix, centroids) + 1, minlength=len(clusters) + 1)[
            1:
        ]
        companies_of = _companies_of([pk for members in member_ids for pk in members])

        by_id = {t.pk: t for t in previous}
        kept: list[Theme] = []
        members_rows: list[ThemeMember] = []
        run_number = run.number + 1
        for index, found in enumerate(clusters):
            theme = by_id.get(taken[index]) if taken[index] is not None else None
            if theme is None:
                theme = Theme(workspace_id=workspace_id, period_days=period_days)
            out = dismissed.get(theme.pk, set()) if theme.pk else set()
            rows = [
                (pk, float(similarity))
                for pk, similarity in zip(member_ids[index], found.similarities, strict=True)
                if pk not in out
            ]
            company_count, arr = _demand(workspace, [pk for pk, _ in rows], companies_of)
            theme.label = ", ".join(words[index]) or f"Theme of {len(rows)} items"
            theme.words = words[index]
            theme.centroid = found.centroid.astype(np.float32).tobytes()
            theme.cohesion = round(found.cohesion, 4)
            theme.size = len(rows)
            theme.company_count = company_count
            theme.arr = arr
            theme.arr_currency = workspace.reporting_currency
            theme.trend_current = int(trend_now[index])
            theme.trend_previous = int(trend_before[index])
            theme.run_number = run_number
            theme.computed_at = now
            theme.save()
            kept.append(theme)
            members_rows += [
                ThemeMember(
                    workspace_id=workspace_id,
                    theme=theme,
                    item_id=pk,
                    similarity=round(similarity, 4),
                    rank=rank,
                )
                for rank, (pk, similarity) in enumerate(rows)
            ]
        kept_ids = {t.pk for t in kept}
        Theme.objects.filter(pk__in=[t.pk for t in previous if t.pk not in kept_ids]).delete()
        ThemeMember.objects.filter(theme_id__in=kept_ids).delete()
        ThemeMember.objects.bulk_create(members_rows, batch_size=2000)

        run.number = run_number
        run.computed_at = now
        run.item_count = len(ids)
        run.candidate_count = candidate_count
        run.sampled = candidate_count > MAX_ITEMS
        run.theme_count = len(kept)
        run.centroids = _encode(clustering.centroids)
        run.save()
    kept.sort(key=lambda t: (-t.size, t.pk))
    return kept


def themes_recompute_request(*, workspace: Workspace, actor: User | None, period_days: int = 30) -> int:
    """ "Recompute themes": the worker recomputes the period's themes after the commit.
    Returns the period."""
    from feedback import tasks

    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    period_days = check_period(period_days)
    enqueue_on_commit(tasks.themes_recompute, workspace.pk, period_days)
    return period_days


def workspaces_with_themes_to_compute() -> list[int]:
    """Workspaces with open unlinked feedback in the longest period, or themes to clear."""
    now = timezone.now()
    start = now - timedelta(days=max(PERIODS))
    with_feedback = set(unlinked_items_any(start).values_list("workspace_id", flat=True).distinct())
    with_themes = set(ThemeRun.objects.values_list("workspace_id", flat=True).distinct())
    return sorted(with_feedback | with_themes)


def unlinked_items_any(start: datetime):
    linked = FeedbackLink.objects.filter(item_id=OuterRef("pk"))
    return (
        FeedbackItem.objects.filter(received_at__gte=start, merged_into__isnull=True)
        .exclude(state=FeedbackItem.State.ARCHIVED)
        .filter(~Exists(linked))
        .order_by()
    )


# --- acting on a theme -----------------------------------------------------------------


def theme_open_items(theme: Theme) -> list[FeedbackItem]:
    """The theme's items that can still be linked (not merged, not archived), most typical
    first."""
    members = (
        ThemeMember.objects.filter(theme=theme, item__merged_into__isnull=True)
        .exclude(item__state=FeedbackItem.State.ARCHIVED)
        .select_related("item__workspace")
        .order_by("rank", "id")
    )
    return [member.item for member in members]


def _check_importance(importance: str | None) -> None:
    if importance is not None and importance not in Importance.values:
        raise ValidationFailed("Unknown importance.", attr="importance", code="invalid_choice")


@transaction.atomic
def theme_create_feature(
    *, theme: Theme, actor: User | None, data: Mapping[str, Any], importance: str | None = None
) -> Feature:
    """A feature from the theme (``feedback.services.feature_create_from_feedback``): the title
    defaults to the theme's label, the product is required, and every open item of the theme
    is linked, each with ``importance`` or its own, so each company counts once in its demand.
    One transaction: a refusal writes nothing."""
    from feedback.services import (
        MAX_FEATURE_FROM_FEEDBACK_ITEMS,
        feature_create_from_feedback,
        feedback_link_create,
    )

    workspace = theme.workspace
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_importance(importance)
    items = theme_open_items(theme)
    if not items:
        raise ValidationFailed("This theme has no open feedback left.", attr="theme", code="empty_theme")
    values = dict(data)
    if not str(values.get("title") or "").strip():
        values["title"] = theme.label[:200]
    first, rest = items[:MAX_FEATURE_FROM_FEEDBACK_ITEMS], items[MAX_FEATURE_FROM_FEEDBACK_ITEMS:]
    feature = feature_create_from_feedback(
        workspace=workspace, actor=actor, items=first, data=values, importance=importance
    )
    for item in rest:
        feedback_link_create(
            item=item, feature=feature, importance=importance or item.importance, actor=actor
        )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=theme,
        changes={"feature_created": feature.pk, "items": len(items)},
    )
    return feature


@transaction.atomic
def theme_link_feature(
    *, theme: Theme, actor: User | None, feature: Feature, importance: str | None = None
) -> int:
    """Link every open item of the theme to an existing feature, each with ``importance`` or
    its own (``feedback.services.feedback_link_create``); items linked to it already are
    skipped. Returns how many were linked. A declined or merged feature is a 409."""
    from feedback.services import _check_feature, feedback_link_create

    workspace = theme.workspace
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_importance(importance)
    _check_feature(workspace, feature)
    linked = set(FeedbackLink.objects.filter(feature=feature).values_list("item_id", flat=True))
    items = [item for item in theme_open_items(theme) if item.pk not in linked]
    for item in items:
        feedback_link_create(
            item=item, feature=feature, importance=importance or item.importance, actor=actor
        )
    if items:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=theme,
            changes={"feature_linked": feature.pk, "items": len(items)},
        )
    return len(items)


@transaction.atomic
def theme_item_dismiss(*, theme: Theme, item: FeedbackItem, actor: User | None) -> ThemeDismissal:
    """ "Wrong theme": take the item out of the theme (its size, companies and ARR follow), and
    keep it out on later runs. Dismissing it again changes nothing."""
    workspace = theme.workspace
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    if item.workspace_id != theme.workspace_id:
        raise ValidationFailed("Not found in this workspace.", attr="item", code="does_not_exist")
    theme = Theme.objects.select_for_update().get(pk=theme.pk)
    existing = ThemeDismissal.objects.filter(theme=theme, item=item).first()
    if existing is not None:
        return existing
    if not ThemeMember.objects.filter(theme=theme, item=item).exists():
        raise ValidationFailed("This item is not in the theme.", attr="item", code="not_a_member")
    dismissal = ThemeDismissal.objects.create(
        workspace_id=theme.workspace_id, theme=theme, item=item, dismissed_by=actor
    )
    ThemeMember.objects.filter(theme=theme, item=item).delete()
    remaining = list(ThemeMember.objects.filter(theme=theme).values_list("item_id", flat=True))
    theme.size = len(remaining)
    theme.company_count, theme.arr = _demand(workspace, remaining, _companies_of(remaining))
    theme.save(update_fields=["size", "company_count", "arr"])
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=theme,
        changes={"dismissed_item": item.pk},
    )
    return dismissal
