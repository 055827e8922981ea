"""Server-rendered SVG charts: geometry computed here, drawn by ``portal/partials/chart_*.html``.

Each function returns a plain dict the partial renders as an accessible
``<svg role="img">`` with a ``<title>``, a ``<desc>`` summarising the data, and a
``<title>`` on every mark (a tooltip on hover). No JavaScript, nothing loaded from
elsewhere, so charts work offline and in the browser tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


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


def horizontal_bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 22,
    label_width: int = 170,
) -> dict:
    """One bar per row, longest = full width; negative values are drawn as zero-length with the value."""
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
) -> dict:
    """A line through the points in order (e.g. a score over time); ``invert`` puts small
    values on top (ranks). Points with no value break nothing: they are left out."""
    pad_left, pad_bottom, pad_top, pad_right = 44, 24, 12, 12
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
    }


def scatter(
    points: Sequence[dict],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 400,
) -> dict:
    """Dots at (``x``, ``y``) with ``label``, optional ``href`` and ``css``; both axes start at 0."""
    pad_left, pad_bottom, pad_top, pad_right = 48, 40, 12, 16
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    # Headroom, so the largest dots sit inside the plot rather than on its edge.
    x_top = _nice_max(max([p["x"] for p in points] + [0]) * 1.1)
    y_top = _nice_max(max([p["y"] for p in points] + [0]) * 1.1)
    marks = [
        Mark(
            x=pad_left + plot_w * (p["x"] / x_top),
            y=pad_top + plot_h * (1 - p["y"] / y_top),
            label=p["label"],
            value=f"{x_label} {_fmt(p['x'])}, {y_label} {_fmt(p['y'])}",
            href=p.get("href", ""),
            css=p.get("css", ""),
        )
        for p in points
    ]
    desc = f"{len(marks)} features plotted by {x_label} (across) and {y_label} (up)."
    return {
        "title": title,
        "desc": desc,
        "width": width,
        "height": height,
        "marks": marks,
        "x_label": x_label,
        "y_label": y_label,
        "x_top": _fmt(x_top),
        "y_top": _fmt(y_top),
        "mid_x": pad_left + plot_w / 2,
        "mid_y": pad_top + plot_h / 2,
        "plot": {"left": pad_left, "top": pad_top, "bottom": pad_top + plot_h, "right": width - pad_right},
    }
