"""Stored embeddings of feedback items and features, and each process's in-memory index.

Storage (feedback.models.FeedbackVector, FeatureVector): one quantised vector per text,
stamped with the model that made it and a hash of the text it was made from. A vector is
replaced (deleted and inserted), never updated, so vector ids only grow and an index can
read what is new since it last looked: ``WHERE workspace_id = %s AND id > %s``.

The index (:class:`VectorIndex`): per workspace and kind, the vectors in numpy arrays,
refreshed incrementally before each search. Up to ``FLOAT_ROWS`` rows it keeps float32
rows. Up to ``EXACT_ROWS`` it scores every row exactly (one matrix product per batch of
queries); above, it first scores the rows' projections on ``PROJECTED`` principal
directions of the index itself, then about the ``PROBE`` best of those exactly (a third
of the time at 100,000 rows, the same ten nearest: tests/feedback/test_vectors.py); above, it
keeps only signed bytes and sign bits (432 bytes a row: 1,000,000 items in 483 MB) and
scores the ``PREFILTER`` nearest by Hamming distance of the signs exactly from the bytes.
Rows of deleted, merged or archived items are not evicted: callers filter candidates
against the database (one query per batch), which they must do anyway for the state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from feedback import embeddings
from feedback.embeddings import DIMENSIONS
from feedback.models import FeatureVector, FeedbackItem, FeedbackVector
from productops.db import long_transaction

FLOAT_ROWS = 200_000
EXACT_ROWS = 20_000
PROJECTED = 64
#: About how many rows per query the projection passes to the exact score, and the
#: stride of the rows its threshold is estimated from.
PROBE = 512
STRIDE = 32
#: Rows (evenly spaced) the projection's principal directions are computed from.
BASIS_SAMPLE = 8_192
PREFILTER = 400
WORDS = DIMENSIONS // 64
# Workspaces whose index a process keeps (least recently searched dropped first).
CACHED_WORKSPACES = 8
CHUNK_ROWS = 20_000


# --- storing ------------------------------------------------------------------------


def _store(model: type, key: str, rows: list[tuple[int, int, str]]) -> int:
    """Embed ``rows`` of (object id, workspace id, text) whose stored vector is missing,
    of another model, or of another text; returns how many were (re-)embedded."""
    if not rows:
        return 0
    current = embeddings.model_id()
    stored = {
        object_id: (model_name, digest)
        for object_id, model_name, digest in model.objects.filter(
            **{f"{key}__in": [r[0] for r in rows]}
        ).values_list(key, "model", "text_hash")
    }
    todo = []
    for object_id, workspace_id, text in rows:
        digest = embeddings.text_hash(text)
        if stored.get(object_id) != (current, digest):
            todo.append((object_id, workspace_id, text, digest))
    if not todo:
        return 0
    embedded = embeddings.embed([t[2] for t in todo])
    now = timezone.now()
    vectors = []
    for i, (object_id, workspace_id, _text, digest) in enumerate(todo):
        reason = embedded.skipped.get(i, "")
        scale, int8, bits = (0.0, b"", b"") if reason else embeddings.quantize(embedded.vectors[i])
        vectors.append(
            model(
                workspace_id=workspace_id,
                model=current,
                text_hash=digest,
                scale=scale,
                int8=int8,
                bits=bits,
                skip_reason=reason,
                embedded_at=now,
                **{key: object_id},
            )
        )
    for workspace_id in sorted({v.workspace_id for v in vectors}):
        with transaction.atomic():
            _lock_inserts(model, workspace_id)
            mine = [v for v in vectors if v.workspace_id == workspace_id]
            model.objects.filter(**{f"{key}__in": [getattr(v, key) for v in mine]}).delete()
            _insert(model, mine)
    return len(todo)


def _insert(model: type, rows: list) -> None:
    """Insert these unsaved vectors (their ids are not read back). On PostgreSQL by COPY:
    ``bulk_create`` spent 27-33 ms on 250 vectors, most of it spelling their bytes into the
    statement's text, where COPY takes 4-5 ms (about a tenth of an import's check of 250 items)."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    # Through Django's cursor (its COPY is in the debug log and counted like a query) and
    # its error wrapper (a timeout is django.db.OperationalError, as for any statement).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields])


