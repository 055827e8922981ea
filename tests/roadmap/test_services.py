from datetime import date
from decimal import Decimal

import pytest

from productops import services as core_services
from productops.errors import Conflict, Forbidden, ValidationFailed
from productops.models import AuditEvent, Role, Workspace
from roadmap import services
from roadmap.models import Feature, FeatureDependency, FeatureStatusChange, Product, ScoreState
from tests.productops.factories import UserFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_feature_create_validates_audits_and_marks_dirty(workspace, member):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    product = ProductFactory(workspace=workspace)

    feature = services.feature_create(
        workspace=workspace,
        actor=pm,
        data={"title": "SSO", "product": product, "effort": Decimal("5"), "tags": ["Security", " security "]},
    )

    assert feature.score_state == ScoreState.DIRTY
    assert list(feature.tags.values_list("name", flat=True)) == ["Security"]
    assert FeatureStatusChange.objects.get(feature=feature).to_status == "idea"
    assert AuditEvent.objects.filter(target_type="roadmap.feature", target_id=str(feature.pk)).count() == 2


@pytest.mark.parametrize(
    ("data", "attr"),
    [
        ({"effort": Decimal("0")}, "effort"),
        ({"effort": Decimal("-3")}, "effort"),
        ({"planned_start": date(2027, 3, 1), "target_date": date(2027, 2, 1)}, "target_date"),
        ({"impact": Decimal("1.5")}, "impact"),
        ({"confidence_pct": 101}, "confidence_pct"),
    ],
)
def test_bad_feature_input_is_refused_and_nothing_is_written(workspace, data, attr):
    product = ProductFactory(workspace=workspace)

    with pytest.raises(ValidationFailed) as error:
        services.feature_create(
            workspace=workspace, actor=None, data={"title": "X", "product": product, **data}
        )

    assert error.value.attr == attr
    assert Feature.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_a_feature_cannot_use_another_workspaces_product(workspace, other_workspace):
    foreign = ProductFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed) as error:
        services.feature_create(workspace=workspace, actor=None, data={"title": "X", "product": foreign})

    assert error.value.attr == "product"
    assert Feature.objects.count() == 0


def test_viewers_cannot_create_features(workspace, member):
    viewer = member(workspace, Role.VIEWER).user

    with pytest.raises(Forbidden):
        services.feature_create(
            workspace=workspace,
            actor=viewer,
            data={"title": "X", "product": ProductFactory(workspace=workspace)},
        )


# --- status workflow --------------------------------------------------------------


def test_one_step_along_the_workflow_needs_no_reason():
    feature = FeatureFactory()

    services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)

    assert Feature.objects.get(pk=feature.pk).status == "under_consideration"


def test_skipping_the_workflow_needs_a_reason_and_records_it():
    feature = FeatureFactory()

    with pytest.raises(ValidationFailed) as error:
        services.feature_change_status(feature=feature, to_status="in_progress", actor=None)
    assert error.value.code == "reason_required"
    assert Feature.objects.get(pk=feature.pk).status == "idea"

    services.feature_change_status(
        feature=feature, to_status="in_progress", actor=None, reason="Exec escalation"
    )

    change = FeatureStatusChange.objects.filter(feature=feature).first()
    assert (change.from_status, change.to_status, change.reason) == ("idea", "in_progress", "Exec escalation")


def test_shipping_before_dependencies_ship_is_a_conflict():
    base = FeatureFactory()
    top = FeatureFactory(product=base.product, status="in_progress")
    services.feature_add_dependency(feature=top, depends_on=base, actor=None)

    with pytest.raises(Conflict) as error:
        services.feature_change_status(feature=top, to_status="shipped", actor=None)

    assert error.value.code == "dependencies_unshipped"
    assert Feature.objects.get(pk=top.pk).status == "in_progress"


# --- dependencies -----------------------------------------------------------------


def test_a_dependency_cycle_is_refused_at_any_length():
    a = FeatureFactory(title="A")
    b = FeatureFactory(product=a.product, title="B")
    c = FeatureFactory(product=a.product, title="C")
    services.feature_add_dependency(feature=a, depends_on=b, actor=None)
    services.feature_add_dependency(feature=b, depends_on=c, actor=None)

    with pytest.raises(ValidationFailed) as error:
        services.feature_add_dependency(feature=c, depends_on=a, actor=None)

    assert (error.value.attr, error.value.code) == ("depends_on", "cycle")
    assert FeatureDependency.objects.count() == 2
    with pytest.raises(ValidationFailed):
        services.feature_add_dependency(feature=a, depends_on=a, actor=None)


def test_adding_the_same_dependency_twice_is_idempotent():
    a = FeatureFactory()
    b = FeatureFactory(product=a.product)

    first = services.feature_add_dependency(feature=a, depends_on=b, actor=None)
    second = services.feature_add_dependency(feature=a, depends_on=b, actor=None)

    assert first == second
    assert FeatureDependency.objects.count() == 1


