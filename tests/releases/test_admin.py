"""Releases in the admin console: every model browsable with a constant number of queries,
writes through the services, and the Ship and Publish notes actions: one message per
release, a refused one reported as an error with nothing written."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops.models import AuditEvent, Event
from releases.models import (
    ChangelogSettings,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseSettings,
    ReleaseStatus,
    ReleaseStatusChange,
    ScopeItem,
    ScopeState,
    SuccessMetric,
)
from roadmap.models import FeatureStatus, FeatureStatusChange
from tests.productops.factories import WorkspaceFactory
from tests.productops.test_admin import admin_url, assert_admin_pages_work
from tests.releases.factories import (
    ChecklistTaskFactory,
    ReleaseFactory,
    ScopeItemFactory,
    SuccessMetricFactory,
    in_days,
)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _status_change(n: int) -> ReleaseStatusChange:
    release = ReleaseFactory()
    return ReleaseStatusChange.objects.create(
        workspace=release.workspace, release=release, to_status="planned"
    )


def _actual(n: int) -> MetricActual:
    metric = SuccessMetricFactory()
    return MetricActual.objects.create(
        workspace=metric.workspace, metric=metric, value=n, recorded_on=timezone.localdate()
    )


RELEASES_MAKERS = {
    Release: lambda n: ReleaseFactory(),
    ReleaseStatusChange: _status_change,
    ScopeItem: lambda n: ScopeItemFactory(),
    ChecklistTask: lambda n: ChecklistTaskFactory(),
    ChecklistTemplateItem: lambda n: ChecklistTemplateItem.objects.create(
        workspace=WorkspaceFactory(), title=f"Template task {n}"
    ),
    SuccessMetric: lambda n: SuccessMetricFactory(),
    MetricActual: _actual,
    ReleaseSettings: lambda n: ReleaseSettings.objects.create(workspace=WorkspaceFactory()),
    ChangelogSettings: lambda n: ChangelogSettings.objects.create(workspace=WorkspaceFactory()),
}


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _act(admin_client, action: str, releases) -> list[tuple[str, str]]:
    response = admin_client.post(
        admin_url(Release, "changelist"),
        {"action": action, "_selected_action": [r.pk for r in releases]},
        follow=True,
    )
    assert response.status_code == 200
    return _messages(response)


def _ready(product, **fields) -> Release:
    """A release whose must-haves are done."""
    release = ReleaseFactory(product=product, **fields)
    ScopeItemFactory(
        release=release, state=ScopeState.DONE, feature__title="Dark mode", feature__public_title="Dark mode"
    )
    ScopeItemFactory(
        release=release, state=ScopeState.DONE, feature__title="Exports", feature__public_title="Exports"
    )
    return release


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("releases").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    assert set(RELEASES_MAKERS) == models


@pytest.mark.parametrize("model", list(RELEASES_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, RELEASES_MAKERS[model])


def test_release_list_filters_search_and_change_page_with_its_rows(admin_client):
    release = _ready(ProductFactory(name="Insights"), name="Spring")
    ChecklistTaskFactory(release=release, title="Support trained")
    SuccessMetricFactory(release=release, name="Weekly active teams")
    ReleaseFactory(name="Autumn")
    url = admin_url(Release, "changelist")
    queries = ("?status__exact=planned", "?is_public__exact=1", f"?product__id__exact={release.product_id}")
    for query in queries:
        assert admin_client.get(url + query).status_code == 200, query
    found = admin_client.get(url + "?q=Spring")
    assert [r.pk for r in found.context["cl"].result_list] == [release.pk]
    page = admin_client.get(admin_url(Release, "change", release.pk)).content.decode()
    for text in ("Dark mode", "Exports", "Support trained", "Weekly active teams"):
        assert text in page, text
    # The rows are shown, not edited, on the release's page (their own pages use the services).
    assert 'name="scope_items-0-state"' not in page
    with CaptureQueriesContext(connection) as few:
        admin_client.get(admin_url(Release, "change", release.pk))
    for _ in range(6):
        ScopeItemFactory(release=release)
        ChecklistTaskFactory(release=release)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(admin_url(Release, "change", release.pk))
    assert len(many) == len(few), [q["sql"] for q in many]


def test_adding_a_release_goes_through_the_service(admin_client):
    product = ProductFactory()
    response = admin_client.post(
        admin_url(Release, "add"),
        {
            "workspace": product.workspace_id,
            "product": product.pk,
            "name": "  Spring  ",
            "version": "2.0.0",
            "planned_date": in_days(20).isoformat(),
            "summary": "",
            "is_public": "on",
            "notes": "Draft **notes**",
            **_empty_inlines(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    release = Release.objects.get()
    assert (release.name, release.notes) == ("Spring", "Draft **notes**")
    assert release.checklist_tasks.count() > 0  # the service copied the launch checklist
    assert AuditEvent.objects.filter(target_type="releases.release", action="created").exists()


def _empty_inlines() -> dict[str, str]:
    data = {}
    for prefix in ("scope_items", "checklist_tasks", "success_metrics"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def test_a_refused_add_is_a_message_and_writes_nothing(admin_client):
    product = ProductFactory()
    response = admin_client.post(
        admin_url(Release, "add"),
        {
            "workspace": product.workspace_id,
            "product": product.pk,
            "name": "Old",
            "version": "not a version",
            "planned_date": in_days(5).isoformat(),
            **_empty_inlines(),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert any(level == "error" for level, _ in _messages(response))
    assert Release.objects.count() == 0


def test_ship_action_ships_each_release_and_reports_refusals(admin_client):
    product = ProductFactory()
    ready = _ready(product, version="1.0.0", planned_date=in_days(3))
    blocked = ReleaseFactory(product=product, version="1.1.0", planned_date=in_days(4), name="Blocked")
    todo = ScopeItemFactory(release=blocked, feature__title="Unfinished thing")
    already = ReleaseFactory(
        product=ProductFactory(workspace=product.workspace),
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
        name="Done before",
    )

    messages = _act(admin_client, "ship", [ready, blocked, already])

    levels = {text.split(":")[0]: level for level, text in messages}
    assert levels == {str(ready): "success", str(blocked): "error", str(already): "warning"}
    assert any("2 features marked shipped" in text for _, text in messages)
    assert any("Must-haves are not done: Unfinished thing" in text for _, text in messages)
    ready.refresh_from_db()
    blocked.refresh_from_db()
    assert ready.status == ReleaseStatus.RELEASED
    assert ready.published_notes  # generated from the done scope
    assert set(ready.scope_items.values_list("feature__status", flat=True)) == {FeatureStatus.SHIPPED}
    assert Event.objects.filter(kind=Event.Kind.RELEASE_SHIPPED).count() == 1
    # Nothing of the refused one was written.
    assert blocked.status == ReleaseStatus.PLANNED
    assert blocked.notes_published_at is None
    todo.refresh_from_db()
    assert todo.is_open
    assert todo.feature.status != FeatureStatus.SHIPPED
    assert not FeatureStatusChange.objects.filter(feature=todo.feature).exists()
    assert not Event.objects.filter(kind=Event.Kind.RELEASE_SHIPPED, subject_id=str(blocked.pk)).exists()


def test_ship_action_refusal_after_partial_work_rolls_back(admin_client):
    """A public release with nothing to write notes from is refused before any write."""
    release = ReleaseFactory(name="Empty", is_public=True)
    messages = _act(admin_client, "ship", [release])
    assert [level for level, _ in messages] == ["error"]
    assert "needs notes" in messages[0][1]
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED
    assert not ReleaseStatusChange.objects.filter(release=release).exists()
    assert not Event.objects.exists()


def test_publish_notes_action(admin_client):
    drafted = ReleaseFactory(name="Drafted", notes="Hello **customers**")
    empty = ReleaseFactory(name="Empty", is_public=True)

    messages = _act(admin_client, "publish_notes", [drafted, empty])

    assert sorted(level for level, _ in messages) == ["error", "success"]
    drafted.refresh_from_db()
    empty.refresh_from_db()
    assert (drafted.published_notes, drafted.notes_published_at is not None) == ("Hello **customers**", True)
    assert (empty.published_notes, empty.notes_published_at) == ("", None)


def test_changelog_settings_change_goes_through_the_service(admin_client):
    row = ChangelogSettings.objects.create(workspace=WorkspaceFactory())
    response = admin_client.post(
        admin_url(ChangelogSettings, "change", row.pk),
        {"enabled": "on", "title": "  What's new  ", "intro": ""},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.enabled, row.title) == (True, "What's new")
    assert AuditEvent.objects.filter(target_type="releases.changelogsettings").exists()


def test_scope_and_checklist_edits_go_through_the_services(admin_client):
    item = ScopeItemFactory()
    response = admin_client.post(
        admin_url(ScopeItem, "change", item.pk),
        {"is_must_have": "on", "state": "done", "change_type": "improved", "position": "0"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.state, item.change_type) == ("done", "improved")
    task = ChecklistTaskFactory(release=item.release)
    response = admin_client.post(
        admin_url(ChecklistTask, "change", task.pk),
        {"title": task.title, "category": "other", "state": "done", "is_required": "on", "position": "0"},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == "done"
    assert task.completed_at is not None  # set by the service
    assert AuditEvent.objects.filter(target_type="releases.checklisttask", action="updated").exists()


def test_a_feature_of_another_product_is_refused_as_a_message(admin_client):
    release = ReleaseFactory()
    stranger = FeatureFactory(product=ProductFactory(workspace=release.workspace))
    response = admin_client.post(
        admin_url(ScopeItem, "add"),
        {
            "workspace": release.workspace_id,
            "release": release.pk,
            "feature": stranger.pk,
            "is_must_have": "on",
            "state": "todo",
            "change_type": "new",
            "position": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert [level for level, _ in _messages(response)] == ["error"]
    assert ScopeItem.objects.count() == 0


def test_editing_a_release_with_rows_goes_through_the_services(admin_client):
    release = _ready(ProductFactory(), name="Spring")
    ChecklistTaskFactory(release=release)
    data = {
        "name": "Spring launch",
        "version": release.version,
        "planned_date": release.planned_date.isoformat(),
        "summary": "Now public",
        "is_public": "on",
        "notes": "New draft",
        "scope_items-TOTAL_FORMS": "2",
        "scope_items-INITIAL_FORMS": "2",
        "checklist_tasks-TOTAL_FORMS": "1",
        "checklist_tasks-INITIAL_FORMS": "1",
        "success_metrics-TOTAL_FORMS": "0",
        "success_metrics-INITIAL_FORMS": "0",
    }
    response = admin_client.post(admin_url(Release, "change", release.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    release.refresh_from_db()
    assert (release.name, release.summary, release.notes) == ("Spring launch", "Now public", "New draft")
    assert release.scope_items.count() == 2
    changes = AuditEvent.objects.filter(target_type="releases.release", action="updated")
    assert changes.count() == 2  # the plan, then the notes draft: both through their services
