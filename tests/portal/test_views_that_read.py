"""Issue 13, "views that read": shipped and declined work off the horizon columns, the
timeline's past, today line and legend, the matrix's scales and quadrants, and the date
question a horizon move asks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops.models import AuditEvent, Role
from roadmap import selectors as roadmap_selectors
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def feature(workspace, product=None, **fields):
    return FeatureFactory(product=product or ProductFactory(workspace=workspace), **fields)


def closed(workspace, status, day, **fields):
    """A shipped or declined feature that reached ``status`` on ``day`` (noon UTC)."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return feature(workspace, status=status, status_changed_at=at, **fields)


def audits(f):
    return AuditEvent.objects.filter(target_type="roadmap.feature", target_id=str(f.pk)).count()


def between(content, start, end):
    return content.split(start, 1)[1].split(end, 1)[0]


# --- board: shipped and declined leave the horizon columns -------------------------------------


def test_shipped_and_declined_work_leaves_the_horizon_columns(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace, name="Core")
    feature(workspace, product, title="Being built", status="in_progress", horizon="now")
    older = closed(workspace, "shipped", date(2026, 1, 5), product=product, title="SSO", horizon="now")
    newer = closed(workspace, "shipped", date(2026, 3, 9), product=product, title="Audit log", horizon="")
    closed(workspace, "declined", date(2026, 2, 1), product=product, title="Fax export", horizon="later")

    response = client.get(f"/w/{workspace.slug}/roadmap/")

    assert response.status_code == 200
    content = response.content.decode()
    board = between(content, "data-board>", 'class="closed-lists"')
    assert "Being built" in board
    assert "SSO" not in board
    assert "Audit log" not in board
    assert "Fax export" not in board
    assert board.count('class="card"') == 1
    shipped = between(content, 'id="closed-shipped"', "</details>")
    assert '<summary><h2 class="closed-title">' in shipped
    assert 'Shipped <span class="count">2</span>' in shipped
    # Most recent first, with the ship date.
    assert shipped.index("Audit log") < shipped.index("SSO")
    assert '<time datetime="2026-03-09">9 Mar 2026</time>' in shipped
    assert f'<a href="/w/{workspace.slug}/features/{newer.pk}/">Audit log</a>' in shipped
    assert f'<a href="/w/{workspace.slug}/features/{older.pk}/">SSO</a>' in shipped
    declined = between(content, 'id="closed-declined"', "</details>")
    assert 'Declined <span class="count">1</span>' in declined
    assert "Fax export" in declined
    # Collapsed: no "open" attribute.
    assert '<details class="panel closed-list closed-shipped" id="closed-shipped">' in content
    # The horizon windows under each column heading, and the shared legend.
    today = timezone.localdate()
    now = roadmap_selectors.horizon_window("now", today=today)
    assert f'<p class="column-window small muted">{now.start:%b} – {now.end:%b %Y}</p>' in content
    assert '<ul class="status-legend" aria-label="Legend">' in content
    assert '<span class="status-swatch status-in_progress" aria-hidden="true"></span>In progress' in content


def test_the_shipped_list_is_bounded_and_links_to_the_whole_list(portal_client, workspace, monkeypatch):
    monkeypatch.setattr("portal.views.roadmap.CLOSED_LIMIT", 2)
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    for day in (1, 2, 3):
        closed(workspace, "shipped", date(2026, 4, day), product=product, title=f"Shipped {day}")

    content = client.get(f"/w/{workspace.slug}/roadmap/?product={product.pk}").content.decode()

    shipped = between(content, 'id="closed-shipped"', "</details>")
    assert ["Shipped 3" in shipped, "Shipped 2" in shipped, "Shipped 1" in shipped] == [True, True, False]
    assert (
        f'<a href="/w/{workspace.slug}/roadmap/closed/?product={product.pk}&amp;status=shipped">'
        "All 3 shipped (the 2 most recent shown)</a>"
    ) in shipped


