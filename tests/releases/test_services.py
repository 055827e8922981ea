"""Release services: creation and version rules, scope, checklist, notes, shipping, metrics."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from productops.errors import Conflict, Forbidden, ValidationFailed
from productops.models import AuditEvent, Event, Role
from releases import services
from releases.models import (
    ChecklistState,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseStatus,
    ReleaseStatusChange,
    ScopeItem,
    ScopeOutcome,
    ScopeState,
    SuccessMetric,
)
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatus, FeatureStatusChange, ScoreState, VersionScheme
from tests.releases.factories import ChecklistTaskFactory, ReleaseFactory, ScopeItemFactory, in_days
from tests.roadmap.factories import FeatureFactory, KeyResultFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


@pytest.fixture
def admin(workspace, member):
    return member(workspace, Role.ADMIN).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Web")


def _create(workspace, pm, product, **data):
    return services.release_create(
        workspace=workspace,
        actor=pm,
        data={"product": product, "name": "Spring", "version": "1.0.0", "planned_date": in_days(20), **data},
    )


def _released(product, version):
    return ReleaseFactory(
        product=product,
        version=version,
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
    )


# --- creation and versions -------------------------------------------------------------------


def test_create_copies_the_default_checklist_with_due_dates_from_the_planned_date(workspace, pm, product):
    release = _create(workspace, pm, product)

    tasks = list(release.checklist_tasks.order_by("position"))
    assert [(t.title, t.due_date, t.is_required) for t in tasks] == [
        (title, in_days(20 + offset), required) for title, _, offset, required in services.DEFAULT_CHECKLIST
    ]
    assert release.status == ReleaseStatus.PLANNED
    assert list(ReleaseStatusChange.objects.values_list("from_status", "to_status")) == [("", "planned")]
    assert AuditEvent.objects.filter(target_type="releases.release", action="created").count() == 1


def test_an_edited_template_is_what_new_releases_get_and_is_never_reseeded(workspace, pm, product):
    for item in services.checklist_template_ensure(workspace=workspace):
        services.checklist_template_item_delete(item=item, actor=pm)
    services.checklist_template_item_create(
        workspace=workspace, actor=pm, data={"title": "Blog post", "relative_due": "-2 weeks"}
    )

    release = _create(workspace, pm, product)

    assert list(release.checklist_tasks.values_list("title", "due_date")) == [("Blog post", in_days(6))]
    assert ChecklistTemplateItem.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "days"),
    [("-7 days", -7), ("−7 days", -7), ("+3d", 3), ("0 days", 0), ("-2 weeks", -14), ("1 day", 1), (5, 5)],
)
def test_relative_due(text, days):
    assert services.parse_relative_due(text) == days


@pytest.mark.parametrize("text", ["seven days", "-7", "7 months", "-400 days", "", "--7 days", True])
def test_a_malformed_relative_due_is_a_field_error_and_nothing_is_written(workspace, pm, text):
    services.checklist_template_ensure(workspace=workspace)
    before = ChecklistTemplateItem.objects.count()
    with pytest.raises(ValidationFailed) as error:
        services.checklist_template_item_create(
            workspace=workspace, actor=pm, data={"title": "Blog post", "relative_due": text}
        )
    assert error.value.attr == "relative_due"
    assert ChecklistTemplateItem.objects.count() == before


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("1.0", "invalid"),
        ("v1.0.0", "invalid"),
        ("1.4.2", "unique"),
        ("1.4.1", "not_greater"),
        ("1.4.2-rc.1", "not_greater"),
    ],
)
def test_bad_versions_are_field_errors_and_nothing_is_written(workspace, pm, product, version, code):
    _released(product, "1.4.2")
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, product, version=version)
    assert (error.value.attr, error.value.code) == ("version", code)
    assert Release.objects.count() == 1
    assert ChecklistTask.objects.count() == 0


def test_a_maintenance_release_of_an_older_major_line_is_fine(workspace, pm, product):
    _released(product, "1.4.2")
    _released(product, "2.0.0")

    assert _create(workspace, pm, product, version="1.4.3").version == "1.4.3"
    with pytest.raises(ValidationFailed):
        _create(workspace, pm, product, version="2.0.0-beta", name="Beta")


def test_calendar_versions_grow_across_the_product(workspace, pm):
    product = ProductFactory(workspace=workspace, version_scheme=VersionScheme.CALVER)
    _released(product, "2027.03")

    assert _create(workspace, pm, product, version="2027.03.1").version == "2027.03.1"
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, product, version="2026.12", name="Old")
    assert error.value.code == "not_greater"
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, product, version="1.0.0", name="Semver")
    assert error.value.code == "invalid"


def test_a_new_release_cannot_be_planned_in_the_past(workspace, pm, product):
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, product, planned_date=in_days(-1))
    assert (error.value.attr, error.value.code) == ("planned_date", "in_past")
    assert Release.objects.count() == 0


def test_a_planned_date_out_of_range_is_refused(workspace, pm, product):
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, product, planned_date=timezone.localdate().replace(year=2200))
    assert (error.value.attr, error.value.code) == ("planned_date", "out_of_range")


def test_another_workspaces_product_is_not_found(workspace, other_workspace, pm):
    with pytest.raises(ValidationFailed) as error:
        _create(workspace, pm, ProductFactory(workspace=other_workspace))
    assert (error.value.attr, error.value.code) == ("product", "does_not_exist")


def test_contributors_cannot_plan_releases(workspace, member, product):
    with pytest.raises(Forbidden):
        _create(workspace, member(workspace, Role.CONTRIBUTOR).user, product)
    assert Release.objects.count() == 0


def test_the_version_scheme_is_fixed_once_the_product_has_releases(workspace, pm, product):
    _create(workspace, pm, product)
    with pytest.raises(ValidationFailed) as error:
        roadmap_services.product_update(
            product=product, actor=pm, data={"version_scheme": VersionScheme.CALVER}
        )
    assert (error.value.attr, error.value.code) == ("version_scheme", "in_use")
    product.refresh_from_db()
    assert product.version_scheme == VersionScheme.SEMVER


def test_moving_the_planned_date_moves_the_open_tasks_due_dates(workspace, pm, product):
    release = _create(workspace, pm, product)
    done = release.checklist_tasks.order_by("position").first()
    services.checklist_task_update(task=done, actor=pm, data={"state": ChecklistState.DONE})

    services.release_update(release=release, actor=pm, data={"planned_date": in_days(27)})

    tasks = {t.pk: t for t in release.checklist_tasks.all()}
    assert tasks[done.pk].due_date == in_days(20 - 21)
    assert all(
        t.due_date == in_days(27 + o)
        for t, (_, _, o, _) in zip(
            [tasks[pk] for pk in sorted(tasks)][1:], services.DEFAULT_CHECKLIST[1:], strict=True
        )
    )


# --- scope ----------------------------------------------------------------------------------


def test_a_feature_is_in_at_most_one_open_release(workspace, pm, product):
    feature = FeatureFactory(product=product)
    first = ReleaseFactory(product=product)
    second = ReleaseFactory(product=product)
    services.scope_add(release=first, feature=feature, actor=pm)

    with pytest.raises(ValidationFailed) as error:
        services.scope_add(release=second, feature=feature, actor=pm)
    assert (error.value.attr, error.value.code) == ("feature", "in_other_release")
    assert ScopeItem.objects.count() == 1


def test_a_feature_of_another_product_or_workspace_is_refused(workspace, other_workspace, pm, product):
    release = ReleaseFactory(product=product)
    with pytest.raises(ValidationFailed) as error:
        services.scope_add(release=release, feature=FeatureFactory(workspace=workspace), actor=pm)
    assert error.value.code == "other_product"
    with pytest.raises(ValidationFailed) as error:
        services.scope_add(
            release=release,
            feature=FeatureFactory(product=ProductFactory(workspace=other_workspace)),
            actor=pm,
        )
    assert error.value.code == "does_not_exist"
    assert ScopeItem.objects.count() == 0


def test_a_concurrent_second_open_row_is_refused_by_the_database(product):
    feature = FeatureFactory(product=product)
    ScopeItemFactory(release=ReleaseFactory(product=product), feature=feature)
    with pytest.raises(IntegrityError):
        ScopeItemFactory(release=ReleaseFactory(product=product), feature=feature)


def test_contributors_move_the_state_but_not_the_plan(workspace, member, product):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    item = ScopeItemFactory(release=ReleaseFactory(product=product))

    services.scope_update(item=item, actor=contributor, data={"state": ScopeState.IN_PROGRESS})
    with pytest.raises(Forbidden):
        services.scope_update(item=item, actor=contributor, data={"is_must_have": False})
    item.refresh_from_db()
    assert (item.state, item.is_must_have) == (ScopeState.IN_PROGRESS, True)


def test_moving_a_feature_between_releases_is_audited_and_keeps_its_row_history(workspace, pm, product):
    item = ScopeItemFactory(
        release=ReleaseFactory(product=product), is_must_have=False, state=ScopeState.IN_PROGRESS
    )
    target = ReleaseFactory(product=product)

    moved = services.scope_move(item=item, to_release=target, actor=pm)

    item.refresh_from_db()
    assert (item.is_open, item.outcome) == (False, ScopeOutcome.MOVED)
    assert (moved.release, moved.is_open, moved.is_must_have, moved.state) == (
        target,
        True,
        False,
        ScopeState.IN_PROGRESS,
    )
    audit = AuditEvent.objects.get(target_type="roadmap.feature", target_id=str(item.feature_id))
    assert audit.changes == {"release": [item.release_id, target.pk]}


def test_cancelling_closes_the_scope_and_leaves_the_features_as_they_were(workspace, pm, product):
    feature = FeatureFactory(
        product=product,
        status=FeatureStatus.PLANNED,
        horizon="next",
        planned_start=in_days(3),
        target_date=in_days(9),
    )
    release = ReleaseFactory(product=product)
    services.scope_add(release=release, feature=feature, actor=pm)

    services.release_cancel(release=release, actor=pm, reason="Folded into the summer release")

    item = ScopeItem.objects.get()
    assert (item.is_open, item.outcome) == (False, ScopeOutcome.CANCELLED)
    feature.refresh_from_db()
    assert (feature.status, feature.horizon, feature.planned_start, feature.target_date) == (
        FeatureStatus.PLANNED,
        "next",
        in_days(3),
        in_days(9),
    )
    services.scope_add(release=ReleaseFactory(product=product), feature=feature, actor=pm)
    assert ScopeItem.objects.filter(is_open=True).count() == 1
    with pytest.raises(Conflict) as error:
        services.release_ship(release=release, actor=pm)
    assert error.value.code == "release_cancelled"


# --- shipping -------------------------------------------------------------------------------------


@pytest.fixture
def planned_release(product):
    """A release with two done must-haves (the second depends on the first), one unfinished
    nice-to-have and no checklist."""
    release = ReleaseFactory(product=product, name="Spring", version="1.0.0")
    base = FeatureFactory(
        product=product, title="B: API", status=FeatureStatus.IN_PROGRESS, public_title="Public API"
    )
    top = FeatureFactory(product=product, title="A: Dark mode", status=FeatureStatus.PLANNED)
    roadmap_services.feature_add_dependency(feature=top, depends_on=base, actor=None)
    extra = FeatureFactory(product=product, title="C: Themes", status=FeatureStatus.PLANNED)
    ScopeItemFactory(release=release, feature=top, state=ScopeState.DONE, position=0)
    ScopeItemFactory(release=release, feature=base, state=ScopeState.DONE, position=1, change_type="improved")
    ScopeItemFactory(release=release, feature=extra, state=ScopeState.TODO, is_must_have=False, position=2)
    return release, base, top, extra


def test_shipping_ships_the_done_scope_in_dependency_order_and_records_one_event(planned_release, pm):
    release, base, top, extra = planned_release
    next_release = ReleaseFactory(product=release.product, version="1.1.0")

    result = services.release_ship(release=release, actor=pm, move_unfinished_to=next_release)

    assert result.shipped == [base, top]
    changes = list(
        FeatureStatusChange.objects.order_by("id").values_list("feature_id", "to_status", "reason", "context")
    )
    context = {"release": {"id": release.pk, "name": "Spring", "version": "1.0.0"}}
    assert changes == [
        (base.pk, "shipped", "Shipped in Spring 1.0.0", context),
        (top.pk, "shipped", "Shipped in Spring 1.0.0", context),
    ]
    for feature in (base, top):
        feature.refresh_from_db()
        assert (feature.status, feature.score_state) == (FeatureStatus.SHIPPED, ScoreState.DIRTY)
    release.refresh_from_db()
    assert (release.status, release.shipped_on) == (ReleaseStatus.RELEASED, timezone.localdate())
    # "A: Dark mode" has no customer-facing title: generated notes leave it out.
    assert release.published_notes == "## Improved\n\n- **Public API**"
    assert result.notes_generated is True
    assert result.moved == [(extra, next_release)]
    assert ScopeItem.objects.get(feature=extra, is_open=True).release == next_release
    assert ScopeItem.objects.get(feature=extra, is_open=False).outcome == ScopeOutcome.MOVED
    assert set(ScopeItem.objects.filter(release=release).values_list("feature_id", "outcome")) == {
        (base.pk, "shipped"),
        (top.pk, "shipped"),
        (extra.pk, "moved"),
    }
    event = Event.objects.get(kind="release.shipped")
    assert (event.kind, event.subject_type, event.subject_id, event.workspace_id) == (
        "release.shipped",
        "releases.release",
        str(release.pk),
        release.workspace_id,
    )
    assert [f["id"] for f in event.payload["features"]] == [top.pk, base.pk]
    assert event.payload["moved"] == [{"id": extra.pk, "title": "C: Themes", "to_release": next_release.pk}]


def test_shipping_twice_is_a_no_op(planned_release, pm):
    release = planned_release[0]
    services.release_ship(release=release, actor=pm)
    counts = (Event.objects.count(), FeatureStatusChange.objects.count(), AuditEvent.objects.count())

    again = services.release_ship(release=release, actor=pm)

    assert (again.changed, again.release, again.shipped) == (False, release, [])
    assert again.event == Event.objects.get(kind="release.shipped")
    assert (Event.objects.count(), FeatureStatusChange.objects.count(), AuditEvent.objects.count()) == counts


def test_unfinished_nice_to_haves_go_back_to_the_backlog_by_default(planned_release, pm):
    release, _, _, extra = planned_release
    services.release_ship(release=release, actor=pm)
    item = ScopeItem.objects.get(feature=extra)
    assert (item.is_open, item.outcome) == (False, ScopeOutcome.DEFERRED)
    extra.refresh_from_db()
    assert extra.status == FeatureStatus.PLANNED


def test_unfinished_must_haves_block_the_ship_and_nothing_is_written(planned_release, pm):
    release, _, top, _ = planned_release
    ScopeItem.objects.filter(feature=top).update(state=ScopeState.IN_PROGRESS)

    with pytest.raises(Conflict) as error:
        services.release_ship(release=release, actor=pm)

    assert error.value.code == "must_haves_unfinished"
    assert error.value.extra == {"features": [{"id": top.pk, "title": "A: Dark mode"}]}
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED
    assert (Event.objects.count(), FeatureStatusChange.objects.count()) == (0, 0)
    assert ScopeItem.objects.filter(is_open=True).count() == 3


def test_forcing_needs_an_admin_and_a_reason_and_is_audited(planned_release, pm, admin):
    release, base, top, _ = planned_release
    ScopeItem.objects.filter(feature=top).update(state=ScopeState.IN_PROGRESS)
    with pytest.raises(Forbidden):
        services.release_ship(release=release, actor=pm, force=True, reason="Deadline")
    with pytest.raises(ValidationFailed) as error:
        services.release_ship(release=release, actor=admin, force=True)
    assert error.value.attr == "reason"

    result = services.release_ship(release=release, actor=admin, force=True, reason="Conference demo")

    assert result.shipped == [base]
    assert [f for f, _ in result.moved] == [top, planned_release[3]]
    audit = AuditEvent.objects.filter(target_type="releases.release", changes__forced=True).get()
    assert audit.changes["reason"] == "Conference demo"
    assert audit.changes["must_haves_unfinished"] == [{"id": top.pk, "title": "A: Dark mode"}]
    assert Event.objects.get(kind="release.shipped").payload["forced"] is True


def test_a_dependency_outside_the_release_that_has_not_shipped_blocks_the_ship(planned_release, pm):
    release, base, _, _ = planned_release
    outside = FeatureFactory(product=release.product, title="Auth", status=FeatureStatus.IN_PROGRESS)
    roadmap_services.feature_add_dependency(feature=base, depends_on=outside, actor=None)

    with pytest.raises(Conflict) as error:
        services.release_ship(release=release, actor=pm)

    assert error.value.code == "dependencies_unshipped"
    assert error.value.extra == {"features": [{"id": outside.pk, "title": "Auth"}]}
    assert FeatureStatusChange.objects.count() == 0


def test_a_public_release_with_nothing_to_say_cannot_ship(product, pm):
    release = ReleaseFactory(product=product)
    with pytest.raises(ValidationFailed) as error:
        services.release_ship(release=release, actor=pm)
    assert (error.value.attr, error.value.code) == ("notes", "required")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED

    release.is_public = False
    release.save()
    assert services.release_ship(release=release, actor=pm).release.status == ReleaseStatus.RELEASED


def test_written_notes_are_published_as_written(planned_release, pm):
    release = planned_release[0]
    services.release_notes_update(release=release, actor=pm, notes="Hello <script>alert(1)</script>")
    result = services.release_ship(release=release, actor=pm)
    assert result.release.published_notes == "Hello <script>alert(1)</script>"
    assert result.notes_generated is False


def test_shipping_a_version_below_one_released_meanwhile_is_a_conflict(planned_release, pm):
    release = planned_release[0]
    _released(release.product, "1.2.0")
    with pytest.raises(Conflict) as error:
        services.release_ship(release=release, actor=pm)
    assert (error.value.attr, error.value.code) == ("version", "version_not_greater")
    assert Event.objects.count() == 0


def test_a_shipped_release_keeps_its_version_and_date(planned_release, pm):
    release = planned_release[0]
    services.release_ship(release=release, actor=pm)
    with pytest.raises(ValidationFailed) as error:
        services.release_update(release=release, actor=pm, data={"version": "1.0.1"})
    assert (error.value.attr, error.value.code) == ("version", "read_only")
    with pytest.raises(Conflict):
        services.release_delete(release=release, actor=pm)
    with pytest.raises(Conflict):
        services.scope_add(release=release, feature=FeatureFactory(product=release.product), actor=pm)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ships_record_one_event_and_one_set_of_status_changes(product):
    """Both callers wait on the release's row lock; the second finds it released and does nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent transactions; SQLite serialises every writer")
    release = ReleaseFactory(product=product, version="3.0.0")
    for title in ("One", "Two", "Three"):
        ScopeItemFactory(
            release=release,
            feature=FeatureFactory(product=product, title=title, public_title=title),
            state=ScopeState.DONE,
        )
    held, go = threading.Event(), threading.Event()
    results, errors = [], []

    def hold_the_row() -> None:
        from django.db import transaction

        with transaction.atomic():
            Release.objects.select_for_update().get(pk=release.pk)
            held.set()
            go.wait(30)
        connection.close()

    def ship() -> None:
        try:
            results.append(services.release_ship(release=release, actor=None))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert held.wait(10)
    shippers = [threading.Thread(target=ship) for _ in range(2)]
    for thread in shippers:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while _lock_waiters() < 2:
            assert time.monotonic() < deadline, "the two ships never both waited on the row lock"
            time.sleep(0.01)
    finally:
        go.set()
        holder.join()
        for thread in shippers:
            thread.join()

    assert errors == []
    assert sorted(r.changed for r in results) == [False, True]
    assert Event.objects.filter(kind="release.shipped").count() == 1
    assert FeatureStatusChange.objects.filter(to_status="shipped").count() == 3


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_an_event_of_a_kind_once_per_subject_is_recorded_once(planned_release):
    from productops.services import event_record

    release = planned_release[0]
    first, created = event_record(workspace=release.workspace, kind="release.shipped", subject=release)
    again, created_again = event_record(workspace=release.workspace, kind="release.shipped", subject=release)
    assert (created, created_again, again) == (True, False, first)
    with pytest.raises(ValueError, match="unknown event kind"):
        event_record(workspace=release.workspace, kind="release.exploded", subject=release)


