"""roadmap.services.features_bulk_update: one call sets horizon, status, team, product or a
tag on many features, all or nothing, each card under the single edit's rules."""

from __future__ import annotations

import pytest
from rest_framework.test import APIRequestFactory

from productops.api.exceptions import exception_handler
from productops.errors import Forbidden, ItemsRefused, NotFound, ValidationFailed
from productops.models import AuditEvent, Event, Role
from roadmap import services
from roadmap.models import Feature, FeatureDependency, FeatureStatusChange, Tag
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Core")


def cards(product, n=3, **fields):
    return [FeatureFactory(product=product, title=f"Card {i}", **fields) for i in range(n)]


def state(features):
    return [
        (f.horizon, f.status, f.team_id, f.product_id)
        for f in Feature.objects.filter(pk__in=[f.pk for f in features]).order_by("pk")
    ]


def test_sets_the_horizon_of_every_card_with_one_audit_event_each(workspace, pm, product):
    features = cards(product, horizon="later")
    before = AuditEvent.objects.count()

    result = services.features_bulk_update(
        workspace=workspace, actor=pm, feature_ids=[f.pk for f in features], changes={"horizon": "now"}
    )

    assert [f.pk for f in result] == [f.pk for f in features]
    assert state(features) == [("now", "idea", None, product.pk)] * 3
    events = AuditEvent.objects.order_by("id")[before:]
    assert [(e.action, e.target_id, e.changes) for e in events] == [
        (AuditEvent.Action.UPDATED, str(f.pk), {"horizon": ["later", "now"]}) for f in features
    ]


def test_unscheduled_team_product_and_tag_together(workspace, member, product):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    team = TeamFactory(workspace=workspace, name="Platform")
    other = ProductFactory(workspace=workspace, name="Mobile")
    features = cards(product, 2, horizon="now")
    Tag.objects.create(workspace=workspace, name="Q3")

    services.features_bulk_update(
        workspace=workspace,
        actor=contributor,
        feature_ids=[features[1].pk, features[0].pk],
        changes={"horizon": "", "team": team, "product": other, "add_tag": "q3"},
    )

    assert state(features) == [("", "idea", team.pk, other.pk)] * 2
    assert Tag.objects.filter(workspace=workspace).count() == 1  # the existing tag, case-insensitively
    for f in features:
        assert list(Feature.objects.get(pk=f.pk).tags.values_list("name", flat=True)) == ["Q3"]
    tag_events = AuditEvent.objects.filter(changes__via="bulk edit").order_by("id")
    assert [(e.target_id, e.changes["tags"]) for e in tag_events] == [
        (str(features[1].pk), ["Q3"]),
        (str(features[0].pk), ["Q3"]),
    ]


def test_a_new_tag_is_created_once_and_a_card_that_has_it_is_left_alone(workspace, pm, product):
    first, second = cards(product, 2)
    services.features_bulk_update(
        workspace=workspace, actor=pm, feature_ids=[first.pk], changes={"add_tag": "Beta"}
    )
    before = AuditEvent.objects.count()

    services.features_bulk_update(
        workspace=workspace, actor=pm, feature_ids=[first.pk, second.pk], changes={"add_tag": "beta"}
    )

    assert Tag.objects.filter(workspace=workspace).count() == 1
    assert AuditEvent.objects.count() == before + 1  # only the second card changed


def test_status_change_follows_the_workflow_rules_and_records_history_and_events(workspace, pm, product):
    features = cards(product, 2, status="under_consideration")

    services.features_bulk_update(
        workspace=workspace, actor=pm, feature_ids=[f.pk for f in features], changes={"status": "planned"}
    )

    assert state(features) == [("", "planned", None, product.pk)] * 2
    assert FeatureStatusChange.objects.filter(to_status="planned").count() == 2
    assert Event.objects.filter(kind=Event.Kind.FEATURE_STATUS_CHANGED).count() == 2


