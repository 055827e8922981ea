from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Q
from django.utils import timezone

from feedback import selectors, services
from feedback.models import Contact, DuplicateSuggestion, FeedbackItem, FeedbackLink, Segment, Vote
from priority.recompute import run as recompute_workspace
from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureDependency, FeatureStatus, ScoreState
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _clean(*features: Feature) -> None:
    Feature.objects.filter(pk__in=[f.pk for f in features]).update(score_state=ScoreState.CLEAN)


# --- ingestion -------------------------------------------------------------------


def test_ingest_creates_matches_people_audits_and_queues_duplicate_detection(
    workspace, member, django_capture_on_commit_callbacks
):
    user = member(workspace, Role.CONTRIBUTOR).user
    company = CompanyFactory(workspace=workspace, domain="initech.example")

    with django_capture_on_commit_callbacks() as callbacks:
        item, created = services.feedback_item_ingest(
            workspace=workspace,
            actor=user,
            data={
                "text": "  Please add SSO  ",
                "contact_email": "Peter@Initech.example",
                "contact_name": "Peter",
                "source": "sales_call",
                "source_ref": "call-1",
                "tags": ["Security", "security", " SSO "],
            },
        )

    assert created is True
    assert (item.text, item.match_text, item.source, item.tags) == (
        "Please add SSO",
        "sso",
        "sales_call",
        ["Security", "SSO"],
    )
    assert (item.contact.email, item.contact.company, item.company) == (
        "peter@initech.example",
        company,
        company,
    )
    assert item.duplicates_checked_at is None
    assert AuditEvent.objects.filter(target_type="feedback.feedbackitem", target_id=str(item.pk)).count() == 1
    assert [c.__qualname__ for c in callbacks] == [
        "enqueue productops.tasks.events_dispatch",  # the feedback.created event
        "enqueue feedback.tasks.find_duplicates",
    ]


def test_ingest_is_idempotent_by_source_reference(workspace):
    data = {"text": "Dark mode", "source": "intercom", "source_ref": "conv-9"}
    first, created_first = services.feedback_item_ingest(workspace=workspace, actor=None, data=data)
    second, created_second = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={**data, "text": "Dark mode (resent)"}
    )

    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert FeedbackItem.objects.count() == 1
    # The same reference from another source is another item.
    _, created = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={**data, "source": "slack"}
    )
    assert created is True


@pytest.mark.parametrize(
    ("data", "attr", "code"),
    [
        ({"text": "   "}, "text", "required"),
        ({"text": "x" * 20_001}, "text", "max_length"),
        ({"text": "ok", "source": "fax"}, "source", "invalid_choice"),
        ({"text": "ok", "importance": "urgent"}, "importance", "invalid_choice"),
        ({"text": "ok", "deal_value": "lots"}, "deal_value", "invalid"),
        ({"text": "ok", "deal_value": "-5"}, "deal_value", "out_of_range"),
        ({"text": "ok", "tags": "a,b"}, "tags", "invalid"),
        ({"text": "ok", "colour": "red"}, "colour", "unknown_field"),
        ({"text": "ok", "contact_email": "not-an-email"}, "contact_email", "invalid"),
        ({"text": "ok", "company_domain": "nobody.example"}, "company_domain", "does_not_exist"),
    ],
)
def test_ingest_refuses_bad_input_and_writes_nothing(workspace, data, attr, code):
    with pytest.raises(ValidationFailed) as error:
        services.feedback_item_ingest(workspace=workspace, actor=None, data=data)

    assert (error.value.attr, error.value.code) == (attr, code)
    assert FeedbackItem.objects.count() == 0
    assert Contact.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_ingest_refuses_another_workspace_contact(workspace, other_workspace):
    stranger = ContactFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed) as error:
        services.feedback_item_ingest(
            workspace=workspace, actor=None, data={"text": "hi", "contact": stranger}
        )

    assert error.value.attr == "contact"
    assert FeedbackItem.objects.count() == 0


