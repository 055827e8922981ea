"""``python -m bench duplicate_speed [--rows 100000 1000000]``: the parts of duplicate
detection by meaning that do not need a database, measured alone.

- embedding throughput of the bundled model on one core (``OMP``/BLAS threads 1);
- one lookup in a worker's in-memory index (``feedback.vectors.VectorIndex``) at each size:
  p50/p95 of the search for one item's nearest, exact float32 rows up to 200,000 rows and
  the sign prefilter above; the index's memory and the process's peak RSS.

The rows are random unit vectors quantised like stored ones (the cost of a search does not
depend on what the vectors say). Not part of ``make bench``: the full combined lookup with
the database and the import throughput are measured there (docs/feedback-intelligence.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import time


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench duplicate_speed")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
    os.environ.setdefault("DEBUG", "1")  # no database or secret is used: settings need one
    import django
    import numpy as np

    django.setup()

    from feedback import embeddings
    from feedback.vectors import VectorIndex

    texts = [
        f"Request {i}: please let us export the roadmap to PDF for the board meeting" for i in range(512)
    ]
    embeddings.embed(texts[:8])  # load the model first
    started = time.perf_counter()
    embeddings.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    print(f"embedding: {rate:,.0f} items/s on one core ({embeddings.model_id()})")

    rng = np.random.default_rng(7)
    for rows in args.rows:
        index = VectorIndex()
        for start in range(0, rows, 50_000):
            n = min(50_000, rows - start)
            block = rng.normal(size=(n, embeddings.DIMENSIONS)).astype(np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            scales = np.abs(block).max(axis=1) / 127.0
            q = np.rint(block / scales[:, None]).astype(np.int8)
            bits = np.packbits(block > 0, axis=1)
            index.add(
                [
                    (start + i + 1, start + i + 1, float(scales[i]), q[i].tobytes(), bits[i].tobytes())
                    for i in range(n)
                ]
            )
        queries = index.vectors_of(list(rng.integers(1, rows + 1, size=args.lookups)))
        times = []
        for query in queries:
            started = time.perf_counter()
            index.search(query[None, :], k=10, floor=0.3)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        memory = sum(a.nbytes for a in (index.ids, index.q, index.scales, index.bits, index.alive))
        memory += index.floats.nbytes if index.floats is not None else 0
        mode = "float32 rows" if index.floats is not None else "sign prefilter + int8"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"lookup at {rows:,} rows ({mode}): p50 {times[len(times) // 2]:.1f} ms, "
            f"p95 {times[int(len(times) * 0.95)]:.1f} ms; index {memory / 2**20:,.0f} MB; "
            f"peak RSS {peak:,.0f} MB"
        )
        del index
