"""The feature page's score breakdown chart: each criterion's contribution on one comparable scale.

``priority.selectors.feature_score_breakdown`` gives raw factors of different units (a reach of
2,000 beside an impact of 2); drawn side by side they say nothing. Here:

* **additive** models (weighted scorecard, customer impact) draw each term's contribution to
  the score, in score points (they add up to it);
* **WSJF** draws each part of the cost of delay divided by the job size (they add up to it);
* **multiplicative** models (RICE, ICE, value ÷ effort) draw each factor's effect on a log
  scale — the bar's length is |log10 of what it multiplies the score by|, so ×100 is twice ×10,
  and a divisor or a factor under 1 (÷4, ×0.8) is marked as lowering the score (css
  ``chart-bar-lowers``); the logs add up to log10 of the score.

Every chart's description has the formula with the feature's numbers filled in. Geometry comes
from ``portal.charts.horizontal_bars`` (``compact``: sized for the feature page's panel, so its
text is drawn at 11 px or more) and is drawn by ``portal/partials/chart_bars.html``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from portal import charts
from roadmap.models import ScoringModel

MULTIPLICATIVE = {ScoringModel.RICE, ScoringModel.ICE, ScoringModel.VALUE_EFFORT}


def _n(value: float | None) -> str:
    if value is None:
        return "unset"
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"


def _score(value: float | None) -> str:
    return "not scored" if value is None else _n(value)


def formula_filled(model: str, active: Mapping) -> str:
    """The active model's formula with the numbers in, e.g. "2,000 × 2 × 0.8 ÷ 4 = 800"."""
    terms = active["terms"]
    score = active.get("score")
    if ScoringModel(model) in MULTIPLICATIVE:
        text = ""
        for i, term in enumerate(terms):
            op = "÷" if term["role"] == "divisor" else "×"
            text += f"{'' if i == 0 else f' {op} '}{_n(term['value'])}"
        return f"{text} = {_score(score)}"
    if model == ScoringModel.WSJF:
        parts = [t for t in terms if t["role"] == "addend"]
        size = next((t["value"] for t in terms if t["role"] == "divisor"), None)
        return f"({' + '.join(_n(t['value']) for t in parts)}) ÷ {_n(size)} = {_score(score)}"
    shown = [t for t in terms if t.get("contribution") is not None]
    if not shown:
        return f"= {_score(score)}"
    if len(shown) > 6:
        return f"{len(shown)} contributions add up to {_score(score)}"
    return f"{' + '.join(_n(t['contribution']) for t in shown)} = {_score(score)}"


def breakdown_chart(breakdown: Mapping, *, feature_title: str, model_label: str) -> dict:
    """The chart dict ``chart_bars.html`` draws, for the breakdown's active model."""
    model = breakdown["scoring_model"]
    active = breakdown["models"][model]
    terms = active["terms"]
    formula = formula_filled(model, active)
    if ScoringModel(model) in MULTIPLICATIVE:
        rows, labels, lowers = [], [], []
        for term in terms:
            value = term["value"]
            divisor = term["role"] == "divisor"
            sign = "÷" if divisor else "×"
            if value is None or value <= 0:
                rows.append((term["label"], 0.0))
                labels.append("unset" if value is None else f"{sign}{_n(value)}")
                lowers.append(value is not None)
                continue
            effect = 1 / value if divisor else value
            rows.append((term["label"], abs(math.log10(effect))))
            labels.append(f"{sign}{_n(value)}")
            lowers.append(effect < 1)
        chart = charts.horizontal_bars(
            rows,
            title=f"{model_label} score of {feature_title}: each factor’s effect, on a log scale",
            compact=True,
        )
        marks = [
            replace(mark, value=label, css="chart-bar-lowers" if low else "chart-bar-raises")
            for mark, label, low in zip(chart["marks"], labels, lowers, strict=True)
        ]
        desc = (
            f"{active['formula']}: {formula}. Bar length is how many times the factor multiplies "
            "or divides the score, on a log scale (×100 is twice as long as ×10). "
            + "; ".join(
                f"{m.label}: {m.value}{' (lowers it)' if low else ''}"
                for m, low in zip(marks, lowers, strict=True)
            )
        )
        return {**chart, "marks": marks, "desc": desc, "formula": formula, "scale": "log"}
    if model == ScoringModel.WSJF:
        size = next((t["value"] for t in terms if t["role"] == "divisor"), None)
        rows = [
            (f"{t['label']} ÷ {_n(size)}", t["contribution"] or 0.0) for t in terms if t["role"] == "addend"
        ]
    else:
        rows = [(t["label"], t["contribution"] or 0.0) for t in terms]
    chart = charts.horizontal_bars(
        rows, title=f"{model_label} score of {feature_title}: what each criterion adds", compact=True
    )
    desc = f"{active['formula']}: {formula}. " + "; ".join(f"{m.label}: {m.value}" for m in chart["marks"])
    return {**chart, "desc": desc, "formula": formula, "scale": "contribution"}
