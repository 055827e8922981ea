"""``feature_create_with_values``: the portal's new-feature form, the feature and its manual
scorecard values in one transaction; and the selector that reads those values back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from productops.errors import Forbidden, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap import selectors, services
from roadmap.models import Feature, FeatureCriterionValue, Tag
from tests.roadmap.factories import CriterionFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_creates_the_feature_and_its_values_and_audits_both(workspace, member):
    actor = member(workspace, Role.CONTRIBUTOR).user
    product = ProductFactory(workspace=workspace)
    fit = CriterionFactory(workspace=workspace, key="fit")
    CriterionFactory(workspace=workspace, key="reach")

    feature = services.feature_create_with_values(
        workspace=workspace,
        actor=actor,
        data={"title": "Audit log", "product": product, "tags": ["api"]},
        criterion_values={"fit": Decimal("7.5"), "reach": None},
    )

    assert Feature.objects.get() == feature
    assert selectors.feature_criterion_values(feature=feature) == {fit.pk: Decimal("7.50")}
    assert [t.name for t in feature.tags.all()] == ["api"]
    events = AuditEvent.objects.filter(target_id=str(feature.pk)).order_by("id")
    assert [(e.action, sorted(e.changes)) for e in events] == [
        ("created", ["title"]),  # related rows are not in a created event's changes
        ("updated", ["tags"]),
        ("updated", ["criterion_values"]),
    ]
    assert events[2].changes == {"criterion_values": {"fit": "7.5"}}


def test_a_refused_value_writes_nothing(workspace, member):
    actor = member(workspace, Role.CONTRIBUTOR).user
    product = ProductFactory(workspace=workspace)
    CriterionFactory(workspace=workspace, key="fit")

    with pytest.raises(ValidationFailed) as error:
        services.feature_create_with_values(
            workspace=workspace,
            actor=actor,
            data={"title": "Audit log", "product": product, "tags": ["api"]},
            criterion_values={"fit": Decimal("11")},
        )

    assert (error.value.attr, error.value.code) == ("values.fit", "out_of_range")
    assert not Feature.objects.exists()
    assert not Tag.objects.exists()
    assert not FeatureCriterionValue.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_viewer_is_refused(workspace, member):
    viewer = member(workspace, Role.VIEWER).user
    product = ProductFactory(workspace=workspace)
    with pytest.raises(Forbidden):
        services.feature_create_with_values(
            workspace=workspace, actor=viewer, data={"title": "Audit log", "product": product}
        )
    assert not Feature.objects.exists()
