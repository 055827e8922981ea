"""Text similarity for duplicate detection, behind one function per question.

PostgreSQL: ``pg_trgm``. Open feedback is matched with the ``%`` operator on
``match_text``, which the GIN index on ``((workspace_id + 0), match_text)`` answers
within one workspace without a scan (migrations 0004 and 0014);
feature titles with ``word_similarity`` (is the title's wording inside the text?).

SQLite (the zero-setup default): the same trigram measure computed in Python
over the workspace's most recent open items, a bounded scan that suits the
small installs SQLite is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection, transaction

from feedback.matching import match_text, trigram_similarity, word_similarity
from feedback.models import FeedbackItem

# Similarity of content words above which an item is suggested as a duplicate
# (pg_trgm's default for ``%`` is 0.3, which on filler-free text admits requests
# that merely share a topic). The higher the threshold, the fewer rows the GIN
# index hands over for rechecking.
ITEM_THRESHOLD = 0.7
FEATURE_THRESHOLD = 0.5
FEATURE_TEXT_LENGTH = 1000
SQLITE_SCAN_LIMIT = 5000


# Meaning (feedback.embeddings): the embeddings' cosine from which two texts are
# suggested, raised by ``MEANING_WORDS_PENALTY`` × their words' similarity. Shared words
# raise the cosine too, so the more two requests share, the more their meaning must agree:
# the labelled pairs that share many words but ask for different things ("dark mode for
# mobile" / "dark mode for the web dashboard") have high cosines. Tuned on the tuning part
# of bench/data/duplicate_pairs.csv (docs/feedback-intelligence.md, "Choosing the
# thresholds"), for the distilled table's vectors. The features' values are not tuned (no
# labelled set): on the demo data, features of other requests reached cosines of 0.44.
SEMANTIC_ITEM_THRESHOLD = 0.22
SEMANTIC_FEATURE_THRESHOLD = 0.45
MEANING_WORDS_PENALTY = 1.6
MEANING_FEATURE_WORDS_PENALTY = 1.0


@dataclass(frozen=True)
class Match:
    id: int
    similarity: float


@dataclass(frozen=True)
class Scored:
    """A pair's one score, the two signals behind it and the reason shown for it."""

    score: float
    words: float
    meaning: float | None
    reason: str  # "words", "meaning" or "both" (DuplicateSuggestion.Reason)


def combined_score(*, words: float, meaning: float | None, feature: bool = False) -> Scored:
    """The one duplicate score: the stronger of the two signals on one scale.

    ``words`` is the trigram similarity (items: of their content words; features: of the
    title within the text), suggested from ``t`` = ``ITEM_THRESHOLD`` (``FEATURE_THRESHOLD``).
    ``meaning`` is the embeddings' cosine, less the penalty for shared words, mapped
    linearly so that its threshold ``s`` lands on ``t`` and 1 stays 1:
    ``t + (cos − p × words − s) × (1 − t) / (1 − s)``. So one threshold decides, and the
    reason names each signal that passed it.
    """
    threshold = FEATURE_THRESHOLD if feature else ITEM_THRESHOLD
    semantic = SEMANTIC_FEATURE_THRESHOLD if feature else SEMANTIC_ITEM_THRESHOLD
    penalty = MEANING_FEATURE_WORDS_PENALTY if feature else MEANING_WORDS_PENALTY
    on_scale = None
    if meaning is not None:
        on_scale = threshold + (meaning - penalty * words - semantic) * (1 - threshold) / (1 - semantic)
    score = max(words, on_scale if on_scale is not None else 0.0)
    by_words = words >= threshold
    by_meaning = on_scale is not None and on_scale >= threshold
    reason = "both" if by_words and by_meaning else "meaning" if by_meaning else "words"
    return Scored(score=round(max(score, 0.0), 4), words=round(words, 4), meaning=meaning, reason=reason)


# One plan whatever the statistics (migration 0014): ``workspace_id + 0`` is the trigram
# index's first key and no b-tree's, so the workspace and the trigrams are matched in one
# GIN scan that reads only this workspace's entries, and ``merged_into_id`` has no index of
# its NULLs. With plain ``workspace_id`` a b-tree could serve the lookup, and a stale
# estimate (autovacuum off, a fresh import) walked a large workspace row by row; with
# ``+ 0`` and no such index key the index handed over every workspace's candidates.
# ``::bigint``: btree_gin matches only an operator of the column's own type.
_SIMILAR_ITEMS_SQL = """
    SELECT id, similarity(match_text, %s) AS score
    FROM feedback_feedbackitem
    WHERE workspace_id + 0 = %s::bigint AND merged_into_id IS NULL AND state <> 'archived'
      AND match_text %% %s AND id <> %s
    ORDER BY score DESC, id
    LIMIT %s
"""
#: The index that answers :func:`similar_items` on PostgreSQL (asserted by EXPLAIN tests).
SIMILAR_ITEMS_INDEX = "feedback_item_match_trgm"


