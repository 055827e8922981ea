"""feedback.static_minilm: the encoder distilled to a table of token vectors, and the
contextual vectors themes use (feedback.embeddings.embed_in_context)."""

import numpy as np

from feedback import embeddings, minilm, static_minilm


def _model() -> static_minilm.StaticMiniLM:
    return embeddings._load()


def test_a_text_is_the_weighted_mean_of_its_token_rows():
    model = _model()
    ids = model.tokenizer.encode("export calendar", add_special_tokens=False).ids

    (got,) = model.encode(["export calendar"])

    expected = model.table[ids].sum(0) / model.weights[ids].sum()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert len(ids) == 2


def test_frequent_words_weigh_less_than_rare_ones():
    model = _model()
    (the,) = model.tokenizer.encode("the", add_special_tokens=False).ids
    (calendar,) = model.tokenizer.encode("calendar", add_special_tokens=False).ids

    assert model.weights[the] < 0.05 < 0.5 < model.weights[calendar]


def test_the_table_is_the_same_every_time_it_is_made_and_is_read_from_its_file(tmp_path):
    model = _model()

    again = static_minilm.weighted_table(embeddings._load_encoder())
    saved = static_minilm.load_table(tmp_path)  # made and saved
    read = static_minilm.load_table(tmp_path)  # read back

    assert np.array_equal(again, model.table)
    assert np.array_equal(saved, again)
    assert np.array_equal(read, again)
    assert model.table.shape == (30_522, 384)
    # The table, and the encoder's int8 graph it was distilled with (kept for the next start).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [static_minilm.table_file(tmp_path).name, minilm.quantised_file(tmp_path).name]
    )


def test_a_table_file_that_cannot_be_read_is_made_again(tmp_path):
    static_minilm.table_file(tmp_path).write_bytes(b"half a file")

    table = static_minilm.load_table(tmp_path)

    assert np.array_equal(table, _model().table)


def test_a_text_without_tokens_is_a_zero_row():
    assert not _model().encode([""]).any()


def test_contextual_vectors_are_unit_rows_cached_per_text_and_zero_for_skipped_text():
    texts = ["Offline mode for the mobile app", "   ", "Offline mode for the mobile app"]

    first = embeddings.embed_in_context(texts)
    again = embeddings.embed_in_context(texts[:1])

    np.testing.assert_allclose(np.linalg.norm(first[0]), 1.0, rtol=1e-5)
    assert not first[1].any()
    assert np.array_equal(first[0], first[2])
    assert np.array_equal(again[0], first[0])
    # The encoder's vector, not the table's: the two differ.
    table = embeddings.embed(texts[:1]).vectors[0]
    assert float(first[0] @ table) < 0.99
