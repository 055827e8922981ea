"""Stored vectors and the in-memory index (feedback.vectors)."""

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from feedback import embeddings, vectors
from feedback.models import FeatureVector, FeedbackVector
from tests.feedback.factories import FeedbackItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _rows(n: int, seed: int = 1) -> tuple[np.ndarray, list[tuple[int, int, float, bytes, bytes]]]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, embeddings.DIMENSIONS)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rows = []
    for i, vector in enumerate(matrix):
        scale, int8, bits = embeddings.quantize(vector)
        rows.append((i + 1, 1000 + i, scale, int8, bits))
    return matrix, rows


def test_items_are_embedded_once_and_again_when_their_text_changes(workspace):
    item = FeedbackItemFactory(workspace=workspace, text="Dark mode please")
    empty = FeedbackItemFactory(workspace=workspace, text="https://example.com/only-a-link")

    assert vectors.items_embed(item_ids=[item.pk, empty.pk]) == 2
    assert vectors.items_embed(item_ids=[item.pk, empty.pk]) == 0
    first = FeedbackVector.objects.get(item=item)
    assert (first.model, len(bytes(first.int8)), first.skip_reason) == (embeddings.model_id(), 384, "")
    assert FeedbackVector.objects.get(item=empty).skip_reason == "only_url"

    item.text = "Night theme for the whole app"
    item.save(update_fields=["text"])
    assert vectors.items_embed(item_ids=[item.pk]) == 1
    second = FeedbackVector.objects.get(item=item)
    assert second.pk > first.pk  # replaced, never updated: the index reads it as new


def test_a_stored_vector_holds_exactly_what_was_quantised(workspace):
    # On PostgreSQL the rows go in by COPY: every column must come back as it was made.
    item = FeedbackItemFactory(workspace=workspace, text="Export the roadmap to PDF")
    empty = FeedbackItemFactory(workspace=workspace, text="   ")
    before = timezone.now()

    vectors.items_embed(item_ids=[item.pk, empty.pk])

    stored = FeedbackVector.objects.get(item=item)
    scale, int8, bits = embeddings.quantize(embeddings.embed([item.text]).vectors[0])
    assert (stored.workspace_id, stored.model, stored.text_hash, stored.skip_reason) == (
        workspace.pk,
        embeddings.model_id(),
        embeddings.text_hash(item.text),
        "",
    )
    assert (stored.scale, bytes(stored.int8), bytes(stored.bits)) == (scale, int8, bits)
    assert before <= stored.embedded_at <= timezone.now()
    assert stored.embedded_at.tzinfo is not None
    skipped = FeedbackVector.objects.get(item=empty)
    assert (skipped.scale, bytes(skipped.int8), bytes(skipped.bits)) == (0.0, b"", b"")
    assert skipped.skip_reason == "empty"


def test_a_vector_of_another_model_is_rechecked(workspace):
    item = FeedbackItemFactory(workspace=workspace, text="Dark mode please")
    vectors.items_embed(item_ids=[item.pk])
    FeedbackVector.objects.filter(item=item).update(model="old-model@1")
    type(item).objects.filter(pk=item.pk).update(duplicates_checked_at="2026-01-01T00:00:00Z")

    assert vectors.vectors_outdated_recheck() == 1

    item.refresh_from_db()
    assert item.duplicates_checked_at is None
    assert vectors.items_embed(item_ids=[item.pk]) == 1
    assert FeedbackVector.objects.get(item=item).model == embeddings.model_id()


def test_features_are_embedded_from_their_titles_and_texts_and_again_after_an_edit(workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Dark mode")

    assert vectors.features_embed_pending(workspace_id=workspace.pk) == 1
    assert vectors.features_embed_pending(workspace_id=workspace.pk) == 0
    feature.save(update_fields=["updated_at"])  # edited, same text: nothing embedded
    assert vectors.features_embed_pending(workspace_id=workspace.pk) == 0
    feature.description = "A dark theme for the web app"
    feature.save(update_fields=["description", "updated_at"])
    assert vectors.features_embed_pending(workspace_id=workspace.pk) == 1
    assert FeatureVector.objects.filter(feature=feature).count() == 1


def test_the_index_reads_new_vectors_incrementally_and_forgets_replaced_ones(workspace):
    a = FeedbackItemFactory(workspace=workspace, text="Export the roadmap to PDF")
    b = FeedbackItemFactory(workspace=workspace, text="Dark mode please")
    vectors.items_embed(item_ids=[a.pk, b.pk])
    index = vectors.item_index(workspace_id=workspace.pk)
    assert set(index.positions) == {a.pk, b.pk}

    b.text = "Download my roadmap as a PDF document"
    b.save(update_fields=["text"])
    vectors.items_embed(item_ids=[b.pk])
    index = vectors.item_index(workspace_id=workspace.pk)

    assert int(index.alive[: index.size].sum()) == 2
    (hits,) = index.search(index.vectors_of([a.pk]), k=5, floor=0.5, exclude=[a.pk])
    assert [pk for pk, _ in hits] == [b.pk]


@pytest.mark.parametrize("float_rows", [10_000, 0], ids=["exact floats", "sign prefilter"])
def test_both_search_paths_find_the_nearest_rows(float_rows):
    matrix, rows = _rows(3000)
    index = vectors.VectorIndex(float_rows=float_rows)
    index.add(rows[:1000])
    index.add(rows[1000:])
    queries = matrix[[5, 2500]] + 0.05 * np.random.default_rng(2).normal(size=(2, embeddings.DIMENSIONS))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)

    found = index.search(queries, k=3, floor=-1.0)

    exact = queries @ matrix.T
    for row, hits in enumerate(found):
        expected = [1000 + int(j) for j in np.argsort(-exact[row])[:3]]
        assert [pk for pk, _ in hits][:1] == expected[:1]
        assert abs(hits[0][1] - float(exact[row].max())) < 0.01
    assert (index.floats is None) == (float_rows == 0)