def test_deleting_a_feature_others_depend_on_is_a_conflict_naming_them():
    base = FeatureFactory(title="Data model")
    top = FeatureFactory(product=base.product, title="Reports")
    services.feature_add_dependency(feature=top, depends_on=base, actor=None)

    with pytest.raises(Conflict) as error:
        services.feature_delete(feature=base, actor=None)

    assert error.value.code == "has_dependants"
    assert error.value.extra == {"dependants": [{"id": top.pk, "title": "Reports"}]}
    assert Feature.objects.filter(pk=base.pk).exists()


def test_deleting_a_workspace_removes_its_roadmap():
    owner = UserFactory()
    workspace = core_services.workspace_create(name="Doomed", owner=owner)
    product = ProductFactory(workspace=workspace)
    a = FeatureFactory(product=product)
    b = FeatureFactory(product=product)
    services.feature_add_dependency(feature=a, depends_on=b, actor=None)

    core_services.workspace_delete(workspace=workspace, actor=owner)

    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert (Product.objects.count(), Feature.objects.count(), FeatureDependency.objects.count()) == (0, 0, 0)


def test_a_product_with_features_cannot_be_deleted():
    feature = FeatureFactory()

    with pytest.raises(Conflict):
        services.product_delete(product=feature.product, actor=None)

    assert Product.objects.filter(pk=feature.product_id).exists()


# --- settings and scorecards ---------------------------------------------------------


@pytest.mark.parametrize("weight", ["lots", "NaN", "Infinity", -1, 5000])
def test_weights_that_do_not_parse_are_field_errors(workspace, weight):
    with pytest.raises(ValidationFailed) as error:
        services.roadmap_settings_update(
            workspace=workspace, actor=None, data={"importance_weights": {"critical": weight}}
        )

    assert error.value.attr == "importance_weights.critical"


def test_a_new_criterion_marks_every_feature_dirty(workspace):
    product = ProductFactory(workspace=workspace)
    features = [FeatureFactory(product=product) for _ in range(3)]
    Feature.objects.update(score_state=ScoreState.CLEAN)

    services.scorecard_criterion_create(
        workspace=workspace, actor=None, data={"key": "fit", "name": "Strategic fit", "weight": Decimal("2")}
    )

    assert set(Feature.objects.values_list("score_state", flat=True)) == {ScoreState.DIRTY}
    assert len(features) == 3


