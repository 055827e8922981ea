"""Server-rendered SVG charts: geometry computed here, drawn by ``portal/partials/chart_*.html``.

Each function returns a plain dict the partial renders as an accessible
``<svg role="img">`` with a ``<title>``, a ``<desc>`` summarising the data, and a
``<title>`` on every mark (a tooltip on hover). No JavaScript, nothing loaded from
elsewhere, so charts work offline and in the browser tests.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace


def _nice_max(value: float) -> float:
    """The smallest 1/2/5 × 10ⁿ at or above ``value`` (axis tops that read well)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exponent
        if top >= value - 1e-9:
            return float(top)
    return float(10 ** (exponent + 1))


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"


#: A chart drawn in a narrow panel (the feature page's, 290–400 px wide) has a viewBox about
#: that wide and its text 15 units high (``.chart-compact`` in portal.css), so the text is
#: drawn at 11 px or more; at the usual 520–640 units it would shrink to 6–8 px there.
COMPACT_WIDTH = 380
COMPACT_CSS = "chart-compact"


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float = 0
    height: float = 0
    label: str = ""
    value: str = ""
    href: str = ""
    css: str = ""
    quadrant: str = ""
    ref: str = ""


def horizontal_bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 22,
    label_width: int = 170,
    compact: bool = False,
) -> dict:
    """One bar per row, longest = full width; negative values are drawn as zero-length with the
    value. ``compact``: for a narrow panel (:data:`COMPACT_WIDTH`)."""
    if compact:
        width, label_width, bar_height = COMPACT_WIDTH, 150, 24
    gap = 8
    plot = width - label_width - 60
    top = max([v for _, v in rows if v is not None] + [0])
    scale = plot / top if top > 0 else 0
    marks = [
        Mark(
            x=label_width,
            y=i * (bar_height + gap),
            width=max(0.0, (value or 0) * scale),
            height=bar_height,
            label=label,
            value=_fmt(value or 0),
        )
        for i, (label, value) in enumerate(rows)
    ]
    height = max(1, len(rows)) * (bar_height + gap)
    desc = "; ".join(f"{m.label}: {m.value}" for m in marks) or "No data."
    return {
        "title": title,
        "desc": desc,
        "width": width,
        "height": height,
        "marks": marks,
        "bar_height": bar_height,
        "css": COMPACT_CSS if compact else "",
        "label_chars": 17 if compact else 24,
        "text_dy": 17 if compact else 15,
    }


def columns(rows: Sequence[tuple[str, float]], *, title: str, width: int = 560, height: int = 180) -> dict:
    """Vertical columns over a category axis (e.g. feedback per week), with a labelled y-axis top."""
    pad_left, pad_bottom, pad_top = 36, 24, 10
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    top = _nice_max(max([v for _, v in rows] + [0]))
    step = plot_w / max(1, len(rows))
    col_w = max(2.0, step * 0.7)
    marks = []
    for i, (label, value) in enumerate(rows):
        h = plot_h * (value / top)
        marks.append(
            Mark(
                x=pad_left + i * step + (step - col_w) / 2,
                y=pad_top + plot_h - h,
                width=col_w,
                height=h,
                label=label,
                value=_fmt(value),
            )
        )
    # Label every other column when crowded, so labels never overlap.
    every = max(1, math.ceil(len(rows) * 44 / plot_w)) if rows else 1
    axis_labels = [{"x": m.x + col_w / 2, "text": m.label} for i, m in enumerate(marks) if i % every == 0]
    desc = "; ".join(f"{m.label}: {m.value}" for m in marks) or "No data."
    return {
        "title": title,
        "desc": desc,
        "width": width,
        "height": height,
        "marks": marks,
        "axis_labels": axis_labels,
        "y_top": _fmt(top),
        "plot": {"left": pad_left, "top": pad_top, "bottom": pad_top + plot_h, "right": width - 8},
        "label_y": height - 6,
    }