# --- checklist and metrics ----------------------------------------------------------------------------


def test_ticking_a_task_records_when_and_unticking_clears_it(workspace, member, product):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    task = ChecklistTaskFactory(release=ReleaseFactory(product=product))

    services.checklist_task_update(task=task, actor=contributor, data={"state": ChecklistState.DONE})
    task.refresh_from_db()
    assert task.completed_at is not None
    services.checklist_task_update(task=task, actor=contributor, data={"state": ChecklistState.TODO})
    task.refresh_from_db()
    assert task.completed_at is None
    with pytest.raises(Forbidden):
        services.checklist_task_update(task=task, actor=contributor, data={"is_required": False})


def test_a_metric_needs_a_subject_and_a_target_other_than_its_baseline(workspace, pm, product):
    data = {
        "name": "Weekly active teams",
        "baseline": Decimal(10),
        "target": Decimal(10),
        "review_date": in_days(60),
    }
    with pytest.raises(ValidationFailed) as error:
        services.success_metric_create(workspace=workspace, actor=pm, data=data)
    assert (error.value.attr, error.value.code) == ("release", "required")
    with pytest.raises(ValidationFailed) as error:
        services.success_metric_create(
            workspace=workspace, actor=pm, data={**data, "release": ReleaseFactory(product=product)}
        )
    assert (error.value.attr, error.value.code) == ("target", "invalid")
    assert SuccessMetric.objects.count() == 0


