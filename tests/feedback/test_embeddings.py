"""The embedder: the bundled model, offline; what it embeds and what it skips, and why."""

import socket

import numpy as np
import pytest

from feedback import embeddings


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_the_bundled_model_loads_and_embeds_with_sockets_disabled(no_network, monkeypatch):
    monkeypatch.setattr(embeddings, "_model", None)  # load it again, here
    monkeypatch.setattr(embeddings, "_recent", embeddings._Recent(embeddings.CACHED_TEXTS))

    result = embeddings.embed(["Export roadmap to PDF", "Can I download my roadmap as a PDF document?"])

    assert result.vectors.shape == (2, embeddings.DIMENSIONS)
    assert result.skipped == {}
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert float(result.vectors[0] @ result.vectors[1]) > 0.7
    assert embeddings.model_id() == "all-MiniLM-L6-v2-static@0.1.0+int8"


def test_bad_input_is_embedded_or_skipped_with_a_reason():
    texts = [
        "",
        "   \n\t ",
        "https://example.com/roadmap?x=1",
        "😀🎉",
        "x" * 50_000,
        "Exportar la hoja de ruta a PDF 日本語 テスト 😀",
        "Ok",
    ]

    result = embeddings.embed(texts)

    assert result.skipped == {0: "empty", 1: "empty", 2: "only_url", 3: "no_words"}
    for row in (4, 5, 6):
        assert abs(float(np.linalg.norm(result.vectors[row])) - 1.0) < 1e-5
    for row in (0, 1, 2, 3):
        assert not result.vectors[row].any()


def test_the_same_text_many_times_is_embedded_once(monkeypatch):
    monkeypatch.setattr(embeddings, "_recent", embeddings._Recent(embeddings.CACHED_TEXTS))
    calls = []
    model = embeddings._load()
    real = model.encode
    monkeypatch.setattr(model, "encode", lambda texts: calls.append(len(texts)) or real(texts))

    result = embeddings.embed(["Dark mode please"] * 10_000)

    again = embeddings.embed(["Dark mode please", "A night theme"])

    assert calls == [1, 1]  # the second call embedded only the new text
    assert result.vectors.shape == (10_000, embeddings.DIMENSIONS)
    assert np.array_equal(result.vectors[0], result.vectors[-1])
    assert np.array_equal(again.vectors[0], result.vectors[0])


def test_prepare_drops_urls_cuts_long_text_and_spells_out_abbreviations():
    assert embeddings.prepare("SSO via https://okta.example/x please") == (
        "SSO single sign-on via please",
        "",
    )
    prepared, reason = embeddings.prepare("word " * 5_000)
    assert (len(prepared), reason) == (embeddings.TEXT_LENGTH, "")
    assert embeddings.text_hash("a  b") == embeddings.text_hash("a b")
    assert embeddings.text_hash("a b") != embeddings.text_hash("a c")


def test_quantised_vectors_keep_their_direction():
    vector = embeddings.embed(["Bulk edit cards on the board"]).vectors[0]

    scale, int8, bits = embeddings.quantize(vector)

    assert (len(int8), len(bits)) == (embeddings.DIMENSIONS, embeddings.DIMENSIONS // 8)
    assert float(embeddings.dequantize(scale, int8) @ vector) > 0.999
    assert embeddings.quantize(np.zeros(embeddings.DIMENSIONS, np.float32)) == (0.0, b"", b"")
