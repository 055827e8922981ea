from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from feedback import selectors
from feedback.models import DuplicateSuggestion, FeedbackItem, Segment
from feedback.selectors import VolumeSeries
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)  # a Wednesday


def at(day, hour=12):
    return datetime(2027, 1, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def volume_data(workspace, other_workspace):
    analytics = ProductFactory(workspace=workspace, name="Analytics")
    billing = ProductFactory(workspace=workspace, name="Billing")
    a1 = FeatureFactory(product=analytics)
    a2 = FeatureFactory(product=analytics)
    b1 = FeatureFactory(product=billing)
    linked_twice = FeedbackItemFactory(workspace=workspace, received_at=at(5), tags=["Mobile", "sync"])
    FeedbackLinkFactory(item=linked_twice, feature=a1)
    FeedbackLinkFactory(item=linked_twice, feature=a2)  # same product: counted once
    two_products = FeedbackItemFactory(workspace=workspace, received_at=at(12), tags=["mobile"])
    FeedbackLinkFactory(item=two_products, feature=a1)
    FeedbackLinkFactory(item=two_products, feature=b1)
    FeedbackItemFactory(workspace=workspace, received_at=at(19))  # unlinked, untagged
    monday_midnight = FeedbackItemFactory(workspace=workspace, received_at=at(18, 0), tags=["Sync"])
    FeedbackLinkFactory(item=monday_midnight, feature=b1)
    FeedbackItemFactory(workspace=workspace, received_at=at(3), tags=["mobile"])  # Sunday before the range
    FeedbackItemFactory(
        workspace=workspace, received_at=at(18), tags=["mobile"], merged_into=two_products
    )  # merged: its survivor counts
    FeedbackItemFactory(workspace=other_workspace, received_at=at(19), tags=["mobile"])
    return {"analytics": analytics, "billing": billing}


def test_volume_by_product_counts_an_item_once_per_product(workspace, volume_data):
    volume = selectors.feedback_volume(workspace=workspace, by="product", weeks=3, now=NOW)

    assert volume.by == "product"
    assert volume.weeks == [date(2027, 1, 4), date(2027, 1, 11), date(2027, 1, 18)]
    assert volume.series == [
        VolumeSeries(key=volume_data["analytics"].pk, label="Analytics", counts=[1, 1, 0]),
        VolumeSeries(key=volume_data["billing"].pk, label="Billing", counts=[0, 1, 1]),
        VolumeSeries(key=None, label="Not linked", counts=[0, 0, 1]),
    ]


def test_volume_by_tag_is_case_insensitive_and_counts_untagged_under_none(workspace, volume_data):
    volume = selectors.feedback_volume(workspace=workspace, by="tag", weeks=3, now=NOW)

    assert volume.series == [
        VolumeSeries(key="mobile", label="Mobile", counts=[1, 1, 0]),
        VolumeSeries(key="sync", label="Sync", counts=[1, 0, 1]),
        VolumeSeries(key=None, label="Untagged", counts=[0, 0, 1]),
    ]


def test_volume_of_one_week_is_the_current_week(workspace, volume_data):
    volume = selectors.feedback_volume(workspace=workspace, by="product", weeks=1, now=NOW)

    assert volume.weeks == [date(2027, 1, 18)]
    assert [(s.key, s.counts) for s in volume.series] == [(volume_data["billing"].pk, [1]), (None, [1])]


def test_top_features_rank_by_the_arr_of_distinct_requesting_companies(workspace, other_workspace):
    product = ProductFactory(workspace=workspace)
    initech = CompanyFactory(workspace=workspace, arr=1000)
    globex = CompanyFactory(workspace=workspace, arr=Decimal("500.25"))
    umbrella = CompanyFactory(workspace=workspace, arr=50)
    top, second, third, quiet = (FeatureFactory(product=product, title=t) for t in "ABCD")
    merged = FeatureFactory(product=product, merged_into=top)
    # top: Initech by feedback and by a vote (once), Globex by a vote.
    FeedbackLinkFactory(feature=top, item__company=initech)
    VoteFactory(feature=top, contact__company=initech)
    VoteFactory(feature=top, contact__company=globex)
    # second: Umbrella through the item's contact; plus anonymous feedback.
    FeedbackLinkFactory(feature=second, item__contact=ContactFactory(workspace=workspace, company=umbrella))
    FeedbackLinkFactory(feature=second)
    # third: a vote from a contact without a company.
    VoteFactory(feature=third)
    VoteFactory(feature=merged, contact__company=umbrella)
    elsewhere = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    VoteFactory(feature=elsewhere, contact__company=CompanyFactory(workspace=other_workspace, arr=10**6))

    ranked = selectors.top_features(workspace=workspace, limit=20)

    assert [
        (row.feature, row.arr, row.requesting_companies, row.feedback_count, row.votes_count)
        for row in ranked
    ] == [
        (top, Decimal("1500.25"), 2, 1, 2),
        (second, Decimal("50.00"), 1, 2, 0),
        (third, Decimal("0.00"), 0, 0, 1),
    ]
    assert quiet not in [row.feature for row in ranked]
    assert [row.feature for row in selectors.top_features(workspace=workspace, limit=1)] == [top]


def test_company_counts_follow_the_demand_rules(workspace):
    product = ProductFactory(workspace=workspace)
    a, b, c = (FeatureFactory(product=product) for _ in range(3))
    initech = CompanyFactory(workspace=workspace, name="Initech", segment=Segment.ENTERPRISE)
    quiet = CompanyFactory(workspace=workspace, name="Quiet")
    employee = ContactFactory(workspace=workspace, company=initech)
    own = FeedbackItemFactory(workspace=workspace, company=initech)
    via_contact = FeedbackItemFactory(workspace=workspace, contact=employee)
    FeedbackItemFactory(workspace=workspace, company=initech, merged_into=own)  # not counted
    FeedbackLinkFactory(item=own, feature=a)
    FeedbackLinkFactory(item=via_contact, feature=a)  # the same feature again
    FeedbackLinkFactory(item=via_contact, feature=b)
    VoteFactory(feature=b, contact=employee)
    VoteFactory(feature=c, contact=employee)

    rows = {
        company.name: (company.feedback_count, company.requested_feature_count)
        for company in selectors.company_list(workspace=workspace)
    }

    assert rows == {"Initech": (2, 3), "Quiet": (0, 0)}
    assert selectors.company_list(workspace=workspace).get(pk=quiet.pk).feedback_count == 0


def test_the_tag_filter_is_portable_exact_and_case_insensitive(workspace):
    mobile = FeedbackItemFactory(workspace=workspace, tags=["Mobile", "sync"])
    FeedbackItemFactory(workspace=workspace, tags=["mobile-app"])
    FeedbackItemFactory(workspace=workspace, tags=[])
    items = FeedbackItem.objects.filter(workspace=workspace)

    assert list(selectors.feedback_items_with_tag(items, "MOBILE")) == [mobile]
    assert list(selectors.feedback_items_with_tag(items, " sync ")) == [mobile]
    assert list(selectors.feedback_items_with_tag(items, "mobil")) == []


def test_search_matches_every_word_of_the_query(workspace):
    export = FeedbackItemFactory(workspace=workspace, text="Please let us export reports to CSV")
    FeedbackItemFactory(workspace=workspace, text="Export to PDF would be nice")
    items = FeedbackItem.objects.filter(workspace=workspace)

    assert list(selectors.feedback_items_matching(items, "export csv")) == [export]
    assert list(selectors.feedback_items_matching(items, "   ")) == list(items)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_search_on_postgresql_stems_and_can_use_the_gin_index(workspace):
    exports = FeedbackItemFactory(workspace=workspace, text="Exporting dashboards weekly")
    FeedbackItemFactory(workspace=workspace, text="Dark mode")
    items = FeedbackItem.objects.filter(workspace=workspace)
    matched = selectors.feedback_items_matching(items, "exports -pdf")

    assert list(matched) == [exports]
    # The query's expression is the index's: without a table scan (and with no workspace
    # btree to prefer, as a table this small would), the planner answers from the GIN index.
    unscoped = selectors.feedback_items_matching(FeedbackItem.objects.order_by(), "exports")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert "Bitmap Index Scan on feedback_item_text_search" in unscoped.explain()


# --- the team portal's feedback pages ------------------------------------------------------


def test_inbox_is_new_open_items_newest_first_by_default(workspace, other_workspace):
    old = FeedbackItemFactory(workspace=workspace, received_at=at(3))
    new = FeedbackItemFactory(workspace=workspace, received_at=at(9))
    FeedbackItemFactory(workspace=workspace, state="archived")
    FeedbackItemFactory(workspace=workspace, state="archived", merged_into=new)
    FeedbackItemFactory(workspace=other_workspace)

    assert list(selectors.feedback_inbox(workspace=workspace)) == [new, old]
    assert selectors.feedback_inbox(workspace=workspace, state="all").count() == 3
    assert selectors.feedback_inbox(workspace=workspace, state="archived").count() == 1
    assert selectors.feedback_inbox_state_counts(workspace=workspace) == {
        "new": 2,
        "reviewed": 0,
        "linked": 0,
        "archived": 1,
        "all": 3,
    }


def test_inbox_filters_and_counts_under_them(workspace):
    enterprise = CompanyFactory(workspace=workspace, segment=Segment.ENTERPRISE)
    slack = FeedbackItemFactory(
        workspace=workspace, source="slack", company=enterprise, tags=["SSO"], text="Okta login"
    )
    FeedbackItemFactory(workspace=workspace, source="slack", state="reviewed", text="Dark mode")
    FeedbackItemFactory(workspace=workspace, source="email", text="Okta groups")

    def ids(**filters):
        return list(selectors.feedback_inbox(workspace=workspace, state="all", **filters))

    assert ids(source="slack", query="okta") == [slack]
    assert ids(company_id=enterprise.pk) == [slack]
    assert ids(segment=Segment.ENTERPRISE) == [slack]
    assert ids(tag="sso") == [slack]
    counts = selectors.feedback_inbox_state_counts(workspace=workspace, source="slack")
    assert (counts["new"], counts["reviewed"], counts["all"]) == (1, 1, 2)


def test_inbox_next_goes_down_then_up_and_position_counts_rows_above(workspace):
    top = FeedbackItemFactory(workspace=workspace, received_at=at(9))
    tie_high = FeedbackItemFactory(workspace=workspace, received_at=at(5))
    tie_low = FeedbackItemFactory(workspace=workspace, received_at=at(5))
    bottom = FeedbackItemFactory(workspace=workspace, received_at=at(1))
    items = selectors.feedback_inbox(workspace=workspace)
    assert list(items) == [top, tie_low, tie_high, bottom]  # same time: higher id first

    assert selectors.feedback_inbox_next(items, item=top) == tie_low
    assert selectors.feedback_inbox_next(items, item=tie_low) == tie_high
    assert selectors.feedback_inbox_next(items, item=bottom) == tie_high
    assert selectors.feedback_inbox_position(items, item=tie_high) == 2
    assert selectors.feedback_inbox_position(items, item=top) == 0
    only = selectors.feedback_inbox(workspace=workspace).filter(pk=top.pk)
    assert selectors.feedback_inbox_next(only, item=top) is None


def test_triage_suggestions_merge_stored_and_live_without_repeats(workspace):
    item = FeedbackItemFactory(workspace=workspace, text="Please add single sign-on with Okta")
    twin = FeedbackItemFactory(workspace=workspace, text="Please add single sign-on with Okta!")
    dismissed = FeedbackItemFactory(workspace=workspace, text="please add single sign-on with okta")
    merged = FeedbackItemFactory(workspace=workspace, text="Something else", merged_into=twin)
    product = ProductFactory(workspace=workspace)
    sso = FeatureFactory(product=product, title="Single sign-on with Okta")
    linked = FeatureFactory(product=product, title="Okta")
    FeedbackLinkFactory(item=item, feature=linked)
    DuplicateSuggestion.objects.create(workspace=workspace, item=item, similar_item=twin, similarity=0.99)
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=dismissed, similarity=0.98, dismissed=True
    )
    DuplicateSuggestion.objects.create(workspace=workspace, item=item, similar_item=merged, similarity=0.97)
    DuplicateSuggestion.objects.create(workspace=workspace, item=item, similar_feature=linked, similarity=0.9)

    suggestions = selectors.feedback_triage_suggestions(item=item)

    assert [(s.item, s.suggestion is not None) for s in suggestions["items"]] == [(twin, True)]
    assert [(s.feature, s.suggestion) for s in suggestions["features"]] == [(sso, None)]