# The advisory lock's namespace (priority.recompute uses 0x5052): a workspace's vector
# inserts are serialised, so their ids are taken in commit order and an index that has read
# id N has seen every committed vector of that workspace below N.
ADVISORY_LOCK_NAMESPACE = 0x5645


def _lock_inserts(model: type, workspace_id: int) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        kind = 1 if model is FeedbackVector else 2
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE + kind, workspace_id]
            )


def items_embed(*, item_ids: list[int]) -> int:
    """Make sure these feedback items have a current vector; returns how many were embedded
    now. Idempotent: a second call embeds nothing."""
    rows = list(FeedbackItem.objects.filter(pk__in=item_ids).values_list("pk", "workspace_id", "text"))
    return _store(FeedbackVector, "item_id", rows)


def feature_text(title: str, public_title: str, release_note: str, description: str) -> str:
    """What a feature's vector is made from: its titles first, then the customer-facing
    note and the internal description."""
    parts = [title, public_title if public_title != title else "", release_note, description]
    return "\n".join(p for p in parts if p)


def features_embed_pending(*, workspace_id: int | None = None, limit: int = 2000) -> int:
    """Embed features with no vector, a vector of another model, or one older than their
    last edit (whose text may have changed: re-embedded only if it did). Returns how many
    were embedded."""
    from roadmap.models import Feature

    current = embeddings.model_id()
    fresh = FeatureVector.objects.filter(
        feature_id=OuterRef("pk"), model=current, embedded_at__gte=OuterRef("updated_at")
    )
    features = Feature.objects.filter(~Exists(fresh))
    if workspace_id is not None:
        features = features.filter(workspace_id=workspace_id)
    rows = list(
        features.order_by("pk").values_list(
            "pk", "workspace_id", "title", "public_title", "release_note", "description"
        )[:limit]
    )
    texts = [(pk, ws, feature_text(t, pt, rn, d)) for pk, ws, t, pt, rn, d in rows]
    embedded = _store(FeatureVector, "feature_id", texts)
    # Edited but the text is the same: the vector is current again.
    FeatureVector.objects.filter(feature_id__in=[r[0] for r in rows], model=current).update(
        embedded_at=timezone.now()
    )
    return embedded


def vectors_outdated_recheck(*, limit: int = 5000) -> int:
    """Items whose vector another model made are checked for duplicates again (which
    re-embeds them first). Returns how many were marked."""
    current = embeddings.model_id()
    item_ids = list(FeedbackVector.objects.exclude(model=current).values_list("item_id", flat=True)[:limit])
    if item_ids:
        items_mark_unchecked(item_ids=item_ids)
    return len(item_ids)


@transaction.atomic
def items_mark_unchecked(*, item_ids: list[int]) -> int:
    """Mark items for another duplicate check (the sweep picks them up); returns how many.

    The items are locked first in id order (``FOR NO KEY UPDATE``), the order every check
    locks its batch in. A bare ``UPDATE … WHERE id IN (…)`` locks them in the table's
    physical order, and beside running checks that deadlocked (seen in
    tests/feedback/test_duplicates_concurrency.py once checks got fast)."""
    locked = items_lock(item_ids=item_ids)
    return FeedbackItem.objects.filter(pk__in=locked).update(duplicates_checked_at=None)