def test_the_sign_prefilter_counts_each_rows_differing_signs():
    # The words are stored word by word (vectors.VectorIndex.bits); across a growth too.
    matrix, rows = _rows(1500)
    index = vectors.VectorIndex(float_rows=0)
    index.add(rows[:1100])
    index.add(rows[1100:])
    query = matrix[3]
    signs = np.packbits(query > 0).view(np.uint64)

    distance = index._hamming(signs)

    stored = np.unpackbits(
        np.frombuffer(b"".join(bytes(r[4]) for r in rows), np.uint8).reshape(1500, -1), axis=1
    )
    expected = (stored != np.unpackbits(np.packbits(query > 0))).sum(axis=1)
    assert distance.tolist() == expected.tolist()
    assert distance[3] == 0


def test_a_search_excludes_the_query_itself_and_stops_at_the_floor():
    matrix, rows = _rows(50)
    index = vectors.VectorIndex()
    index.add(rows)

    (hits,) = index.search(matrix[[7]], k=5, floor=0.99, exclude=[1007])

    assert hits == []


def test_above_exact_rows_the_projection_finds_what_an_exact_scan_finds():
    """30,000 real vectors (the benchmark's requests: 720 topics, each with its customer's
    own words): the projected search's ten nearest are the exact scan's."""
    import random

    from bench.feedback_ingest import feedback_text

    text_rng = random.Random(5)
    matrix = embeddings.embed([feedback_text(text_rng, i) for i in range(30_000)]).vectors
    rows = [(i + 1, 1000 + i, *embeddings.quantize(vector)) for i, vector in enumerate(matrix)]
    projected, exact = vectors.VectorIndex(), vectors.VectorIndex(exact_rows=10**9)
    for index in (projected, exact):
        index.add(rows[:20_000])  # the basis comes from the first 20,000 rows ...
        index.add(rows[20_000:])  # ... and projects the rows added after
    ids = [1000 + i for i in range(0, 30_000, 100)]

    fast = projected.search(projected.vectors_of(ids), k=10, floor=0.3, exclude=ids)
    slow = exact.search(exact.vectors_of(ids), k=10, floor=0.3, exclude=ids)

    assert projected.projected is not None
    assert exact.projected is None
    assert [hits[:1] for hits in fast] == [hits[:1] for hits in slow]
    overlap = [
        len({pk for pk, _ in a} & {pk for pk, _ in b}) / max(1, len(b))
        for a, b in zip(fast, slow, strict=True)
    ]
    assert sum(overlap) / len(overlap) >= 0.98
    assert sum(len(hits) for hits in slow) > 2000  # the topics have their ten neighbours


@pytest.mark.skipif(connection.vendor != "postgresql", reason="plans are PostgreSQL's")
def test_an_index_refresh_reads_only_new_rows_whatever_the_statistics_say():
    """After an import the statistics say the workspace has no vectors (autovacuum off);
    the refresh must still be a range scan from the last id read, not a filter of every row
    of the workspace (30 ms a batch at 100,000 vectors while a workspace index existed)."""
    from django.utils import timezone

    from feedback.models import FeedbackItem
    from tests.productops.factories import WorkspaceFactory

    def vectors_of(workspace, n):
        items = FeedbackItem.objects.bulk_create(
            FeedbackItem(workspace=workspace, text=f"request {i}", received_at=timezone.now())
            for i in range(n)
        )
        FeedbackVector.objects.bulk_create(
            FeedbackVector(
                workspace=workspace, item=item, model="m", text_hash="h", embedded_at=timezone.now()
            )
            for item in items
        )

    vectors_of(WorkspaceFactory(), 3000)  # another workspace's, in the statistics
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feedback_feedbackvector")
    workspace = WorkspaceFactory()
    vectors_of(workspace, 3000)  # this one's, after them
    last = FeedbackVector.objects.filter(workspace=workspace).order_by("-pk").values_list("pk", flat=True)[0]

    plan = vectors.new_vectors(FeedbackVector, workspace_id=workspace.pk, after=last, current="m").explain(
        analyze=True
    )

    # A range scan from the last id read (of (workspace, id) or of the primary key): no
    # row of the workspace read and thrown away.
    assert "Index Cond" in plan
    assert "Rows Removed by Filter" not in plan