def test_linkable_features_leave_out_declined_and_merged_and_search_titles(workspace):
    product = ProductFactory(workspace=workspace)
    ranked = FeatureFactory(product=product, title="Export to CSV", priority_rank=1)
    unranked = FeatureFactory(product=product, title="Export to PDF")
    FeatureFactory(product=product, title="Export to XML", status="declined")
    FeatureFactory(product=product, title="Export to XLS", merged_into=ranked)

    assert list(selectors.linkable_features(workspace=workspace)) == [ranked, unranked]
    assert list(selectors.linkable_features(workspace=workspace, query="pdf export")) == [unranked]
    assert list(selectors.linkable_features(workspace=workspace, limit=1)) == [ranked]


def test_company_directory_filters_and_sorts(workspace):
    big = CompanyFactory(workspace=workspace, name="Big", arr=Decimal("900"), segment=Segment.ENTERPRISE)
    small = CompanyFactory(workspace=workspace, name="Small", arr=Decimal("10"), lifecycle_stage="churned")
    mid = CompanyFactory(workspace=workspace, name="Mid", arr=Decimal("50"), domain="mid.example")
    FeedbackItemFactory(workspace=workspace, company=small)
    FeedbackItemFactory(workspace=workspace, company=small)
    FeedbackItemFactory(workspace=workspace, company=mid)

    def names(**kwargs):
        return [c.name for c in selectors.company_directory(workspace=workspace, **kwargs)]

    assert names() == ["Big", "Mid", "Small"]
    assert names(sort="-arr") == ["Big", "Mid", "Small"]
    assert names(sort="arr") == ["Small", "Mid", "Big"]
    assert names(sort="-feedback") == ["Small", "Mid", "Big"]
    assert names(sort="unknown") == ["Big", "Mid", "Small"]
    assert names(segment=Segment.ENTERPRISE) == [big.name]
    assert names(lifecycle_stage="churned") == [small.name]
    assert names(query="MID.EXAMPLE") == [mid.name]