def test_a_viewer_cannot_ingest(workspace, member):
    viewer = member(workspace, Role.VIEWER).user

    with pytest.raises(Forbidden):
        services.feedback_item_ingest(workspace=workspace, actor=viewer, data={"text": "hi"})

    assert FeedbackItem.objects.count() == 0


def test_bulk_ingest_reports_each_item_and_dedupes_references(workspace, django_capture_on_commit_callbacks):
    CompanyFactory(workspace=workspace, domain="globex.example", segment=Segment.ENTERPRISE)
    stored, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "old", "source": "api", "source_ref": "r1"}
    )
    items = [
        {"text": "SSO please", "source_ref": "r1"},  # stored before
        {"text": "Audit log", "source_ref": "r2", "contact_email": "ann@globex.example"},
        {"text": "Audit log again", "source_ref": "r2"},  # repeated within the call
        {"text": ""},
        "not an object",
        {"text": "No reference", "contact_email": "ANN@globex.example"},
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        results = services.feedback_items_ingest_bulk(workspace=workspace, actor=None, items=items)

    created = {r.index: r.id for r in results if r.status == "created"}
    assert [(r.index, r.status) for r in results] == [
        (0, "duplicate"),
        (1, "created"),
        (2, "duplicate"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "created"),
    ]
    assert results[0].id == stored.pk
    assert results[2].id == created[1]
    assert results[3].errors == [{"code": "required", "detail": "Text is required.", "attr": "text"}]
    assert FeedbackItem.objects.count() == 3
    ann = Contact.objects.get()
    assert (ann.email, ann.company.domain) == ("ann@globex.example", "globex.example")
    assert set(
        FeedbackItem.objects.filter(pk__in=created.values()).values_list("contact", "company__domain")
    ) == {(ann.pk, "globex.example")}
    assert AuditEvent.objects.filter(target_type="feedback.feedbackitem").count() == 3
    # Statistics first (a big import must not leave the planner on old row counts), then
    # the duplicate checks.
    assert [c.__qualname__ for c in callbacks] == [
        "enqueue feedback.tasks.analyze_after_import",
        "enqueue feedback.tasks.find_duplicates",
    ]


def test_bulk_ingest_refuses_more_than_the_limit(workspace):
    with pytest.raises(ValidationFailed) as error:
        services.feedback_items_ingest_bulk(workspace=workspace, actor=None, items=[{"text": "x"}] * 1001)

    assert error.value.attr == "items"
    assert FeedbackItem.objects.count() == 0


def test_bulk_items_with_an_overlong_or_bad_address_or_domain_are_invalid_items_not_a_failed_call(workspace):
    items = [
        {"text": "Long address", "contact_email": "a" * 250 + "@x.example"},
        {"text": "Long domain", "company_domain": "d" * 201},
        {"text": "Not an address", "contact_email": "nobody"},
        {"text": "Fine", "contact_email": "cy@x.example", "contact_name": "n" * 300},
    ]

    results = services.feedback_items_ingest_bulk(workspace=workspace, actor=None, items=items)

    assert [(r.status, [(e["attr"], e["code"]) for e in r.errors]) for r in results] == [
        ("invalid", [("contact_email", "max_length")]),
        ("invalid", [("company_domain", "max_length")]),
        ("invalid", [("contact_email", "invalid")]),
        ("created", []),
    ]
    assert list(Contact.objects.values_list("email", "name")) == [("cy@x.example", "n" * 200)]
    assert FeedbackItem.objects.count() == 1


# --- triage, links, votes --------------------------------------------------------------


def test_triage_states_follow_the_workflow(workspace, member):
    user = member(workspace, Role.CONTRIBUTOR).user
    item = FeedbackItemFactory(workspace=workspace)

    item = services.feedback_item_change_state(item=item, to_state="reviewed", actor=user)
    item = services.feedback_item_change_state(item=item, to_state="archived", actor=user)
    assert item.state == "archived"
    with pytest.raises(ValidationFailed) as error:
        services.feedback_item_change_state(item=item, to_state="linked", actor=user)
    assert error.value.code == "link_required"

    reopened = services.feedback_item_change_state(item=item, to_state="new", actor=user)
    assert reopened.state == "new"
    assert list(
        AuditEvent.objects.filter(action="state_changed", target_id=str(item.pk))
        .order_by("id")
        .values_list("changes", flat=True)
    ) == [{"state": ["new", "reviewed"]}, {"state": ["reviewed", "archived"]}, {"state": ["archived", "new"]}]


def test_bulk_state_change_is_all_or_nothing(workspace, other_workspace):
    mine = FeedbackItemFactory(workspace=workspace)
    theirs = FeedbackItemFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed):
        services.feedback_items_change_state(
            workspace=workspace, item_ids=[mine.pk, theirs.pk], to_state="archived", actor=None
        )

    assert FeedbackItem.objects.get(pk=mine.pk).state == "new"


