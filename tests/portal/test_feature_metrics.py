"""Feature-level success metrics on the feature page: listed with their actual and review, added,
edited, reviewed and removed by product managers, actuals recorded by contributors, all through
``releases.services`` as the release page's metrics (the same forms and partial)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from productops.models import Role
from releases.models import MetricActual, SuccessMetric
from tests.portal.test_releases import (
    assert_strict_csp_ready,
    assert_unique_ids,
    audit_count,
    count_queries,
    in_days,
    page,
)
from tests.releases.factories import ReleaseFactory, SuccessMetricFactory
from tests.roadmap.factories import FeatureFactory, GoalFactory, KeyResultFactory, ProductFactory

pytestmark = pytest.mark.django_db


def feature_url(feature, tail=""):
    return f"/w/{feature.workspace.slug}/features/{feature.pk}/{tail}"


def a_feature(workspace, **fields):
    return FeatureFactory(product=ProductFactory(workspace=workspace), **fields)


def feature_metric(feature, **fields):
    return SuccessMetricFactory(release=None, feature=feature, workspace=feature.workspace, **fields)


def metrics_section(content):
    return content.split('id="metrics"')[1].split("</section>")[0]


NEW = {"name": "Exports per week", "unit": "", "baseline": "10", "target": "40"}


def test_a_product_manager_adds_records_reviews_edits_and_removes_a_metric(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = a_feature(workspace, title="CSV export")
    response = client.post(feature_url(feature, "metrics/"), {**NEW, "review_date": in_days(30).isoformat()})
    assert response.status_code == 302
    assert response["Location"] == feature_url(feature) + "#metrics"
    metric = SuccessMetric.objects.get(name="Exports per week")
    assert (metric.feature, metric.release, metric.baseline, metric.target) == (
        feature,
        None,
        Decimal(10),
        Decimal(40),
    )

    response = client.post(
        feature_url(feature, f"metrics/{metric.pk}/actuals/"), {"value": "25", "note": "w1"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#metrics")
    assert metric.actuals.get().value == Decimal(25)
    content = page(client, feature_url(feature))
    assert "“Exports per week”: 25 recorded." in content
    section = metrics_section(content)
    assert "<strong>Exports per week</strong>" in section
    assert '<td class="num">25</td>' in section  # the latest actual
    assert 'width="50"' in section  # 25 of 10 → 40
    assert in_days(30).strftime("%-d %b %Y") in section
    assert "Add a metric" in section
    assert f'id="metricedit-{metric.pk}-target"' in section

    assert (
        client.post(feature_url(feature, f"metrics/{metric.pk}/review/"), {"reviewed": "1"}).status_code
        == 302
    )
    metric.refresh_from_db()
    assert metric.reviewed_at is not None
    section = metrics_section(page(client, feature_url(feature)))
    assert "Reviewed" in section
    assert "Review again" in section
    client.post(feature_url(feature, f"metrics/{metric.pk}/review/"), {"reviewed": "0"})
    metric.refresh_from_db()
    assert metric.reviewed_at is None

    response = client.post(
        feature_url(feature, f"metrics/{metric.pk}/"),
        {**NEW, "name": "Weekly exports", "target": "60", "review_date": in_days(45).isoformat()},
    )
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.name, metric.target, metric.review_date) == ("Weekly exports", Decimal(60), in_days(45))

    assert client.post(feature_url(feature, f"metrics/{metric.pk}/delete/")).status_code == 302
    assert not SuccessMetric.objects.filter(pk=metric.pk).exists()


def test_a_metric_read_from_a_key_result_shows_its_current_value(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = a_feature(workspace)
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), metric="Weekly teams", current=30)
    response = client.post(
        feature_url(feature, "metrics/"),
        {
            "name": "Teams",
            "baseline": "0",
            "target": "60",
            "review_date": in_days(10).isoformat(),
            "key_result": kr.pk,
        },
    )
    assert response.status_code == 302
    metric = SuccessMetric.objects.get(name="Teams")
    assert metric.key_result == kr
    # A recorded value does not override the key result's current value.
    MetricActual.objects.create(workspace=workspace, metric=metric, value=5, recorded_on=timezone.localdate())
    section = metrics_section(page(client, feature_url(feature)))
    assert "From key result: Weekly teams" in section
    assert '<td class="num">30</td>' in section
    assert 'width="50"' in section
    assert f"metrics/{metric.pk}/actuals/" not in section  # the key result gives the actual


def test_a_due_metric_is_flagged(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    feature = a_feature(workspace)
    feature_metric(feature, name="Due one", review_date=timezone.localdate())
    section = metrics_section(page(client, feature_url(feature)))
    assert 'class="due"' in section
    assert '<span class="badge badge-in_progress">Due</span>' in section


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target": "10"}, "target", "Target must differ from the baseline."),
        ({"review_date": "1999-12-31"}, "review_date", "Must be between 2000-01-01 and 2100-12-31."),
        ({"review_date": "2101-01-01"}, "review_date", "Must be between 2000-01-01 and 2100-12-31."),
        ({"baseline": "ten"}, "baseline", "Enter a number."),
        ({"name": "  "}, "name", "This field is required."),
    ],
)
def test_a_bad_new_metric_is_shown_on_the_form_and_nothing_is_written(
    portal_client, workspace, data, field, message
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = a_feature(workspace)
    before = audit_count()
    response = client.post(
        feature_url(feature, "metrics/"), {**NEW, "review_date": in_days(30).isoformat(), **data}
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert f'id="metric-{field}"' in content
    assert '<details class="disclosure" open>' in metrics_section(content)
    assert not SuccessMetric.objects.exists()
    assert audit_count() == before
    assert_strict_csp_ready(content)
    assert_unique_ids(content)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"target": "10"}, "Target must differ from the baseline."),
        ({"review_date": "2101-01-01"}, "Must be between 2000-01-01 and 2100-12-31."),
    ],
)
def test_a_bad_edit_writes_nothing(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = a_feature(workspace)
    metric = feature_metric(feature, name="Exports per week", baseline=10, target=40)
    before = audit_count()
    response = client.post(
        feature_url(feature, f"metrics/{metric.pk}/"), {**NEW, "review_date": in_days(30).isoformat(), **data}
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert '<details class="row-edit" open>' in content
    metric.refresh_from_db()
    assert metric.target == Decimal(40)
    assert audit_count() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"value": "lots"}, "Enter a number."),
        ({"value": "5", "recorded_on": "1999-01-01"}, "Must be between 2000-01-01 and 2100-12-31."),
        (
            {"value": "5", "recorded_on": in_days(9).isoformat()},
            "An actual cannot be recorded in the future.",
        ),
    ],
)
def test_a_bad_actual_writes_nothing(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    feature = a_feature(workspace)
    metric = feature_metric(feature)
    before = audit_count()
    response = client.post(feature_url(feature, f"metrics/{metric.pk}/actuals/"), data)
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert f'id="actual-{metric.pk}-value"' in content
    assert not MetricActual.objects.exists()
    assert audit_count() == before


def test_a_viewer_sees_the_metrics_and_can_change_none(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    feature = a_feature(workspace)
    metric = feature_metric(feature, name="Exports per week")
    section = metrics_section(page(client, feature_url(feature)))
    assert "Exports per week" in section
    assert "<form" not in section
    assert "Add a metric" not in section
    for tail, data in [
        ("metrics/", {**NEW, "review_date": in_days(30).isoformat()}),
        (f"metrics/{metric.pk}/", {**NEW, "review_date": in_days(30).isoformat()}),
        (f"metrics/{metric.pk}/actuals/", {"value": "3"}),
        (f"metrics/{metric.pk}/review/", {"reviewed": "1"}),
        (f"metrics/{metric.pk}/delete/", {}),
    ]:
        assert client.post(feature_url(feature, tail), data).status_code == 403, tail
    metric.refresh_from_db()
    assert (metric.name, metric.reviewed_at) == ("Exports per week", None)
    assert SuccessMetric.objects.count() == 1
    assert not MetricActual.objects.exists()


def test_a_contributor_records_actuals_but_does_not_plan_metrics(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    feature = a_feature(workspace)
    metric = feature_metric(feature, name="Exports per week")
    section = metrics_section(page(client, feature_url(feature)))
    assert f'action="{feature_url(feature, f"metrics/{metric.pk}/actuals/")}"' in section
    assert "Add a metric" not in section
    assert "Mark reviewed" not in section
    assert f"metrics/{metric.pk}/delete/" not in section
    assert 'class="row-edit"' not in section
    response = client.post(feature_url(feature, f"metrics/{metric.pk}/actuals/"), {"value": "12.5"})
    assert response.status_code == 302
    assert metric.actuals.get().value == Decimal("12.5")
    for tail, data in [
        ("metrics/", {**NEW, "review_date": in_days(30).isoformat()}),
        (f"metrics/{metric.pk}/", {**NEW, "review_date": in_days(30).isoformat()}),
        (f"metrics/{metric.pk}/review/", {"reviewed": "1"}),
        (f"metrics/{metric.pk}/delete/", {}),
    ]:
        assert client.post(feature_url(feature, tail), data).status_code == 403, tail
    metric.refresh_from_db()
    assert (metric.name, metric.reviewed_at) == ("Exports per week", None)
    assert SuccessMetric.objects.count() == 1


def test_another_workspaces_feature_or_metric_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    theirs = a_feature(other_workspace)
    their_metric = feature_metric(theirs)
    mine = a_feature(workspace)
    other_of_mine = feature_metric(a_feature(workspace))
    release_metric = SuccessMetricFactory(release=ReleaseFactory(product=mine.product))
    data = {**NEW, "review_date": in_days(30).isoformat()}
    assert client.post(feature_url(theirs, "metrics/"), data).status_code == 404
    for metric in (their_metric, other_of_mine, release_metric):
        for tail, body in [
            (f"metrics/{metric.pk}/", data),
            (f"metrics/{metric.pk}/actuals/", {"value": "1"}),
            (f"metrics/{metric.pk}/review/", {}),
            (f"metrics/{metric.pk}/delete/", {}),
        ]:
            assert client.post(feature_url(theirs, tail), body).status_code == 404, tail
            assert client.post(feature_url(mine, tail), body).status_code == 404, tail
    assert SuccessMetric.objects.count() == 3
    assert not MetricActual.objects.exists()
    assert SuccessMetric.objects.get(pk=their_metric.pk).reviewed_at is None


def test_another_workspaces_key_result_cannot_be_chosen(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = a_feature(workspace)
    theirs = KeyResultFactory(goal=GoalFactory(workspace=other_workspace))
    content = page(client, feature_url(feature))
    assert f'<option value="{theirs.pk}"' not in metrics_section(content)
    response = client.post(
        feature_url(feature, "metrics/"),
        {**NEW, "review_date": in_days(30).isoformat(), "key_result": theirs.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not SuccessMetric.objects.exists()


def test_a_merged_features_metrics_take_no_actions(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    survivor = a_feature(workspace)
    merged = FeatureFactory(product=survivor.product, merged_into=survivor)
    metric = feature_metric(merged)
    assert (
        client.post(feature_url(merged, f"metrics/{metric.pk}/actuals/"), {"value": "1"}).status_code == 404
    )
    assert not MetricActual.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER])
def test_feature_page_query_count_does_not_grow_with_metrics(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    feature = a_feature(workspace)
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace))
    feature_metric(feature)
    few = count_queries(client, feature_url(feature))
    for i in range(12):
        metric = feature_metric(feature, key_result=kr if i % 3 == 0 else None, review_date=in_days(i - 5))
        MetricActual.objects.create(
            workspace=workspace, metric=metric, value=i, recorded_on=timezone.localdate()
        )
        KeyResultFactory(goal=GoalFactory(workspace=workspace))
    assert feature.success_metrics.count() == 13
    assert count_queries(client, feature_url(feature)) == few


def test_the_feature_page_metrics_have_no_inline_script_handler_or_style(portal_client, workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    feature = a_feature(workspace)
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), metric='<img src=x onerror="alert(1)">')
    feature_metric(feature, name="<script>alert(1)</script>", review_date=timezone.localdate())
    reviewed = feature_metric(feature, key_result=kr, reviewed_at=timezone.now())
    content = page(client, feature_url(feature))
    assert_strict_csp_ready(content)
    assert_unique_ids(content)
    assert "<script>alert" not in content
    assert 'onerror="alert' not in content
    bad = client.post(
        feature_url(feature, f"metrics/{reviewed.pk}/"), {**NEW, "target": "10", "review_date": "x"}
    )
    assert bad.status_code == 400
    assert_strict_csp_ready(bad.content.decode())
    assert_unique_ids(bad.content.decode())