def test_actuals_are_recorded_and_the_latest_one_is_the_metrics_actual(workspace, member, product):
    from releases import selectors

    contributor = member(workspace, Role.CONTRIBUTOR).user
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    metric = services.success_metric_create(
        workspace=workspace,
        actor=pm,
        data={
            "release": ReleaseFactory(product=product),
            "name": "Activation",
            "baseline": Decimal("10"),
            "target": Decimal("25"),
            "review_date": in_days(30),
        },
    )
    services.metric_actual_record(
        metric=metric, actor=contributor, value=Decimal("12"), recorded_on=in_days(-3)
    )
    services.metric_actual_record(metric=metric, actor=contributor, value=Decimal("14.5"))
    with pytest.raises(ValidationFailed) as error:
        services.metric_actual_record(
            metric=metric, actor=contributor, value=Decimal(1), recorded_on=in_days(5)
        )
    assert error.value.attr == "recorded_on"

    listed = selectors.success_metric_list(workspace=workspace).get()
    assert selectors.metric_actual(listed) == Decimal("14.5")
    assert MetricActual.objects.count() == 2


def test_a_metric_can_read_its_actual_from_a_key_result(workspace, pm, product):
    from releases import selectors

    key_result = KeyResultFactory(goal__workspace=workspace, current=42)
    services.success_metric_create(
        workspace=workspace,
        actor=pm,
        data={
            "feature": FeatureFactory(product=product),
            "name": "NPS",
            "baseline": Decimal(30),
            "target": Decimal(50),
            "review_date": in_days(10),
            "key_result": key_result,
        },
    )
    assert selectors.metric_actual(selectors.success_metric_list(workspace=workspace).get()) == Decimal(42)


