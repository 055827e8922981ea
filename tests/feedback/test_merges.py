"""Property: merges never change who asks for a feature, or how strongly.

Hypothesis builds random workspaces (companies, contacts, items, links, votes) and random
sequences of item and feature merges. A plain model of the demand is carried alongside:
an item merge changes nothing in it (the source keeps its links, so its company still
counts, with the importance it gave); a feature merge moves the source feature's requests
to the target. After the merges the recompute's stored scores must equal the reference
formulas applied to the model, and to what ``demand_signals_for_feature`` reads.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback import services
from feedback.models import Company, Contact, FeedbackItem, FeedbackLink, Vote
from priority import formulas
from priority.demand import demand_signals_for_feature
from priority.recompute import run as recompute
from productops.errors import DomainError
from roadmap import services as roadmap_services
from roadmap.models import DEFAULT_IMPORTANCE_WEIGHTS, DEFAULT_SEGMENT_WEIGHTS, Feature
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
IMPORTANCE = ["nice_to_have", "important", "critical"]
SEGMENTS = ["enterprise", "mid_market", "smb", ""]

workspaces = st.fixed_dictionaries(
    {
        "companies": st.lists(
            st.tuples(st.sampled_from(SEGMENTS), st.sampled_from([0, 5_000, 250_000, 3_000_000])),
            min_size=1,
            max_size=4,
        ),
        # A contact: the index of its company, or None.
        "contacts": st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=4),
        # An item: (company index or None, contact index or None, age in days).
        "items": st.lists(
            st.tuples(
                st.one_of(st.none(), st.integers(0, 3)),
                st.one_of(st.none(), st.integers(0, 3)),
                st.integers(0, 400),
            ),
            min_size=2,
            max_size=6,
        ),
        "features": st.integers(1, 3),
        "links": st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from(IMPORTANCE)), max_size=10
        ),
        "votes": st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=6),
        "merges": st.lists(
            st.tuples(st.sampled_from(["item", "feature"]), st.integers(0, 5), st.integers(0, 5)), max_size=5
        ),
    }
)


def _build(spec):
    workspace = WorkspaceFactory()
    product = ProductFactory(workspace=workspace)
    companies = [
        Company.objects.create(workspace=workspace, name=f"Co {i}", segment=segment, arr=Decimal(arr))
        for i, (segment, arr) in enumerate(spec["companies"])
    ]
    contacts = [
        Contact.objects.create(
            workspace=workspace,
            email=f"p{i}@example.com",
            company=companies[c] if c is not None and c < len(companies) else None,
        )
        for i, c in enumerate(spec["contacts"])
    ]
    items = []
    for company, contact, age in spec["items"]:
        items.append(
            FeedbackItem.objects.create(
                workspace=workspace,
                text="Same ask",
                company=companies[company] if company is not None and company < len(companies) else None,
                contact=contacts[contact] if contact is not None and contact < len(contacts) else None,
                received_at=NOW - timedelta(days=age),
            )
        )
    features = [FeatureFactory(product=product, title=f"F{i}") for i in range(spec["features"])]
    for item, feature, importance in spec["links"]:
        if item < len(items) and feature < len(features):
            FeedbackLink.objects.update_or_create(
                item=items[item],
                feature=features[feature],
                defaults={"workspace": workspace, "importance": importance},
            )
    for contact, feature in spec["votes"]:
        if contact < len(contacts) and feature < len(features):
            Vote.objects.get_or_create(
                workspace=workspace, contact=contacts[contact], feature=features[feature]
            )
    return workspace, items, features


def _requests(feature_ids) -> dict[int, dict[str, tuple[float, bool]]]:
    """The model: per feature, per company key, its strongest request weight and whether the
    key is a real company, read before any merge."""
    model: dict[int, dict[str, tuple[float, bool]]] = {}
    for feature_id in feature_ids:
        best: dict[str, tuple[float, bool]] = {}
        for signal in demand_signals_for_feature(feature_id=feature_id, arr_rates={"USD": 1.0}):
            weight = formulas.signal_weight(
                signal,
                now=NOW,
                importance_weights=DEFAULT_IMPORTANCE_WEIGHTS,
                vote_weight=1.0,
                half_life_days=180.0,
            ) * formulas.company_weight(
                segment=signal.segment, arr=signal.arr, segment_weights=DEFAULT_SEGMENT_WEIGHTS
            )
            previous = best.get(signal.company_key, (0.0, False))[0]
            best[signal.company_key] = (max(previous, weight), signal.company_id is not None)
        model[feature_id] = best
    return model


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=workspaces)
def test_merges_never_change_who_asks_or_how_strongly(spec):
    with transaction.atomic():
        workspace, items, features = _build(spec)
        model = _requests([f.pk for f in features])
        for kind, a, b in spec["merges"]:
            try:
                if kind == "item" and a < len(items) and b < len(items):
                    services.feedback_items_merge(source=items[a], target=items[b], actor=None)
                elif kind == "feature" and a < len(features) and b < len(features):
                    source, target = features[a], features[b]
                    roadmap_services.feature_merge(source=source, target=target, actor=None)
                    # The target now answers for both; per company the strongest request.
                    for key, (weight, real) in model.pop(source.pk).items():
                        kept = model[target.pk].get(key, (0.0, real))
                        model[target.pk][key] = (max(kept[0], weight), real)
                    model[source.pk] = {}
            except DomainError:
                pass  # refused (itself, merged already, declined target): nothing changed
            for feature in features:
                feature.refresh_from_db()
            for item in items:
                item.refresh_from_db()

        assert recompute(workspace_id=workspace.pk, now=NOW).failed is False
        for feature in Feature.objects.filter(workspace=workspace):
            expected = model[feature.pk]
            assert feature.requesting_companies == sum(1 for _, real in expected.values() if real)
            assert feature.score_customer_impact == pytest.approx(
                sum(w for w, _ in expected.values()), rel=1e-9
            )
            live, companies, _ = formulas.customer_impact(
                demand_signals_for_feature(feature_id=feature.pk, arr_rates={"USD": 1.0}),
                now=NOW,
                importance_weights=DEFAULT_IMPORTANCE_WEIGHTS,
                segment_weights=DEFAULT_SEGMENT_WEIGHTS,
                vote_weight=1.0,
                half_life_days=180.0,
            )
            assert (companies, live) == (
                feature.requesting_companies,
                pytest.approx(feature.score_customer_impact),
            )
        transaction.set_rollback(True)
