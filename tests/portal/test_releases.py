"""The release pages of the portal: the list, one release (plan, scope, launch checklist, notes,
success metrics), shipping, the release settings, the changelog settings on the board settings
page, and releases on the dashboard, the feature page and the timeline."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops.errors import Forbidden
from productops.models import AuditEvent, Role
from releases import services as release_services
from releases.models import (
    ChangelogSettings,
    ChecklistState,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseSettings,
    ReleaseStatus,
    ScopeItem,
    ScopeState,
    SuccessMetric,
)
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus
from tests.releases.factories import (
    ChecklistTaskFactory,
    ReleaseFactory,
    ScopeItemFactory,
    SuccessMetricFactory,
)
from tests.roadmap.factories import FeatureFactory, GoalFactory, KeyResultFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)"> [x](javascript:alert(3))'


def in_days(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def new_release(workspace, product=None, **data):
    """A release through the service (its checklist copied from the default template)."""
    values = {"name": "Spring", "version": "1.0.0", "planned_date": in_days(30), **data}
    return release_services.release_create(
        workspace=workspace,
        actor=None,
        data={"product": product or ProductFactory(workspace=workspace), **values},
    )


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.content.decode()[:2000]
    return response.content.decode()


def url(release, tail=""):
    return f"/w/{release.workspace.slug}/releases/{release.pk}/{tail}"


def audit_count():
    return AuditEvent.objects.count()


def assert_strict_csp_ready(content: str) -> None:
    """No inline script, no event-handler attribute, no style attribute (a strict CSP allows none)."""
    scripts = re.findall(r"<script\b[^>]*>", content)
    assert all("src=" in tag for tag in scripts), scripts
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", content), re.search(r"<[^>]+\son[a-z]+\s*=", content)
    assert not re.search(r"<[^>]+\sstyle\s*=", content), re.search(r"<[^>]+\sstyle\s*=", content)


def assert_unique_ids(content: str) -> None:
    """Every id once (a page of row forms names each row's fields apart)."""
    ids = re.findall(r'\sid="([^"]+)"', content)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_status_date_readiness_and_risk_to_a_viewer(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace, name="Core")
    soon = ReleaseFactory(product=product, name="Soon", version="1.1.0", planned_date=in_days(3))
    ScopeItemFactory(release=soon, feature=FeatureFactory(product=product, title="Audit log", effort=3))
    ReleaseFactory(product=product, name="Later", version="1.2.0", planned_date=in_days(90))

    content = page(client, f"/w/{workspace.slug}/releases/")

    assert f'<a href="/w/{workspace.slug}/releases/{soon.pk}/">Soon 1.1.0</a>' in content
    assert '<progress class="readiness" max="100" value="0"' in content
    assert "At risk" in content
    assert "Planned in 3 days with must-haves not started: Audit log" in content
    assert "On track" in content  # the later one
    # A viewer gets no "New release" form.
    assert "New release" not in content
    assert 'action="/w/acme/releases/new/"' not in content


def test_the_list_filters_by_product_and_status(portal_client, workspace):
    client, _ = portal_client(workspace)
    core, mobile = (
        ProductFactory(workspace=workspace, name="Core"),
        ProductFactory(workspace=workspace, name="Mobile"),
    )
    ReleaseFactory(product=core, name="Core next", version="2.0.0")
    ReleaseFactory(product=mobile, name="Mobile next", version="2.0.0")
    ReleaseFactory(product=core, name="Core old", version="1.0.0", status=ReleaseStatus.CANCELLED)

    by_product = page(client, f"/w/{workspace.slug}/releases/?product={mobile.pk}")
    assert "Mobile next" in by_product
    assert "Core next" not in by_product
    open_only = page(client, f"/w/{workspace.slug}/releases/?status=open")
    assert "Core next" in open_only
    assert "Core old" not in open_only
    cancelled = page(client, f"/w/{workspace.slug}/releases/?status=cancelled")
    assert "Core old" in cancelled
    assert "Core next" not in cancelled


def test_a_product_manager_creates_a_release_and_lands_on_it(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace, name="Core")
    form = page(client, f"/w/{workspace.slug}/releases/")
    assert "New release" in form

    response = client.post(
        f"/w/{workspace.slug}/releases/new/",
        {
            "product": product.pk,
            "name": "Spring",
            "version": "1.4.0",
            "planned_date": in_days(21).isoformat(),
            "owner": membership.user.pk,
            "summary": "SSO for everyone.",
            "is_public": "on",
        },
    )

    release = Release.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/releases/{release.pk}/"
    assert (release.name, release.version, release.owner, release.is_public) == (
        "Spring",
        "1.4.0",
        membership.user,
        True,
    )
    # The launch checklist came from the (default) template, due relative to the planned date.
    assert release.checklist_tasks.count() == len(release_services.DEFAULT_CHECKLIST)
    assert release.checklist_tasks.get(title="Documentation updated").due_date == in_days(14)
    assert "Release “Spring 1.4.0” planned." in page(client, response["Location"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": "not a version"}, "version"),
        ({"planned_date": "2001-01-01"}, "A new release cannot be planned in the past."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_create_errors_are_shown_on_the_form_and_nothing_is_written(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    before = audit_count()
    response = client.post(
        f"/w/{workspace.slug}/releases/new/",
        {"product": product.pk, "name": "Spring", "version": "1.0.0", **data},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert 'class="error"' in content or "notice-error" in content
    assert not Release.objects.exists()
    assert audit_count() == before


def test_a_taken_version_is_a_field_error(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    ReleaseFactory(product=product, version="1.0.0")
    response = client.post(
        f"/w/{workspace.slug}/releases/new/", {"product": product.pk, "name": "Again", "version": "1.0.0"}
    )
    assert response.status_code == 400
    assert "This product already has a release with this version." in response.content.decode()
    assert Release.objects.count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_only_product_managers_create_releases(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    product = ProductFactory(workspace=workspace)
    response = client.post(
        f"/w/{workspace.slug}/releases/new/", {"product": product.pk, "name": "X", "version": "1.0.0"}
    )
    assert response.status_code == 403
    assert not Release.objects.exists()


def test_another_workspaces_product_cannot_be_chosen(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    theirs = ProductFactory(workspace=other_workspace)
    response = client.post(
        f"/w/{workspace.slug}/releases/new/", {"product": theirs.pk, "name": "X", "version": "1.0.0"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Release.objects.exists()


# --- one release -------------------------------------------------------------------------------


def rich_release(workspace, scope=3, tasks=True, metrics=1, candidates=2, product=None):
    """A release with must-haves and nice-to-haves, its checklist, metrics and features to add,
    and a later release of its product ("Summer") to move work to."""
    major = Release.objects.count() + 1
    product = product or ProductFactory(workspace=workspace)
    release = new_release(workspace, product, name="Spring", version=f"{major}.0.0")
    if not tasks:
        release.checklist_tasks.all().delete()
    team = TeamFactory(workspace=workspace)
    for i in range(scope):
        ScopeItemFactory(
            release=release,
            feature=FeatureFactory(
                product=product, title=f"Scope {i}", team=team, effort=1, status="planned"
            ),
            is_must_have=i % 2 == 0,
            state=[ScopeState.DONE, ScopeState.IN_PROGRESS, ScopeState.TODO][i % 3],
            position=i,
        )
    for i in range(candidates):
        FeatureFactory(product=product, title=f"Candidate {i}", status="planned", priority_rank=i + 1)
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), metric="Weekly teams")
    for i in range(metrics):
        metric = SuccessMetricFactory(release=release, name=f"Metric {i}", key_result=kr if i == 1 else None)
        MetricActual.objects.create(
            workspace=workspace, metric=metric, value=Decimal(15), recorded_on=timezone.localdate()
        )
    ReleaseFactory(product=product, name="Summer", version=f"{major}.1.0")  # a move target
    return release


def test_the_release_page_shows_everything_read_only_to_a_viewer(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    release = rich_release(workspace)

    content = page(client, url(release))

    assert "<h1>Spring 1.0.0</h1>" in content
    for text in ("Scope 0", "Scope 1", "Scope 2", "Positioning and messaging approved", "Metric 0"):
        assert text in content, text
    assert "What is missing" in content
    assert "Must-have not done: Scope 2" in content
    assert '<progress class="readiness" max="100"' in content
    assert "50 %" in content  # 15 from 10 to 20
    # No way to change anything.
    assert "<form" not in content.split('<main id="main"')[1]
    assert "Ship plan" in content
    assert "Candidate 0" not in content


def test_the_release_page_gives_a_product_manager_every_control(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = rich_release(workspace)

    content = page(client, url(release))

    for action in (
        "status/",
        "edit/",
        "cancel/",
        "delete/",
        "scope/",
        "tasks/",
        "notes/",
        "notes/publish/",
        "notes/generate/",
        "metrics/",
    ):
        assert (
            f'action="{url(release, action)}"' in content or f'formaction="{url(release, action)}"' in content
        ), action
    assert 'name="status" value="in_progress">Mark in progress</button>' in content
    assert 'name="status" value="planned"' not in content  # the current status
    # Features to add: the picker (keyboard, no JavaScript) and the draggable planned ones.
    add_form = content.split('id="scope-add-form"')[1].split("</form>")[0]
    assert f'hx-get="/w/{workspace.slug}/pick/features/?field=feature"' in add_form
    assert "<select" not in add_form.split('name="is_must_have"')[0]
    assert 'class="scope-candidate" draggable="true"' in content
    assert "portal/releases.js" in content
    assert "Ship…" in content
    assert 'hx-post="' + url(release, "notes/preview/") + '"' in content


def test_a_contributor_moves_the_work_but_not_the_plan(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    release = rich_release(workspace)
    content = page(client, url(release))
    assert 'name="state"' in content
    assert 'name="is_must_have"' not in content
    assert 'name="change_type"' not in content
    assert "Mark done" in content
    assert 'action="' + url(release, "edit/") + '"' not in content
    assert "Candidate 0" not in content
    assert "portal/releases.js" not in content


def test_another_workspaces_release_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    theirs = rich_release(other_workspace)
    item = theirs.scope_items.first()
    task = theirs.checklist_tasks.first()
    metric = theirs.success_metrics.first()
    base = f"/w/{workspace.slug}/releases/{theirs.pk}/"
    assert client.get(base).status_code == 404
    assert client.get(base + "ship/").status_code == 404
    before = audit_count()
    for tail, data in [
        ("edit/", {"name": "Mine", "version": "9.0.0"}),
        ("status/", {"status": "in_progress"}),
        ("cancel/", {"reason": "x"}),
        ("delete/", {}),
        ("scope/", {"feature": item.feature_id}),
        (f"scope/{item.pk}/", {"state": "done"}),
        (f"scope/{item.pk}/remove/", {}),
        (f"tasks/{task.pk}/", {"state": "done", "tick": "1"}),
        ("notes/", {"notes": "x"}),
        ("notes/preview/", {"notes": "x"}),
        ("notes/publish/", {"notes": "x"}),
        (f"metrics/{metric.pk}/actuals/", {"value": "1"}),
        (f"metrics/{metric.pk}/review/", {}),
        ("ship/", {}),
    ]:
        assert client.post(base + tail, data).status_code == 404, tail
    assert audit_count() == before
    # A row of another release of one's own workspace is a 404 too.
    mine = new_release(workspace)
    assert client.post(url(mine, f"scope/{item.pk}/"), {"state": "done"}).status_code == 404
    assert client.post(url(mine, f"tasks/{task.pk}/"), {"state": "done", "tick": "1"}).status_code == 404


def test_status_actions_move_the_release_and_record_why(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "status/"), {"status": "in_progress", "reason": "Kick-off"})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == ReleaseStatus.IN_PROGRESS
    change = release.status_changes.first()
    assert (change.to_status, change.reason, change.actor) == ("in_progress", "Kick-off", membership.user)
    content = page(client, response["Location"])
    assert "is now in progress" in content
    assert "Kick-off" in content


def test_shipping_is_not_a_status_button(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "status/"), {"status": "released"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED


def test_cancel_needs_a_reason_and_closes_the_scope(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = rich_release(workspace)
    bad = client.post(url(release, "cancel/"), {"reason": ""})
    assert bad.status_code == 400
    assert "This field is required." in bad.content.decode()
    assert '<details class="disclosure" open>' in bad.content.decode()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED

    response = client.post(url(release, "cancel/"), {"reason": "Priorities changed"})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == ReleaseStatus.CANCELLED
    assert not release.scope_items.filter(is_open=True).exists()
    content = page(client, url(release))
    assert "Release cancelled" in content  # the scope history
    assert "Ship…" not in content


def test_delete_a_planned_release_but_not_a_shipped_one(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "delete/"))
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/releases/"
    assert not Release.objects.filter(pk=release.pk).exists()

    shipped = ReleaseFactory(
        product=ProductFactory(workspace=workspace),
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
    )
    assert "Delete the release" not in page(client, url(shipped))
    response = client.post(url(shipped, "delete/"))
    assert response.status_code == 302
    assert Release.objects.filter(pk=shipped.pk).exists()
    assert "A shipped release is kept; it cannot be deleted." in page(client, response["Location"])


def test_editing_the_plan_saves_through_the_service_and_shows_errors(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    task = release.checklist_tasks.get(title="Documentation updated")
    response = client.post(
        url(release, "edit/"),
        {
            "name": "Spring launch",
            "version": "1.0.1",
            "planned_date": in_days(40).isoformat(),
            "is_public": "",
        },
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert (release.name, release.version, release.is_public) == ("Spring launch", "1.0.1", False)
    task.refresh_from_db()
    assert task.due_date == in_days(33)  # moved with the planned date

    before = audit_count()
    bad = client.post(url(release, "edit/"), {"name": "Spring launch", "version": "nope"})
    assert bad.status_code == 400
    content = bad.content.decode()
    assert 'id="edit-version"' in content
    assert '<details class="disclosure" open>' in content
    release.refresh_from_db()
    assert release.version == "1.0.1"
    assert audit_count() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_plan_actions_need_a_product_manager(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    release = rich_release(workspace)
    item = release.scope_items.first()
    metric = release.success_metrics.first()
    task = release.checklist_tasks.first()
    before = audit_count()
    for tail, data in [
        ("edit/", {"name": "X", "version": "2.0.0"}),
        ("status/", {"status": "in_progress"}),
        ("cancel/", {"reason": "x"}),
        ("delete/", {}),
        ("scope/", {"feature": Feature.objects.filter(title="Candidate 0").get().pk}),
        (f"scope/{item.pk}/remove/", {}),
        (f"scope/{item.pk}/move/", {"to_release": Release.objects.get(name="Summer").pk}),
        ("tasks/", {"title": "X"}),
        (f"tasks/{task.pk}/delete/", {}),
        ("notes/", {"notes": "x"}),
        ("notes/preview/", {"notes": "x"}),
        ("notes/generate/", {}),
        ("notes/publish/", {"notes": "x"}),
        ("metrics/", {"name": "X", "baseline": "1", "target": "2", "review_date": in_days(9).isoformat()}),
        (f"metrics/{metric.pk}/", {"name": "X", "baseline": "1", "target": "2", "review_date": in_days(9)}),
        (f"metrics/{metric.pk}/review/", {}),
        (f"metrics/{metric.pk}/delete/", {}),
        ("ship/", {}),
    ]:
        assert client.post(url(release, tail), data).status_code == 403, tail
    assert audit_count() == before
    if role == Role.VIEWER:
        for tail, data in [
            (f"scope/{item.pk}/", {"state": "done"}),
            (f"tasks/{task.pk}/", {"state": "done", "tick": "1"}),
            (f"metrics/{metric.pk}/actuals/", {"value": "3"}),
        ]:
            assert client.post(url(release, tail), data).status_code == 403, tail
        assert audit_count() == before


# --- scope -------------------------------------------------------------------------------------


def test_the_add_form_is_a_searchable_picker_and_adds_a_feature_by_id_or_title(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product)
    eligible = FeatureFactory(product=product, title="Audit log", status="planned")
    FeatureFactory(product=product, title="Dark mode", status="idea")
    FeatureFactory(product=product, title="Shipped already", status="shipped")

    content = page(client, url(release))
    picker = content.split('id="scope-add-form"')[1].split("</form>")[0]
    # A text input whose datalist htmx fills from the features picker: no list of every candidate.
    assert (
        f'hx-get="/w/{workspace.slug}/pick/features/?field=feature" hx-trigger="input changed delay:250ms, '
        'focus once" hx-target="#add-feature-options"'
    ) in picker
    assert '<datalist id="add-feature-options"></datalist>' in picker
    assert "<option" not in picker.split('name="change_type"')[0]
    for title in ("Audit log", "Dark mode", "Shipped already"):
        assert title not in picker
    # Only the roadmap's planned work is offered to drag.
    candidates = content.split("data-scope-source>")[1].split("</ul>")[0]
    assert f'data-feature-id="{eligible.pk}"' in candidates
    assert "Dark mode" not in candidates

    response = client.post(
        url(release, "scope/"),
        {"feature": f"#{eligible.pk} Audit log", "is_must_have": "", "change_type": "improved"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#scope")
    item = ScopeItem.objects.get(release=release, feature=eligible)
    assert (item.is_must_have, item.change_type, item.is_open) == (False, "improved", True)
    # The exact title, as typed without choosing a suggestion; a bare id, as a dropped card posts.
    assert (
        client.post(url(release, "scope/"), {"feature": "dark mode", "change_type": "new"}).status_code == 302
    )
    assert set(release.scope_items.values_list("feature__title", flat=True)) == {"Audit log", "Dark mode"}


def test_a_dropped_card_posts_the_bare_id(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product)
    feature = FeatureFactory(product=product, title="Audit log", status="planned")
    response = client.post(url(release, "scope/"), {"feature": str(feature.pk), "change_type": "new"})
    assert response.status_code == 302
    assert list(release.scope_items.values_list("feature_id", flat=True)) == [feature.pk]


@pytest.mark.parametrize(
    "which", ["shipped", "declined", "other product", "in another release", "merged", "other workspace"]
)
def test_a_feature_that_may_not_join_is_an_inline_error_and_nothing_is_written(
    portal_client, workspace, other_workspace, which
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product)
    if which in ("shipped", "declined"):
        feature = FeatureFactory(product=product, title="Taken", status=which)
    elif which == "other product":
        feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Taken", status="planned")
    elif which == "in another release":
        feature = FeatureFactory(product=product, title="Taken", status="planned")
        ScopeItemFactory(release=ReleaseFactory(product=product, version="1.1.0"), feature=feature)
    elif which == "merged":
        survivor = FeatureFactory(product=product, title="Survivor", status="planned")
        feature = FeatureFactory(product=product, title="Taken", status="planned", merged_into=survivor)
    else:
        feature = FeatureFactory(product=ProductFactory(workspace=other_workspace), title="Taken")
    before = audit_count()
    response = client.post(url(release, "scope/"), {"feature": f"#{feature.pk} Taken", "change_type": "new"})
    assert response.status_code == 400
    content = response.content.decode()
    add_form = content.split('id="scope-add-form"')[1].split("</form>")[0]
    assert '<div class="field field-invalid">' in add_form
    if which in ("merged", "other workspace"):  # not a row the picker can pick at all
        assert f"No single match for “#{feature.pk} Taken”: pick a suggestion or type its #id." in add_form
    else:
        assert (
            "“Taken” cannot join this release: it is shipped, declined, of another product or already "
            "in an open release."
        ) in add_form
    assert not release.scope_items.exists()
    assert audit_count() == before


def test_an_unknown_feature_is_an_inline_error(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "scope/"), {"feature": "#999999", "change_type": "new"})
    assert response.status_code == 400
    assert "No single match for “#999999”: pick a suggestion or type its #id." in response.content.decode()
    response = client.post(url(release, "scope/"), {"feature": "", "change_type": "new"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not release.scope_items.exists()


def test_a_scope_add_refused_by_the_service_shows_its_detail(portal_client, workspace, monkeypatch):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product)
    feature = FeatureFactory(product=product, status="planned")
    # Another open release takes it between the page and the post (the service's check answers).
    page(client, url(release))
    monkeypatch.setattr("releases.selectors.release_feature_candidates", lambda *, release: [feature])
    ScopeItemFactory(release=ReleaseFactory(product=product, version="1.1.0"), feature=feature)
    response = client.post(url(release, "scope/"), {"feature": feature.pk, "change_type": "new"})
    assert response.status_code == 400
    assert "The feature is already in" in response.content.decode()
    assert not release.scope_items.exists()


def test_scope_rows_toggle_must_have_state_and_change_type(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = rich_release(workspace)
    item = release.scope_items.get(feature__title="Scope 0")
    response = client.post(
        url(release, f"scope/{item.pk}/"),
        {"is_must_have": "", "state": "in_progress", "change_type": "fixed"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.is_must_have, item.state, item.change_type) == (False, "in_progress", "fixed")

    bad = client.post(url(release, f"scope/{item.pk}/"), {"state": "finished", "change_type": "fixed"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    item.refresh_from_db()
    assert item.state == "in_progress"


def test_a_contributor_sets_the_state_only(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    release = rich_release(workspace)
    item = release.scope_items.get(feature__title="Scope 0")
    response = client.post(
        url(release, f"scope/{item.pk}/"), {"state": "todo", "is_must_have": "", "change_type": "fixed"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.state, item.is_must_have, item.change_type) == ("todo", True, "new")


def test_remove_and_move_scope_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = rich_release(workspace)
    summer = Release.objects.get(name="Summer")
    first, second = release.scope_items.order_by("position")[:2]

    assert client.post(url(release, f"scope/{first.pk}/remove/")).status_code == 302
    assert not ScopeItem.objects.filter(pk=first.pk).exists()

    response = client.post(url(release, f"scope/{second.pk}/move/"), {"to_release": summer.pk})
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.is_open, second.outcome) == (False, "moved")
    moved = ScopeItem.objects.get(release=summer, feature=second.feature_id, is_open=True)
    assert moved.state == second.state
    content = page(client, url(release))
    assert f'now in <a href="/w/{workspace.slug}/releases/{summer.pk}/">Summer 1.1.0</a>' in content

    other_product = ReleaseFactory(product=ProductFactory(workspace=workspace), version="3.0.0")
    third = release.scope_items.filter(is_open=True).first()
    bad = client.post(url(release, f"scope/{third.pk}/move/"), {"to_release": other_product.pk})
    assert bad.status_code == 400
    assert third.__class__.objects.get(pk=third.pk).is_open


# --- launch checklist ----------------------------------------------------------------------------


def test_ticking_a_task_done_and_reopening_it(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    release = new_release(workspace)
    task = release.checklist_tasks.get(title="Support team trained")
    response = client.post(url(release, f"tasks/{task.pk}/"), {"tick": "1", "state": "done"})
    assert response.status_code == 302
    assert response["Location"].endswith("#checklist")
    task.refresh_from_db()
    assert task.state == ChecklistState.DONE
    assert task.completed_at is not None
    content = page(client, url(release))
    assert "1 of 7 done" in content
    assert "Reopen" in content
    client.post(url(release, f"tasks/{task.pk}/"), {"tick": "1", "state": "todo"})
    task.refresh_from_db()
    assert task.state == ChecklistState.TODO
    assert task.completed_at is None


def test_a_tasks_owner_due_date_and_state_are_edited_inline(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    colleague = member(workspace, Role.VIEWER).user
    release = new_release(workspace)
    task = release.checklist_tasks.first()
    response = client.post(
        url(release, f"tasks/{task.pk}/"),
        {"owner": colleague.pk, "due_date": in_days(5).isoformat(), "state": "skipped"},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.owner, task.due_date, task.state) == (colleague, in_days(5), "skipped")

    before = audit_count()
    bad = client.post(
        url(release, f"tasks/{task.pk}/"), {"owner": "", "due_date": "1999-01-01", "state": "done"}
    )
    assert bad.status_code == 400
    content = bad.content.decode()
    assert f'id="task-{task.pk}-due_date"' in content
    assert 'class="error"' in content
    task.refresh_from_db()
    assert task.state == "skipped"
    assert audit_count() == before


def test_someone_outside_the_workspace_cannot_own_a_task(portal_client, workspace, other_workspace, member):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    outsider = member(other_workspace, Role.OWNER).user
    release = new_release(workspace)
    task = release.checklist_tasks.first()
    response = client.post(
        url(release, f"tasks/{task.pk}/"),
        {"title": task.title, "category": task.category, "owner": outsider.pk, "state": "todo"},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    task.refresh_from_db()
    assert task.owner is None


def test_a_product_manager_edits_a_tasks_title_category_and_required_flag(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    task = release.checklist_tasks.get(title="Support team trained")
    assert task.is_required
    content = page(client, url(release))
    title_input = re.search(rf'<input[^>]*id="task-{task.pk}-title"[^>]*>', content).group(0)
    assert 'value="Support team trained"' in title_input
    assert f'id="task-{task.pk}-category"' in content
    assert re.search(rf'<input[^>]*id="task-{task.pk}-is_required"[^>]*checked', content)
    response = client.post(
        url(release, f"tasks/{task.pk}/"),
        {"title": "Support and sales trained", "category": "sales_enablement", "state": "in_progress"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#checklist")
    task.refresh_from_db()
    assert (task.title, task.category, task.is_required, task.state) == (
        "Support and sales trained",
        "sales_enablement",
        False,
        "in_progress",
    )
    assert "Support and sales trained" in page(client, url(release))

    before = audit_count()
    for data, message in [
        ({"title": "  ", "category": "sales_enablement", "state": "todo"}, "This field is required."),
        ({"title": "X", "category": "party", "state": "todo"}, "Select a valid choice."),
        (
            {"title": "X", "category": "sales_enablement", "due_date": "2101-01-01", "state": "todo"},
            "Must be between",
        ),
    ]:
        bad = client.post(url(release, f"tasks/{task.pk}/"), data)
        assert bad.status_code == 400
        assert message in bad.content.decode()
        assert_strict_csp_ready(bad.content.decode())
    task.refresh_from_db()
    assert (task.title, task.category, task.state) == (
        "Support and sales trained",
        "sales_enablement",
        "in_progress",
    )
    assert audit_count() == before


def test_a_contributor_cannot_plan_a_task(portal_client, workspace):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    release = new_release(workspace)
    task = release.checklist_tasks.get(title="Support team trained")
    content = page(client, url(release))
    assert f'id="task-{task.pk}-state"' in content
    for field in ("title", "category", "is_required"):
        assert f'id="task-{task.pk}-{field}"' not in content
    # Planning fields a contributor posts are not on their form: only the state moves.
    category = task.category
    response = client.post(
        url(release, f"tasks/{task.pk}/"), {"title": "Renamed", "category": "press", "state": "done"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.category, task.is_required, task.state) == (
        "Support team trained",
        category,
        True,
        "done",
    )
    # And the service refuses them anyway.
    with pytest.raises(Forbidden):
        release_services.checklist_task_update(task=task, actor=membership.user, data={"title": "Renamed"})


def test_a_product_manager_adds_and_removes_tasks(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(
        url(release, "tasks/"),
        {"title": "Webinar", "category": "announcement", "owner": membership.user.pk, "is_required": "on"},
    )
    assert response.status_code == 302
    task = release.checklist_tasks.get(title="Webinar")
    assert (task.owner, task.is_required, task.category) == (membership.user, True, "announcement")

    bad = client.post(url(release, "tasks/"), {"title": "", "category": "other"})
    assert bad.status_code == 400
    assert "This field is required." in bad.content.decode()
    assert release.checklist_tasks.count() == 8

    assert client.post(url(release, f"tasks/{task.pk}/delete/")).status_code == 302
    assert not ChecklistTask.objects.filter(pk=task.pk).exists()


# --- notes ---------------------------------------------------------------------------------------


def test_the_live_preview_is_a_sanitised_fragment_and_saves_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "notes/preview/"), {"notes": f"## New\n\n- **SSO** {XSS}"}, **HX)
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h2>New</h2>" in content
    assert "<strong>SSO</strong>" in content
    assert "<script" not in content
    assert "onerror" not in content
    assert "javascript:" not in content
    assert "<html" not in content
    release.refresh_from_db()
    assert release.notes == ""


def test_without_javascript_the_preview_renders_the_page_with_the_draft(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "notes/preview/"), {"notes": "**Hello** preview"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<strong>Hello</strong> preview" in content
    assert "**Hello** preview</textarea>" in content
    release.refresh_from_db()
    assert release.notes == ""


def test_generate_fills_the_editor_from_the_scope_without_saving(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product)
    ScopeItemFactory(
        release=release,
        feature=FeatureFactory(
            product=product,
            title="sso-internal",
            public_title="Single sign-on",
            release_note="Sign in with Okta.",
        ),
        state="done",
    )
    response = client.post(url(release, "notes/generate/"), **HX)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="notes-editor"')
    assert "## New\n\n- **Single sign-on** — Sign in with Okta.\n</textarea>" in content
    assert "<strong>Single sign-on</strong>" in content  # the preview
    release.refresh_from_db()
    assert release.notes == ""
    full = client.post(url(release, "notes/generate/"))
    assert full.status_code == 200
    assert "<h1>Spring 1.0.0</h1>" in full.content.decode()


def test_save_and_publish_the_notes(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(url(release, "notes/"), {"notes": "Draft one"})
    assert response.status_code == 302
    assert response["Location"].endswith("#notes")
    release.refresh_from_db()
    assert (release.notes, release.published_notes) == ("Draft one", "")

    response = client.post(url(release, "notes/publish/"), {"notes": "Final words"})
    assert response.status_code == 302
    release.refresh_from_db()
    assert (release.notes, release.published_notes) == ("Final words", "Final words")
    assert release.notes_published_at is not None
    content = page(client, url(release))
    assert "Published notes" in content
    assert "Published " in content


def test_publishing_nothing_for_a_public_release_is_refused_and_writes_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace, notes="")
    release_services.release_notes_update(release=release, actor=None, notes="Kept draft")
    before = audit_count()
    response = client.post(url(release, "notes/publish/"), {"notes": "   "})
    assert response.status_code == 400
    assert "A public release needs notes" in response.content.decode()
    release.refresh_from_db()
    assert (release.notes, release.notes_published_at) == ("Kept draft", None)
    assert audit_count() == before


# --- success metrics ------------------------------------------------------------------------------


def test_add_a_metric_record_actuals_and_mark_it_reviewed(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), metric="Weekly teams", current=40)
    response = client.post(
        url(release, "metrics/"),
        {
            "name": "SSO adoption",
            "unit": "%",
            "baseline": "0",
            "target": "50",
            "review_date": in_days(60).isoformat(),
        },
    )
    assert response.status_code == 302
    metric = SuccessMetric.objects.get(name="SSO adoption")
    assert (metric.release, metric.target, metric.key_result) == (release, Decimal(50), None)

    response = client.post(url(release, f"metrics/{metric.pk}/actuals/"), {"value": "20", "note": "week 1"})
    assert response.status_code == 302
    assert metric.actuals.get().value == Decimal(20)
    content = page(client, url(release))
    assert "“SSO adoption”: 20 recorded." in content
    assert 'width="40"' in content  # 20 of 50 from 0
    assert "20%" in content

    bad = client.post(
        url(release, f"metrics/{metric.pk}/actuals/"), {"value": "5", "recorded_on": in_days(9).isoformat()}
    )
    assert bad.status_code == 400
    assert "An actual cannot be recorded in the future." in bad.content.decode()
    assert metric.actuals.count() == 1

    assert client.post(url(release, f"metrics/{metric.pk}/review/"), {"reviewed": "1"}).status_code == 302
    metric.refresh_from_db()
    assert metric.reviewed_at is not None
    assert "Review again" in page(client, url(release))

    # A metric read from a key result shows its current value and takes no actual.
    response = client.post(
        url(release, "metrics/"),
        {
            "name": "Teams",
            "baseline": "0",
            "target": "80",
            "review_date": in_days(60).isoformat(),
            "key_result": kr.pk,
        },
    )
    assert response.status_code == 302
    content = page(client, url(release))
    assert "From key result: Weekly teams" in content
    assert 'width="50"' in content

    assert client.post(url(release, f"metrics/{metric.pk}/delete/")).status_code == 302
    assert not SuccessMetric.objects.filter(pk=metric.pk).exists()


def test_a_metric_whose_target_is_its_baseline_is_refused(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    response = client.post(
        url(release, "metrics/"),
        {"name": "Flat", "baseline": "5", "target": "5", "review_date": in_days(60).isoformat()},
    )
    assert response.status_code == 400
    assert "Target must differ from the baseline." in response.content.decode()
    assert not SuccessMetric.objects.exists()


def test_a_metric_is_edited_and_a_bad_edit_writes_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release = new_release(workspace)
    metric = SuccessMetricFactory(release=release, name="Adoption", baseline=10, target=20)
    content = page(client, url(release))
    target_input = re.search(rf'<input[^>]*id="metricedit-{metric.pk}-target"[^>]*>', content).group(0)
    assert 'value="20"' in target_input
    response = client.post(
        url(release, f"metrics/{metric.pk}/"),
        {"name": "Adoption", "baseline": "10", "target": "30", "review_date": in_days(20).isoformat()},
    )
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.target, metric.review_date) == (Decimal(30), in_days(20))

    before = audit_count()
    bad = client.post(
        url(release, f"metrics/{metric.pk}/"),
        {"name": "Adoption", "baseline": "10", "target": "10", "review_date": in_days(20).isoformat()},
    )
    assert bad.status_code == 400
    assert '<details class="row-edit" open>' in bad.content.decode()
    metric.refresh_from_db()
    assert metric.target == Decimal(30)
    assert audit_count() == before


def test_a_contributor_records_an_actual(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    release = new_release(workspace)
    metric = SuccessMetricFactory(release=release)
    assert client.post(url(release, f"metrics/{metric.pk}/actuals/"), {"value": "12"}).status_code == 302
    assert metric.actuals.get().value == Decimal(12)


# --- shipping ------------------------------------------------------------------------------------


def ship_ready(workspace):
    """A release with a done must-have (depending on a done feature in scope), a done
    nice-to-have, an unfinished nice-to-have and a later release to move it to."""
    product = ProductFactory(workspace=workspace)
    release = new_release(workspace, product, name="Spring", version="1.0.0")
    base = FeatureFactory(product=product, title="Base API", public_title="Base API", status="in_progress")
    top = FeatureFactory(
        product=product, title="A dashboard", public_title="A dashboard", status="in_progress"
    )
    roadmap_services.feature_add_dependency(feature=top, depends_on=base, actor=None)
    ScopeItemFactory(release=release, feature=top, state="done", position=0)
    ScopeItemFactory(release=release, feature=base, state="done", is_must_have=False, position=1)
    ScopeItemFactory(
        release=release,
        feature=FeatureFactory(product=product, title="Polish"),
        is_must_have=False,
        position=2,
    )
    later = ReleaseFactory(product=product, name="Summer", version="1.1.0")
    return release, later


def test_the_ship_page_lists_what_will_happen(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release, later = ship_ready(workspace)
    content = page(client, url(release, "ship/"))
    ships = content.split('<ol class="ship-list">')[1].split("</ol>")[0]
    assert ships.index("Base API") < ships.index("A dashboard")  # dependencies first
    assert "Polish" in content.split("Nice-to-haves not done")[1]
    assert f'<option value="{later.pk}">Summer 1.1.0</option>' in content
    assert "There is no draft: notes are <strong>generated</strong>" in content
    assert "shipping is blocked" not in content
    assert '<button type="submit">Ship Spring 1.0.0</button>' in content
    # A viewer sees the plan, not the button.
    viewer, _ = portal_client(workspace, Role.VIEWER)
    seen = page(viewer, url(release, "ship/"))
    assert "Base API" in seen
    assert "Ship Spring 1.0.0</button>" not in seen


def test_shipping_marks_features_shipped_moves_the_rest_and_shows_the_result(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release, later = ship_ready(workspace)
    response = client.post(url(release, "ship/"), {"move_unfinished_to": later.pk})
    assert response.status_code == 302
    assert response["Location"] == url(release) + "#result"
    release.refresh_from_db()
    assert release.status == ReleaseStatus.RELEASED
    assert release.published_notes.startswith("## New")
    assert set(Feature.objects.filter(status=FeatureStatus.SHIPPED).values_list("title", flat=True)) == {
        "Base API",
        "A dashboard",
    }
    assert ScopeItem.objects.get(feature__title="Polish", is_open=True).release == later
    content = page(client, response["Location"])
    assert (
        "Spring 1.0.0 shipped. Marked shipped: Base API, A dashboard. Moved out: Polish → Summer 1.1.0."
        in content
    )
    assert "The notes were generated from the scope and published." in content
    result = content.split('id="result"')[1].split("</section>")[0]
    assert "Shipped on" in result
    assert "Moved to Summer 1.1.0" in result
    assert f'href="/p/{workspace.slug}/changelog/"' in result
    # Shipping again does nothing.
    again = client.post(url(release, "ship/"), {})
    assert again.status_code == 302
    assert "had already shipped; nothing was done" in page(client, again["Location"])


def test_unfinished_must_haves_block_the_ship_and_nothing_is_written(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release, _ = ship_ready(workspace)
    ScopeItemFactory(
        release=release, feature=FeatureFactory(product=release.product, title="Billing"), state="todo"
    )
    content = page(client, url(release, "ship/"))
    assert "Must-haves not done: shipping is blocked" in content
    assert "Only an admin can ship without the must-haves." in content
    assert "disabled>Ship Spring 1.0.0</button>" in content
    before = audit_count()

    response = client.post(url(release, "ship/"), {})
    assert response.status_code == 400
    assert "Must-haves are not done: Billing." in response.content.decode()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED
    assert not Feature.objects.filter(status=FeatureStatus.SHIPPED).exists()
    assert audit_count() == before
    # Forcing needs an admin.
    assert client.post(url(release, "ship/"), {"force": "on", "reason": "Deadline"}).status_code == 403
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED


def test_an_admin_forces_a_ship_with_a_reason(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    release, _ = ship_ready(workspace)
    ScopeItemFactory(
        release=release, feature=FeatureFactory(product=release.product, title="Billing"), state="todo"
    )
    assert 'name="force"' in page(client, url(release, "ship/"))

    no_reason = client.post(url(release, "ship/"), {"force": "on", "reason": ""})
    assert no_reason.status_code == 400
    assert "Say why the release ships without its must-haves." in no_reason.content.decode()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.PLANNED

    response = client.post(
        url(release, "ship/"), {"force": "on", "reason": "Conference demo", "move_unfinished_to": ""}
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == ReleaseStatus.RELEASED
    assert release.status_changes.first().reason == "Conference demo"
    billing = ScopeItem.objects.get(feature__title="Billing")
    assert billing.outcome == "deferred"  # back to the backlog


def test_the_ship_page_of_a_shipped_or_cancelled_release_says_so(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    cancelled = ReleaseFactory(product=ProductFactory(workspace=workspace), status=ReleaseStatus.CANCELLED)
    assert "This release is cancelled: it cannot ship." in page(client, url(cancelled, "ship/"))
    response = client.post(url(cancelled, "ship/"), {})
    assert response.status_code == 400
    assert "A cancelled release cannot ship." in response.content.decode()


# --- settings --------------------------------------------------------------------------------------


def test_the_checklist_template_starts_from_the_defaults_and_is_edited(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    content = page(client, f"/w/{workspace.slug}/settings/releases/")
    assert "Positioning and messaging approved" in content
    assert 'value="-21 days"' in content
    assert "Risk window" in content
    assert 'name="risk_window_days"' not in content  # admins only
    item = ChecklistTemplateItem.objects.get(workspace=workspace, title="Documentation updated")

    response = client.post(
        f"/w/{workspace.slug}/settings/releases/checklist/{item.pk}/",
        {
            "title": "Docs updated",
            "category": "documentation",
            "relative_due": "-2 weeks",
            "is_required": "on",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.due_offset_days, item.is_required) == ("Docs updated", -14, True)

    response = client.post(
        f"/w/{workspace.slug}/settings/releases/checklist/",
        {"title": "Blog post", "category": "announcement", "relative_due": "+1 day"},
    )
    assert response.status_code == 302
    blog = ChecklistTemplateItem.objects.get(workspace=workspace, title="Blog post")
    assert (blog.due_offset_days, blog.is_required) == (1, False)

    assert (
        client.post(f"/w/{workspace.slug}/settings/releases/checklist/{blog.pk}/delete/").status_code == 302
    )
    assert not ChecklistTemplateItem.objects.filter(pk=blog.pk).exists()
    # A new release starts with the edited template.
    release = new_release(workspace)
    assert release.checklist_tasks.get(title="Docs updated").due_date == in_days(16)


def test_a_malformed_relative_due_is_a_field_error_and_nothing_is_written(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page(client, f"/w/{workspace.slug}/settings/releases/")
    item = ChecklistTemplateItem.objects.filter(workspace=workspace).first()
    before = audit_count()
    for target, data in [
        (
            f"checklist/{item.pk}/",
            {"title": item.title, "category": item.category, "relative_due": "next tuesday"},
        ),
        ("checklist/", {"title": "New", "category": "other", "relative_due": "-7 fortnights"}),
        ("checklist/", {"title": "New", "category": "other", "relative_due": "-400 days"}),
    ]:
        response = client.post(f"/w/{workspace.slug}/settings/releases/{target}", data)
        assert response.status_code == 400, data
        content = response.content.decode()
        assert 'class="field field-invalid"' in content
        assert "days or weeks from the planned date" in content or "within a year" in content
    item.refresh_from_db()
    assert item.due_offset_days == -21
    assert not ChecklistTemplateItem.objects.filter(title="New").exists()
    assert audit_count() == before


def test_the_risk_window_is_set_by_an_admin(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    assert 'name="risk_window_days"' in page(client, f"/w/{workspace.slug}/settings/releases/")
    response = client.post(f"/w/{workspace.slug}/settings/releases/", {"risk_window_days": "30"})
    assert response.status_code == 302
    assert ReleaseSettings.objects.get(workspace=workspace).risk_window_days == 30
    bad = client.post(f"/w/{workspace.slug}/settings/releases/", {"risk_window_days": "400"})
    assert bad.status_code == 400
    assert ReleaseSettings.objects.get(workspace=workspace).risk_window_days == 30

    pm, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert pm.post(f"/w/{workspace.slug}/settings/releases/", {"risk_window_days": "3"}).status_code == 403
    viewer, _ = portal_client(workspace, Role.VIEWER)
    content = page(viewer, f"/w/{workspace.slug}/settings/releases/")
    assert "30 days" in content
    assert "<form" not in content.split('<main id="main"')[1]
    assert viewer.post(f"/w/{workspace.slug}/settings/releases/checklist/", {"title": "X"}).status_code == 403


def test_changelog_settings_on_the_public_board_page(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    content = page(client, f"/w/{workspace.slug}/settings/public-board/")
    assert "Public changelog" in content
    assert f"/p/{workspace.slug}/changelog/" not in content  # off

    response = client.post(
        f"/w/{workspace.slug}/settings/public-board/changelog/",
        {"enabled": "on", "title": "What's new", "intro": "Every release."},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/settings/public-board/#changelog")
    row = ChangelogSettings.objects.get(workspace=workspace)
    assert (row.enabled, row.title, row.intro) == (True, "What's new", "Every release.")
    content = page(client, f"/w/{workspace.slug}/settings/public-board/")
    assert f'<a href="/p/{workspace.slug}/changelog/">' in content
    assert f"/p/{workspace.slug}/changelog/rss/" in content

    bad = client.post(
        f"/w/{workspace.slug}/settings/public-board/changelog/", {"enabled": "on", "title": "x" * 121}
    )
    assert bad.status_code == 400
    assert "Ensure this value has at most 120 characters" in bad.content.decode()
    assert ChangelogSettings.objects.get(workspace=workspace).title == "What's new"

    pm, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert (
        pm.post(f"/w/{workspace.slug}/settings/public-board/changelog/", {"enabled": ""}).status_code == 403
    )
    assert ChangelogSettings.objects.get(workspace=workspace).enabled


# --- releases on other pages ----------------------------------------------------------------------


def test_the_feature_page_shows_its_open_and_past_releases(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product, title="Audit log")
    past = ReleaseFactory(product=product, name="Winter", version="0.9.0", status=ReleaseStatus.CANCELLED)
    ScopeItemFactory(
        release=past, feature=feature, is_open=False, outcome="cancelled", closed_at=timezone.now()
    )
    current = ReleaseFactory(product=product, name="Spring", version="1.0.0")
    ScopeItemFactory(release=current, feature=feature, is_must_have=False, state="in_progress")

    content = page(client, f"/w/{workspace.slug}/features/{feature.pk}/")
    releases = content.split('id="releases-h"')[1].split("</section>")[0]
    assert f'<a href="/w/{workspace.slug}/releases/{current.pk}/">Spring 1.0.0</a>' in releases
    assert "Current" in releases
    assert "nice-to-have · in progress" in releases
    assert f'<a href="/w/{workspace.slug}/releases/{past.pk}/">Winter 0.9.0</a>' in releases
    assert "Release cancelled" in releases


def test_the_feature_form_edits_the_customer_facing_title_and_note(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="sso-v2")
    form = client.get(f"/w/{workspace.slug}/features/{feature.pk}/edit/", **HX).content.decode()
    assert 'name="public_title"' in form
    assert 'name="release_note"' in form
    response = client.post(
        f"/w/{workspace.slug}/features/{feature.pk}/edit/",
        {"title": "sso-v2", "public_title": "Single sign-on", "release_note": "Sign in with Okta."},
    )
    assert response.status_code == 302
    feature.refresh_from_db()
    assert (feature.public_title, feature.release_note) == ("Single sign-on", "Sign in with Okta.")
    assert "Customers read" in page(client, f"/w/{workspace.slug}/features/{feature.pk}/")


def test_the_timeline_marks_release_dates(portal_client, workspace):
    client, _ = portal_client(workspace)
    product = ProductFactory(workspace=workspace)
    FeatureFactory(
        product=product, status="planned", planned_start=date(2027, 1, 5), target_date=date(2027, 2, 5)
    )
    planned = ReleaseFactory(product=product, name="Spring", version="1.0.0", planned_date=date(2027, 2, 10))
    ReleaseFactory(
        product=product, name="Dropped", version="0.9.0", planned_date=date(2027, 2, 1), status="cancelled"
    )
    ReleaseFactory(product=product, name="Far", version="2.0.0", planned_date=date(2028, 1, 1))

    content = page(client, f"/w/{workspace.slug}/roadmap/timeline/?start=2027-01&months=3")
    assert content.count('class="gantt-release-line"') == 1
    assert "Release Spring 1.0.0" in content
    assert f'href="/w/{workspace.slug}/releases/{planned.pk}/"' in content
    listed = content.split('id="timeline-releases-h"')[1].split("</section>")[0]
    assert "planned for 10 Feb 2027" in listed
    assert "Dropped" not in listed
    assert "Far" not in listed


def test_the_dashboard_shows_releases_coming_up_and_metric_reviews_due(portal_client, workspace):
    client, _ = portal_client(workspace)
    product = ProductFactory(workspace=workspace)
    soon = ReleaseFactory(product=product, name="Spring", version="1.0.0", planned_date=in_days(5))
    ScopeItemFactory(release=soon, feature=FeatureFactory(product=product, title="Audit log"), state="done")
    ReleaseFactory(product=product, name="Gone", version="0.1.0", status="cancelled")
    due = SuccessMetricFactory(release=soon, name="Adoption", review_date=timezone.localdate())
    SuccessMetricFactory(release=soon, name="Not yet", review_date=in_days(30))

    content = page(client, f"/w/{workspace.slug}/")
    upcoming = content.split('id="upcoming-h"')[1].split("</section>")[0]
    assert f'<a href="/w/{workspace.slug}/releases/{soon.pk}/">Spring 1.0.0</a>' in upcoming
    assert 'value="100"' in upcoming
    assert "Gone" not in upcoming
    reviews = content.split('id="reviews-h"')[1].split("</section>")[0]
    assert f'href="/w/{workspace.slug}/releases/{soon.pk}/#metrics">Adoption</a>' in reviews
    assert "Not yet" not in reviews
    assert due.pk


def test_the_navigation_has_releases(portal_client, workspace):
    client, _ = portal_client(workspace)
    content = page(client, f"/w/{workspace.slug}/releases/")
    assert f'<a href="/w/{workspace.slug}/releases/" aria-current="page">Releases</a>' in content
    settings = page(client, f"/w/{workspace.slug}/settings/releases/")
    assert f'<a href="/w/{workspace.slug}/settings/releases/" aria-current="page">Releases</a>' in settings


# --- query counts ---------------------------------------------------------------------------------


def grow(workspace, release, n=12):
    """``n`` more of every row a release page lists."""
    product = release.product
    team = TeamFactory(workspace=workspace)
    later = Release.objects.filter(product=product).exclude(pk=release.pk).first()
    previous = None
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace))
    for i in range(n):
        feature = FeatureFactory(product=product, title=f"More {i}", team=team, effort=2, status="planned")
        if previous is not None:
            roadmap_services.feature_add_dependency(feature=feature, depends_on=previous, actor=None)
        previous = feature
        ScopeItemFactory(release=release, feature=feature, is_must_have=i % 2 == 0, position=10 + i)
        moved = ScopeItemFactory(release=release, feature=FeatureFactory(product=product), position=50 + i)
        release_services.scope_move(item=moved, to_release=later, actor=None)
        FeatureFactory(product=product, title=f"Candidate more {i}", status="planned")
        ChecklistTaskFactory(release=release, owner=None, due_date=in_days(-1))
        metric = SuccessMetricFactory(release=release, key_result=kr if i % 3 == 0 else None)
        MetricActual.objects.create(
            workspace=workspace, metric=metric, value=i, recorded_on=timezone.localdate()
        )
        release_services.release_change_status(
            release=release, to_status=["in_progress", "planned"][i % 2], actor=None
        )
        ReleaseFactory(product=product, version=f"{Release.objects.count() + 100}.0.0")
    from tests.productops.factories import MembershipFactory

    for _ in range(n):
        MembershipFactory(workspace=workspace, role=Role.CONTRIBUTOR)


def count_queries(client, path):
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def test_release_page_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    few = rich_release(workspace, scope=1, metrics=1, candidates=1)
    grow(workspace, few, n=1)
    many = rich_release(workspace, scope=3, metrics=2, candidates=2)
    grow(workspace, many, n=12)
    few_count = count_queries(client, url(few))
    many_count = count_queries(client, url(many))
    assert many.scope_items.count() > 25
    assert many_count == few_count
    assert count_queries(client, url(many, "ship/")) == count_queries(client, url(few, "ship/"))


def test_release_list_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    grow(workspace, rich_release(workspace, scope=1, metrics=0, candidates=0), n=1)
    path = f"/w/{workspace.slug}/releases/"
    few = count_queries(client, path)
    for _ in range(4):
        grow(workspace, rich_release(workspace), n=3)
    assert Release.objects.count() > 20
    assert count_queries(client, path) == few


def test_release_settings_query_count_does_not_grow_with_rows(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.ADMIN)
    path = f"/w/{workspace.slug}/settings/releases/"
    few = count_queries(client, path)
    for i in range(12):
        release_services.checklist_template_item_create(
            workspace=workspace,
            actor=None,
            data={"title": f"Item {i}", "default_owner": member(workspace).user},
        )
    assert count_queries(client, path) == few


def test_pages_showing_releases_keep_their_query_counts(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product, status="planned")
    one = rich_release(workspace, scope=3, metrics=1, candidates=0, product=product)
    ScopeItemFactory(release=one, feature=feature)
    SuccessMetricFactory(release=one, review_date=timezone.localdate())
    paths = [
        f"/w/{workspace.slug}/",
        f"/w/{workspace.slug}/features/{feature.pk}/",
        f"/w/{workspace.slug}/roadmap/timeline/",
    ]
    few = [count_queries(client, path) for path in paths]
    for _ in range(8):
        release = rich_release(workspace, scope=3, metrics=2, candidates=0, product=product)
        release_services.scope_move(
            item=feature.scope_items.get(is_open=True), to_release=release, actor=None
        )
        SuccessMetricFactory(release=release, review_date=timezone.localdate())
    assert feature.scope_items.count() == 9
    assert [count_queries(client, path) for path in paths] == few


# --- strict CSP -------------------------------------------------------------------------------


def test_release_pages_have_no_inline_script_handler_or_style(portal_client, workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    release, _ = ship_ready(workspace)
    ScopeItemFactory(release=release, feature=FeatureFactory(product=release.product, title="Billing"))
    SuccessMetricFactory(release=release, review_date=timezone.localdate())
    release_services.release_notes_update(release=release, actor=None, notes=f"## New\n\n{XSS}")
    shipped = ReleaseFactory(
        product=ProductFactory(workspace=workspace),
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
        published_notes=XSS,
    )
    feature = release.scope_items.first().feature
    SuccessMetricFactory(release=None, feature=feature, workspace=workspace, review_date=timezone.localdate())
    for path in [
        f"/w/{workspace.slug}/releases/",
        url(release),
        url(release, "ship/"),
        url(shipped),
        url(shipped, "ship/"),
        f"/w/{workspace.slug}/settings/releases/",
        f"/w/{workspace.slug}/settings/public-board/",
        f"/w/{workspace.slug}/features/{feature.pk}/",
    ]:
        content = page(client, path)
        assert_strict_csp_ready(content)
        assert_unique_ids(content)
        assert "<script>alert" not in content, path
        assert 'onerror="alert' not in content, path
    for path, data in [
        (url(release, "notes/preview/"), {"notes": XSS}),
        (url(release, "notes/generate/"), {}),
    ]:
        response = client.post(path, data, **HX)
        assert_strict_csp_ready(response.content.decode())
    # Pages that show releases among older content: the release parts add none.
    dashboard = page(client, f"/w/{workspace.slug}/")
    for section in ("upcoming-h", "reviews-h"):
        assert_strict_csp_ready(dashboard.split(f'id="{section}"')[1].split("</section>")[0])
    timeline = page(client, f"/w/{workspace.slug}/roadmap/timeline/")
    assert_strict_csp_ready(timeline.split('id="timeline-releases-h"')[1].split("</section>")[0])
    for marker in re.findall(r'<a [^>]*class="chart-link gantt-release.*?</a>', timeline, re.S):
        assert_strict_csp_ready(marker)


def test_notes_are_rendered_inert_wherever_they_show(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    release = ReleaseFactory(
        product=ProductFactory(workspace=workspace), notes=f"Draft {XSS}", published_notes=f"Published {XSS}"
    )
    content = page(client, url(release))
    assert "<script>alert(1)</script>" not in content
    assert 'onerror="alert(2)"' not in content
    assert 'href="javascript:' not in content
    assert_strict_csp_ready(content)
