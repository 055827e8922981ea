"""The roadmap's admin console: every model browsable with constant queries, writes through
the services, score columns read-only, and the recompute action."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from priority import tasks
from productops.models import AuditEvent
from roadmap.models import (
    Competitor,
    Feature,
    FeatureComment,
    FeatureCriterionValue,
    FeatureDependency,
    FeatureMention,
    FeatureStatusChange,
    Goal,
    Initiative,
    KeyResult,
    KeyResultValue,
    PrioritySnapshot,
    Product,
    RoadmapSettings,
    SavedView,
    ScorecardCriterion,
    ScoreState,
    ShareLink,
    Tag,
    Team,
    TeamCapacity,
)
from roadmap.selectors import settings_for
from tests.productops.factories import UserFactory, WorkspaceFactory
from tests.productops.test_admin import admin_url, assert_admin_pages_work
from tests.roadmap.factories import (
    CriterionFactory,
    FeatureFactory,
    GoalFactory,
    KeyResultFactory,
    ProductFactory,
    TeamCapacityFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


def _feature(n: int) -> Feature:
    return FeatureFactory(product=ProductFactory())


def _dependency(n: int) -> FeatureDependency:
    a = _feature(n)
    b = FeatureFactory(product=a.product)
    return FeatureDependency.objects.create(workspace=a.workspace, feature=a, depends_on=b)


def _criterion_value(n: int) -> FeatureCriterionValue:
    feature = _feature(n)
    criterion = CriterionFactory(workspace=feature.workspace)
    return FeatureCriterionValue.objects.create(
        workspace=feature.workspace, feature=feature, criterion=criterion, value=5
    )


def _status_change(n: int) -> FeatureStatusChange:
    feature = _feature(n)
    return FeatureStatusChange.objects.create(workspace=feature.workspace, feature=feature, to_status="idea")


def _snapshot(n: int) -> PrioritySnapshot:
    feature = _feature(n)
    return PrioritySnapshot.objects.create(
        workspace=feature.workspace,
        feature=feature,
        scoring_model="rice",
        score=1,
        rank=1,
        computed_at=timezone.now(),
    )


def _key_result_value():
    key_result = KeyResultFactory(target=10, current=3)
    return KeyResultValue.objects.create(
        workspace=key_result.workspace, key_result=key_result, value=3, recorded_at=timezone.now()
    )


def _comment(n: int) -> FeatureComment:
    feature = _feature(n)
    return FeatureComment.objects.create(workspace=feature.workspace, feature=feature, body=f"Note {n}")


def _mention(n: int) -> FeatureMention:
    comment = _comment(n)
    return FeatureMention.objects.create(workspace=comment.workspace, comment=comment, user=UserFactory())


def _saved_view(n: int) -> SavedView:
    return SavedView.objects.create(workspace=WorkspaceFactory(), name=f"View {n}", kind="board")


def _share_link(n: int) -> ShareLink:
    view = _saved_view(n)
    return ShareLink.objects.create(
        workspace=view.workspace,
        view=view,
        prefix=f"sv_{n:04d}",
        key_hash=f"{n:064d}",
        expires_at=timezone.now() + timedelta(days=30),
    )


ROADMAP_MAKERS = {
    Product: lambda n: ProductFactory(),
    Goal: lambda n: GoalFactory(product=ProductFactory()),
    KeyResult: lambda n: KeyResultFactory(target=10, current=3),
    KeyResultValue: lambda n: _key_result_value(),
    Initiative: lambda n: Initiative.objects.create(workspace=WorkspaceFactory(), title=f"I{n}"),
    Team: lambda n: TeamFactory(),
    TeamCapacity: lambda n: TeamCapacityFactory(),
    Tag: lambda n: Tag.objects.create(workspace=WorkspaceFactory(), name=f"tag{n}"),
    Competitor: lambda n: Competitor.objects.create(workspace=WorkspaceFactory(), name=f"c{n}"),
    RoadmapSettings: lambda n: settings_for(WorkspaceFactory().pk),
    ScorecardCriterion: lambda n: CriterionFactory(),
    Feature: _feature,
    FeatureDependency: _dependency,
    FeatureCriterionValue: _criterion_value,
    FeatureStatusChange: _status_change,
    PrioritySnapshot: _snapshot,
    FeatureComment: _comment,
    FeatureMention: _mention,
    SavedView: _saved_view,
    ShareLink: _share_link,
}


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("roadmap").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    assert set(ROADMAP_MAKERS) == models


@pytest.mark.parametrize("model", list(ROADMAP_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, ROADMAP_MAKERS[model])


def test_adding_a_feature_goes_through_the_service(admin_client, workspace):
    product = ProductFactory(workspace=workspace)

    response = admin_client.post(
        admin_url(Feature, "add"),
        {"workspace": workspace.pk, "title": "Dark mode", "product": product.pk, "reach": 100},
    )

    assert response.status_code == 302
    feature = Feature.objects.get(title="Dark mode")
    assert (feature.workspace, feature.product, feature.reach, feature.status) == (
        workspace,
        product,
        100,
        "idea",
    )
    assert AuditEvent.objects.filter(
        target_type="roadmap.feature", target_id=str(feature.pk), action="created"
    ).exists()
    assert feature.status_changes.count() == 1


def test_a_feature_dated_outside_the_planning_range_is_refused_in_the_console(admin_client, workspace):
    product = ProductFactory(workspace=workspace)

    response = admin_client.post(
        admin_url(Feature, "add"),
        {"workspace": workspace.pk, "title": "Far", "product": product.pk, "target_date": "2199-01-01"},
        follow=True,
    )

    assert "Must be between 2000-01-01 and 2100-12-31." in response.content.decode()
    assert not Feature.objects.exists()


def test_score_fields_are_read_only(admin_client):
    feature = _feature(0)
    page = admin_client.get(admin_url(Feature, "change", feature.pk)).content.decode()

    assert 'name="priority_score"' not in page
    assert 'name="score_rice"' not in page
    assert 'name="title"' in page


def test_a_service_error_is_shown_and_nothing_is_written(admin_client):
    parent = GoalFactory()
    child = GoalFactory(workspace=parent.workspace, parent=parent)
    events = AuditEvent.objects.count()

    response = admin_client.post(
        admin_url(Goal, "change", parent.pk),
        {"title": parent.title, "period": parent.period, "parent": child.pk, "description": ""},
        follow=True,
    )

    assert "A goal cannot be nested under itself." in response.content.decode()
    assert "was changed successfully" not in response.content.decode()
    parent.refresh_from_db()
    assert parent.parent is None
    assert AuditEvent.objects.count() == events


def test_recompute_action_marks_dirty_and_the_task_recomputes(
    admin_client, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    feature = FeatureFactory(product=product, reach=100, impact=2, confidence_pct=50, effort=4)
    tasks.recompute_priorities.run(product.workspace_id)
    Feature.objects.filter(pk=feature.pk).update(reach=400)  # an input changed behind the engine's back
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.CLEAN
    assert feature.score_rice == pytest.approx(25.0)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            admin_url(Feature, "changelist"),
            {"action": "recompute_priorities", "_selected_action": [feature.pk]},
            follow=True,
        )

    assert "Recompute queued for 1 workspace(s)." in response.content.decode()
    assert len(callbacks) == 1  # the recompute is scheduled after the commit
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.DIRTY
    assert tasks.recompute_priorities.run(product.workspace_id)["recomputed"] == 1
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.CLEAN
    assert feature.score_rice == pytest.approx(100.0)


def test_team_capacity_dates_are_checked_by_the_service(admin_client):
    capacity = TeamCapacityFactory()

    admin_client.post(
        admin_url(TeamCapacity, "change", capacity.pk),
        {"period": "2027-Q1", "starts_on": "2027-03-01", "ends_on": "2027-02-01", "capacity": "10"},
    )

    capacity.refresh_from_db()
    assert capacity.ends_on == date(2027, 3, 31)


def test_a_change_of_fields_and_status_is_saved_whole_or_not_at_all(admin_client):
    feature = _feature(0)
    blocker = FeatureFactory(product=feature.product, title="Blocker")
    FeatureDependency.objects.create(workspace=feature.workspace, feature=feature, depends_on=blocker)
    events = AuditEvent.objects.count()

    response = admin_client.post(
        admin_url(Feature, "change", feature.pk),
        {"title": "Renamed", "product": feature.product.pk, "status": "shipped", "description": ""},
        follow=True,
    )

    assert "Depends on unshipped: Blocker." in response.content.decode()
    assert "was changed successfully" not in response.content.decode()
    feature.refresh_from_db()
    assert feature.status == "idea"
    assert feature.title != "Renamed"
    assert AuditEvent.objects.count() == events


def test_admin_writes_are_audited_as_the_operator(admin_client, admin_user):
    product = ProductFactory()
    response = admin_client.post(
        admin_url(Feature, "add"),
        {"workspace": product.workspace.pk, "title": "Audit me", "product": product.pk},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(target_type="roadmap.feature", action="created")
    assert (event.actor_id, event.actor_label) == (None, f"operator:{admin_user.username}")


def test_a_share_link_is_revoked_from_the_console(admin_client):
    link = _share_link(1)

    response = admin_client.post(
        admin_url(ShareLink, "changelist"),
        {"action": "revoke_share_links", "_selected_action": [link.pk]},
    )

    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    event = AuditEvent.objects.get(target_type="roadmap.sharelink", target_id=str(link.pk))
    assert event.changes == {"state": ["active", "revoked"]}
    assert event.actor_label.startswith("operator:")
