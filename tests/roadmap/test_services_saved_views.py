"""Saved views and share links: validated filters, who may change what, hashed keys, expiry."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from productops.errors import Forbidden, NotFound, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap import selectors, services
from roadmap.models import SavedView, ShareLink, Tag
from tests.roadmap.factories import GoalFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _view(workspace, owner, **kwargs):
    return services.saved_view_create(
        workspace=workspace,
        actor=owner,
        name=kwargs.pop("name", "Mine"),
        kind=kwargs.pop("kind", "board"),
        **kwargs,
    )


def test_a_view_stores_only_the_known_filters_of_its_page_and_is_audited(workspace, member):
    viewer = member(workspace, Role.VIEWER).user
    product = ProductFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    Tag.objects.create(workspace=workspace, name="mobile")

    view = services.saved_view_create(
        workspace=workspace,
        actor=viewer,
        name="  Mobile next  ",
        kind="timeline",
        query={
            "product": str(product.pk),
            "team": team.pk,
            "tag": "mobile",
            "start": "2027-01",
            "months": "6",
            "goal": "",
        },
        shared=True,
    )

    view.refresh_from_db()
    assert (view.name, view.kind, view.shared, view.owner_id) == ("Mobile next", "timeline", True, viewer.pk)
    assert view.query == {
        "product": product.pk,
        "team": team.pk,
        "tag": "mobile",
        "start": "2027-01",
        "months": 6,
    }
    event = AuditEvent.objects.get(target_type="roadmap.savedview")
    assert (event.action, event.actor_id, event.target_id) == ("created", viewer.pk, str(view.pk))
    assert event.changes["query"] == view.query


@pytest.mark.parametrize(
    ("kind", "query", "attr", "code"),
    [
        ("board", {"start": "2027-01"}, "query", "unknown_filter"),
        ("board", {"page": "2"}, "query", "unknown_filter"),
        ("matrix", {"model": "nope"}, "query", "invalid_choice"),
        ("timeline", {"months": "37"}, "query", "out_of_range"),
        ("timeline", {"months": "x"}, "query", "invalid"),
        ("timeline", {"start": "2027-13"}, "query", "invalid"),
        ("board", {"product": "abc"}, "query", "invalid"),
        ("board", {"product": 999999}, "query", "does_not_exist"),
        ("board", {"tag": "nosuch"}, "query", "does_not_exist"),
        ("board", ["product"], "query", "invalid"),
        ("gallery", {}, "kind", "invalid_choice"),
    ],
)
def test_bad_filters_are_refused_and_nothing_is_written(workspace, member, kind, query, attr, code):
    user = member(workspace, Role.VIEWER).user

    with pytest.raises(ValidationFailed) as error:
        services.saved_view_create(workspace=workspace, actor=user, name="X", kind=kind, query=query)

    assert (error.value.attr, error.value.code) == (attr, code)
    assert SavedView.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_ids_of_another_workspace_are_not_found(workspace, other_workspace, member):
    user = member(workspace, Role.VIEWER).user
    foreign = GoalFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed) as error:
        services.saved_view_create(
            workspace=workspace, actor=user, name="X", kind="board", query={"goal": foreign.pk}
        )

    assert error.value.code == "does_not_exist"
    assert SavedView.objects.count() == 0


def test_names_are_required_and_unique_per_owner_case_insensitively(workspace, member):
    ann = member(workspace, Role.VIEWER).user
    bob = member(workspace, Role.VIEWER).user
    _view(workspace, ann, name="Q3")

    with pytest.raises(ValidationFailed) as blank:
        _view(workspace, ann, name="   ")
    with pytest.raises(ValidationFailed) as taken:
        _view(workspace, ann, name="q3")
    other = _view(workspace, bob, name="Q3")

    assert (blank.value.attr, blank.value.code) == ("name", "required")
    assert (taken.value.attr, taken.value.code) == ("name", "unique")
    assert SavedView.objects.count() == 2
    assert other.owner_id == bob.pk


def test_only_the_owner_or_a_product_manager_changes_a_view(workspace, member):
    owner = member(workspace, Role.VIEWER).user
    colleague = member(workspace, Role.CONTRIBUTOR).user
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    shared = _view(workspace, owner, name="Shared", shared=True)
    private = _view(workspace, owner, name="Private")

    with pytest.raises(Forbidden):
        services.saved_view_update(view=shared, actor=colleague, data={"name": "Mine now"})
    with pytest.raises(NotFound):
        services.saved_view_delete(view=private, actor=colleague)
    services.saved_view_update(view=shared, actor=owner, data={"name": "Renamed", "shared": False})
    services.saved_view_update(view=private, actor=pm, data={"shared": True})

    shared.refresh_from_db()
    private.refresh_from_db()
    assert (shared.name, shared.shared) == ("Renamed", False)
    assert private.shared is True
    updates = AuditEvent.objects.filter(target_type="roadmap.savedview", action="updated").order_by("id")
    assert [e.changes for e in updates] == [
        {"name": ["Shared", "Renamed"], "shared": [True, False]},
        {"shared": [False, True]},
    ]


def test_updating_the_filters_validates_them_for_the_views_page(workspace, member):
    owner = member(workspace, Role.VIEWER).user
    view = _view(workspace, owner, kind="matrix")

    with pytest.raises(ValidationFailed) as error:
        services.saved_view_update(view=view, actor=owner, data={"query": {"months": 3}})
    services.saved_view_update(view=view, actor=owner, data={"query": {"model": "rice"}})

    assert error.value.code == "unknown_filter"
    view.refresh_from_db()
    assert view.query == {"model": "rice"}


def test_a_share_link_stores_only_the_hash_of_its_key(workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner)
    expires = timezone.now() + timedelta(days=30)

    link, key = services.share_link_create(
        view=view, actor=owner, expires_at=expires, fields=["scores", "team"]
    )

    link.refresh_from_db()
    assert key.startswith("sv_")
    assert len(key) == 3 + 43
    assert link.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert link.prefix == key[:10]
    assert key not in str(ShareLink.objects.values().get())
    assert link.fields == ["team", "scores"]
    assert (link.expires_at, link.created_by_id, link.revoked_at) == (expires, owner.pk, None)
    event = AuditEvent.objects.get(target_type="roadmap.sharelink")
    assert event.changes == {"view": view.pk, "expires_at": expires.isoformat(), "fields": ["team", "scores"]}
    assert key not in str(event.changes)
    assert selectors.share_link_resolve(key=key) == link


def test_default_fields_hide_internal_ones(workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    link, _ = services.share_link_create(
        view=_view(workspace, owner), actor=owner, expires_at=timezone.now() + timedelta(days=1)
    )
    assert link.fields == ["team", "dates"]


@pytest.mark.parametrize(
    ("expires_in", "fields", "attr", "code"),
    [
        (None, None, "expires_at", "required"),
        (timedelta(seconds=-1), None, "expires_at", "invalid"),
        (timedelta(days=92), None, "expires_at", "out_of_range"),
        (timedelta(days=1), ["secrets"], "fields", "invalid_choice"),
        (timedelta(days=1), "team", "fields", "invalid"),
    ],
)
def test_bad_share_links_are_refused(workspace, member, expires_in, fields, attr, code):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner)
    expires = None if expires_in is None else timezone.now() + expires_in

    with pytest.raises(ValidationFailed) as error:
        services.share_link_create(view=view, actor=owner, expires_at=expires, fields=fields)

    assert (error.value.attr, error.value.code) == (attr, code)
    assert ShareLink.objects.count() == 0


def test_viewers_cannot_make_share_links_and_colleagues_only_for_views_they_own(workspace, member):
    viewer = member(workspace, Role.VIEWER).user
    colleague = member(workspace, Role.CONTRIBUTOR).user
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    viewers_view = _view(workspace, viewer, shared=True)
    expires = timezone.now() + timedelta(days=1)

    with pytest.raises(Forbidden):
        services.share_link_create(view=viewers_view, actor=viewer, expires_at=expires)
    with pytest.raises(Forbidden):
        services.share_link_create(view=viewers_view, actor=colleague, expires_at=expires)
    services.share_link_create(view=viewers_view, actor=pm, expires_at=expires)

    assert ShareLink.objects.count() == 1


def test_expired_and_revoked_links_do_not_resolve(workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    other = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner, shared=True)
    expiring, expiring_key = services.share_link_create(
        view=view, actor=owner, expires_at=timezone.now() + timedelta(days=1)
    )
    revoked, revoked_key = services.share_link_create(
        view=view, actor=owner, expires_at=timezone.now() + timedelta(days=1)
    )
    ShareLink.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Forbidden):
        services.share_link_revoke(link=revoked, actor=other)
    services.share_link_revoke(link=revoked, actor=owner)
    services.share_link_revoke(link=revoked, actor=owner)  # idempotent: one event

    assert selectors.share_link_resolve(key=expiring_key) is None
    assert selectors.share_link_resolve(key=revoked_key) is None
    assert selectors.share_link_resolve(key="sv_" + "x" * 43) is None
    assert selectors.share_link_resolve(key="") is None
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None
    assert AuditEvent.objects.filter(target_type="roadmap.sharelink", action="state_changed").count() == 1


def test_deleting_a_view_deletes_its_links_and_audits_both(workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner)
    link, key = services.share_link_create(
        view=view, actor=owner, expires_at=timezone.now() + timedelta(days=1)
    )

    view_id = view.pk
    services.saved_view_delete(view=view, actor=owner)

    assert SavedView.objects.count() == ShareLink.objects.count() == 0
    assert selectors.share_link_resolve(key=key) is None
    deleted = AuditEvent.objects.filter(action="deleted").values_list("target_type", "target_id")
    assert sorted(deleted) == [("roadmap.savedview", str(view_id)), ("roadmap.sharelink", str(link.pk))]


def test_a_non_member_is_not_found(workspace, other_workspace, member):
    stranger = member(other_workspace, Role.OWNER).user
    with pytest.raises(NotFound):
        services.saved_view_create(workspace=workspace, actor=stranger, name="X", kind="board")
