"""feedback.minilm's ONNX graph computes what the model computes: against a plain numpy run
of the same weights, float32 agrees to rounding and int8 keeps each vector's direction."""

import csv
from pathlib import Path

import numpy as np
import pytest

from feedback import minilm
from tests.feedback.minilm_reference import ReferenceMiniLM

PAIRS = Path(__file__).resolve().parents[2] / "bench" / "data" / "duplicate_pairs.csv"


def _texts() -> list[str]:
    """Forty texts of the labelled set, short and long, plus padding's worst case: one
    long text batched with one-word ones."""
    with PAIRS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["a"] for row in rows[:20]] + [row["b"] for row in rows[-20:]]
    return [*texts, "Ok", "word " * 200, "Dark mode"]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def reference():
    texts = _texts()
    return texts, _unit(ReferenceMiniLM().encode(texts))


def test_float32_graph_matches_the_reference(reference):
    texts, expected = reference

    got = _unit(minilm.MiniLM(precision="float32").encode(texts))

    cosines = (got * expected).sum(1)
    assert cosines.min() > 0.99999


def test_int8_graph_keeps_every_vector_close_to_the_reference(reference):
    texts, expected = reference

    got = _unit(minilm.MiniLM(precision="int8").encode(texts))

    cosines = (got * expected).sum(1)
    # A real request keeps 0.98 or more; "Ok" (third from last: one word, nothing to
    # average over) is the worst case seen, at 0.96.
    assert np.delete(cosines, -3).min() > 0.98
    assert cosines.min() > 0.95


def test_batches_on_two_threads_give_the_same_vectors(reference):
    texts, _ = reference
    encoder = minilm.MiniLM(precision="int8")
    many = texts * 3  # five batches of 32: both threads take several

    alone = encoder.encode(many)
    threaded = encoder.encode(many, threads=2)

    assert np.array_equal(threaded, alone)


def test_the_int8_graph_is_kept_in_its_folder_and_read_back(tmp_path, monkeypatch):
    texts = ["Export roadmap to PDF", "Dark mode"]
    made = minilm.MiniLM(precision="int8", folder=tmp_path)
    kept = minilm.quantised_file(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]

    def quantise_again(model):
        raise AssertionError("quantised again: the kept graph was not read")

    monkeypatch.setattr(minilm, "_quantised", quantise_again)
    read_back = minilm.MiniLM(precision="int8", folder=tmp_path)

    assert np.array_equal(read_back.encode(texts), made.encode(texts))


def test_an_unwritable_folder_still_gives_the_encoder(tmp_path):
    folder = tmp_path / "models"
    folder.write_text("a file where the folder should be")

    encoder = minilm.MiniLM(precision="int8", folder=folder)

    assert encoder.encode(["Dark mode"]).shape == (1, minilm.DIMENSIONS)


def test_a_kept_graph_that_does_not_load_is_made_and_kept_again(tmp_path):
    made = minilm.MiniLM(precision="int8", folder=tmp_path)
    kept = minilm.quantised_file(tmp_path)
    good = kept.read_bytes()
    kept.write_bytes(good[: len(good) // 2])  # cut short

    again = minilm.MiniLM(precision="int8", folder=tmp_path)

    assert np.array_equal(again.encode(["Dark mode"]), made.encode(["Dark mode"]))
    assert kept.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no temporary file left


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(minilm.os, "fsync", full_disk)

    minilm.keep_file(tmp_path / "graph.onnx", b"payload")

    assert list(tmp_path.iterdir()) == []