def test_linking_marks_the_item_linked_and_the_feature_dirty_and_unlinking_reverts(workspace, member):
    user = member(workspace, Role.CONTRIBUTOR).user
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    _clean(feature)
    item = FeedbackItemFactory(workspace=workspace)

    link = services.feedback_link_create(item=item, feature=feature, importance="critical", actor=user)
    again = services.feedback_link_create(item=item, feature=feature, importance="important", actor=user)

    assert again.pk == link.pk
    assert FeedbackLink.objects.get().importance == "important"
    assert FeedbackItem.objects.get(pk=item.pk).state == "linked"
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY

    _clean(feature)
    services.feedback_link_delete(link=FeedbackLink.objects.get(), actor=user)

    assert FeedbackLink.objects.count() == 0
    assert FeedbackItem.objects.get(pk=item.pk).state == "reviewed"
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY


def test_links_and_votes_refuse_declined_merged_and_foreign_features(workspace, other_workspace):
    product = ProductFactory(workspace=workspace)
    declined = FeatureFactory(product=product, status=FeatureStatus.DECLINED)
    survivor = FeatureFactory(product=product)
    merged = FeatureFactory(product=product, merged_into=survivor)
    foreign = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    item = FeedbackItemFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)

    with pytest.raises(Conflict) as declined_error:
        services.feedback_link_create(item=item, feature=declined, actor=None)
    with pytest.raises(Conflict) as merged_error:
        services.vote_cast(contact=contact, feature=merged)
    with pytest.raises(ValidationFailed):
        services.vote_cast(contact=contact, feature=foreign)

    assert declined_error.value.code == "feature_declined"
    assert (merged_error.value.code, merged_error.value.extra) == (
        "feature_merged",
        {"merged_into": survivor.pk},
    )
    assert FeedbackLink.objects.count() == Vote.objects.count() == 0