def similar_items(
    *, workspace_id: int, text: str, exclude_id: int | None = None, limit: int = 5
) -> list[Match]:
    """Open (not archived, not merged) feedback of the workspace most like ``text``."""
    needle = match_text(text)
    if not needle:
        return []
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL pg_trgm.similarity_threshold = %s", [ITEM_THRESHOLD])
            cursor.execute(_SIMILAR_ITEMS_SQL, [needle, workspace_id, needle, exclude_id or 0, limit])
            return [Match(id=row[0], similarity=round(float(row[1]), 4)) for row in cursor.fetchall()]
    candidates = (
        FeedbackItem.objects.filter(workspace_id=workspace_id, merged_into__isnull=True)
        .exclude(state=FeedbackItem.State.ARCHIVED)
        .exclude(pk=exclude_id or 0)
        .order_by("-id")
        .values_list("id", "match_text")[:SQLITE_SCAN_LIMIT]
    )
    scored = [
        Match(id=pk, similarity=round(trigram_similarity(needle, other), 4)) for pk, other in candidates
    ]
    scored = [m for m in scored if m.similarity >= ITEM_THRESHOLD]
    return sorted(scored, key=lambda m: (-m.similarity, m.id))[:limit]


def similar_features(
    *, workspace_id: int, text: str, limit: int = 5, public_only: bool = False
) -> list[Match]:
    """Open features (not shipped, declined or merged) whose title reads as part of ``text``;
    with ``public_only``, only those shown on the public board."""
    # The whole wording, filler included: a title such as "Sign-on with Okta" is part of it.
    needle = " ".join(text.lower().split())[:FEATURE_TEXT_LENGTH]
    if not needle:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT id, score FROM (
                    SELECT id, word_similarity(lower(title), %s) AS score
                    FROM roadmap_feature
                    WHERE workspace_id = %s AND merged_into_id IS NULL
                      AND status NOT IN ('shipped', 'declined') AND (is_public OR NOT %s)
                ) candidates
                WHERE score >= %s
                ORDER BY score DESC, id
                LIMIT %s
                """,
                [needle, workspace_id, public_only, FEATURE_THRESHOLD, limit],
            )
            return [Match(id=row[0], similarity=round(float(row[1]), 4)) for row in cursor.fetchall()]
    from roadmap.selectors import open_feature_titles

    scored = [
        Match(id=pk, similarity=round(word_similarity(title, needle), 4))
        for pk, title in open_feature_titles(workspace_id=workspace_id, public_only=public_only)
    ]
    scored = [m for m in scored if m.similarity >= FEATURE_THRESHOLD]
    return sorted(scored, key=lambda m: (-m.similarity, m.id))[:limit]


def similar_items_plan(*, workspace_id: int, text: str, analyze: bool = False) -> dict:
    """PostgreSQL's plan of :func:`similar_items` for these arguments: the top node of
    ``EXPLAIN (FORMAT JSON)`` (with ``ANALYZE``, it runs the lookup). For the EXPLAIN tests
    and the benchmark, which check that the plan is the one intended."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("plans are PostgreSQL's")
    needle = match_text(text)
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL pg_trgm.similarity_threshold = %s", [ITEM_THRESHOLD])
        cursor.execute(f"EXPLAIN ({options}) {_SIMILAR_ITEMS_SQL}", [needle, workspace_id, needle, 0, 5])
        document = cursor.fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def plan_nodes(plan: dict) -> list[dict]:
    """Every node of an ``EXPLAIN (FORMAT JSON)`` plan, depth first."""
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


def similar_items_plan_problems(plan: dict) -> list[str]:
    """Why a plan of :func:`similar_items` is not the intended one (empty: it is): the
    items must come from a bitmap scan of :data:`SIMILAR_ITEMS_INDEX` keyed on the
    workspace and the trigrams, and from no other index or scan of the table."""
    problems = []
    scans = [n for n in plan_nodes(plan) if n.get("Relation Name") == "feedback_feedbackitem"]
    index_scans = [n for n in plan_nodes(plan) if n["Node Type"] == "Bitmap Index Scan"]
    for node in scans:
        if node["Node Type"] != "Bitmap Heap Scan":
            problems.append(f"{node['Node Type']} on feedback_feedbackitem ({node.get('Index Name', '')})")
    if not scans:
        problems.append("no scan of feedback_feedbackitem")
    for node in index_scans:
        if node["Index Name"] != SIMILAR_ITEMS_INDEX:
            problems.append(f"bitmap scan of {node['Index Name']}")
        cond = node.get("Index Cond", "")
        if "(workspace_id + 0)" not in cond or "%" not in cond:
            problems.append(f"{node['Index Name']} not keyed on the workspace and the trigrams: {cond}")
    if not index_scans:
        problems.append(f"no bitmap scan of {SIMILAR_ITEMS_INDEX}")
    return problems