def test_company_feedback_and_votes_include_their_contacts(workspace):
    company = CompanyFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace, company=company)
    own = FeedbackItemFactory(workspace=workspace, company=company, received_at=at(2))
    via_contact = FeedbackItemFactory(workspace=workspace, contact=contact, received_at=at(5))
    FeedbackItemFactory(workspace=workspace, contact=contact, company=CompanyFactory(workspace=workspace))
    FeedbackItemFactory(workspace=workspace, company=company, merged_into=own)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    vote = VoteFactory(feature=feature, contact=contact)
    VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace))

    assert list(selectors.company_feedback(company=company)) == [via_contact, own]
    assert list(selectors.company_votes(company=company)) == [vote]
    assert list(selectors.company_contacts(company=company)) == [contact]


def test_feature_linked_feedback_has_company_segment_arr_and_votes():
    feature = FeatureFactory()
    workspace = feature.workspace
    company = CompanyFactory(workspace=workspace, name="Initech", segment="enterprise", arr=Decimal(5000))
    contact = ContactFactory(workspace=workspace, company=company)
    FeedbackLinkFactory(feature=feature, item__contact=contact, importance="critical")
    FeedbackLinkFactory(feature=feature)
    FeedbackLinkFactory(feature=FeatureFactory(product=feature.product))
    VoteFactory(feature=feature)

    demand = selectors.feature_linked_feedback(feature=feature)

    assert (demand["total"], demand["votes"]) == (2, 1)
    rows = sorted(demand["rows"], key=lambda r: r.company_name)
    assert [(r.company_name, r.segment, r.arr, r.importance) for r in rows] == [
        ("", "", None, "Nice to have"),
        ("Initech", "Enterprise", Decimal("5000.00"), "Critical / deal-blocker"),
    ]
