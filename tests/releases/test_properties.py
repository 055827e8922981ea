"""Property: whatever people do to releases and their scope (add, move, remove, set states,
merge features, cancel, ship, force), the invariants hold."""

from __future__ import annotations

import contextlib

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from productops.errors import DomainError
from productops.models import Event
from releases import services
from releases.models import OPEN_STATUSES, Release, ReleaseStatus, ScopeItem, ScopeOutcome, ScopeState
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatus, FeatureStatusChange
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

FEATURES = 6
RELEASES = 3
operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["add", "add", "state", "must", "move", "remove", "merge", "cancel", "ship", "force"]
        ),
        st.integers(0, FEATURES - 1),
        st.integers(0, RELEASES - 1),
        st.sampled_from(list(ScopeState.values)),
    ),
    max_size=25,
)
specs = st.fixed_dictionaries(
    {
        # (i, j) with i < j: feature j depends on feature i, so the graph has no cycle.
        "dependencies": st.lists(
            st.tuples(st.integers(0, FEATURES - 2), st.integers(1, FEATURES - 1)), max_size=5
        ),
        "operations": operations,
    }
)


def _build(spec):
    workspace = WorkspaceFactory()
    product = ProductFactory(workspace=workspace)
    features = [
        FeatureFactory(product=product, title=f"F{i}", status=FeatureStatus.IN_PROGRESS)
        for i in range(FEATURES)
    ]
    for i, j in spec["dependencies"]:
        if i < j:
            with contextlib.suppress(DomainError):  # already there
                roadmap_services.feature_add_dependency(
                    feature=features[j], depends_on=features[i], actor=None
                )
    releases = [
        Release.objects.create(
            workspace=workspace,
            product=product,
            name=f"R{n}",
            version=f"1.{n}.0",
            planned_date=timezone.localdate(),
            notes="Notes.",
        )
        for n in range(RELEASES)
    ]
    return features, releases


def _apply(kind, feature, release, state):
    open_item = ScopeItem.objects.filter(feature=feature, is_open=True).first()
    if kind == "add":
        services.scope_add(release=release, feature=feature, actor=None, data={"state": state})
    elif kind == "state" and open_item:
        services.scope_update(item=open_item, actor=None, data={"state": state})
    elif kind == "must" and open_item:
        services.scope_update(item=open_item, actor=None, data={"is_must_have": not open_item.is_must_have})
    elif kind == "move" and open_item:
        services.scope_move(item=open_item, to_release=release, actor=None)
    elif kind == "remove" and open_item:
        services.scope_remove(item=open_item, actor=None)
    elif kind == "merge":
        others = ScopeItem.objects.filter(release=release, is_open=True).exclude(feature=feature).first()
        if others:
            roadmap_services.feature_merge(source=feature, target=others.feature, actor=None)
    elif kind == "cancel":
        services.release_cancel(release=release, actor=None)
    elif kind in ("ship", "force"):
        services.release_ship(release=release, actor=None, force=kind == "force", reason="Property test")


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=specs)
def test_scope_and_shipping_invariants(spec):
    with transaction.atomic():
        features, releases = _build(spec)
        for kind, f, r, state in spec["operations"]:
            try:
                with transaction.atomic():
                    _apply(kind, features[f], releases[r], state)
            except DomainError:
                pass  # refused: the savepoint rolled it back
            for obj in (*features, *releases):
                obj.refresh_from_db()

        items = list(ScopeItem.objects.select_related("release", "feature"))
        open_items = [i for i in items if i.is_open]
        # A feature is in at most one open release, and only open releases hold open rows.
        assert len({i.feature_id for i in open_items}) == len(open_items)
        assert all(i.release.status in OPEN_STATUSES for i in open_items)
        assert all(i.outcome for i in items if not i.is_open)
        for release in releases:
            events = Event.objects.filter(kind="release.shipped", subject_id=str(release.pk)).count()
            assert events == (1 if release.status == ReleaseStatus.RELEASED else 0)
        changes = {c.feature_id: c for c in FeatureStatusChange.objects.filter(to_status="shipped")}
        for item in items:
            if item.outcome == ScopeOutcome.SHIPPED:
                # Shipped with its release, after every dependency had shipped.
                assert item.feature.status == FeatureStatus.SHIPPED
                change = changes[item.feature_id]
                assert change.context["release"]["id"] == item.release_id
                for dependency in item.feature.depends_on.all():
                    assert dependency.status == FeatureStatus.SHIPPED
                    assert changes[dependency.pk].pk < change.pk
            if item.outcome == ScopeOutcome.CANCELLED:
                assert item.release.status == ReleaseStatus.CANCELLED
        # Nothing ships but through a release: every shipped feature has its shipped row.
        shipped = {f.pk for f in features if f.status == FeatureStatus.SHIPPED}
        assert shipped == {i.feature_id for i in items if i.outcome == ScopeOutcome.SHIPPED}
        transaction.set_rollback(True)