def test_the_closed_list_pages_every_shipped_or_declined_feature(portal_client, workspace, monkeypatch):
    monkeypatch.setattr("portal.views.roadmap.CLOSED_PAGE_SIZE", 2)
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    for day in (1, 2, 3):
        closed(workspace, "shipped", date(2026, 4, day), product=product, title=f"Shipped {day}")
    closed(workspace, "declined", date(2026, 4, 9), product=product, title="Not doing")
    feature(workspace, product, title="Still open", status="planned")

    first = client.get(f"/w/{workspace.slug}/roadmap/closed/")
    second = client.get(f"/w/{workspace.slug}/roadmap/closed/?page=2").content.decode()
    declined = client.get(f"/w/{workspace.slug}/roadmap/closed/?status=declined").content.decode()

    assert first.status_code == 200
    content = first.content.decode()
    assert "<h1>Shipped</h1>" in content
    assert content.index("Shipped 3") < content.index("Shipped 2")
    assert "Shipped 1" not in content
    assert "Not doing" not in content
    assert "Still open" not in content
    assert "Page 1 of 2" in content
    assert "Shipped 1" in second
    assert '<time datetime="2026-04-01">1 Apr 2026</time>' in second
    assert "Not doing" in declined
    assert "Shipped 3" not in declined


