"""Duplicate detection in batches: words and meaning, set-based (the worker's path).

:func:`duplicates_find_many` checks a batch of feedback items per workspace:

1. it embeds the items that have no current vector (``feedback.vectors``), in their own
   short transactions, and the workspace's features that changed;
2. it reads the candidates by meaning from the worker's in-memory index (one matrix
   product for the batch), then the candidates' words and state in one query;
3. it scores each pair with :func:`feedback.similarity.combined_score` (trigram similarity
   of the content words in Python, the same measure as pg_trgm's, and the cosine);
4. in one transaction it locks the batch's items (``FOR NO KEY UPDATE``, in id order),
   inserts the suggestions in key order (``ON CONFLICT DO NOTHING``) and stamps the items.

The lock order and the one row per pair are those of ``feedback.services.duplicates_find``
(docs/reliability.md, "Duplicate detection under concurrency"). A workspace with semantic
suggestions off, and an item that cannot be embedded (empty, only a URL), take the words-only
path: the trigram lookup of ``feedback.similarity`` per item.

Every pair is found by at least one of its two checks even when two workers check them at
the same time: each worker commits its vectors before it reads the index, and a
workspace's vector ids are taken in commit order (``feedback.vectors._lock_inserts``).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from feedback import vectors
from feedback.matching import trigram_set_similarity, trigrams, word_similarity
from feedback.models import DuplicateSuggestion, FeedbackItem, FeedbackLink, FeedbackSettings
from feedback.similarity import (
    FEATURE_TEXT_LENGTH,
    FEATURE_THRESHOLD,
    ITEM_THRESHOLD,
    combined_score,
    similar_features,
    similar_items,
)

logger = logging.getLogger(__name__)

#: How many nearest items (features) by meaning each item's words and meaning are scored
#: against, and the cosine below which a neighbour is not worth scoring.
ITEM_CANDIDATES = 10
FEATURE_CANDIDATES = 5
CANDIDATE_FLOOR = 0.30
#: How much nearer than the pair another item may be to the pair's other item, for a
#: pair suggested by meaning alone (quantised cosines differ in the third decimal).
MUTUAL_TOLERANCE = 0.005
#: How many of the workspace's unchecked items a one-item check embeds first.
PENDING_EMBEDDED = 500


def semantic_enabled(*, workspace_id: int) -> bool:
    """Whether the workspace suggests by meaning (FeedbackSettings; on when no row)."""
    value = FeedbackSettings.objects.filter(workspace_id=workspace_id).values_list(
        "semantic_suggestions", flat=True
    )
    return next(iter(value), True)


def duplicates_find_many(*, item_ids: list[int], embed_pending: int = 0) -> int:
    """Look for each item's likely duplicates (open items, open features) and store them;
    returns how many items were checked. Idempotent: stored or dismissed suggestions are
    kept as they are, and a second run adds nothing. One workspace's failure is logged
    and leaves its items unchecked (the sweep retries them); the others go on.

    Candidates by meaning are the items with a vector. The worker embeds each batch only
    (``embed_pending`` 0): an item without one yet is waiting for its own check, which
    finds the pair. A caller that wants a complete answer now (one item, in a request)
    passes ``embed_pending``: up to that many of the workspace's unchecked items are
    embedded first. (In the worker that made two processes embed the same items, each
    before the other committed, and halved an import's rate.)"""
    by_workspace: dict[int, list[int]] = defaultdict(list)
    for pk, workspace_id in FeedbackItem.objects.filter(pk__in=item_ids).values_list("pk", "workspace_id"):
        by_workspace[workspace_id].append(pk)
    checked = 0
    for workspace_id, ids in sorted(by_workspace.items()):
        try:
            checked += _check_workspace(
                workspace_id=workspace_id, item_ids=sorted(ids), embed_pending=embed_pending
            )
        except Exception:
            logger.exception(
                "duplicate detection failed", extra={"workspace_id": workspace_id, "items": len(ids)}
            )
    return checked


def _check_workspace(*, workspace_id: int, item_ids: list[int], embed_pending: int = 0) -> int:
    if not semantic_enabled(workspace_id=workspace_id):
        return _words_only(workspace_id=workspace_id, item_ids=item_ids)
    waiting = []
    if embed_pending:
        waiting = list(
            FeedbackItem.objects.filter(workspace_id=workspace_id, duplicates_checked_at__isnull=True)
            .exclude(pk__in=item_ids)
            .order_by("id")
            .values_list("pk", flat=True)[:embed_pending]
        )
    vectors.items_embed(item_ids=item_ids + waiting)
    vectors.features_embed_pending(workspace_id=workspace_id)
    with_vector, without, suggestions = suggestions_compute(workspace_id=workspace_id, item_ids=item_ids)
    _store(item_ids=with_vector, suggestions=suggestions)
    if without:
        _words_only(workspace_id=workspace_id, item_ids=without)
    return len(item_ids)


def suggestions_compute(
    *, workspace_id: int, item_ids: list[int]
) -> tuple[list[int], list[int], list[DuplicateSuggestion]]:
    """The combined suggestions of these items, computed and not stored: (the items with a
    vector, the items without one, the suggestions). Reads the worker's in-memory indexes
    (refreshed first) and three small queries; the items must be embedded already.
    ``python -m bench feedback_ingest`` times this for one item: the full combined lookup."""
    items = vectors.item_index(workspace_id=workspace_id)
    features = vectors.feature_index(workspace_id=workspace_id)
    with_vector = [pk for pk in item_ids if pk in items.positions]
    without = [pk for pk in item_ids if pk not in items.positions]
    queries = items.vectors_of(with_vector)
    item_hits = items.search(queries, k=ITEM_CANDIDATES, floor=CANDIDATE_FLOOR, exclude=with_vector)
    feature_hits = features.search(queries, k=FEATURE_CANDIDATES, floor=CANDIDATE_FLOOR)

    mine = {
        pk: (text, words)
        for pk, text, words in FeedbackItem.objects.filter(pk__in=with_vector).values_list(
            "pk", "text", "match_text"
        )
    }
    other_ids = {pk for hits in item_hits for pk, _ in hits}
    others = dict(
        FeedbackItem.objects.filter(workspace_id=workspace_id, pk__in=other_ids, merged_into__isnull=True)
        .exclude(state=FeedbackItem.State.ARCHIVED)
        .values_list("pk", "match_text")
    )
    open_hits = [[(o, c) for o, c in hits if o in others] for hits in item_hits]
    feature_titles = _open_feature_titles(
        workspace_id=workspace_id, feature_ids={pk for hits in feature_hits for pk, _ in hits}
    )
    linked = set(FeedbackLink.objects.filter(item_id__in=with_vector).values_list("item_id", "feature_id"))

    suggestions = []
    by_meaning: list[tuple[int, int, float, object]] = []  # (item, its nearest, cosine, score)
    # Each text's trigrams once per batch: an item is compared with ten candidates, and
    # a candidate of one item is often another's.
    grams: dict[int, set[str]] = {}

    def grams_of(pk: int, words: str) -> set[str]:
        found = grams.get(pk)
        if found is None:
            found = grams[pk] = trigrams(words)
        return found

    for pk, hits, fhits in zip(with_vector, open_hits, feature_hits, strict=True):
        if pk not in mine:
            continue  # deleted since
        text, words = mine[pk]
        for rank, (other, cosine) in enumerate(hits):
            similarity = trigram_set_similarity(grams_of(pk, words), grams_of(other, others[other]))
            scored = combined_score(words=similarity, meaning=cosine)
            if scored.score < ITEM_THRESHOLD:
                continue
            if scored.reason == "meaning":
                if rank == 0:
                    by_meaning.append((pk, other, cosine, scored))
                continue
            suggestions.append(_suggestion(workspace_id, scored, item=min(pk, other), other=max(pk, other)))
        needle = " ".join(text.lower().split())[:FEATURE_TEXT_LENGTH]
        for feature_id, cosine in fhits:
            if feature_id not in feature_titles or (pk, feature_id) in linked:
                continue
            scored = combined_score(
                words=word_similarity(feature_titles[feature_id], needle), meaning=cosine, feature=True
            )
            if scored.score >= FEATURE_THRESHOLD:
                suggestions.append(_suggestion(workspace_id, scored, item=pk, feature=feature_id))
    # A pair suggested for its meaning alone must be each other's nearest: a loose cosine
    # makes many "same topic" neighbours in a large inbox, and only one of them can be the
    # same request. The labelled pairs measure pairs; this is what keeps an inbox quiet.
    # Only those pairs' other items are searched again (a second search of the whole batch
    # was a third of a check's time).
    nearest = sorted({other for _, other, _, _ in by_meaning})
    their_best = dict.fromkeys(nearest, -1.0)
    if nearest:
        for other, hits in zip(
            nearest, items.search(items.vectors_of(nearest), k=1, floor=-1.0, exclude=nearest), strict=True
        ):
            their_best[other] = hits[0][1] if hits else -1.0
    for pk, other, cosine, scored in by_meaning:
        if their_best[other] <= cosine + MUTUAL_TOLERANCE:
            suggestions.append(_suggestion(workspace_id, scored, item=min(pk, other), other=max(pk, other)))
    return with_vector, without, suggestions


def _open_feature_titles(*, workspace_id: int, feature_ids: set[int]) -> dict[int, str]:
    if not feature_ids:
        return {}
    from roadmap.selectors import open_feature_titles

    return dict(open_feature_titles(workspace_id=workspace_id, feature_ids=feature_ids))


def _suggestion(workspace_id, scored, *, item: int, other: int | None = None, feature: int | None = None):
    return DuplicateSuggestion(
        workspace_id=workspace_id,
        item_id=item,
        similar_item_id=other,
        similar_feature_id=feature,
        similarity=scored.score,
        word_similarity=scored.words,
        meaning_similarity=scored.meaning,
        reason=scored.reason,
    )


@transaction.atomic
def _store(*, item_ids: list[int], suggestions: list[DuplicateSuggestion]) -> None:
    if not item_ids:
        return
    # The checked items, locked in id order, then the pairs in key order.
    locked = vectors.items_lock(item_ids=item_ids)
    present = set(locked)
    suggestions = [s for s in suggestions if s.item_id in present or (s.similar_item_id or 0) in present]
    suggestions.sort(key=lambda s: (s.item_id, s.similar_item_id or 0, s.similar_feature_id or 0))
    DuplicateSuggestion.objects.bulk_create(suggestions, ignore_conflicts=True)
    FeedbackItem.objects.filter(pk__in=locked).update(duplicates_checked_at=timezone.now())


def _words_only(*, workspace_id: int, item_ids: list[int]) -> int:
    """The trigram lookup per item (semantic suggestions off, or no vector)."""
    for pk in item_ids:
        words_only_find(item_id=pk)
    return len(item_ids)


@transaction.atomic
def words_only_find(*, item_id: int) -> list[DuplicateSuggestion]:
    """One item's duplicates by words alone (pg_trgm's index on PostgreSQL)."""
    # Not FOR UPDATE: that lock also blocks FK checks, so a check of A inserting (A, B)
    # waited for the check of B holding B, while it inserted (A, B) too and waited for A.
    item = FeedbackItem.objects.select_for_update(no_key=True).filter(pk=item_id).first()
    if item is None:
        return []
    suggestions = [
        _suggestion(
            item.workspace_id,
            combined_score(words=match.similarity, meaning=None),
            item=min(item.pk, match.id),
            other=max(item.pk, match.id),
        )
        for match in similar_items(workspace_id=item.workspace_id, text=item.text, exclude_id=item.pk)
    ]
    linked = set(item.links.values_list("feature_id", flat=True))
    suggestions += [
        _suggestion(
            item.workspace_id,
            combined_score(words=match.similarity, meaning=None, feature=True),
            item=item.pk,
            feature=match.id,
        )
        for match in similar_features(workspace_id=item.workspace_id, text=item.text)
        if match.id not in linked
    ]
    # A concurrent check inserting a pair we insert makes us wait for its commit (ON CONFLICT):
    # in key order everywhere, no two checks each wait for a row the other has inserted.
    suggestions.sort(key=lambda s: (s.item_id, s.similar_item_id or 0, s.similar_feature_id or 0))
    DuplicateSuggestion.objects.bulk_create(suggestions, ignore_conflicts=True)
    item.duplicates_checked_at = timezone.now()
    item.save(update_fields=["duplicates_checked_at"])
    return list(
        DuplicateSuggestion.objects.filter(Q(item=item) | Q(similar_item=item), dismissed=False).order_by(
            "id"
        )
    )
