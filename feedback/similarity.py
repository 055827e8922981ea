"""Text similarity for duplicate detection, behind one function per question.

PostgreSQL: ``pg_trgm``. Open feedback is matched with the ``%`` operator on
``match_text``, which the GIN index of migration 0004 answers without a scan;
feature titles with ``word_similarity`` (is the title's wording inside the text?).

SQLite (the zero-setup default): the same trigram measure computed in Python
over the workspace's most recent open items, a bounded scan that suits the
small installs SQLite is for.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Match:
    id: int
    similarity: float


def similar_items(
    *, workspace_id: int, text: str, exclude_id: int | None = None, limit: int = 5
) -> list[Match]:
    """Open (not archived, not merged) feedback of the workspace most like ``text``."""
    needle = match_text(text)
    if not needle:
        return []
    if connection.vendor == "postgresql":
        # ``workspace_id + 0`` keeps the planner on the trigram index: right after a
        # big ingest, before autoanalyze, it would otherwise trust a stale estimate
        # that the workspace has few rows, walk them by the b-tree and compare each.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL pg_trgm.similarity_threshold = %s", [ITEM_THRESHOLD])
            cursor.execute(
                """
                SELECT id, similarity(match_text, %s) AS score
                FROM feedback_feedbackitem
                WHERE workspace_id + 0 = %s AND merged_into_id IS NULL AND state <> 'archived'
                  AND match_text %% %s AND id <> %s
                ORDER BY score DESC, id
                LIMIT %s
                """,
                [needle, workspace_id, needle, exclude_id or 0, limit],
            )
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