def test_vote_remove_is_idempotent(workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    contact = ContactFactory(workspace=workspace)
    services.vote_cast(contact=contact, feature=feature)

    assert services.vote_remove(contact=contact, feature=feature) is True
    assert services.vote_remove(contact=contact, feature=feature) is False
    assert Vote.objects.count() == 0


def test_a_new_arr_or_a_contact_moving_company_marks_what_they_asked_for_dirty(workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    other = FeatureFactory(product=feature.product)
    company = CompanyFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    services.vote_cast(contact=contact, feature=feature)
    _clean(feature, other)

    services.contact_update(contact=contact, actor=None, data={"company": company})
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY
    assert Feature.objects.get(pk=other.pk).score_state == ScoreState.CLEAN

    _clean(feature)
    services.company_update(company=company, actor=None, data={"arr": Decimal("120000")})
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY


def test_company_domain_is_normalised_and_unique_per_workspace(workspace, other_workspace):
    company = services.company_create(
        workspace=workspace,
        actor=None,
        data={"name": "Initech", "domain": "https://www.Initech.example/about"},
    )
    assert company.domain == "initech.example"

    with pytest.raises(ValidationFailed) as error:
        services.company_create(
            workspace=workspace, actor=None, data={"name": "Dup", "domain": "INITECH.example"}
        )
    assert (error.value.attr, error.value.code) == ("domain", "unique")
    services.company_create(
        workspace=other_workspace, actor=None, data={"name": "Twin", "domain": "initech.example"}
    )


def test_company_delete_needs_a_product_manager_and_reweighs_demand(workspace, member):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    company = CompanyFactory(workspace=workspace)
    link = FeedbackLinkFactory(
        feature=FeatureFactory(product=ProductFactory(workspace=workspace)),
        item__company=company,
    )
    _clean(link.feature)

    with pytest.raises(Forbidden):
        services.company_delete(company=company, actor=contributor)
    services.company_delete(company=company, actor=None)

    assert FeedbackItem.objects.get(pk=link.item_id).company is None
    assert Feature.objects.get(pk=link.feature_id).score_state == ScoreState.DIRTY


def test_account_owners_are_members_set_by_product_managers_and_audited(workspace, other_workspace, member):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    sales = member(workspace, Role.VIEWER).user
    contributor = member(workspace, Role.CONTRIBUTOR).user
    outsider = member(other_workspace, Role.OWNER).user
    company = CompanyFactory(workspace=workspace)

    with pytest.raises(Forbidden):
        services.company_account_owners_set(company=company, owners=[sales], actor=contributor)
    with pytest.raises(ValidationFailed) as refused:
        services.company_account_owners_set(company=company, owners=[sales, outsider], actor=pm)
    assert (refused.value.attr, refused.value.code) == ("account_owners", "does_not_exist")
    assert list(company.account_owners.all()) == []
    assert not AuditEvent.objects.filter(target_type="feedback.company").exists()

    services.company_account_owners_set(company=company, owners=[sales, sales], actor=pm)
    services.company_account_owners_set(company=company, owners=[sales], actor=pm)  # no change

    assert list(company.account_owners.all()) == [sales]
    events = AuditEvent.objects.filter(target_type="feedback.company", target_id=str(company.pk))
    assert [e.changes for e in events] == [{"account_owners": [[], [sales.pk]]}]


def test_a_company_is_marked_do_not_contact_through_its_update(workspace):
    company = CompanyFactory(workspace=workspace)

    services.company_update(company=company, actor=None, data={"do_not_contact": True})

    company.refresh_from_db()
    assert company.do_not_contact is True


# --- duplicates -------------------------------------------------------------------------


def test_duplicate_detection_finds_a_near_duplicate_and_the_feature_not_an_unrelated_item(workspace):
    product = ProductFactory(workspace=workspace)
    sso = FeatureFactory(product=product, title="SAML single sign-on")
    FeatureFactory(product=product, title="Dark mode")
    original, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "We need SAML single sign-on with Okta for our team"}
    )
    unrelated, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "The export to PDF cuts off the last column"}
    )
    new, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "we need SAML single sign on with Okta for the team!"}
    )

    suggestions = services.duplicates_find(item_id=new.pk)

    by_target = {(getattr(s.other_item(new.pk), "pk", None), s.similar_feature_id): s for s in suggestions}
    assert set(by_target) == {(original.pk, None), (None, sso.pk)}
    assert by_target[(original.pk, None)].similarity > 0.6
    assert by_target[(None, sso.pk)].similarity > 0.9
    # The pair is stored once, the lower id first, and is the original's suggestion too.
    pair = by_target[(original.pk, None)]
    assert (pair.item_id, pair.similar_item_id) == (original.pk, new.pk)
    assert [s.pk for s in services.duplicates_find(item_id=original.pk) if s.similar_item_id] == [pair.pk]
    assert unrelated.pk not in [s.similar_item_id for s in suggestions]
    assert FeedbackItem.objects.get(pk=new.pk).duplicates_checked_at is not None
    # Safe to run twice.
    services.duplicates_find(item_id=new.pk)
    assert DuplicateSuggestion.objects.filter(Q(item=new) | Q(similar_item=new)).count() == 2