def test_any_refusal_writes_nothing_and_names_each_refused_card(workspace, pm, product):
    ok = FeatureFactory(product=product, title="Fine", status="in_progress")
    skips = FeatureFactory(product=product, title="Skips", status="idea")
    blocked = FeatureFactory(product=product, title="Blocked", status="in_progress")
    prerequisite = FeatureFactory(product=product, title="Prerequisite", status="planned")
    FeatureDependency.objects.create(workspace=workspace, feature=blocked, depends_on=prerequisite)
    features = [ok, skips, blocked]
    before = (AuditEvent.objects.count(), Event.objects.count(), FeatureStatusChange.objects.count())

    with pytest.raises(ItemsRefused) as refused:
        services.features_bulk_update(
            workspace=workspace,
            actor=pm,
            feature_ids=[f.pk for f in features],
            changes={"status": "shipped", "horizon": "now"},
        )

    assert refused.value.detail == "Nothing was changed: 2 of 3 features were refused."
    assert {pk: (e.code, e.attr) for pk, e in refused.value.errors.items()} == {
        skips.pk: ("reason_required", "reason"),
        blocked.pk: ("dependencies_unshipped", None),
    }
    assert refused.value.messages() == {
        skips.pk: "Moving from Idea to Shipped skips the workflow; give a reason.",
        blocked.pk: "Depends on unshipped: Prerequisite.",
    }
    assert state(features) == [
        ("", "in_progress", None, product.pk),
        ("", "idea", None, product.pk),
        ("", "in_progress", None, product.pk),
    ]
    assert (AuditEvent.objects.count(), Event.objects.count(), FeatureStatusChange.objects.count()) == before


def test_a_reason_lets_every_card_skip_steps(workspace, pm, product):
    features = cards(product, 2, status="idea")
    services.features_bulk_update(
        workspace=workspace,
        actor=pm,
        feature_ids=[f.pk for f in features],
        changes={"status": "in_progress", "reason": "Customer escalation"},
    )
    assert set(
        FeatureStatusChange.objects.filter(to_status="in_progress").values_list("reason", flat=True)
    ) == {"Customer escalation"}


def test_shipping_a_feature_with_its_selected_prerequisite_works_in_any_order(workspace, pm, product):
    dependant = FeatureFactory(product=product, status="in_progress", horizon="later")
    prerequisite = FeatureFactory(product=product, status="in_progress")
    FeatureDependency.objects.create(workspace=workspace, feature=dependant, depends_on=prerequisite)

    services.features_bulk_update(
        workspace=workspace,
        actor=pm,
        feature_ids=[dependant.pk, prerequisite.pk],
        changes={"status": "shipped", "horizon": "now"},
    )

    assert state([dependant, prerequisite]) == [("now", "shipped", None, product.pk)] * 2


def test_a_merged_feature_is_refused(workspace, pm, product):
    survivor, merged = cards(product, 2)
    Feature.objects.filter(pk=merged.pk).update(merged_into=survivor)
    with pytest.raises(ItemsRefused) as refused:
        services.features_bulk_update(
            workspace=workspace, actor=pm, feature_ids=[survivor.pk, merged.pk], changes={"horizon": "now"}
        )
    assert {pk: e.code for pk, e in refused.value.errors.items()} == {merged.pk: "feature_merged"}
    assert state([survivor]) == [("", "idea", None, product.pk)]


@pytest.mark.parametrize(
    ("ids", "changes", "code", "attr"),
    [
        ([], {"horizon": "now"}, "required", "feature_ids"),
        (["x"], {"horizon": "now"}, "invalid", "feature_ids"),
        ([1], {}, "required", None),
        ([1], {"reason": "why"}, "invalid", "reason"),
        ([1], {"horizon": "someday"}, "invalid_choice", "horizon"),
        ([1], {"status": "done"}, "invalid_choice", "status"),
        ([1], {"product": None}, "required", "product"),
        ([1], {"add_tag": "  "}, "required", "add_tag"),
        ([1], {"title": "x"}, "unknown_field", "title"),
    ],
)
def test_bad_input_is_refused_before_anything_is_read(workspace, pm, ids, changes, code, attr):
    with pytest.raises(ValidationFailed) as error:
        services.features_bulk_update(workspace=workspace, actor=pm, feature_ids=ids, changes=changes)
    assert (error.value.code, error.value.attr) == (code, attr)


