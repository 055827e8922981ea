"""What duplicate detection compares, in plain Python (no database, no Django).

``match_text`` is stored with every feedback item; the trigram measures mirror
pg_trgm's, for the SQLite fallback of ``feedback.similarity``. Kept free of
model imports so migrations can use it.
"""

from __future__ import annotations

import re

MATCH_TEXT_LENGTH = 300
# The first content words carry the request; every extra word is more trigrams to
# look up, and the lookup's cost grows with them.
MATCH_WORDS = 16
_WORD = re.compile(r"[^\W_]+")
_FILLER_TEXT = """
    a about above after again against all also am an and any anyone are as at be because been before
    being below between both but by can cannot could did do does doing down during each else ever
    few for from further get had has have having he her here hers him his how i if in into is it its
    just me more most my no nor not now of off on once only or other our ours out over own really
    same she should so some such than that the their theirs them then there these they this those
    through to too under until up us very was we were what when where which while who whom why will
    with would you your yours yourself
    please pls thanks thank hi hello add adding need needs needed want wants wanted wish like love
    would great nice awesome cool good able allow allows possibility possible option way ability
    feature features request requests requesting support supporting help hope someday maybe
    asap soon eventually still currently already lot lots really much many us team teams
    """
FILLER_WORDS = frozenset(_FILLER_TEXT.split())


def match_text(text: str) -> str:
    """What duplicate detection compares: the text's distinct content words, lower-case.

    Filler ("please add", "we need", "for our team") and bare numbers (ticket ids)
    are dropped: two requests that share only those are not duplicates, and
    keeping them would make every request look like every other one. At most
    ``MATCH_WORDS`` words are kept.
    """
    words: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in FILLER_WORDS and not word.isdigit():
            words.setdefault(word)
            if len(words) == MATCH_WORDS:
                break
    return " ".join(words)[:MATCH_TEXT_LENGTH].rstrip()


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: per word, padded with two spaces before and one after."""
    grams: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(a: str, b: str) -> float:
    return trigram_set_similarity(trigrams(a), trigrams(b))


def trigram_set_similarity(ta: set[str] | frozenset[str], tb: set[str] | frozenset[str]) -> float:
    """pg_trgm's ``similarity`` of two texts' :func:`trigrams` (a caller comparing one text
    with many computes its trigrams once)."""
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def word_similarity(needle: str, haystack: str) -> float:
    """Approximates pg_trgm's ``word_similarity``: the share of the needle's trigrams found."""
    tn = trigrams(needle)
    if not tn:
        return 0.0
    return len(tn & trigrams(haystack)) / len(tn)