def test_duplicate_detection_ignores_other_workspaces_archived_and_merged_items(workspace, other_workspace):
    text = "Please support exporting dashboards as PowerPoint slides"
    services.feedback_item_ingest(workspace=other_workspace, actor=None, data={"text": text})
    archived = FeedbackItemFactory(workspace=workspace, text=text, state="archived")
    target = FeedbackItemFactory(workspace=workspace, text="something else entirely")
    FeedbackItemFactory(workspace=workspace, text=text, merged_into=target)
    new, _ = services.feedback_item_ingest(workspace=workspace, actor=None, data={"text": text})

    assert services.duplicates_find(item_id=new.pk) == []
    assert archived.pk  # present, yet not suggested


def test_the_sweep_lists_unchecked_items_oldest_first(workspace):
    checked = FeedbackItemFactory(workspace=workspace, duplicates_checked_at=timezone.now())
    first = FeedbackItemFactory(workspace=workspace)
    second = FeedbackItemFactory(workspace=workspace)

    assert services.duplicates_pending() == [first.pk, second.pk]
    assert checked.pk not in services.duplicates_pending()


# --- merges -------------------------------------------------------------------------------


def test_merging_items_keeps_each_items_links_archives_the_source_and_redirects(workspace, member):
    user = member(workspace, Role.CONTRIBUTOR).user
    product = ProductFactory(workspace=workspace)
    shared, only_source = FeatureFactory(product=product), FeatureFactory(product=product)
    company = CompanyFactory(workspace=workspace)
    target = FeedbackItemFactory(workspace=workspace, company=company, tags=["sso"])
    source = FeedbackItemFactory(workspace=workspace, company=company, tags=["SSO", "okta"])
    earlier = FeedbackItemFactory(
        workspace=workspace,
        merged_into=source,
        state="archived",
        received_at=source.received_at - timedelta(days=1),
    )
    services.feedback_link_create(item=target, feature=shared, importance="nice_to_have", actor=None)
    services.feedback_link_create(item=source, feature=shared, importance="critical", actor=None)
    services.feedback_link_create(item=source, feature=only_source, importance="important", actor=None)
    links_before = set(FeedbackLink.objects.values_list("item_id", "feature_id", "importance"))

    merged = services.feedback_items_merge(source=source, target=target, actor=user)

    assert set(FeedbackLink.objects.values_list("item_id", "feature_id", "importance")) == links_before
    assert (merged.tags, merged.state) == (["sso", "okta"], "linked")
    source.refresh_from_db()
    assert (source.merged_into_id, source.state) == (target.pk, "archived")
    assert FeedbackItem.objects.get(pk=earlier.pk).merged_into_id == target.pk
    assert AuditEvent.objects.filter(action="merged").count() == 2
    recompute_workspace(workspace_id=workspace.pk)
    shared.refresh_from_db()
    # One company: counted once, with its strongest request (critical, from the source).
    assert shared.requesting_companies == 1
    assert shared.score_customer_impact == pytest.approx(4.0)
    also = selectors.feedback_item_also_asked_by(item=target)
    assert [(row.pk, asker) for row, asker in also["rows"]] == [(source.pk, company), (earlier.pk, None)]
    assert also["total"] == 2


