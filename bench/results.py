"""What every benchmark of the suite returns: rows of one results table.

Each benchmark module that joins the suite (``bench/suite.py``) exposes::

    def suite(ctx: SuiteContext) -> list[Row]

and keeps its ``main(argv)`` for ``python -m bench <name>``. A row is one figure with
its target; ``met`` is None for a figure printed for information only. Timings are
medians over several runs (``Sample``), and a comparison with a floor is a ratio of two
samples taken in the same run, interleaved (A, B, A, B…): see ``interleaved``.

A benchmark never fails because the machine is slow: a missed target is a row with
``met=False``. It raises only when it is broken (an error, a wrong result).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

Size = Literal["small", "full"]


@dataclass(frozen=True)
class Sample:
    """Several timings of one thing, in seconds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    def ms(self) -> str:
        """``"483 ms (min 470, max 512, n=5)"``."""
        return (
            f"{self.median * 1000:,.1f} ms (min {self.min * 1000:,.1f}, max {self.max * 1000:,.1f}, "
            f"n={len(self.times)})"
        )


def timed(fn: Callable[[], object], repeat: int = 5) -> Sample:
    """``fn`` run ``repeat`` times."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Sample(tuple(times))


def interleaved(a: Callable[[], object], b: Callable[[], object], repeat: int = 5) -> tuple[Sample, Sample]:
    """``a`` and ``b`` run alternately (a, b, a, b…), so both see the same machine."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return Sample(tuple(ta)), Sample(tuple(tb))


@dataclass
class Row:
    """One line of the results table.

    ``benchmark``: what was measured ("recompute: 1,000 features ÷ floor"); ``figure``:
    the measured value as printed; ``target``: the target as printed ("≤ 2.0×"), or "" for
    a figure without one; ``met``: True/False against the target, None without one.
    ``value``/``unit`` keep the number for ``make bench-compare``; ``details`` anything else
    worth keeping in the JSON (medians, min/max, counts).
    """

    benchmark: str
    figure: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def ratio_row(
    benchmark: str,
    measured: Sample,
    floor: Sample,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> Row:
    """``measured`` ÷ ``floor`` (medians), with a target of at most / at least a ratio."""
    ratio = measured.median / floor.median if floor.median else float("inf")
    if at_most is not None:
        target, met = f"≤ {at_most:g}× floor", ratio <= at_most
    elif at_least is not None:
        target, met = f"≥ {at_least:g}× floor", ratio >= at_least
    else:
        target, met = "", None
    return Row(
        benchmark=benchmark,
        figure=f"{ratio:.2f}× ({measured.median * 1000:,.1f} vs {floor.median * 1000:,.1f} ms)",
        value=ratio,
        unit="×",
        target=target,
        met=met,
        details={"measured": list(measured.times), "floor": list(floor.times)},
    )


@dataclass
class SuiteContext:
    """What the suite hands each benchmark.

    ``size``: "small" (CI: the whole suite under two minutes) or "full" (by hand).
    ``scale`` and ``seed``: of the ``seed_demo`` dataset the suite built (or reused) in the
    benchmark database before calling the benchmarks; its demo workspace has slug "demo".
    ``database_url``: that database (already the default connection: Django is set up).
    """

    size: Size
    scale: int
    seed: int
    database_url: str
    redis_url: str