def items_lock(*, item_ids: list[int]) -> list[int]:
    """Lock these feedback items ``FOR NO KEY UPDATE`` in id order, the order every duplicate
    check and re-mark takes them in (docs/reliability.md); returns the ids that exist. Other
    checks' foreign keys to them take ``FOR KEY SHARE`` and are not blocked. Must run inside
    a transaction."""
    return list(
        FeedbackItem.objects.select_for_update(no_key=True)
        .filter(pk__in=item_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def items_with_vector(*, workspace_id: int, item_ids: list[int]) -> list[int]:
    """Which of these items of the workspace have a current vector, embedding missing or
    stale ones first; sorted. Items that cannot be embedded are left out."""
    items_embed(item_ids=item_ids)
    return list(
        FeedbackVector.objects.filter(
            workspace_id=workspace_id, item_id__in=item_ids, model=embeddings.model_id(), skip_reason=""
        )
        .order_by("item_id")
        .values_list("item_id", flat=True)
    )


# --- the in-memory index ---------------------------------------------------------------


@dataclass
class VectorIndex:
    """One workspace's vectors of one kind, as arrays (see the module docstring)."""

    float_rows: int = FLOAT_ROWS
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    q: np.ndarray = field(default_factory=lambda: np.zeros((0, DIMENSIONS), dtype=np.int8))
    scales: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    # The sign bits word by word (``WORDS`` rows of ``capacity``): a query's Hamming distance
    # is then ``WORDS`` (six) passes over contiguous words. Row by row (capacity × WORDS), the
    # XOR and the sum over each row's words made a search at 1,000,000 rows 66 ms, against 21.
    bits: np.ndarray = field(default_factory=lambda: np.zeros((WORDS, 0), dtype=np.uint64))
    floats: np.ndarray | None = None
    exact_rows: int = EXACT_ROWS
    # The float rows projected on ``basis`` (PROJECTED principal directions of the rows),
    # once the index has more than ``exact_rows``.
    basis: np.ndarray | None = None
    projected: np.ndarray | None = None
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    size: int = 0
    last_pk: int = 0
    positions: dict[int, int] = field(default_factory=dict)
    # Held while rows are added and while they are searched: threads of one process share
    # the index, and a growth reallocates the arrays.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def _grow(self, needed: int) -> None:
        capacity = len(self.ids)
        if needed <= capacity:
            return
        capacity = max(needed, int(capacity * 1.5), 1024)

        def grown(array: np.ndarray) -> np.ndarray:
            new = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            new[: self.size] = array[: self.size]
            return new

        self.ids, self.q, self.scales, self.alive = (
            grown(self.ids),
            grown(self.q),
            grown(self.scales),
            grown(self.alive),
        )
        bits = np.zeros((WORDS, capacity), dtype=np.uint64)
        bits[:, : self.size] = self.bits[:, : self.size]
        self.bits = bits
        if needed <= self.float_rows:
            base = self.floats if self.floats is not None else np.zeros((0, DIMENSIONS), np.float32)
            self.floats = grown(base) if len(base) else np.zeros((capacity, DIMENSIONS), np.float32)
            if self.projected is not None:
                self.projected = grown(self.projected)
        else:
            self.floats = None  # too many rows for float32: signs and bytes only
            self.basis = self.projected = None

    def add(self, rows: list[tuple[int, int, float, bytes, bytes]]) -> None:
        """Append rows of (vector pk, object id, scale, int8 bytes, sign bytes), in pk order;
        rows at or below the last pk read are skipped (another thread read them first)."""
        with self.lock:
            self._add([r for r in rows if r[0] > self.last_pk])

    def _add(self, rows: list[tuple[int, int, float, bytes, bytes]]) -> None:
        if not rows:
            return
        start = self.size
        self._grow(start + len(rows))
        n = len(rows)
        self.ids[start : start + n] = [r[1] for r in rows]
        self.scales[start : start + n] = [r[2] for r in rows]
        self.q[start : start + n] = np.frombuffer(b"".join(bytes(r[3]) for r in rows), dtype=np.int8).reshape(
            n, DIMENSIONS
        )
        self.bits[:, start : start + n] = (
            np.frombuffer(b"".join(bytes(r[4]) for r in rows), dtype=np.uint64).reshape(n, WORDS).T
        )
        self.alive[start : start + n] = True
        for offset, row in enumerate(rows):
            previous = self.positions.get(row[1])
            if previous is not None:
                self.alive[previous] = False
            self.positions[row[1]] = start + offset
        self.size = start + n
        if self.floats is not None:
            block = self.q[start : self.size].astype(np.float32) * self.scales[start : self.size, None]
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
            self.floats[start : self.size] = block
            self._project(start)
        self.last_pk = rows[-1][0]

    def _project(self, start: int) -> None:
        """Project the float rows from ``start`` (all of them when the basis is new)."""
        if self.size <= self.exact_rows:
            return
        if self.basis is None:
            # The directions along which the rows vary most (no centring: dot products are
            # what is approximated), from evenly spaced rows: the same rows, the same basis.
            sample = self.floats[np.linspace(0, self.size - 1, min(BASIS_SAMPLE, self.size)).astype(int)]
            _, _, vt = np.linalg.svd(sample.astype(np.float64), full_matrices=False)
            self.basis = np.ascontiguousarray(vt[:PROJECTED].T, dtype=np.float32)
            self.projected = np.zeros((len(self.floats), PROJECTED), dtype=np.float32)
            start = 0
        self.projected[start : self.size] = self.floats[start : self.size] @ self.basis

    def vectors_of(self, object_ids: list[int]) -> np.ndarray:
        """The float32 unit vectors of these objects (each must be in ``positions``)."""
        with self.lock:
            return self._vectors_of(object_ids)

    def _vectors_of(self, object_ids: list[int]) -> np.ndarray:
        rows = [self.positions[pk] for pk in object_ids]
        if self.floats is not None:
            return self.floats[rows].copy()
        block = self.q[rows].astype(np.float32) * self.scales[rows, None]
        return block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)

    def search(
        self, queries: np.ndarray, *, k: int, floor: float, exclude: list[int] | None = None
    ) -> list[list[tuple[int, float]]]:
        """For each unit query row, up to ``k`` (object id, cosine) with cosine ≥ ``floor``,
        most similar first; ``exclude[i]`` is an object id left out of row ``i``'s answer."""
        with self.lock:
            return self._search(queries, k=k, floor=floor, exclude=exclude)

    def _search(self, queries, *, k, floor, exclude) -> list[list[tuple[int, float]]]:
        results: list[list[tuple[int, float]]] = [[] for _ in range(len(queries))]
        if self.size == 0 or len(queries) == 0:
            return results
        alive = self.alive[: self.size]
        dead = ~alive if not alive.all() else None
        for start in range(0, len(queries), 64):
            block = np.asarray(queries[start : start + 64], dtype=np.float32)
            if self.projected is not None:
                self._search_projected(block, start, results, k, floor, exclude, alive, dead)
            elif self.floats is not None:
                scores = block @ self.floats[: self.size].T
                if dead is not None:
                    scores[:, dead] = -2.0
                for row, line in enumerate(scores):
                    results[start + row] = self._top(line, None, k, floor, exclude, start + row)
            else:
                signs = np.packbits(block > 0, axis=1).view(np.uint64)
                for row, query in enumerate(block):
                    distance = self._hamming(signs[row])
                    if dead is not None:
                        distance[dead] = DIMENSIONS + 1
                    take = min(PREFILTER, self.size)
                    near = np.argpartition(distance, take - 1)[:take]
                    exact = (self.q[near].astype(np.float32) @ query) * self.scales[near]
                    norms = np.linalg.norm(self.q[near].astype(np.float32) * self.scales[near, None], axis=1)
                    exact /= np.maximum(norms, 1e-12)
                    results[start + row] = self._top(exact, near, k, floor, exclude, start + row)
        return results

    def _search_projected(self, block, start, results, k, floor, exclude, alive, dead) -> None:
        """Score the projections, keep the rows above a threshold that about ``PROBE`` rows
        pass, and score those exactly. The threshold is each query's ``PROBE / STRIDE``-th
        best among every ``STRIDE``-th row: selecting over all rows (``argpartition``)
        allocated an index for every row of every query and cost more than the products."""
        rough = (block @ self.basis) @ self.projected[: self.size].T
        if dead is not None:
            rough[:, dead] = -2.0
        sample = rough[:, ::STRIDE]
        rank = max(1, min(PROBE // STRIDE, sample.shape[1]))
        threshold = np.partition(sample, sample.shape[1] - rank, axis=1)[:, sample.shape[1] - rank]
        rows, columns = np.nonzero(rough >= threshold[:, None])
        bounds = np.searchsorted(rows, np.arange(len(block) + 1))
        for row in range(len(block)):
            near = columns[bounds[row] : bounds[row + 1]]
            if len(near) > 2 * PROBE:
                near = near[np.argpartition(rough[row, near], len(near) - 2 * PROBE)[-2 * PROBE :]]
            exact = self.floats[near] @ block[row]
            if dead is not None:
                exact[~alive[near]] = -2.0
            results[start + row] = self._top(exact, near, k, floor, exclude, start + row)

    def _hamming(self, signs: np.ndarray) -> np.ndarray:
        """Each row's Hamming distance from these sign words (uint16: at most DIMENSIONS)."""
        words = self.bits[:, : self.size]
        scratch = np.empty(self.size, dtype=np.uint64)
        distance = np.bitwise_count(np.bitwise_xor(words[0], signs[0], out=scratch)).astype(np.uint16)
        for word in range(1, WORDS):
            distance += np.bitwise_count(np.bitwise_xor(words[word], signs[word], out=scratch))
        return distance

    def _top(self, scores, positions, k, floor, exclude, row) -> list[tuple[int, float]]:
        skip = exclude[row] if exclude else None
        take = min(k + 1, len(scores))
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        found = []
        for j in best:
            score = float(scores[j])
            if score < floor:
                break
            object_id = int(self.ids[positions[j] if positions is not None else j])
            if object_id == skip:
                continue
            found.append((object_id, round(score, 4)))
            if len(found) == k:
                break
        return found


_indexes: OrderedDict[tuple[str, int], VectorIndex] = OrderedDict()
_indexes_lock = threading.Lock()


def _index(kind: str, workspace_id: int) -> VectorIndex:
    model = FeedbackVector if kind == "items" else FeatureVector
    key_field = "item_id" if kind == "items" else "feature_id"
    with _indexes_lock:
        index = _indexes.pop((kind, workspace_id), None) or VectorIndex()
        _indexes[(kind, workspace_id)] = index
        while len(_indexes) > CACHED_WORKSPACES:
            _indexes.popitem(last=False)
    current = embeddings.model_id()
    with index.lock:
        _refresh(index, model, key_field, workspace_id, current)
    return index


def new_vectors(model: type, *, workspace_id: int, after: int, current: str):
    """The workspace's vectors of the current model with ids above ``after`` (what an index
    has not read yet): one range scan of the (workspace, id) index, whatever the statistics
    say (tests/feedback/test_vectors.py checks the plan)."""
    return (
        model.objects.filter(workspace_id=workspace_id, pk__gt=after)
        .filter(Q(model=current))
        .exclude(skip_reason__gt="")
    )


def _refresh(index: VectorIndex, model: type, key_field: str, workspace_id: int, current: str) -> None:
    def stored():
        return new_vectors(model, workspace_id=workspace_id, after=index.last_pk, current=current)

    if index.size == 0:
        # A first load takes the arrays at their size at once: growing them by half again
        # copies them each time (old and new held together), and a workspace above
        # FLOAT_ROWS never allocates the float32 rows it would drop at 200,000. At 1,000,000
        # rows that was the difference between a worker's peak RSS over 1 GB and under.
        # Counting a million rows from a cold cache took longer than the 5 s statement
        # timeout (one query; the rows are then read in chunks of CHUNK_ROWS).
        with index.lock, long_transaction():
            index._grow(stored().count())
    while True:
        columns = ("pk", key_field, "scale", "int8", "bits")
        rows = list(stored().order_by("pk").values_list(*columns)[:CHUNK_ROWS])
        index.add(rows)
        if len(rows) < CHUNK_ROWS:
            return


def item_index(*, workspace_id: int) -> VectorIndex:
    """The workspace's feedback vectors, brought up to date (incrementally)."""
    return _index("items", workspace_id)


def feature_index(*, workspace_id: int) -> VectorIndex:
    """The workspace's feature vectors, brought up to date (incrementally)."""
    return _index("features", workspace_id)


def indexes_clear() -> None:
    """Forget every cached index (tests; a process that must reload)."""
    with _indexes_lock:
        _indexes.clear()


__all__ = [
    "VectorIndex",
    "feature_index",
    "features_embed_pending",
    "item_index",
    "items_embed",
    "items_lock",
    "items_mark_unchecked",
    "items_with_vector",
    "vectors_outdated_recheck",
]