def test_criterion_values_are_range_checked(workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    services.scorecard_criterion_create(
        workspace=workspace, actor=None, data={"key": "fit", "name": "Fit", "weight": Decimal("1")}
    )

    with pytest.raises(ValidationFailed) as error:
        services.feature_set_criterion_values(feature=feature, values={"fit": 11}, actor=None)

    assert error.value.attr == "values.fit"
    values = services.feature_set_criterion_values(feature=feature, values={"fit": 7}, actor=None)
    assert [(v.criterion.key, v.value) for v in values] == [("fit", Decimal("7"))]


# --- portal: edit form, scoring settings and preview -------------------------------


def _ranked(workspace):
    from priority.recompute import run as recompute_workspace
    from roadmap.models import RoadmapSettings
    from tests.roadmap.factories import CriterionFactory

    RoadmapSettings.objects.create(workspace=workspace, scoring_model="rice")
    CriterionFactory(workspace=workspace, key="fit", weight=2)
    product = ProductFactory(workspace=workspace)
    features = [
        FeatureFactory(
            product=product,
            title=title,
            reach=reach,
            impact=1,
            confidence_pct=100,
            effort=1,
            ice_impact=ice,
            ice_confidence=ice,
            ice_ease=ice,
        )
        for title, reach, ice in [("A", 1000, 1), ("B", 100, 5), ("C", 10, 9)]
    ]
    recompute_workspace(workspace_id=workspace.pk)
    return features


def test_scoring_settings_apply_saves_model_and_weights_and_marks_dirty(workspace, member):
    from roadmap.models import RoadmapSettings, ScorecardCriterion, ScoreState

    pm = member(workspace, Role.PRODUCT_MANAGER).user
    _ranked(workspace)

    services.scoring_settings_apply(
        workspace=workspace, actor=pm, scoring_model="ice", criterion_weights={"fit": 4}
    )

    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "ice"
    assert ScorecardCriterion.objects.get(workspace=workspace).weight == Decimal("4.000")
    assert set(Feature.objects.values_list("score_state", flat=True)) == {ScoreState.DIRTY}
    assert AuditEvent.objects.filter(target_type="roadmap.roadmapsettings").count() == 1
    assert AuditEvent.objects.filter(target_type="roadmap.scorecardcriterion", action="updated").count() == 1


def test_feature_edit_is_all_or_nothing(workspace):
    from tests.roadmap.factories import CriterionFactory

    CriterionFactory(workspace=workspace, key="fit")
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Before")
    before = AuditEvent.objects.count()

    with pytest.raises(ValidationFailed):
        services.feature_edit(
            feature=feature, actor=None, data={"title": "After"}, criterion_values={"fit": 11}
        )

    feature.refresh_from_db()
    assert feature.title == "Before"
    assert AuditEvent.objects.count() == before
    services.feature_edit(feature=feature, actor=None, data={"title": "After"}, criterion_values={"fit": 6})
    feature.refresh_from_db()
    assert feature.title == "After"
    assert feature.criterion_values.get().value == Decimal("6.00")


# --- capacity periods --------------------------------------------------------------------


def _capacity(team, **data):
    return services.team_capacity_create(
        workspace=team.workspace, actor=None, data={"team": team, "capacity": Decimal(10), **data}
    )


@pytest.mark.parametrize(
    ("label", "normal", "first", "last"),
    [
        ("2027-Q2", "2027-Q2", date(2027, 4, 1), date(2027, 6, 30)),
        ("2027-q4", "2027-Q4", date(2027, 10, 1), date(2027, 12, 31)),
        ("2027-H2", "2027-H2", date(2027, 7, 1), date(2027, 12, 31)),
        ("2028-02", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_a_period_label_gives_its_dates(label, normal, first, last):
    from tests.roadmap.factories import TeamFactory

    capacity = _capacity(TeamFactory(), period=label)

    assert (capacity.period, capacity.starts_on, capacity.ends_on) == (normal, first, last)


@pytest.mark.parametrize(
    ("data", "attr", "code"),
    [
        (
            {"period": "2027-Q2", "starts_on": date(2027, 1, 1), "ends_on": date(2027, 3, 31)},
            "starts_on",
            "period_mismatch",
        ),
        ({"period": "2027-Q2", "ends_on": date(2027, 7, 1)}, "ends_on", "period_mismatch"),
        ({"period": "2027-Q5"}, "period", "invalid"),
        ({"period": "2027-13"}, "period", "invalid"),
        ({"period": "banana"}, "starts_on", "required"),
        ({"period": "banana", "starts_on": date(2027, 1, 1)}, "ends_on", "required"),
        ({"period": "1999-Q4"}, "period", "out_of_range"),
        (
            {"period": "x" * 41, "starts_on": date(2027, 1, 1), "ends_on": date(2027, 2, 1)},
            "period",
            "max_length",
        ),
        ({"period": "  "}, "period", "required"),
    ],
)
def test_a_period_that_does_not_match_its_dates_is_refused_and_nothing_is_written(data, attr, code):
    from roadmap.models import TeamCapacity
    from tests.roadmap.factories import TeamFactory

    team = TeamFactory()
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        _capacity(team, **data)

    assert (refused.value.attr, refused.value.code) == (attr, code)
    assert not TeamCapacity.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_free_label_with_its_dates_is_a_period():
    from tests.roadmap.factories import TeamFactory

    sprint = _capacity(
        TeamFactory(), period="Sprint 42", starts_on=date(2027, 1, 4), ends_on=date(2027, 1, 15)
    )

    assert (sprint.period, sprint.starts_on, sprint.ends_on) == (
        "Sprint 42",
        date(2027, 1, 4),
        date(2027, 1, 15),
    )


def test_one_teams_periods_may_not_overlap_but_two_teams_may_share_dates():
    from roadmap.models import TeamCapacity
    from tests.roadmap.factories import TeamFactory

    team = TeamFactory(name="Core")
    _capacity(team, period="2027-Q1")
    _capacity(TeamFactory(workspace=team.workspace), period="2027-Q1")

    with pytest.raises(ValidationFailed) as overlap:
        _capacity(team, period="Sprint", starts_on=date(2027, 3, 29), ends_on=date(2027, 4, 9))
    with pytest.raises(ValidationFailed) as twice:
        _capacity(team, period="2027-q1")

    assert (overlap.value.attr, overlap.value.code) == ("starts_on", "overlap")
    assert overlap.value.detail == (
        "Overlaps 2027-Q1 (2027-01-01 to 2027-03-31) of Core: a team's periods may not overlap."
    )
    assert twice.value.code == "unique"
    assert TeamCapacity.objects.filter(team=team).count() == 1
    # Adjacent is fine, and a period may be moved or resized without overlapping itself.
    q2 = _capacity(team, period="2027-Q2")
    services.team_capacity_update(capacity=q2, actor=None, data={"capacity": Decimal(5)})
    moved = services.team_capacity_update(capacity=q2, actor=None, data={"period": "2027-H2"})
    assert (moved.starts_on, moved.ends_on) == (date(2027, 7, 1), date(2027, 12, 31))


def test_postgresql_refuses_an_overlap_that_bypasses_the_service():
    from django.db import IntegrityError, connection, transaction

    from roadmap.models import TeamCapacity
    from tests.roadmap.factories import TeamFactory

    if connection.vendor != "postgresql":
        pytest.skip(
            "the exclusion constraint is PostgreSQL's (btree_gist); on SQLite the service is the guard"
        )
    team = TeamFactory()
    _capacity(team, period="2027-Q1")
    with pytest.raises(IntegrityError, match="team_capacity_no_overlap"), transaction.atomic():
        TeamCapacity.objects.create(
            workspace=team.workspace,
            team=team,
            period="Overlap",
            starts_on=date(2027, 3, 1),
            ends_on=date(2027, 4, 1),
            capacity=1,
        )