def test_review_due_lists_metrics_whose_review_date_came_until_reviewed(workspace, pm, product):
    from releases import selectors

    metric = services.success_metric_create(
        workspace=workspace,
        actor=pm,
        data={
            "release": ReleaseFactory(product=product),
            "name": "Churn",
            "baseline": Decimal(5),
            "target": Decimal(3),
            "review_date": timezone.localdate(),
        },
    )
    assert selectors.metric_reviews_due(workspace=workspace) == [metric]
    services.success_metric_update(metric=metric, actor=pm, data={"reviewed": True})
    assert selectors.metric_reviews_due(workspace=workspace) == []
    assert (
        selectors.metric_reviews_due(workspace=workspace, today=timezone.localdate() - timedelta(days=1))
        == []
    )


def test_a_merged_feature_hands_its_place_in_a_release_to_the_survivor(workspace, pm, product):
    item = ScopeItemFactory(release=ReleaseFactory(product=product), state=ScopeState.IN_PROGRESS)
    survivor = FeatureFactory(product=product)

    roadmap_services.feature_merge(source=item.feature, target=survivor, actor=pm)

    item.refresh_from_db()
    assert (item.feature, item.is_open, item.state) == (survivor, True, ScopeState.IN_PROGRESS)


def test_a_merged_feature_whose_survivor_is_in_a_release_closes_its_row(workspace, pm, product):
    item = ScopeItemFactory(release=ReleaseFactory(product=product))
    kept = ScopeItemFactory(release=ReleaseFactory(product=product))

    roadmap_services.feature_merge(source=item.feature, target=kept.feature, actor=pm)

    item.refresh_from_db()
    assert (item.is_open, item.outcome) == (False, ScopeOutcome.MERGED)
    assert ScopeItem.objects.filter(feature=kept.feature, is_open=True).count() == 1


