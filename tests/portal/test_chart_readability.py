"""Chart text that stays readable: the feature page's charts are sized for its narrow panels
(``chart-compact``: text 15 units high in a 380-unit viewBox), and the priority matrix numbers
only the highest-scoring dots whose numbers do not overlap (``portal.charts.place_refs``).
What the browser draws is measured in tests/e2e/test_chart_text.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from portal import charts
from productops.models import Role
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

CSS = Path(settings.BASE_DIR, "portal/static/portal/portal.css").read_text()


def test_the_compact_charts_font_size_is_set_in_the_stylesheet():
    assert ".chart-compact .chart-label, .chart-compact .chart-value { font-size: 15px; }" in CSS
    assert f".chart-ref {{ font-size: {charts.REF_FONT}px;" in CSS
    # 15 units in a 380-unit viewBox: 11 px or more from a 279 px wide chart up.
    assert charts.COMPACT_WIDTH == 380
    assert 15 * 279 / charts.COMPACT_WIDTH >= 11


def test_compact_bars_and_lines_are_narrow_and_carry_the_class():
    bars = charts.horizontal_bars([("Reach", 2000.0), ("Impact", 2.0)], title="t", compact=True)
    assert (bars["width"], bars["css"], bars["label_chars"], bars["text_dy"]) == (
        380,
        "chart-compact",
        17,
        17,
    )
    assert [(m.x, m.y, m.height) for m in bars["marks"]] == [(150, 0, 24), (150, 32, 24)]
    assert charts.horizontal_bars([("Reach", 1.0)], title="t")["css"] == ""
    line = charts.line([("a", 1.0), ("b", 2.0)], title="t", compact=True)
    assert (line["width"], line["height"], line["css"]) == (380, 170, "chart-compact")
    assert line["plot"] == {"left": 56, "top": 16, "bottom": 142, "right": 366}


def _no_overlap(boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_refs_are_placed_in_order_and_never_overlap_in_a_dense_set():
    # 60 dots in a small cluster (one far away stretches the axes): most refs would collide.
    points = [
        {"x": 1 + (n % 6) * 0.05, "y": 100 + (n // 6) * 1.0, "label": f"F{n}", "ref": n} for n in range(1, 60)
    ] + [{"x": 40, "y": 2000, "label": "F60", "ref": 60}]
    chart = charts.scatter(points, title="t", x_label="Effort", y_label="Score", max_refs=20)
    kept = [m for m in chart["marks"] if m.ref]
    assert 1 <= len(kept) < 20
    assert kept[0].ref == "1"  # the first (highest-scoring) always has its number
    _no_overlap([charts.ref_box(m) for m in kept])
    assert [m.label for m in chart["marks"]] == [f"F{n}" for n in range(1, 61)]  # every dot is drawn


def test_refs_are_capped_at_the_top_n_when_nothing_overlaps():
    points = [{"x": n, "y": n * 10, "label": f"F{n}", "ref": n} for n in range(1, 31)]
    marks = charts.scatter(points, title="t", x_label="E", y_label="S", max_refs=5)["marks"]
    assert [m.ref for m in marks if m.ref] == ["1", "2", "3", "4", "5"]


def test_place_refs_skips_only_the_overlapping_one():
    marks = [
        charts.Mark(x=100, y=100, ref="1"),
        charts.Mark(x=104, y=102, ref="2"),
        charts.Mark(x=300, y=100, ref="3"),
    ]
    assert [m.ref for m in charts.place_refs(marks, limit=10)] == ["1", "", "3"]


def test_the_matrix_page_numbers_dense_dots_without_overlap(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    for n in range(40):
        FeatureFactory(product=product, title=f"Dense {n}", effort=5, score_rice=100.0 + n, status="planned")
    content = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice").content.decode()
    chart = content.split('id="matrix-table-h"')[0]
    assert chart.count('<circle class="chart-dot') == 40
    assert chart.count("<title>Dense ") == 40  # every dot named on hover
    refs = re.findall(
        r'<text class="chart-ref" x="([\d.]+)" y="([\d.]+)" dx="9" dy="-6"[^>]*>(\d+)</text>', chart
    )
    assert refs[0][2] == "1"
    assert 1 <= len(refs) < 40
    boxes = [charts.ref_box(charts.Mark(x=float(x), y=float(y), ref=ref)) for x, y, ref in refs]
    _no_overlap(boxes)
    assert "a number that would overlap another is left off" in content


def test_the_feature_page_charts_are_compact(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    feature = FeatureFactory(
        product=ProductFactory(workspace=workspace), reach=2000, impact=2, confidence_pct=80, effort=4
    )
    content = client.get(f"/w/{workspace.slug}/features/{feature.pk}/").content.decode()
    breakdown = content.split('id="score-h"')[1].split("</section>")[0]
    assert '<figure class="chart chart-compact">' in breakdown
    assert 'viewBox="0 0 380 ' in breakdown
    assert 'style="' not in breakdown
