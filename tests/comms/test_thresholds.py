"""Threshold rules: parsing, and feature.threshold_crossed fired once per crossing, not again
while the value flaps within a day, and again after a full day below."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from comms import events, webhooks
from comms.models import Threshold, ThresholdState
from productops.errors import Forbidden, ValidationFailed
from productops.models import AuditEvent, Event, Role
from productops.outbox.models import Delivery
from roadmap.models import Feature
from tests.comms.factories import WebhookEndpointFactory
from tests.feedback.factories import CompanyFactory, ContactFactory, VoteFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(workspace, member):
    return member(workspace, Role.ADMIN).user


@pytest.fixture
def feature(workspace):
    return FeatureFactory(
        workspace=workspace, product=ProductFactory(workspace=workspace), title="Bulk export"
    )


@pytest.mark.parametrize(
    ("rule", "parsed"),
    [
        ("companies >= 5", ("companies", Decimal("5.00"))),
        ("  Companies>=12 ", ("companies", Decimal("12.00"))),
        ("arr >= 250k", ("arr", Decimal("250000.00"))),
        ("arr >= 2.5M", ("arr", Decimal("2500000.00"))),
        ("arr >= $250,000", ("arr", Decimal("250000.00"))),
        ("arr ≥ 1000.50", ("arr", Decimal("1000.50"))),
    ],
)
def test_rules_that_parse(rule, parsed):
    assert webhooks.parse_rule(rule) == parsed


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "companies > 5",
        "companies >= 2.5",
        "companies >= 0",
        "votes >= 5",
        "arr >= lots",
        "arr >= 5x",
        "arr >= 1e30",
    ],
)
def test_a_rule_that_does_not_parse_is_refused_and_nothing_stored(workspace, admin, rule):
    with pytest.raises(ValidationFailed) as refused:
        webhooks.threshold_create(workspace=workspace, actor=admin, rule=rule)
    assert (refused.value.attr, refused.value.code) == ("rule", "invalid_rule")
    assert not Threshold.objects.exists()
    assert not AuditEvent.objects.filter(target_type="comms.threshold").exists()


def test_a_rule_is_created_once_by_admins(workspace, admin, member):
    threshold = webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 5")
    assert (threshold.metric, threshold.value, webhooks.rule_text(threshold)) == (
        "companies",
        5,
        "companies >= 5",
    )

    with pytest.raises(ValidationFailed) as again:
        webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies>=5.0")
    assert (again.value.attr, again.value.code) == ("rule", "unique")
    with pytest.raises(Forbidden):
        webhooks.threshold_create(
            workspace=workspace, actor=member(workspace, Role.PRODUCT_MANAGER).user, rule="arr >= 1k"
        )
    assert Threshold.objects.count() == 1

    webhooks.threshold_delete(threshold=threshold, actor=admin)
    assert not Threshold.objects.exists()


def companies(feature, n):
    Feature.objects.filter(pk=feature.pk).update(requesting_companies=n)


def crossings(feature):
    return Event.objects.filter(kind="feature.threshold_crossed", subject_id=str(feature.pk)).count()


def test_fired_once_per_crossing_not_while_flapping_within_a_day_and_again_after_a_day_below(
    workspace, admin, feature
):
    threshold = webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 3")
    start = timezone.now()

    def at(hours, value):
        companies(feature, value)
        webhooks.thresholds_evaluate(workspace=workspace, now=start + timedelta(hours=hours))
        return crossings(feature)

    assert at(0, 2) == 0  # below: nothing
    assert at(1, 3) == 1  # crossed: fired
    assert at(2, 5) == 1  # still above: nothing
    assert at(3, 2) == 1  # below ...
    assert at(10, 4) == 1  # ... back above within the day: not again
    assert at(11, 1) == 1  # below again: the day starts over
    assert at(30, 1) == 1  # 19 hours below: still disarmed
    assert at(35, 1) == 1  # a full day below: re-armed (nothing to say yet)
    assert ThresholdState.objects.get(threshold=threshold, feature=feature).armed is True
    assert at(36, 3) == 2  # crossed again: fired

    event = Event.objects.filter(kind="feature.threshold_crossed").latest("id")
    assert event.payload == {
        "feature": {"id": feature.pk, "title": "Bulk export"},
        "threshold": {"id": threshold.pk, "metric": "companies", "value": 3.0, "rule": "companies >= 3"},
        "value": 3.0,
    }


def test_a_value_above_for_a_day_after_being_below_fires_at_the_next_run(workspace, admin, feature):
    webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 3")
    start = timezone.now()
    companies(feature, 3)
    webhooks.thresholds_evaluate(workspace=workspace, now=start)
    companies(feature, 0)
    webhooks.thresholds_evaluate(workspace=workspace, now=start + timedelta(hours=1))
    # No run for two days (nothing changed meanwhile), then the value is above again.
    companies(feature, 3)
    webhooks.thresholds_evaluate(workspace=workspace, now=start + timedelta(days=2))

    assert crossings(feature) == 2


def test_features_already_above_when_the_rule_is_made_do_not_fire(workspace, admin, feature):
    companies(feature, 9)
    webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 3")

    webhooks.after_recompute(workspace_id=workspace.pk)

    assert crossings(feature) == 0


def test_arr_at_stake_counts_each_requesting_company_once_in_the_reporting_currency(
    workspace, admin, feature
):
    workspace.currency_rates = {"EUR": 2}
    workspace.save()
    webhooks.threshold_create(workspace=workspace, actor=admin, rule="arr >= 250k")
    big = CompanyFactory(workspace=workspace, arr=100_000, arr_currency="EUR")  # 200k
    for _ in range(2):  # two people of one company count it once
        VoteFactory(contact=ContactFactory(workspace=workspace, company=big), feature=feature)
    webhooks.after_recompute(workspace_id=workspace.pk)
    assert crossings(feature) == 0

    VoteFactory(
        contact=ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace, arr=50_000)),
        feature=feature,
    )
    webhooks.after_recompute(workspace_id=workspace.pk)

    assert crossings(feature) == 1
    assert Event.objects.get(kind="feature.threshold_crossed").payload["value"] == 250_000.0


def test_a_crossing_is_posted_to_subscribed_endpoints(workspace, admin, feature):
    endpoint = WebhookEndpointFactory(workspace=workspace, event_types=["feature.threshold_crossed"])
    WebhookEndpointFactory(workspace=workspace, event_types=["release.shipped"])
    webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 1")
    companies(feature, 1)
    webhooks.after_recompute(workspace_id=workspace.pk)

    events.events_consume()

    (row,) = Delivery.objects.all()
    assert row.recipient_ref == f"endpoint:{endpoint.pk}"
    assert row.payload["type"] == "feature.threshold_crossed"
    assert row.payload["data"]["threshold"]["rule"] == "companies >= 1"
