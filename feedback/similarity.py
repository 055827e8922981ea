"""Text similarity for duplicate detection, behind one function per question.

PostgreSQL: ``pg_trgm``. Open feedback is matched with the ``%`` operator on
``match_text``, which the GIN index of migration 0004 answers without a scan;
feature titles with ``word_similarity`` (is the title's wording inside the text?).

SQLite (the zero-setup default): the same trigram measure computed in Python
over the workspace's most recent open items, a bounded scan that suits the
small installs SQLite is for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, transaction

from feedback.models import MATCH_TEXT_LENGTH, FeedbackItem

# pg_trgm's default threshold for ``%``; a near-duplicate scores well above it.
ITEM_THRESHOLD = 0.3
FEATURE_THRESHOLD = 0.5
SQLITE_SCAN_LIMIT = 5000
_WORD = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Match:
    id: int
    similarity: float


def match_text(text: str) -> str:
    """What duplicate detection compares: lower-case, single-spaced, bounded."""
    return _SPACE.sub(" ", text.lower()).strip()[:MATCH_TEXT_LENGTH]


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: per word, padded with two spaces before and one after."""
    grams: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def word_similarity(needle: str, haystack: str) -> float:
    """Approximates pg_trgm's ``word_similarity``: the share of the needle's trigrams found."""
    tn = trigrams(needle)
    if not tn:
        return 0.0
    return len(tn & trigrams(haystack)) / len(tn)


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
            cursor.execute(
                """
                SELECT id, similarity(match_text, %s) AS score
                FROM feedback_feedbackitem
                WHERE workspace_id = %s AND merged_into_id IS NULL AND state <> 'archived'
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


def similar_features(*, workspace_id: int, text: str, limit: int = 5) -> list[Match]:
    """Open features (not shipped, declined or merged) whose title reads as part of ``text``."""
    needle = match_text(text)
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
                      AND status NOT IN ('shipped', 'declined')
                ) candidates
                WHERE score >= %s
                ORDER BY score DESC, id
                LIMIT %s
                """,
                [needle, workspace_id, FEATURE_THRESHOLD, limit],
            )
            return [Match(id=row[0], similarity=round(float(row[1]), 4)) for row in cursor.fetchall()]
    from roadmap.selectors import open_feature_titles

    scored = [
        Match(id=pk, similarity=round(word_similarity(title, needle), 4))
        for pk, title in open_feature_titles(workspace_id=workspace_id)
    ]
    scored = [m for m in scored if m.similarity >= FEATURE_THRESHOLD]
    return sorted(scored, key=lambda m: (-m.similarity, m.id))[:limit]