def test_merging_items_of_two_companies_keeps_both_companies_demand(workspace):
    """The repro of issue 10: Small (nice to have) and Mid (important) both link F; merging
    Mid's item into Small's must neither drop Mid nor credit Small with Mid's importance."""
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    small = CompanyFactory(workspace=workspace, name="Small", segment="smb", arr=Decimal(10_000))
    mid = CompanyFactory(workspace=workspace, name="Mid", segment="mid_market", arr=Decimal(500_000))
    third = CompanyFactory(workspace=workspace, name="Third", segment="smb")
    item_a = FeedbackItemFactory(workspace=workspace, company=small)
    item_b = FeedbackItemFactory(workspace=workspace, company=mid)
    services.feedback_link_create(item=item_a, feature=feature, importance="nice_to_have", actor=None)
    services.feedback_link_create(item=item_b, feature=feature, importance="important", actor=None)
    services.feedback_link_create(
        item=FeedbackItemFactory(workspace=workspace, company=third), feature=feature, actor=None
    )
    recompute_workspace(workspace_id=workspace.pk)
    feature.refresh_from_db()
    before = (feature.requesting_companies, feature.score_customer_impact)
    top_before = selectors.top_features(workspace=workspace)[0]

    services.feedback_items_merge(source=item_b, target=item_a, actor=None)
    roadmap_services.features_mark_dirty(workspace_id=workspace.pk)  # whatever is marked, nothing moves
    recompute_workspace(workspace_id=workspace.pk)

    feature.refresh_from_db()
    assert (feature.requesting_companies, feature.score_customer_impact) == before
    assert before[0] == 3
    top_after = selectors.top_features(workspace=workspace)[0]
    assert (top_after.arr, top_after.requesting_companies) == (top_before.arr, 3)
    assert top_after.arr == Decimal("510000.00")


def test_merging_an_item_into_itself_or_twice_is_refused(workspace):
    a, b = FeedbackItemFactory(workspace=workspace), FeedbackItemFactory(workspace=workspace)

    with pytest.raises(ValidationFailed):
        services.feedback_items_merge(source=a, target=a, actor=None)
    services.feedback_items_merge(source=a, target=b, actor=None)
    with pytest.raises(Conflict):
        services.feedback_items_merge(source=a, target=b, actor=None)
    with pytest.raises(Conflict):
        services.feedback_items_merge(source=b, target=a, actor=None)


def test_merging_features_keeps_every_vote_and_link_without_double_counting(workspace, member):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    product = ProductFactory(workspace=workspace)
    target = FeatureFactory(product=product, title="SSO", reach=10, impact=1, confidence_pct=100, effort=1)
    source = FeatureFactory(product=product, title="SAML login")
    dependant = FeatureFactory(product=product)
    FeatureDependency.objects.create(workspace=workspace, feature=dependant, depends_on=source)
    company = CompanyFactory(workspace=workspace, segment=Segment.ENTERPRISE, arr=Decimal("100000"))
    both, only_source = (
        ContactFactory(workspace=workspace, company=company),
        ContactFactory(workspace=workspace),
    )
    for contact in (both,):
        services.vote_cast(contact=contact, feature=target)
    for contact in (both, only_source):
        services.vote_cast(contact=contact, feature=source)
    item = FeedbackItemFactory(workspace=workspace, company=company)
    services.feedback_link_create(item=item, feature=target, importance="important", actor=None)
    services.feedback_link_create(item=item, feature=source, importance="critical", actor=None)
    other_item = FeedbackItemFactory(workspace=workspace)
    services.feedback_link_create(item=other_item, feature=source, actor=None)

    roadmap_services.feature_merge(source=source, target=target, actor=pm)

    assert set(Vote.objects.values_list("contact_id", "feature_id")) == {
        (both.pk, target.pk),
        (only_source.pk, target.pk),
    }
    assert set(FeedbackLink.objects.values_list("item_id", "feature_id", "importance")) == {
        (item.pk, target.pk, "critical"),
        (other_item.pk, target.pk, "nice_to_have"),
    }
    source.refresh_from_db()
    assert (source.status, source.merged_into_id) == (FeatureStatus.DECLINED, target.pk)
    assert source.status_changes.latest("id").reason == f"Merged into #{target.pk} SSO"
    assert list(FeatureDependency.objects.values_list("feature_id", "depends_on_id")) == [
        (dependant.pk, target.pk)
    ]
    recompute_workspace(workspace_id=workspace.pk)
    target.refresh_from_db()
    # The company, the company-less voter and the company-less item: three requesters, one company.
    assert target.requesting_companies == 1
    assert AuditEvent.objects.filter(action="merged", target_id=str(target.pk)).count() == 1