def test_another_workspaces_closed_features_are_not_listed(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    closed(other_workspace, "shipped", date(2026, 4, 1), title="Theirs")
    content = client.get(f"/w/{workspace.slug}/roadmap/closed/").content.decode()
    assert "Theirs" not in content
    assert "No feature here." in content


# --- kanban -----------------------------------------------------------------------------


def test_kanban_folds_shipped_and_declined_most_recent_first(portal_client, workspace, monkeypatch):
    monkeypatch.setattr("portal.views.roadmap.CLOSED_LIMIT", 2)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    feature(workspace, product, title="Planned one", status="planned")
    for day in (1, 2, 3):
        closed(workspace, "shipped", date(2026, 4, day), product=product, title=f"Shipped {day}")

    content = client.get(f"/w/{workspace.slug}/roadmap/kanban/").content.decode()

    column = between(content, 'data-column-key="shipped"', "</section>")
    assert '<details class="column-details"><summary>' in column
    assert '<h2 id="col-shipped">Shipped <span class="count" data-hidden="1">3</span></h2>' in column
    assert column.index("Shipped 3") < column.index("Shipped 2")
    assert "Shipped 1" not in column
    assert "All 3 (the 2 most recent shown)" in column
    assert "data-drop" in content.split('data-column-key="shipped"')[0].rsplit("<section", 1)[1] + column
    planned = between(content, 'data-column-key="planned"', "</section>")
    assert "<details" not in planned
    assert "Planned one" in planned
    assert 'class="column column-status status-planned"' in content


# --- timeline ---------------------------------------------------------------------------


def test_timeline_draws_shipped_work_at_its_ship_date(portal_client, workspace):
    client, _ = portal_client(workspace)
    product = ProductFactory(workspace=workspace)
    # Planned for March, shipped on 15 February: drawn up to the ship date, not the plan.
    closed(
        workspace,
        "shipped",
        date(2025, 2, 15),
        product=product,
        title="Early win",
        planned_start=date(2025, 3, 1),
        target_date=date(2025, 3, 20),
    )
    closed(workspace, "shipped", date(2024, 12, 1), product=product, title="Before the span")
    feature(
        workspace,
        product,
        title="Reports",
        status="planned",
        planned_start=date(2025, 3, 1),
        target_date=date(2025, 3, 31),
    )

    content = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=2025-01&months=3").content.decode()

    assert content.count('class="gantt-bar') == 2
    # 1 Jan to 31 Mar is 90 days over 3 × 64 px from x = 200: 15 Feb is day 45, at 296.
    bar = re.search(
        r'<rect class="gantt-bar status-shipped" x="([\d.]+)"[^>]*><title>([^<]*)</title>', content
    )
    assert bar.groups() == ("296.0", "Early win: shipped 15 Feb 2025")
    # Shipped work comes first, above the open work.
    assert content.index("Early win") < content.index("Reports")
    assert "Before the span" not in content
    months = between(content, 'class="month-list"', "</details>")
    assert "February 2025" in months
    assert "Shipped 15 Feb" in months


def test_timeline_header_legend_and_collapsed_month_list(portal_client, workspace):
    client, _ = portal_client(workspace)
    feature(
        workspace,
        title="Spans the new year",
        status="planned",
        planned_start=date(2026, 11, 10),
        target_date=date(2027, 1, 10),
    )

    content = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=2026-06&months=12").content.decode()

    # Years once each, months once per column.
    assert re.findall(r'class="chart-label gantt-year"[^>]*>(\d{4})<', content) == ["2026", "2027"]
    assert re.findall(r'class="chart-label gantt-month"[^>]*><title>[^<]*</title>(\w+)<', content) == [
        "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May"
    ]  # fmt: skip
    assert "<title>November 2026: 1</title>" in content
    # The legend: the palette and the timeline's marks.
    legend = between(content, '<ul class="status-legend" aria-label="Legend">', "</ul>")
    assert '<span class="status-swatch status-shipped" aria-hidden="true"></span>Shipped' in legend
    assert "Declined" not in legend
    assert "Today</li>" in legend
    assert "Release</li>" in legend
    assert "Starts before its prerequisite ends</li>" in legend
    # The month list is collapsed, and runs of empty months are one line each.
    months = between(content, '<details class="month-list">', "</details>")
    assert "1 feature, 12 months" in months
    assert "Nothing planned from June 2026 to October 2026." in months
    assert "Nothing planned from February 2027 to May 2027." in months
    assert months.count("<h3>") == 3  # November, December, January


def test_timeline_has_a_labelled_today_line(portal_client, workspace):
    client, _ = portal_client(workspace)
    today = timezone.localdate()
    feature(workspace, status="in_progress", planned_start=today, target_date=today + timedelta(days=30))

    # The default span starts two months back, so recent work and today are in view.
    response = client.get(f"/w/{workspace.slug}/roadmap/timeline/")

    content = response.content.decode()
    expected_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    expected_start = (expected_start - timedelta(days=1)).replace(day=1)
    assert response.context["start"] == expected_start
    assert f">Today, {today.day} {today:%b}</text>" in content
    assert f"<title>Today, {today.day} {today:%B %Y}</title>" in content
    assert '<line class="gantt-today"' in content


def test_timeline_without_today_in_the_span_draws_no_line(portal_client, workspace):
    client, _ = portal_client(workspace)
    feature(workspace, status="planned", planned_start=date(2090, 1, 1), target_date=date(2090, 1, 9))
    content = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=2090-01&months=2").content.decode()
    assert 'class="gantt-bar' in content
    assert "gantt-today-label" not in content


# --- matrix -----------------------------------------------------------------------------


def matrix_features(workspace):
    product = ProductFactory(workspace=workspace)
    return {
        "Quick": feature(workspace, product, title="Quick", effort=1, score_rice=1000.0, status="planned"),
        "Pit": feature(workspace, product, title="Pit", effort=5, score_rice=1.0, status="idea"),
        "Filler": feature(workspace, product, title="Filler", effort=3, score_rice=10.0, status="idea"),
        "Bet": feature(workspace, product, title="Bet", effort=8, score_rice=500.0, status="in_progress"),
    }


def test_matrix_names_the_quadrants_in_the_chart_and_the_table(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    matrix_features(workspace)

    content = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice").content.decode()

    chart, table = content.split('id="matrix-table-h"')
    names = re.findall(r'class="matrix-quadrant matrix-quadrant-(\w+)"[^>]*>([^<]+)<', chart)
    assert names == [
        ("top_left", "Quick wins"),
        ("top_right", "Big bets"),
        ("bottom_left", "Fill-ins"),
        ("bottom_right", "Money pits"),
    ]
    # Split at the medians (effort 4, score 255).
    assert "<title>Median effort: 4</title>" in chart
    assert "<title>Median score: 255</title>" in chart
    assert "Quick wins: 1; Big bets: 1; Fill-ins: 1; Money pits: 1." in chart
    rows = dict(
        re.findall(
            r'<tr><td class="num">\d+</td><td><a [^>]*>(\w+)</a></td>'
            r'.*?<td>([\w -]+)</td>\s*<td class="num">',
            table,
            re.S,
        )
    )
    assert rows == {"Quick": "Quick wins", "Bet": "Big bets", "Filler": "Fill-ins", "Pit": "Money pits"}
    # Dots numbered like their rows (highest score first), one palette class per status.
    refs = re.findall(r'<circle class="chart-dot status-(\w+)"[^>]*><title>(\w+) —[^<]*</title></circle>\s*'
                      r'<text class="chart-ref"[^>]*>(\d+)</text>', chart)  # fmt: skip
    assert refs == [("planned", "Quick", "1"), ("in_progress", "Bet", "2"), ("idea", "Filler", "3"),
                    ("idea", "Pit", "4")]  # fmt: skip
    assert '<ul class="status-legend" aria-label="Legend">' in chart


def test_matrix_axes_fit_the_data_and_the_score_can_be_logarithmic(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    matrix_features(workspace)

    linear = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice").content.decode()
    log = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice&scale=log").content.decode()

    def y_ticks(content):
        return re.findall(r'dy="4" text-anchor="end">([^<]+)</text>', content)

    def x_ticks(content):
        return re.findall(r'text-anchor="middle">([^<]+)</text>', content)

    # Effort 1 to 8, not from 0 to a round top far beyond the data.
    assert x_ticks(linear) == ["0", "2", "4", "6", "8", "10"]
    assert y_ticks(linear) == ["0", "500", "1,000", "1,500"]
    assert y_ticks(log) == ["1", "10", "100", "1,000"]
    assert "RICE score (log scale)" in log
    assert "(up, logarithmic)" in log
    assert "score on a log scale" in log
    assert '<option value="log" selected>Logarithmic</option>' in log
    # Hover titles are the same on both scales.
    assert "<title>Quick — Effort (points) 1, RICE score 1000</title>" in log


def test_a_zero_score_sits_on_the_log_axis_floor(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    feature(workspace, product, title="Zero", effort=1, score_rice=0.0)
    feature(workspace, product, title="Some", effort=2, score_rice=40.0)
    content = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice&scale=log").content.decode()
    assert "1 with a score of 0 or less sit on the bottom edge." in content
    assert re.findall(r'dy="4" text-anchor="end">([^<]+)</text>', content) == ["10", "20", "50", "100"]


# --- a horizon move whose dates disagree --------------------------------------------------


def windows():
    today = timezone.localdate()
    return today, {h: roadmap_selectors.horizon_window(h, today=today) for h in ("now", "next", "later")}


def far_feature(workspace, **fields):
    """A "later" feature planned two years out: its dates disagree with now and next."""
    today = timezone.localdate()
    start = date(today.year + 2, 2, 1)
    return feature(
        workspace, horizon="later", planned_start=start, target_date=start + timedelta(days=27), **fields
    )


def test_a_move_with_disagreeing_dates_asks_first_and_writes_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = far_feature(workspace, title="Offline mode")
    today, window = windows()
    url = f"/w/{workspace.slug}/features/{f.pk}/horizon/"

    response = client.post(url, {"horizon": "next", "next": f"/w/{workspace.slug}/roadmap/"}, **HX)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith(f'<article class="card card-conflict" id="card-{f.pk}"')
    assert 'data-column="later"' in content  # it stays where it is
    assert "are outside Next" in content
    assert "Not moved yet." in content
    shifted = window["next"].start
    assert f"Shift dates to {shifted.day} {shifted:%b %Y} – " in content
    assert (
        '<button type="submit" name="dates" value="clear" class="secondary">Clear dates</button>' in content
    )
    assert '<button type="submit" name="dates" value="keep" class="secondary">Keep dates</button>' in content
    assert '<input type="hidden" name="horizon" value="next">' in content
    assert f'hx-post="{url}"' in content
    f.refresh_from_db()
    assert (f.horizon, f.planned_start.year) == ("later", today.year + 2)
    assert audits(f) == 0

    confirmed = client.post(url, {"horizon": "next", "dates": "shift"}, **HX)

    assert confirmed.status_code == 200
    assert 'data-column="next"' in confirmed.content.decode()
    f.refresh_from_db()
    assert (f.horizon, f.planned_start, f.target_date) == ("next", shifted, shifted + timedelta(days=27))
    event = AuditEvent.objects.get(target_type="roadmap.feature", target_id=str(f.pk))
    assert event.changes["horizon"] == ["later", "next"]
    assert event.changes["planned_start"][1] == shifted.isoformat()


def test_without_javascript_the_question_is_a_page_and_the_answer_redirects(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = far_feature(workspace, title="Offline mode")
    url = f"/w/{workspace.slug}/features/{f.pk}/horizon/"
    board = f"/w/{workspace.slug}/roadmap/?product={f.product_id}"

    page = client.post(url, {"horizon": "now", "next": board})

    assert page.status_code == 200
    content = page.content.decode()
    assert "<h1>Move to Now?</h1>" in content
    assert f'<form class="conflict-form" method="post" action="{url}">' in content  # no htmx on the page
    assert f'<input type="hidden" name="next" value="{board}">' in content
    assert f'<a class="button secondary" href="{board}">Cancel</a>' in content
    f.refresh_from_db()
    assert f.horizon == "later"
    assert audits(f) == 0

    done = client.post(url, {"horizon": "now", "dates": "clear", "next": board})

    assert done.status_code == 302
    assert done["Location"] == board
    f.refresh_from_db()
    assert (f.horizon, f.planned_start, f.target_date) == ("now", None, None)
    messages = [str(m) for m in done.wsgi_request._messages]
    assert messages == ["Moved “Offline mode” to Now and cleared its dates."]


def test_keep_moves_and_leaves_the_dates(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = far_feature(workspace)
    start = f.planned_start
    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "now", "dates": "keep"}
    )
    assert response.status_code == 302
    f.refresh_from_db()
    assert (f.horizon, f.planned_start) == ("now", start)
    event = AuditEvent.objects.get(target_type="roadmap.feature", target_id=str(f.pk))
    assert event.changes == {"horizon": ["later", "now"]}


def test_agreeing_or_missing_dates_move_at_once(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    _, window = windows()
    agreeing = feature(
        workspace, horizon="later", planned_start=window["next"].start, target_date=window["next"].end
    )
    undated = feature(workspace, horizon="later")
    for f in (agreeing, undated):
        response = client.post(f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "next"}, **HX)
        assert response.content.decode().lstrip().startswith(f'<article class="card" id="card-{f.pk}"')
        f.refresh_from_db()
        assert f.horizon == "next"
    assert agreeing.planned_start == window["next"].start


def test_a_bad_dates_choice_writes_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = far_feature(workspace)
    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "now", "dates": "move"}, **HX
    )
    assert response.status_code == 200
    assert "Select a valid choice. move is not one of the available choices." in response.content.decode()
    f.refresh_from_db()
    assert f.horizon == "later"
    assert audits(f) == 0


def test_a_viewer_gets_403_and_another_workspace_404_for_the_dates_answer(
    portal_client, workspace, other_workspace
):
    viewer, _ = portal_client(workspace, Role.VIEWER)
    f = far_feature(workspace)
    response = viewer.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "now", "dates": "clear"}
    )
    assert response.status_code == 403
    theirs = far_feature(other_workspace)
    owner, _ = portal_client(workspace, Role.OWNER)
    missing = owner.post(
        f"/w/{workspace.slug}/features/{theirs.pk}/horizon/", {"horizon": "now", "dates": "clear"}
    )
    assert missing.status_code == 404
    for row in (f, theirs):
        row.refresh_from_db()
        assert (row.horizon, row.planned_start is not None) == ("later", True)
        assert audits(row) == 0