def line(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    width: int = 560,
    height: int = 200,
    invert: bool = False,
    y_label: str = "",
    compact: bool = False,
) -> dict:
    """A line through the points in order (e.g. a score over time); ``invert`` puts small
    values on top (ranks). Points with no value break nothing: they are left out.
    ``compact``: for a narrow panel (:data:`COMPACT_WIDTH`)."""
    pad_left, pad_bottom, pad_top, pad_right = 44, 24, 12, 12
    if compact:
        width, height = COMPACT_WIDTH, 170
        pad_left, pad_bottom, pad_top, pad_right = 56, 28, 16, 14
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    values = [v for _, v in points if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if invert:
        low, high = 1.0, max(high, 1.0)
    else:
        low, high = min(0.0, low), _nice_max(high)
    span = (high - low) or 1.0
    step = plot_w / max(1, len(points) - 1)
    marks = []
    for i, (label, value) in enumerate(points):
        if value is None:
            continue
        fraction = (value - low) / span
        y = pad_top + (fraction if invert else 1 - fraction) * plot_h
        marks.append(
            Mark(
                x=pad_left + i * step if len(points) > 1 else pad_left + plot_w / 2,
                y=y,
                label=label,
                value=_fmt(value),
            )
        )
    path = " ".join(f"{'M' if i == 0 else 'L'}{m.x:.1f},{m.y:.1f}" for i, m in enumerate(marks))
    desc = "; ".join(f"{m.label}: {m.value}" for m in marks) or "No history yet."
    first, last = (marks[0], marks[-1]) if marks else (None, None)
    return {
        "title": title,
        "desc": desc,
        "width": width,
        "height": height,
        "marks": marks,
        "path": path,
        "y_top": _fmt(low if invert else high),
        "y_bottom": _fmt(high if invert else low),
        "y_label": y_label,
        "first_label": first.label if first else "",
        "last_label": last.label if last else "",
        "plot": {"left": pad_left, "top": pad_top, "bottom": pad_top + plot_h, "right": width - pad_right},
        "label_y": height - 6,
        "css": COMPACT_CSS if compact else "",
    }


def _nice_step(span: float, count: int = 5) -> float:
    """A 1/2/5 × 10ⁿ step that cuts ``span`` into about ``count`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / count
    exponent = math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if step * 10**exponent >= raw - 1e-12:
            return float(step * 10**exponent)
    return float(10 ** (exponent + 1))


def _tick_label(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:g}k"
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return _fmt(round(value, 6))


@dataclass(frozen=True)
class Axis:
    """A scatter axis scaled to its data: ``low``..``high`` with ``ticks``; ``log`` is base 10."""

    low: float
    high: float
    ticks: tuple[float, ...]
    log: bool = False

    def fraction(self, value: float) -> float:
        if self.log:
            value = max(value, self.low)
            return (math.log10(value) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        return (value - self.low) / ((self.high - self.low) or 1.0)


def linear_axis(values: Sequence[float]) -> Axis:
    """From a little below the smallest value to a little above the largest, on round ticks;
    never below 0 for data that is not (an effort or a score starts at 0 at most)."""
    if not values:
        return Axis(0.0, 1.0, (0.0, 0.5, 1.0))
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 if high > low else max(abs(high) * 0.2, 1.0)
    low, high = low - pad, high + pad
    if low < 0 <= min(values):
        low = 0.0
    step = _nice_step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = tuple(round(low + i * step, 10) for i in range(round((high - low) / step) + 1))
    return Axis(float(low), float(high), ticks)


def log_axis(values: Sequence[float]) -> Axis:
    """Whole powers of ten around the positive values (with 2 and 5 between when the data
    spans fewer than three decades); zero and negative values sit on the bottom edge."""
    positive = [v for v in values if v > 0]
    if not positive:
        return linear_axis(values)
    low = 10 ** math.floor(math.log10(min(positive)))
    high = 10 ** math.ceil(math.log10(max(positive)))
    if high <= low:
        high = low * 10
    decades = round(math.log10(high / low))
    steps = (1, 2, 5) if decades < 3 else (1,)
    ticks = [low * 10**d * s for d in range(decades) for s in steps] + [high]
    return Axis(float(low), float(high), tuple(float(f"{t:.12g}") for t in ticks), log=True)


#: Where ``_matrix_chart.html`` draws a dot's ref (``dx``, ``dy`` from the dot's centre) and
#: how high its text is (``.chart-ref`` in portal.css), in user units.
REF_DX, REF_DY, REF_FONT = 9, -6, 12


def ref_box(mark: Mark) -> tuple[float, float, float, float]:
    """The box (left, top, right, bottom) a mark's ref text covers as a browser measures it,
    a little generous: digits are about 0.6 em wide, and the line box runs from about 0.9 em
    above the baseline to 0.3 em below it (1.12 em measured in Chromium)."""
    left, baseline = mark.x + REF_DX, mark.y + REF_DY
    return (
        left - 1,
        baseline - REF_FONT * 0.9,
        left + len(mark.ref) * REF_FONT * 0.62 + 1,
        baseline + REF_FONT * 0.3,
    )


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_refs(marks: list[Mark], *, limit: int) -> list[Mark]:
    """Keep the refs of the first ``limit`` marks (the order given: e.g. highest score first),
    less any whose box overlaps one already kept; the other marks lose theirs (their
    ``<title>`` and the table still name them)."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for mark in marks:
        if mark.ref and len(placed) < limit:
            box = ref_box(mark)
            if not any(_overlaps(box, other) for other in placed):
                placed.append(box)
                out.append(mark)
                continue
        out.append(replace(mark, ref="") if mark.ref else mark)
    return out


#: Quadrant names of a value (up) against effort (across) chart, split at the medians.
VALUE_EFFORT_QUADRANTS = {
    "top_left": "Quick wins",
    "top_right": "Big bets",
    "bottom_left": "Fill-ins",
    "bottom_right": "Money pits",
}


def scatter(
    points: Sequence[dict],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 400,
    y_log: bool = False,
    quadrants: dict[str, str] | None = None,
    max_refs: int = 20,
) -> dict:
    """Dots at (``x``, ``y``) with ``label``, optional ``href``, ``css`` and ``ref`` (a short
    label drawn beside the dot, e.g. the dot's row in a table: only for the first
    ``max_refs`` points in the order given, and never where it would overlap one already
    placed, see :func:`place_refs`; every dot still has its ``<title>``). Both axes are
    scaled to the data (``y_log``: a base-10 value axis, for skewed scores). With
    ``quadrants`` (names by corner), the plot is split at the median of each axis and each
    mark carries its quadrant's name."""
    pad_left, pad_bottom, pad_top, pad_right = 56, 44, 14, 16
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    xs, ys = [float(p["x"]) for p in points], [float(p["y"]) for p in points]
    x_axis = linear_axis(xs)
    y_axis = log_axis(ys) if y_log else linear_axis(ys)

    def px(value: float) -> float:
        return pad_left + plot_w * x_axis.fraction(value)

    def py(value: float) -> float:
        return pad_top + plot_h * (1 - y_axis.fraction(value))

    split = (statistics.median(xs), statistics.median(ys)) if quadrants and points else None

    def quadrant(x: float, y: float) -> str:
        if split is None:
            return ""
        corner = ("top" if y >= split[1] else "bottom") + ("_left" if x <= split[0] else "_right")
        return quadrants.get(corner, "")

    marks = place_refs(
        [
            Mark(
                x=px(x),
                y=py(y),
                label=p["label"],
                value=f"{x_label} {_fmt(p['x'])}, {y_label} {_fmt(p['y'])}",
                href=p.get("href", ""),
                css=p.get("css", ""),
                quadrant=quadrant(x, y),
                ref=str(p.get("ref", "")),
            )
            for p, x, y in zip(points, xs, ys, strict=True)
        ],
        limit=max_refs,
    )
    plot = {"left": pad_left, "top": pad_top, "bottom": pad_top + plot_h, "right": width - pad_right}
    x_ticks = [{"x": px(t), "label": _tick_label(t)} for t in x_axis.ticks]
    y_ticks = [{"y": py(t), "label": _tick_label(t)} for t in y_axis.ticks]
    desc = f"{len(marks)} features plotted by {x_label} (across) and {y_label} (up"
    desc += ", logarithmic)." if y_axis.log else ")."
    below = sum(1 for y in ys if y_axis.log and y < y_axis.low)
    if below:
        desc += f" {below} with a score of 0 or less sit on the bottom edge."
    quadrant_info = None
    if split is not None:
        mid_x, mid_y = px(split[0]), py(split[1])
        counts = {name: sum(1 for m in marks if m.quadrant == name) for name in quadrants.values()}
        desc += " " + "; ".join(f"{name}: {count}" for name, count in counts.items()) + "."
        inset = 6
        corners = {
            "top_left": (plot["left"] + inset, plot["top"] + 14, "start"),
            "top_right": (plot["right"] - inset, plot["top"] + 14, "end"),
            "bottom_left": (plot["left"] + inset, plot["bottom"] - inset, "start"),
            "bottom_right": (plot["right"] - inset, plot["bottom"] - inset, "end"),
        }
        quadrant_info = {
            "x": mid_x,
            "y": mid_y,
            "split_x": _fmt(round(split[0], 2)),
            "split_y": _fmt(round(split[1], 2)),
            "labels": [
                {"x": corners[c][0], "y": corners[c][1], "anchor": corners[c][2], "text": name, "corner": c}
                for c, name in quadrants.items()
            ],
        }
    else:
        mid_x, mid_y = pad_left + plot_w / 2, pad_top + plot_h / 2
    return {
        "title": title,
        "desc": desc,
        "width": width,
        "height": height,
        "marks": marks,
        "x_label": x_label,
        "y_label": y_label,
        "x_top": _tick_label(x_axis.high),
        "y_top": _tick_label(y_axis.high),
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "y_log": y_axis.log,
        "quadrants": quadrant_info,
        "mid_x": mid_x,
        "mid_y": mid_y,
        "plot": plot,
    }