def test_feature_merge_refusals_write_nothing(workspace, member):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    product = ProductFactory(workspace=workspace)
    a, b = FeatureFactory(product=product), FeatureFactory(product=product)
    shipped = FeatureFactory(product=product, status=FeatureStatus.SHIPPED)
    foreign = FeatureFactory(product=ProductFactory(workspace=WorkspaceFactory()))
    contact = ContactFactory(workspace=workspace)
    services.vote_cast(contact=contact, feature=a)

    with pytest.raises(Forbidden):
        roadmap_services.feature_merge(source=a, target=b, actor=contributor)
    with pytest.raises(ValidationFailed):
        roadmap_services.feature_merge(source=a, target=a, actor=None)
    with pytest.raises(ValidationFailed):
        roadmap_services.feature_merge(source=foreign, target=a, actor=None)
    with pytest.raises(Conflict):
        roadmap_services.feature_merge(source=shipped, target=a, actor=None)

    assert list(Vote.objects.values_list("feature_id", flat=True)) == [a.pk]
    assert not Feature.objects.filter(merged_into__isnull=False).exists()
    assert AuditEvent.objects.filter(action="merged").count() == 0


def test_merging_needs_membership(workspace, other_workspace, member):
    outsider = member(other_workspace, Role.OWNER).user
    a, b = FeedbackItemFactory(workspace=workspace), FeedbackItemFactory(workspace=workspace)

    with pytest.raises(NotFound):
        services.feedback_items_merge(source=a, target=b, actor=outsider)

    assert FeedbackItem.objects.filter(merged_into__isnull=False).count() == 0


def test_recency_of_received_at_is_kept_on_ingest(workspace):
    when = timezone.now() - timedelta(days=30)

    item, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "x", "received_at": when}
    )

    assert item.received_at == when


def test_an_item_with_links_stays_linked_until_archived_and_reopens_linked(workspace):
    item = FeedbackItemFactory(workspace=workspace)
    services.feedback_link_create(
        item=item, feature=FeatureFactory(product=ProductFactory(workspace=workspace)), actor=None
    )

    with pytest.raises(ValidationFailed) as error:
        services.feedback_item_change_state(item=item, to_state="reviewed", actor=None)
    assert error.value.code == "invalid_transition"
    archived = services.feedback_item_change_state(item=item, to_state="archived", actor=None)
    reopened = services.feedback_item_change_state(item=archived, to_state="new", actor=None)

    assert reopened.state == "linked"
    assert list(
        AuditEvent.objects.filter(action="state_changed", target_id=str(item.pk))
        .order_by("id")
        .values_list("changes", flat=True)
    ) == [{"state": ["linked", "archived"]}, {"state": ["archived", "linked"]}]


def test_linking_many_items_is_all_or_nothing(workspace, owner, other_workspace):
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product)
    mine = [FeedbackItemFactory(workspace=workspace) for _ in range(3)]
    theirs = FeedbackItemFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed) as refused:
        services.feedback_items_link(
            workspace=workspace, item_ids=[mine[0].pk, theirs.pk], feature=feature, actor=owner
        )
    assert refused.value.detail == f"Not found in this workspace: [{theirs.pk}]."
    assert FeedbackLink.objects.count() == 0

    links = services.feedback_items_link(
        workspace=workspace,
        item_ids=[i.pk for i in mine],
        feature=feature,
        importance="critical",
        actor=owner,
    )
    assert sorted(link.item_id for link in links) == sorted(i.pk for i in mine)
    assert set(FeedbackItem.objects.filter(pk__in=[i.pk for i in mine]).values_list("state", flat=True)) == {
        "linked"
    }
    assert set(FeedbackLink.objects.values_list("importance", flat=True)) == {"critical"}