def test_more_than_100_cards_are_refused(workspace, pm, product):
    with pytest.raises(ValidationFailed) as error:
        services.features_bulk_update(
            workspace=workspace, actor=pm, feature_ids=list(range(1, 102)), changes={"horizon": "now"}
        )
    assert (error.value.code, error.value.detail) == (
        "too_many",
        "At most 100 features at once (101 selected).",
    )


def test_exactly_100_cards_are_changed(workspace, pm, product):
    features = [Feature(workspace=workspace, product=product, title=f"F{i}") for i in range(100)]
    Feature.objects.bulk_create(features)
    ids = list(Feature.objects.filter(workspace=workspace).values_list("pk", flat=True))
    services.features_bulk_update(workspace=workspace, actor=pm, feature_ids=ids, changes={"horizon": "next"})
    assert Feature.objects.filter(workspace=workspace, horizon="next").count() == 100


def test_another_workspaces_feature_or_team_is_not_found(workspace, other_workspace, pm, product):
    mine = FeatureFactory(product=product)
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    with pytest.raises(ValidationFailed) as error:
        services.features_bulk_update(
            workspace=workspace, actor=pm, feature_ids=[mine.pk, theirs.pk], changes={"horizon": "now"}
        )
    assert (error.value.code, error.value.detail) == (
        "does_not_exist",
        f"Not found in this workspace: #{theirs.pk}.",
    )
    with pytest.raises(ValidationFailed) as error:
        services.features_bulk_update(
            workspace=workspace,
            actor=pm,
            feature_ids=[mine.pk],
            changes={"team": TeamFactory(workspace=other_workspace)},
        )
    assert (error.value.code, error.value.attr) == ("does_not_exist", "team")
    assert state([mine]) == [("", "idea", None, product.pk)]


def test_roles(workspace, other_workspace, member, product):
    feature = FeatureFactory(product=product, status="idea")
    contributor = member(workspace, Role.CONTRIBUTOR).user
    viewer = member(workspace, Role.VIEWER).user
    outsider = member(other_workspace, Role.OWNER).user
    with pytest.raises(Forbidden):
        services.features_bulk_update(
            workspace=workspace, actor=viewer, feature_ids=[feature.pk], changes={"horizon": "now"}
        )
    with pytest.raises(Forbidden):
        services.features_bulk_update(
            workspace=workspace,
            actor=contributor,
            feature_ids=[feature.pk],
            changes={"status": "under_consideration"},
        )
    with pytest.raises(NotFound):
        services.features_bulk_update(
            workspace=workspace, actor=outsider, feature_ids=[feature.pk], changes={"horizon": "now"}
        )
    assert state([feature]) == [("", "idea", None, product.pk)]


def test_the_api_error_handler_renders_one_error_per_refused_card(workspace, pm, product):
    skips = FeatureFactory(product=product, status="idea")
    with pytest.raises(ItemsRefused) as refused:
        services.features_bulk_update(
            workspace=workspace, actor=pm, feature_ids=[skips.pk], changes={"status": "shipped"}
        )
    request = APIRequestFactory().post("/api/v1/x/")
    response = exception_handler(refused.value, {"request": request, "view": None})
    assert response.status_code == 400
    assert response.data["type"] == "validation_error"
    assert response.data["errors"] == [
        {
            "code": "reason_required",
            "detail": "Moving from Idea to Shipped skips the workflow; give a reason.",
            "attr": "reason",
            "item_id": skips.pk,
        }
    ]


def test_items_refused_without_items_renders_as_one_error():
    error = ItemsRefused("Nothing was changed.", errors={}, attr="feature_ids")
    response = exception_handler(error, {"request": APIRequestFactory().post("/x/"), "view": None})
    assert response.data["errors"] == [
        {"code": "items_refused", "detail": "Nothing was changed.", "attr": "feature_ids"}
    ]
