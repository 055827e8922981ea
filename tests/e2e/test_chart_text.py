"""End-to-end: the feature page's chart text is readable at the size the browser draws it (at
least 11 px), on a laptop and on a phone; the priority matrix's dot numbers never overlap."""

from __future__ import annotations

import pytest

from roadmap.models import Feature
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]

#: Each <text> of the SVG: the font size it is drawn at, in CSS pixels (its computed size in
#: user units times the SVG's scale on screen), and its box on screen.
MEASURE = """svg => Array.from(svg.querySelectorAll("text")).map(t => {
  const r = t.getBoundingClientRect();
  return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a,
          box: [r.left, r.top, r.right, r.bottom], cls: t.getAttribute("class")};
})"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("viewport", [(1280, 900), (1440, 900), (375, 812)])
def test_the_score_chart_text_renders_at_11px_or_more(page, demo, viewport):
    feature = Feature.objects.filter(workspace=demo["workspace"], priority_rank=1).get()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    sign_in(page)
    page.goto(f"/w/demo/features/{feature.pk}/")
    # The score breakdown, and the rank and score over time.
    charts = page.locator("section:has(#score-h) svg, section:has(#history-h) svg")
    assert charts.count() == 3
    texts = [text for chart in charts.all() for text in chart.evaluate(MEASURE)]
    assert len(texts) > 10
    assert min(t["px"] for t in texts) >= 11, [t for t in texts if t["px"] < 11]


@pytest.mark.parametrize("viewport", [(1280, 900), (375, 812)])
def test_the_matrix_dot_numbers_do_not_overlap(page, demo, viewport):
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    sign_in(page)
    page.goto("/w/demo/roadmap/matrix/")
    texts = page.locator(".matrix-figure svg").evaluate(MEASURE)
    refs = [t for t in texts if t["cls"] == "chart-ref"]
    assert refs[0]["text"] == "1"
    for i, a in enumerate(refs):
        for b in refs[i + 1 :]:
            assert not _overlap(a["box"], b["box"]), (a, b)
    if viewport[0] >= 1280:  # the matrix is a wide chart: on a phone it is drawn smaller
        assert min(t["px"] for t in texts) >= 11, [t for t in texts if t["px"] < 11]
