"""Themes of unlinked feedback: pure functions on arrays (no database, no Django).

:func:`cluster` groups unit vectors by meaning (spherical k-means with cosine, k-means++
seeded with a fixed RNG and a few restarts, or started from the previous run's
centroids; small and loose clusters are dropped); :func:`assign` puts other
vectors on the nearest theme above the same cutoff (the trend); :func:`label` names a theme
by its most distinctive content words; :func:`match_previous` gives a new cluster the id of
the previous theme it shares most members with.

Deterministic: the same rows in the same order (the caller sorts them by id) give the same
clusters, bit for bit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from feedback.matching import match_text

SEED = 20_241_202
MIN_K = 2
MAX_K = 40
#: k-means++ runs of a first clustering: at least ``RESTARTS``, and up to ``MAX_RESTARTS``
#: while the rows are few (``RESTART_ROWS`` rows in all). A small inbox has several local
#: optima of nearly the same total cosine, and which of three runs found which moved with the
#: vectors' last digits: the demo's 25 items gave its three themes on one CPU and one theme on
#: another (int8 products round differently without VNNI). Twenty runs found the same optimum
#: from both CPUs' vectors; at 10,000 rows three runs cost 1.2 s.
RESTARTS = 3
MAX_RESTARTS = 20
RESTART_ROWS = 20_000
ITERATIONS = 100
#: A cluster smaller than this is not a theme.
MIN_SIZE = 3
#: An item whose cosine to its cluster's centroid is below this is not a member; the trend
#: counts an item for a theme only from this cosine, too.
MEMBER_CUTOFF = 0.45
#: A cluster whose :func:`cohesion` is below this is a loose "misc" one. Both values are
#: for the encoder's contextual vectors (``embeddings.embed_in_context``), set again for
#: MiniLM's int8 vectors (first tuned with wordllama's, then 0.42 and 0.45):
#: on the demo inbox they find its three themes, where 0.45 kept only one.
MIN_COHESION = 0.42
LABEL_WORDS = 3
TYPICAL = 3


@dataclass(frozen=True)
class Cluster:
    """One theme of a run: ``members`` are row indexes of the input, most typical first, with
    their cosine to the centroid; ``centroid`` is a unit vector."""

    members: np.ndarray  # int64 row indexes
    similarities: np.ndarray  # float32, same order
    centroid: np.ndarray  # float32 (d,)
    cohesion: float  # see :func:`cohesion`


def cohesion(vectors: np.ndarray) -> float:
    """Mean cosine of each row to the centroid of the others: how tight a cluster is, without
    the lift a row gives its own centroid (three unrelated texts score about 0, a topic
    0.6 to 0.8, loosely related texts about 0.3)."""
    if len(vectors) < 2:
        return 0.0
    others = vectors.sum(axis=0)[None, :] - vectors
    others /= np.maximum(np.linalg.norm(others, axis=1, keepdims=True), 1e-12)
    return float((vectors * others).sum(axis=1).mean())


def choose_k(n: int) -> int:
    """How many clusters k-means starts with for ``n`` rows: √(n/2), from 2 to 40."""
    return max(MIN_K, min(MAX_K, round(math.sqrt(n / 2))))


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _plus_plus(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds: each next seed drawn with probability ∝ its squared distance
    (2 − 2·cos for unit vectors) to the nearest seed so far."""
    n = len(vectors)
    first = int(rng.integers(n))
    seeds = [first]
    nearest = np.maximum(2.0 - 2.0 * (vectors @ vectors[first]), 0.0)
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0:
            break  # every row coincides with a seed: fewer distinct clusters than k
        chosen = int(np.searchsorted(np.cumsum(nearest), rng.random() * total, side="right"))
        chosen = min(chosen, n - 1)
        seeds.append(chosen)
        nearest = np.minimum(nearest, np.maximum(2.0 - 2.0 * (vectors @ vectors[chosen]), 0.0))
    return vectors[seeds].copy()