def test_a_workspace_with_shipped_releases_can_be_deleted_and_a_product_with_releases_cannot(
    workspace, pm, product, planned_release
):
    from productops import services as core_services

    services.release_ship(release=planned_release[0], actor=pm)
    lonely = ProductFactory(workspace=workspace)
    ReleaseFactory(product=lonely)
    with pytest.raises(Conflict) as error:
        roadmap_services.product_delete(product=lonely, actor=pm)
    assert error.value.code == "has_releases"

    core_services.workspace_delete(workspace=workspace, actor=None)

    assert (Release.objects.count(), ScopeItem.objects.count(), Event.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("status", [FeatureStatus.SHIPPED, FeatureStatus.DECLINED])
def test_a_shipped_or_declined_feature_cannot_join_a_release(product, pm, status):
    feature = FeatureFactory(product=product, status=status)
    with pytest.raises(ValidationFailed) as error:
        services.scope_add(release=ReleaseFactory(product=product), feature=feature, actor=pm)
    assert (error.value.attr, error.value.code) == ("feature", "feature_closed")
    assert ScopeItem.objects.count() == 0


def test_a_shipped_releases_checklist_is_history(planned_release, pm):
    release = planned_release[0]
    task = ChecklistTaskFactory(release=release)
    services.release_ship(release=release, actor=pm)
    with pytest.raises(Conflict):
        services.checklist_task_delete(task=task, actor=pm)
    with pytest.raises(Conflict):
        services.checklist_task_create(release=release, actor=pm, data={"title": "Late"})
    assert ChecklistTask.objects.filter(release=release).count() == 1


def test_the_ship_plan_names_shipping_features_that_generated_notes_leave_out(planned_release):
    release, base, top, _ = planned_release
    plan = services.ship_plan(release=release)
    assert (plan["ship"], plan["without_public_title"], plan["notes_generated"]) == ([base, top], [top], True)


def test_generated_notes_never_show_an_internal_title(product, pm):
    release = ReleaseFactory(product=product)
    ScopeItemFactory(
        release=release, feature__title="Project FALCON for Initech", feature__public_title="", state="done"
    )
    with pytest.raises(ValidationFailed) as error:
        services.release_ship(release=release, actor=pm)
    assert (error.value.attr, error.value.code) == ("notes", "required")
    assert services.notes_generate(release=release) == ""


def test_a_merged_features_metrics_measure_the_survivor(workspace, pm, product):
    from tests.releases.factories import SuccessMetricFactory

    source, survivor = FeatureFactory(product=product), FeatureFactory(product=product)
    metric = SuccessMetricFactory(release=None, feature=source, workspace=workspace)

    roadmap_services.feature_merge(source=source, target=survivor, actor=pm)

    metric.refresh_from_db()
    assert metric.feature == survivor
    merge = AuditEvent.objects.get(action="merged")
    assert merge.changes["success_metrics_moved"] == 1