# --- query counts: they do not grow with rows ----------------------------------------------


def grow(workspace, n=12):
    """Open, shipped and declined features with teams and products of their own."""
    statuses = ["idea", "under_consideration", "planned", "in_progress"]
    for i in range(n):
        product, team = ProductFactory(workspace=workspace), TeamFactory(workspace=workspace)
        feature(
            workspace,
            product,
            team=team,
            status=statuses[i % 4],
            horizon=["now", "next", "later", ""][i % 4],
            effort=i + 1,
            score_rice=float(i * 10),
            planned_start=date(2027, 1 + i % 5, 1),
            target_date=date(2027, 1 + i % 5, 20),
            priority_rank=i + 2,
        )
        closed(workspace, "shipped", date(2027, 1 + i % 3, 2 + i), product=product, team=team)
        closed(workspace, "declined", date(2027, 1, 2 + i), product=product, team=team)


@pytest.mark.parametrize(
    ("path", "expected", "marker", "few", "many"),
    [
        ("roadmap/", 17, 'class="card"', 1, 13),
        ("roadmap/kanban/", 14, 'class="card"', 3, 39),
        ("roadmap/timeline/?start=2027-01&months=6", 17, 'class="gantt-bar', 2, 26),
        ("roadmap/matrix/?model=rice", 12, 'class="chart-link"', 1, 13),
        ("roadmap/closed/", 11, "<tr><td><a", 1, 13),
    ],
)
def test_query_counts_do_not_grow(
    portal_client, workspace, django_assert_num_queries, path, expected, marker, few, many
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    feature(
        workspace,
        product,
        status="planned",
        horizon="now",
        effort=1,
        score_rice=1.0,
        planned_start=date(2027, 1, 5),
        target_date=date(2027, 2, 5),
    )
    closed(workspace, "shipped", date(2027, 1, 9), product=product)
    if "kanban" in path:
        closed(workspace, "declined", date(2027, 1, 9), product=product)
    url = f"/w/{workspace.slug}/{path}"
    client.get(url)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.content.decode().count(marker) == few
    grow(workspace)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.content.decode().count(marker) == many
    assert len(captured) == expected