def _sums(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per cluster, the sum of its rows (a one-hot product: far faster than ``np.add.at``)."""
    onehot = np.zeros((k, len(vectors)), dtype=np.float32)
    onehot[labels, np.arange(len(vectors))] = 1.0
    return onehot @ vectors


def _lloyd(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Spherical k-means from ``centroids``: (labels, unit centroids, total cosine)."""
    labels = np.full(len(vectors), -1, dtype=np.int64)
    for _ in range(ITERATIONS):
        scores = vectors @ centroids.T
        new_labels = np.argmax(scores, axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        sums = _sums(vectors, labels, len(centroids))
        counts = np.bincount(labels, minlength=len(centroids))
        for empty in np.flatnonzero(counts == 0):
            # An empty cluster restarts at the row worst served by its centroid.
            best = scores[np.arange(len(vectors)), labels]
            worst = int(np.argmin(best))
            sums[empty] = vectors[worst]
            scores[worst, :] = 2.0  # not picked twice
        centroids = _normalise(sums)
    scores = vectors @ centroids.T
    labels = np.argmax(scores, axis=1)
    return labels, centroids, float(scores[np.arange(len(vectors)), labels].sum())


def restarts_for(n: int) -> int:
    """How many k-means++ runs a first clustering of ``n`` rows takes (see ``RESTARTS``)."""
    return max(RESTARTS, min(MAX_RESTARTS, RESTART_ROWS // max(n, 1)))


def kmeans(
    vectors: np.ndarray, k: int, *, seed: int = SEED, restarts: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The best of ``restarts`` (default :func:`restarts_for`) seeded spherical k-means runs:
    (labels, unit centroids)."""
    restarts = restarts_for(len(vectors)) if restarts is None else restarts
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(restarts):
        result = _lloyd(vectors, _plus_plus(vectors, k, rng))
        if best is None or result[2] > best[2] + 1e-6:
            best = result
    assert best is not None
    return best[0], best[1]


@dataclass(frozen=True)
class Clustering:
    """A run's themes, and every centroid k-means ended with (the dropped clusters' too):
    the next run starts from them, so unchanged data converges at once to the same
    clusters and a little new data moves them only a little."""

    clusters: list[Cluster]
    centroids: np.ndarray  # float32 (k, d)


def _seeds(vectors: np.ndarray, k: int, previous: np.ndarray | None, seed: int) -> np.ndarray:
    """The previous run's centroids (at most ``k``), topped up with k-means++ seeds."""
    rng = np.random.default_rng(seed)
    if previous is None or len(previous) == 0:
        return _plus_plus(vectors, k, rng)
    kept = _normalise(np.asarray(previous, dtype=np.float32)[:k])
    if len(kept) == k:
        return kept
    nearest = np.maximum(2.0 - 2.0 * (vectors @ kept.T).max(axis=1), 0.0)
    seeds = [kept]
    for _ in range(k - len(kept)):
        total = float(nearest.sum())
        if total <= 0:
            break
        chosen = min(
            int(np.searchsorted(np.cumsum(nearest), rng.random() * total, side="right")), len(vectors) - 1
        )
        seeds.append(vectors[chosen : chosen + 1])
        nearest = np.minimum(nearest, np.maximum(2.0 - 2.0 * (vectors @ vectors[chosen]), 0.0))
    return np.vstack(seeds).astype(np.float32)


def cluster(
    vectors: np.ndarray,
    *,
    previous_centroids: np.ndarray | None = None,
    seed: int = SEED,
    min_size: int = MIN_SIZE,
    cutoff: float = MEMBER_CUTOFF,
    min_cohesion: float = MIN_COHESION,
) -> Clustering:
    """Themes of the unit rows ``vectors`` (n, d), largest first (ties: lowest first row).

    k = :func:`choose_k`. Without ``previous_centroids``: the best of :func:`restarts_for`
    seeded k-means++ runs; with them (the last run's :attr:`Clustering.centroids`): one run from
    them, topped up with k-means++ seeds if k grew. Rows below ``cutoff`` to their centroid
    are left out; clusters with fewer than ``min_size`` members or a mean cosine below
    ``min_cohesion`` are dropped."""
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < min_size:
        return Clustering(
            clusters=[], centroids=np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
        )
    k = min(choose_k(n), n)
    if previous_centroids is not None and len(previous_centroids):
        # Hysteresis: a few more or fewer items keep the previous k (a new seed would split a
        # theme that did not change).
        if abs(k - len(previous_centroids)) <= max(1, round(0.1 * len(previous_centroids))):
            k = min(len(previous_centroids), n)
        labels, centroids, _ = _lloyd(vectors, _seeds(vectors, k, previous_centroids, seed))
    else:
        labels, centroids = kmeans(vectors, k, seed=seed)
    scores = vectors @ centroids.T
    best = scores[np.arange(n), labels]
    clusters = []
    for c in range(len(centroids)):
        rows = np.flatnonzero((labels == c) & (best >= cutoff))
        if len(rows) < min_size:
            continue
        centroid = _normalise(vectors[rows].sum(axis=0))
        similarities = vectors[rows] @ centroid
        order = np.lexsort((rows, -similarities))  # most typical first, ties by row
        found = Cluster(
            members=rows[order].astype(np.int64),
            similarities=similarities[order].astype(np.float32),
            centroid=centroid,
            cohesion=cohesion(vectors[rows]),
        )
        if found.cohesion >= min_cohesion:
            clusters.append(found)
    clusters.sort(key=lambda c: (-len(c.members), int(c.members.min())))
    return Clustering(clusters=clusters, centroids=centroids.astype(np.float32))


def assign(vectors: np.ndarray, centroids: np.ndarray, *, cutoff: float = MEMBER_CUTOFF) -> np.ndarray:
    """For each unit row, the index of the nearest centroid if its cosine is at least
    ``cutoff``, else -1."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) == 0 or len(centroids) == 0:
        return np.full(len(vectors), -1, dtype=np.int64)
    scores = vectors @ np.asarray(centroids, dtype=np.float32).T
    nearest = np.argmax(scores, axis=1)
    return np.where(scores[np.arange(len(vectors)), nearest] >= cutoff, nearest, -1).astype(np.int64)


#: Words that are not filler for duplicate matching but name no topic: a label of "let,
#: one, select" says nothing.
LABEL_FILLER = frozenset(
    [
        "let",
        "one",
        "make",
        "every",
        "see",
        "use",
        "using",
        "go",
        "know",
        "thing",
        "things",
        "time",
        "day",
        "today",
        "via",
        "without",
    ]
)


def content_words(text: str) -> set[str]:
    """The distinct content words of a text (feedback.matching drops filler and numbers);
    words of one or two letters, and ``LABEL_FILLER``, say little on their own and are left
    out."""
    return {word for word in match_text(text).split() if len(word) > 2 and word not in LABEL_FILLER}


def label(cluster_texts: Sequence[Sequence[str]], *, words: int = LABEL_WORDS) -> list[list[str]]:
    """For each cluster's texts, its ``words`` most distinctive content words: share of the
    cluster's items using the word × smoothed idf over every clustered item (tf-idf of the
    cluster against all of them). A word must be used by two items of a cluster to name it
    (unless the cluster has fewer than 3 items); ties by the word."""
    documents = [[content_words(text) for text in texts] for texts in cluster_texts]
    frequency: Counter[str] = Counter()
    total = 0
    for docs in documents:
        for doc in docs:
            frequency.update(doc)
            total += 1
    labels = []
    for docs in documents:
        counts: Counter[str] = Counter()
        for doc in docs:
            counts.update(doc)
        needed = 2 if len(docs) >= 3 else 1
        scored = [
            (-(count / len(docs)) * (math.log((1 + total) / (1 + frequency[word])) + 1.0), word)
            for word, count in counts.items()
            if count >= needed
        ]
        labels.append([word for _, word in sorted(scored)[:words]])
    return labels


def jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def match_previous(
    clusters: Sequence[Iterable[int]], previous: Mapping[int, Iterable[int]], *, threshold: float = 0.5
) -> list[int | None]:
    """For each new cluster (its item ids), the id of the previous theme (id → item ids) it
    takes over: pairs with Jaccard ≥ ``threshold``, best first (ties: lower cluster index,
    then lower theme id), each side used once. None: a new theme."""
    new_sets = [set(c) for c in clusters]
    old_sets = {theme_id: set(items) for theme_id, items in previous.items()}
    owner: dict[int, set[int]] = {}
    for theme_id, items in old_sets.items():
        for item in items:
            owner.setdefault(item, set()).add(theme_id)
    pairs = []
    for index, items in enumerate(new_sets):
        candidates = set().union(*(owner.get(item, set()) for item in items)) if items else set()
        for theme_id in candidates:
            score = jaccard(items, old_sets[theme_id])
            if score >= threshold:
                pairs.append((-score, index, theme_id))
    pairs.sort()
    taken: list[int | None] = [None] * len(new_sets)
    used: set[int] = set()
    for _, index, theme_id in pairs:
        if taken[index] is None and theme_id not in used:
            taken[index] = theme_id
            used.add(theme_id)
    return taken
