from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import Company, Contact, DuplicateSuggestion, FeedbackItem, FeedbackLink, Segment, Vote
from priority.recompute import run as recompute_workspace
from productops.models import AuditEvent, IdempotencyKey, Role
from roadmap.models import Feature, FeatureStatus
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def url(workspace, resource, pk=None, action=None):
    base = f"/api/v1/workspaces/{workspace.slug}/{resource}/"
    if pk is not None:
        base += f"{pk}/"
    if action:
        base += f"{action}/"
    return base


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def error(code, detail, attr, error_type="validation_error"):
    return {"type": error_type, "errors": [{"code": code, "detail": detail, "attr": attr}], "request_id": ANY}


def feature_summary(feature):
    feature.refresh_from_db()
    return {
        "id": feature.pk,
        "title": feature.title,
        "status": feature.status,
        "horizon": feature.horizon or None,
        "product": feature.product_id,
        "team": feature.team_id,
        "effort": None,
        "planned_start": None,
        "target_date": None,
        "priority_score": feature.priority_score,
        "priority_rank": feature.priority_rank,
    }


def counts():
    """Rows of everything the feedback API writes, to check a failure wrote nothing."""
    return {
        "companies": Company.objects.count(),
        "contacts": Contact.objects.count(),
        "items": FeedbackItem.objects.count(),
        "links": FeedbackLink.objects.count(),
        "votes": Vote.objects.count(),
        "audit": AuditEvent.objects.count(),
        "keys": IdempotencyKey.objects.count(),
    }


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


@pytest.fixture
def contributor(workspace, member):
    return member(workspace, Role.CONTRIBUTOR).user


@pytest.fixture
def viewer(workspace, member):
    return member(workspace, Role.VIEWER).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Analytics")


@pytest.fixture
def feature(product):
    return FeatureFactory(product=product, title="SAML single sign-on")


@pytest.fixture
def initech(workspace):
    return CompanyFactory(workspace=workspace, name="Initech", domain="initech.example", segment="enterprise")


# --- companies ------------------------------------------------------------------------


def test_company_crud(workspace, pm, contributor, session_client):
    workspace.currency_rates = {"EUR": "1.08"}
    workspace.save()
    client = session_client(contributor)
    payload = {
        "name": "Initech",
        "domain": "https://www.Initech.example/about",
        "segment": "enterprise",
        "plan": "Pro",
        "arr": "120000.50",
        "arr_currency": "EUR",
        "lifecycle_stage": "prospect",
        "crm_external_id": "crm-1",
    }

    created = client.post(url(workspace, "companies"), payload)

    assert created.status_code == 201
    company_id = created.json()["id"]
    assert created.json() == {
        **payload,
        "id": company_id,
        "domain": "initech.example",
        "feedback_count": 0,
        "requested_feature_count": 0,
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert client.get(url(workspace, "companies", company_id)).json() == created.json()
    assert ids(client.get(url(workspace, "companies"))) == [company_id]

    updated = client.patch(url(workspace, "companies", company_id), {"arr": "90000", "segment": None})
    # "" is the deprecated spelling of "unknown": still accepted, answered as null.
    blank = client.patch(url(workspace, "companies", company_id), {"segment": ""})

    assert updated.status_code == 200
    assert (updated.json()["arr"], updated.json()["segment"], updated.json()["name"]) == (
        "90000.00",
        None,
        "Initech",
    )
    assert (blank.status_code, blank.json()["segment"]) == (200, None)

    refused = client.delete(url(workspace, "companies", company_id))

    assert refused.status_code == 403
    assert refused.json() == error(
        "permission_denied", "This needs the Product manager role or higher.", None, "client_error"
    )
    assert Company.objects.count() == 1
    assert session_client(pm).delete(url(workspace, "companies", company_id)).status_code == 204
    assert Company.objects.count() == 0


def test_company_detail_counts_feedback_and_requested_features(
    workspace, contributor, session_client, initech, product
):
    a, b = FeatureFactory(product=product), FeatureFactory(product=product)
    employee = ContactFactory(workspace=workspace, company=initech)
    FeedbackLinkFactory(feature=a, item__company=initech)
    FeedbackLinkFactory(feature=a, item__contact=employee)
    VoteFactory(feature=b, contact=employee)

    body = session_client(contributor).get(url(workspace, "companies", initech.pk)).json()

    assert (body["feedback_count"], body["requested_feature_count"]) == (2, 2)


def test_company_filters_search_and_ordering(workspace, contributor, session_client):
    big = CompanyFactory(workspace=workspace, name="Big", domain="big.example", segment="enterprise", arr=900)
    small = CompanyFactory(workspace=workspace, name="Small", domain="tiny.example", segment="smb", arr=10)
    gone = CompanyFactory(
        workspace=workspace,
        name="Gone",
        domain="gone.example",
        segment="smb",
        arr=50,
        lifecycle_stage="churned",
    )
    client = session_client(contributor)

    def listed(query):
        response = client.get(url(workspace, "companies") + "?" + query)
        assert response.status_code == 200
        return ids(response)

    assert listed("") == [big.pk, gone.pk, small.pk]
    assert listed("segment=smb") == [gone.pk, small.pk]
    assert listed("lifecycle_stage=churned") == [gone.pk]
    assert listed("search=tiny") == [small.pk]
    assert listed("search=big") == [big.pk]
    assert listed("ordering=-arr") == [big.pk, gone.pk, small.pk]
    assert listed("ordering=arr") == [small.pk, gone.pk, big.pk]
    bad = client.get(url(workspace, "companies") + "?segment=galactic")
    assert bad.status_code == 400
    assert [(e["attr"], e["code"]) for e in bad.json()["errors"]] == [("segment", "invalid_choice")]


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"name": "Copy", "domain": "INITECH.example"}, "domain", "unique"),
        ({"name": "X", "arr": "-1"}, "arr", "min_value"),
        ({"name": "X", "arr_currency": "dollars"}, "arr_currency", "invalid"),
        ({"name": "X", "segment": "galactic"}, "segment", "invalid_choice"),
        ({"name": ""}, "name", "blank"),
        ({"name": "X", "feedback_count": 3}, "feedback_count", "unknown_field"),
    ],
)
def test_bad_company_input_is_a_400_and_writes_nothing(
    workspace, contributor, session_client, initech, payload, attr, code
):
    before = counts()

    response = session_client(contributor).post(url(workspace, "companies"), payload)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert counts() == before


# --- contacts -------------------------------------------------------------------------


def test_contact_crud(workspace, pm, contributor, session_client, initech):
    other = CompanyFactory(workspace=workspace, name="Other")
    client = session_client(contributor)

    created = client.post(url(workspace, "contacts"), {"email": "Ann@Initech.example", "name": "Ann"})
    explicit = client.post(url(workspace, "contacts"), {"email": "bob@gmail.example", "company": other.pk})

    assert created.status_code == 201
    assert created.json() == {
        "id": ANY,
        "email": "ann@initech.example",
        "name": "Ann",
        "company": initech.pk,  # by the e-mail's domain
        "crm_external_id": "",
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert explicit.json()["company"] == other.pk
    contact_id = created.json()["id"]
    assert ids(client.get(url(workspace, "contacts") + f"?company={initech.pk}")) == [contact_id]
    assert ids(client.get(url(workspace, "contacts") + "?search=ann")) == [contact_id]
    assert ids(client.get(url(workspace, "contacts") + "?search=gmail")) == [explicit.json()["id"]]

    updated = client.patch(url(workspace, "contacts", contact_id), {"name": "Ann Smith", "company": None})

    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["company"]) == ("Ann Smith", None)
    duplicate = client.post(url(workspace, "contacts"), {"email": "ANN@initech.example"})
    assert duplicate.status_code == 400
    assert duplicate.json() == error("unique", "A contact with this email exists.", "email")
    assert client.delete(url(workspace, "contacts", contact_id)).status_code == 403
    assert session_client(pm).delete(url(workspace, "contacts", contact_id)).status_code == 204
    assert list(Contact.objects.values_list("email", flat=True)) == ["bob@gmail.example"]


# --- feedback items: CRUD -------------------------------------------------------------


def test_feedback_item_crud(workspace, pm, contributor, session_client, initech):
    contact = ContactFactory(workspace=workspace, company=initech, email="ann@initech.example")
    client = session_client(contributor)
    payload = {
        "text": "  Please add SAML single sign-on  ",
        "contact": contact.pk,
        "source": "sales_call",
        "source_ref": "call-42",
        "source_url": "https://crm.example/calls/42",
        "kind": "problem",
        "importance": "critical",
        "deal_value": "50000",
        "tags": ["SSO", "security", "sso"],
        "received_at": "2026-01-04T10:00:00+01:00",
    }

    created = client.post(url(workspace, "feedback"), payload)

    assert created.status_code == 201
    item_id = created.json()["id"]
    assert created.json() == {
        "id": item_id,
        "text": "Please add SAML single sign-on",
        "contact": contact.pk,
        "company": initech.pk,  # the contact's
        "source": "sales_call",
        "source_ref": "call-42",
        "source_url": "https://crm.example/calls/42",
        "kind": "problem",
        "importance": "critical",
        "deal_value": "50000.00",
        "tags": ["SSO", "security"],
        "state": "new",
        "merged_into": None,
        "links": [],
        "received_at": "2026-01-04T09:00:00Z",
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert client.get(url(workspace, "feedback", item_id)).json() == created.json()
    assert ids(client.get(url(workspace, "feedback"))) == [item_id]

    updated = client.patch(url(workspace, "feedback", item_id), {"text": "SAML SSO, please", "tags": []})

    assert updated.status_code == 200
    assert {k: updated.json()[k] for k in ("text", "tags", "importance")} == {
        "text": "SAML SSO, please",
        "tags": [],
        "importance": "critical",
    }
    state_patch = client.patch(url(workspace, "feedback", item_id), {"state": "archived"})
    assert state_patch.status_code == 400
    assert state_patch.json() == error("unknown_field", "Unknown or read-only field.", "state")

    refused = client.delete(url(workspace, "feedback", item_id))

    assert refused.status_code == 403
    assert FeedbackItem.objects.count() == 1
    assert session_client(pm).delete(url(workspace, "feedback", item_id)).status_code == 204
    assert FeedbackItem.objects.count() == 0


def test_feedback_names_people_by_email_and_company_domain(workspace, contributor, session_client, initech):
    client = session_client(contributor)

    by_email = client.post(
        url(workspace, "feedback"),
        {"text": "Dark mode", "contact_email": "Zoe@Initech.example", "contact_name": "Zoe"},
    )
    by_domain = client.post(
        url(workspace, "feedback"), {"text": "Audit log", "company_domain": "initech.example"}
    )
    unknown_domain = client.post(
        url(workspace, "feedback"), {"text": "X", "company_domain": "nobody.example"}
    )

    zoe = Contact.objects.get()
    assert (zoe.email, zoe.name, zoe.company) == ("zoe@initech.example", "Zoe", initech)
    assert (by_email.status_code, by_email.json()["contact"], by_email.json()["company"]) == (
        201,
        zoe.pk,
        initech.pk,
    )
    assert (by_domain.status_code, by_domain.json()["contact"], by_domain.json()["company"]) == (
        201,
        None,
        initech.pk,
    )
    assert unknown_domain.status_code == 400
    assert unknown_domain.json() == error("does_not_exist", "No company with this domain.", "company_domain")
    assert FeedbackItem.objects.count() == 2


def test_the_same_source_ref_answers_200_with_the_stored_item(workspace, contributor, session_client):
    client = session_client(contributor)
    payload = {"text": "Dark mode", "source": "zendesk", "source_ref": "T-1"}

    first = client.post(url(workspace, "feedback"), payload)
    again = client.post(url(workspace, "feedback"), {**payload, "text": "Edited upstream"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert FeedbackItem.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"text": ""}, "text", "blank"),
        ({"text": "    "}, "text", "blank"),
        ({}, "text", "required"),
        ({"text": "x" * 20_001}, "text", "max_length"),
        ({"text": "ok", "source": "fax"}, "source", "invalid_choice"),
        ({"text": "ok", "kind": "rant"}, "kind", "invalid_choice"),
        ({"text": "ok", "importance": "urgent"}, "importance", "invalid_choice"),
        ({"text": "ok", "deal_value": "-5"}, "deal_value", "min_value"),
        ({"text": "ok", "deal_value": "lots"}, "deal_value", "invalid"),
        ({"text": "ok", "tags": "a,b"}, "tags", "not_a_list"),
        ({"text": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags", "max_length"),
        ({"text": "ok", "received_at": "yesterday"}, "received_at", "invalid"),
        ({"text": "ok", "source_url": "javascript:alert(1)"}, "source_url", "invalid"),
        ({"text": "ok", "contact_email": "not-an-email"}, "contact_email", "invalid"),
        ({"text": "ok", "contact": 999_999}, "contact", "does_not_exist"),
        ({"text": "ok", "contact": "abc"}, "contact", "incorrect_type"),
        ({"text": "ok", "contact": 10**20}, "contact", "does_not_exist"),
        ({"text": "ok", "received_at": "0001-01-01T00:00:00+05:00"}, "received_at", "overflow"),
        ({"text": "ok", "colour": "red"}, "colour", "unknown_field"),
        ({"text": "ok", "state": "linked"}, "state", "unknown_field"),
    ],
)
def test_bad_feedback_input_is_a_400_and_writes_nothing(
    workspace, contributor, session_client, payload, attr, code
):
    before = counts()

    response = session_client(contributor).post(url(workspace, "feedback"), payload)

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert counts() == before


def test_text_of_exactly_the_limit_is_accepted(workspace, contributor, session_client):
    response = session_client(contributor).post(url(workspace, "feedback"), {"text": "y" * 20_000})

    assert response.status_code == 201
    assert len(FeedbackItem.objects.get().text) == 20_000


def test_malformed_json_is_a_400_and_writes_nothing(workspace, contributor, session_client):
    before = counts()

    response = session_client(contributor).post(
        url(workspace, "feedback"), data='{"text": "unterminated', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["type"] == "client_error"
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("parse_error", None)]
    assert counts() == before


def test_an_html_payload_is_stored_and_returned_as_plain_json_text(workspace, contributor, session_client):
    payload = "<script>alert(1)</script>"
    client = session_client(contributor)

    created = client.post(url(workspace, "feedback"), {"text": payload, "tags": [payload]})
    read = client.get(url(workspace, "feedback", created.json()["id"]))

    assert FeedbackItem.objects.get().text == payload
    for response in (created, read):
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.json()["text"] == payload
        assert response.json()["tags"] == [payload]
        assert b'"text":"<script>alert(1)</script>"' in response.content
        assert b"&lt;" not in response.content


# --- Idempotency-Key ------------------------------------------------------------------


def test_an_idempotency_key_replays_the_create(workspace, contributor, session_client):
    client = session_client(contributor)
    body = {"text": "Dark mode"}

    first = client.post(url(workspace, "feedback"), body, headers={"Idempotency-Key": "abc"})
    replay = client.post(url(workspace, "feedback"), body, headers={"Idempotency-Key": "abc"})
    other_body = client.post(
        url(workspace, "feedback"), {"text": "Light mode"}, headers={"Idempotency-Key": "abc"}
    )
    no_key = client.post(url(workspace, "feedback"), body)

    assert (first.status_code, replay.status_code) == (201, 201)
    # The same JSON value (PostgreSQL's jsonb store does not keep the order of keys).
    assert replay.json() == first.json()
    assert other_body.status_code == 422
    assert other_body.json() == error(
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request body.",
        "Idempotency-Key",
        "client_error",
    )
    assert no_key.status_code == 201
    assert list(FeedbackItem.objects.order_by("id").values_list("text", flat=True)) == [
        "Dark mode",
        "Dark mode",
    ]


def test_an_over_long_idempotency_key_is_a_400(workspace, contributor, session_client):
    response = session_client(contributor).post(
        url(workspace, "feedback"), {"text": "x"}, headers={"Idempotency-Key": "k" * 256}
    )

    assert response.status_code == 400
    assert response.json() == error(
        "invalid", "Idempotency-Key must be 1 to 255 characters.", "Idempotency-Key"
    )
    assert FeedbackItem.objects.count() == 0


# --- filters --------------------------------------------------------------------------


def test_feedback_filters_and_ordering(workspace, contributor, session_client, initech, feature):
    smb = CompanyFactory(workspace=workspace, segment=Segment.SMB)
    jan = datetime(2027, 1, 10, tzinfo=UTC)
    export = FeedbackItemFactory(
        workspace=workspace,
        company=initech,
        text="Please let us export reports to CSV",
        source="email",
        kind="request",
        importance="critical",
        tags=["Reports", "export"],
        received_at=jan,
    )
    praise = FeedbackItemFactory(
        workspace=workspace,
        company=smb,
        text="Love the new dashboards",
        source="slack",
        kind="praise",
        state="reviewed",
        tags=["dashboards"],
        received_at=jan + timedelta(days=5),
    )
    linked = FeedbackItemFactory(
        workspace=workspace,
        text="SSO is a blocker",
        source="sales_call",
        received_at=jan + timedelta(days=10),
    )
    FeedbackLinkFactory(item=linked, feature=feature)
    client = session_client(contributor)

    def listed(query):
        response = client.get(url(workspace, "feedback") + "?" + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed("") == [linked.pk, praise.pk, export.pk]
    assert listed(f"company={initech.pk}") == [export.pk]
    assert listed("segment=smb") == [praise.pk]
    assert listed("source=email&source=slack") == [praise.pk, export.pk]
    assert listed("state=reviewed") == [praise.pk]
    assert listed("kind=praise") == [praise.pk]
    assert listed("importance=critical") == [export.pk]
    assert listed("tag=REPORTS") == [export.pk]
    assert listed("tag=report") == []
    assert listed(f"feature={feature.pk}") == [linked.pk]
    assert listed("received_after=2027-01-15T00:00:00Z") == [linked.pk, praise.pk]
    assert listed("received_before=2027-01-15T00:00:00Z") == [export.pk]
    assert listed("received_after=2027-01-11&received_before=2027-01-20") == [praise.pk]
    assert listed("search=export+csv") == [export.pk]
    assert listed("search=dashboards") == [praise.pk]
    assert listed("ordering=received_at") == [export.pk, praise.pk, linked.pk]
    assert listed("tag=export&search=reports&ordering=-created_at") == [export.pk]
    for query, attr, code in (
        ("state=bogus", "state", "invalid_choice"),
        ("received_after=soon", "received_after", "invalid"),
        ("company=x", "company", "invalid"),
        ("company=1.5", "company", "invalid"),
        ("feature=99999999999999999999", "feature", "max_value"),
        ("page=9", "page", "invalid_page"),
    ):
        bad = client.get(url(workspace, "feedback") + "?" + query)
        assert bad.status_code == 400
        assert [(e["attr"], e["code"]) for e in bad.json()["errors"]] == [(attr, code)]


# --- merged items and features redirect -----------------------------------------------


def test_a_merged_item_redirects_to_its_survivor(workspace, contributor, session_client, feature):
    source = FeedbackItemFactory(workspace=workspace, text="SSO please", tags=["sso"])
    target = FeedbackItemFactory(workspace=workspace, text="SAML single sign-on", tags=["security"])
    FeedbackLinkFactory(item=source, feature=feature, importance="critical")
    client = session_client(contributor)

    merged = client.post(url(workspace, "feedback", source.pk, "merge"), {"into": target.pk})
    redirect = client.get(url(workspace, "feedback", source.pk))
    again = client.post(url(workspace, "feedback", source.pk, "merge"), {"into": target.pk})

    assert merged.status_code == 200
    assert merged.json()["id"] == target.pk
    assert merged.json()["links"] == []  # the source keeps its link: its company still counts
    assert merged.json()["tags"] == ["security", "sso"]
    assert merged.json()["state"] == "new"
    also = client.get(url(workspace, "feedback") + f"?merged_into={target.pk}").json()["results"]
    assert [(row["id"], row["links"]) for row in also] == [
        (source.pk, [{"feature": feature.pk, "importance": "critical"}])
    ]
    assert redirect.status_code == 301
    assert redirect["Location"] == f"http://testserver{url(workspace, 'feedback', target.pk)}"
    assert redirect.json() == {"merged_into": target.pk}
    assert client.get(redirect["Location"]).json()["id"] == target.pk
    assert again.status_code == 409
    assert again.json() == error("item_merged", f"Already merged into #{target.pk}.", None, "client_error")
    source.refresh_from_db()
    assert (source.merged_into_id, source.state) == (target.pk, "archived")


def test_merging_an_item_into_itself_or_a_foreign_item_is_a_400(
    workspace, other_workspace, contributor, session_client
):
    item = FeedbackItemFactory(workspace=workspace)
    foreign = FeedbackItemFactory(workspace=other_workspace)
    client = session_client(contributor)

    itself = client.post(url(workspace, "feedback", item.pk, "merge"), {"into": item.pk})
    abroad = client.post(url(workspace, "feedback", item.pk, "merge"), {"into": foreign.pk})

    assert itself.status_code == 400
    assert itself.json() == error("same_item", "An item cannot be merged into itself.", "into")
    assert abroad.status_code == 400
    assert abroad.json() == error(
        "does_not_exist", f'Invalid pk "{foreign.pk}" - object does not exist.', "into"
    )
    assert FeedbackItem.objects.filter(merged_into__isnull=False).count() == 0


def test_feature_merge_moves_votes_and_counts_a_company_once(
    workspace, pm, contributor, session_client, product, initech
):
    source = FeatureFactory(product=product, title="SSO")
    target = FeatureFactory(product=product, title="SAML single sign-on")
    globex = CompanyFactory(workspace=workspace, name="Globex")
    ann, bob = (ContactFactory(workspace=workspace, company=initech) for _ in range(2))
    gil = ContactFactory(workspace=workspace, company=globex)
    VoteFactory(feature=source, contact=ann)
    VoteFactory(feature=target, contact=ann)  # ann voted for both: one vote after the merge
    VoteFactory(feature=source, contact=bob)  # Initech again
    VoteFactory(feature=source, contact=gil)
    FeedbackLinkFactory(feature=source, item__company=initech, importance="important")

    refused = session_client(contributor).post(
        url(workspace, "features", source.pk, "merge"), {"into": target.pk}
    )
    merged = session_client(pm).post(url(workspace, "features", source.pk, "merge"), {"into": target.pk})

    assert refused.status_code == 403
    assert merged.status_code == 200
    assert merged.json()["id"] == target.pk
    assert merged.json()["merged_into"] is None
    assert sorted(Vote.objects.filter(feature=target).values_list("contact_id", flat=True)) == sorted(
        [ann.pk, bob.pk, gil.pk]
    )
    assert Vote.objects.count() == 3
    assert list(FeedbackLink.objects.values_list("feature_id", "importance")) == [(target.pk, "important")]
    recompute_workspace(workspace_id=workspace.pk)
    target.refresh_from_db()
    assert target.requesting_companies == 2  # Initech once (two voters and a link), Globex
    source.refresh_from_db()
    assert (source.status, source.merged_into_id) == (FeatureStatus.DECLINED, target.pk)

    client = session_client(pm)
    redirect = client.get(url(workspace, "features", source.pk))

    assert redirect.status_code == 301
    assert redirect["Location"] == f"http://testserver{url(workspace, 'features', target.pk)}"
    assert redirect.json() == {"merged_into": target.pk}
    top = client.get(url(workspace, "feedback") + "top-features/").json()
    assert [(row["feature"]["id"], row["requesting_companies"], row["votes_count"]) for row in top] == [
        (target.pk, 2, 3)
    ]


def test_feature_merge_refusals(workspace, other_workspace, pm, session_client, product):
    source = FeatureFactory(product=product)
    shipped = FeatureFactory(product=product, status=FeatureStatus.SHIPPED)
    declined = FeatureFactory(product=product, status=FeatureStatus.DECLINED)
    foreign = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    client = session_client(pm)

    def merge(feature, into):
        return client.post(url(workspace, "features", feature.pk, "merge"), {"into": into.pk})

    abroad = merge(source, foreign)
    itself = merge(source, source)
    into_declined = merge(source, declined)
    away_shipped = merge(shipped, source)

    assert abroad.status_code == 400
    assert abroad.json()["errors"][0]["code"] == "does_not_exist"
    assert itself.json() == error("same_feature", "A feature cannot be merged into itself.", "into")
    assert into_declined.status_code == 409
    assert into_declined.json()["errors"][0]["code"] == "feature_declined"
    assert away_shipped.status_code == 409
    assert away_shipped.json()["errors"][0]["code"] == "feature_shipped"
    assert Feature.objects.filter(merged_into__isnull=False).count() == 0


# --- triage ---------------------------------------------------------------------------


def test_state_changes_and_bulk_state(workspace, other_workspace, contributor, session_client):
    a, b = FeedbackItemFactory(workspace=workspace), FeedbackItemFactory(workspace=workspace)
    foreign = FeedbackItemFactory(workspace=other_workspace)
    client = session_client(contributor)

    reviewed = client.post(url(workspace, "feedback", a.pk, "state"), {"state": "reviewed"})
    to_linked = client.post(url(workspace, "feedback", a.pk, "state"), {"state": "linked"})
    unknown = client.post(url(workspace, "feedback", a.pk, "state"), {"state": "done"})

    assert reviewed.status_code == 200
    assert reviewed.json()["state"] == "reviewed"
    assert to_linked.json() == error(
        "link_required", "Link the item to a feature to mark it linked.", "state"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "invalid_choice"

    mixed = client.post(
        url(workspace, "feedback") + "bulk-state/", {"ids": [a.pk, foreign.pk], "state": "archived"}
    )

    assert mixed.status_code == 400
    assert mixed.json() == error("does_not_exist", f"Not found in this workspace: [{foreign.pk}].", "ids")
    assert sorted(FeedbackItem.objects.values_list("state", flat=True)) == ["new", "new", "reviewed"]

    archived = client.post(
        url(workspace, "feedback") + "bulk-state/", {"ids": [a.pk, b.pk], "state": "archived"}
    )

    assert archived.status_code == 200
    assert sorted((row["id"], row["state"]) for row in archived.json()["results"]) == [
        (a.pk, "archived"),
        (b.pk, "archived"),
    ]
    empty = client.post(url(workspace, "feedback") + "bulk-state/", {"ids": [], "state": "new"})
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["attr"] == "ids"


# --- links ----------------------------------------------------------------------------


def test_links(workspace, contributor, session_client, product, feature):
    item = FeedbackItemFactory(workspace=workspace, state="reviewed")
    client = session_client(contributor)
    links = url(workspace, "feedback", item.pk, "links")

    assert client.get(links).json()["results"] == []
    created = client.post(links, {"feature": feature.pk, "importance": "important"})
    upgraded = client.post(links, {"feature": feature.pk, "importance": "critical"})

    assert created.status_code == 201
    assert created.json() == {
        "feature": feature_summary(feature),
        "importance": "important",
        "created_at": ANY,
    }
    assert upgraded.json()["importance"] == "critical"
    assert client.get(links).json()["results"] == [upgraded.json()]
    assert client.get(url(workspace, "feedback", item.pk)).json()["state"] == "linked"
    assert client.get(url(workspace, "feedback") + f"?feature={feature.pk}").json()["count"] == 1

    assert client.delete(links + "999999/").status_code == 404
    assert client.delete(links + f"{feature.pk}/").status_code == 204
    assert FeedbackLink.objects.count() == 0
    item.refresh_from_db()
    assert item.state == "reviewed"


@pytest.mark.parametrize(
    ("status", "merged", "code"),
    [(FeatureStatus.DECLINED, False, "feature_declined"), (FeatureStatus.IDEA, True, "feature_merged")],
)
def test_linking_or_voting_for_a_closed_feature_is_a_409(
    workspace, contributor, session_client, product, status, merged, code
):
    closed = FeatureFactory(product=product, status=status)
    if merged:
        closed.merged_into = FeatureFactory(product=product)
        closed.save()
    item = FeedbackItemFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    client = session_client(contributor)
    before = counts()

    link = client.post(url(workspace, "feedback", item.pk, "links"), {"feature": closed.pk})
    vote = client.post(url(workspace, "votes"), {"contact": contact.pk, "feature": closed.pk})

    for response in (link, vote):
        assert response.status_code == 409
        assert response.json()["errors"][0]["code"] == code
    assert counts() == before


# --- duplicates and similarity --------------------------------------------------------


def test_duplicates_list_and_dismiss(workspace, other_workspace, contributor, session_client, feature):
    item = FeedbackItemFactory(workspace=workspace, text="Please add SSO")
    twin = FeedbackItemFactory(workspace=workspace, text="Please add SSO for us")
    dismissed = FeedbackItemFactory(workspace=workspace)
    by_feature = DuplicateSuggestion.objects.create(
        workspace=workspace,
        item=item,
        similar_feature=feature,
        similarity=0.9,
        word_similarity=0.05,
        meaning_similarity=0.82,
        reason=DuplicateSuggestion.Reason.MEANING,
    )
    by_item = DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=twin, similarity=0.7, word_similarity=0.7
    )
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=dismissed, similarity=0.95, dismissed=True
    )
    foreign_item = FeedbackItemFactory(workspace=other_workspace)
    foreign = DuplicateSuggestion.objects.create(
        workspace=other_workspace,
        item=foreign_item,
        similar_item=FeedbackItemFactory(workspace=other_workspace),
        similarity=0.5,
    )
    client = session_client(contributor)
    path = url(workspace, "feedback", item.pk, "duplicates")

    listed = client.get(path)

    assert listed.status_code == 200
    assert listed.json()["results"] == [
        {
            "id": by_feature.pk,
            "similarity": 0.9,
            "word_similarity": 0.05,
            "meaning_similarity": 0.82,
            "reason": "meaning",
            "similar_item": None,
            "similar_feature": feature_summary(feature),
            "dismissed": False,
            "created_at": ANY,
        },
        {
            "id": by_item.pk,
            "similarity": 0.7,
            "word_similarity": 0.7,
            "meaning_similarity": None,
            "reason": "words",
            "similar_item": {
                "id": twin.pk,
                "text": "Please add SSO for us",
                "state": "new",
                "source": "api",
                "company": None,
                "received_at": ANY,
            },
            "similar_feature": None,
            "dismissed": False,
            "created_at": ANY,
        },
    ]

    # The pair is stored once and listed on both items, each seeing the other.
    twin_path = url(workspace, "feedback", twin.pk, "duplicates")
    from_twin = client.get(twin_path).json()["results"]
    assert [(row["id"], row["similar_item"]["id"]) for row in from_twin] == [(by_item.pk, item.pk)]

    dismissed_now = client.post(twin_path + f"{by_item.pk}/dismiss/")  # from the other side
    twice = client.post(path + f"{by_item.pk}/dismiss/")
    not_the_twins = client.post(twin_path + f"{by_feature.pk}/dismiss/")
    abroad = client.post(path + f"{foreign.pk}/dismiss/")

    assert (dismissed_now.status_code, dismissed_now.json()["dismissed"]) == (200, True)
    assert dismissed_now.json()["similar_item"]["id"] == item.pk
    assert twice.status_code == 200
    assert (not_the_twins.status_code, abroad.status_code) == (404, 404)
    assert ids(client.get(path)) == [by_feature.pk]
    assert ids(client.get(twin_path)) == []
    foreign.refresh_from_db()
    assert foreign.dismissed is False


def test_similar_suggests_open_items_and_features_and_writes_nothing(
    workspace, other_workspace, viewer, session_client, product
):
    sso = FeatureFactory(product=product, title="SAML single sign-on")
    FeatureFactory(product=product, title="Dark mode")
    near = FeedbackItemFactory(workspace=workspace, text="We need SAML single sign-on for our team")
    FeedbackItemFactory(workspace=workspace, text="Export dashboards to PDF")
    FeedbackItemFactory(
        workspace=workspace, text="We need SAML single sign-on for our team", state="archived"
    )
    FeedbackItemFactory(workspace=other_workspace, text="We need SAML single sign-on for our team")
    before = counts()

    response = session_client(viewer).post(
        url(workspace, "feedback") + "similar/", {"text": "we need saml single sign-on for the team"}
    )

    assert response.status_code == 200
    body = response.json()
    assert [(row["item"]["id"], row["item"]["text"]) for row in body["items"]] == [(near.pk, near.text)]
    assert [row["feature"]["id"] for row in body["features"]] == [sso.pk]
    assert 0.5 < body["items"][0]["similarity"] <= 1
    # Live matches are found by words: the fields of a stored suggestion say so.
    for row in (body["items"][0], body["features"][0]):
        assert (row["reason"], row["word_similarity"], row["meaning_similarity"]) == (
            "words",
            row["similarity"],
            None,
        )
    assert counts() == before
    blank = session_client(viewer).post(url(workspace, "feedback") + "similar/", {"text": ""})
    assert blank.status_code == 400


# --- bulk -----------------------------------------------------------------------------


def test_bulk_reports_each_item(workspace, other_workspace, contributor, session_client, initech):
    stored = FeedbackItemFactory(workspace=workspace, source="csv", source_ref="old")
    foreign_contact = ContactFactory(workspace=other_workspace)
    items = [
        {"text": "Export to CSV", "source": "csv", "source_ref": "r1"},
        {"text": "Stored before", "source": "csv", "source_ref": "old"},
        {"text": "", "source": "csv"},
        {"text": "Export to CSV, again", "source": "csv", "source_ref": "r1"},
        {"text": "Bad source", "source": "fax"},
        "not an object",
        {
            "text": "With a person",
            "contact_email": "ann@initech.example",
            "received_at": "2026-01-04T10:00:00+01:00",
            "tags": ["a"],
        },
        {"text": "A stranger", "contact": foreign_contact.pk},
        {"text": "Bad address", "contact_email": "nope"},
        {"text": "Bad date", "received_at": "2027-13-01T00:00:00Z"},
        {"text": "Huge id", "contact": 10**20},
    ]

    response = session_client(contributor).post(url(workspace, "feedback") + "bulk/", {"items": items})

    assert response.status_code == 200
    body = response.json()
    first, person = FeedbackItem.objects.get(source_ref="r1"), FeedbackItem.objects.get(text="With a person")

    def invalid(index, code, detail, attr):
        return {
            "index": index,
            "status": "invalid",
            "id": None,
            "errors": [{"code": code, "detail": detail, "attr": attr}],
        }

    assert body == {
        "results": [
            {"index": 0, "status": "created", "id": first.pk, "errors": []},
            {"index": 1, "status": "duplicate", "id": stored.pk, "errors": []},
            invalid(2, "required", "Text is required.", "text"),
            {"index": 3, "status": "duplicate", "id": first.pk, "errors": []},
            invalid(
                4,
                "invalid_choice",
                "Unknown source; one of: portal, api, email, csv, slack, intercom, zendesk, sales_call, "
                "support_ticket, interview, public_board.",
                "source",
            ),
            invalid(5, "invalid", "Each item is an object.", None),
            {"index": 6, "status": "created", "id": person.pk, "errors": []},
            invalid(7, "does_not_exist", "Not found in this workspace.", "contact"),
            invalid(8, "invalid", "Enter a valid email address.", "contact_email"),
            invalid(9, "invalid", "An ISO 8601 date and time.", "received_at"),
            invalid(10, "does_not_exist", "Not found in this workspace.", "contact"),
        ],
        "created": 2,
        "duplicates": 2,
        "invalid": 7,
    }
    assert FeedbackItem.objects.count() == 3
    assert first.text == "Export to CSV"
    assert (person.contact.email, person.company, person.tags) == ("ann@initech.example", initech, ["a"])
    assert person.received_at == datetime(2026, 1, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({"items": [{"text": "x"}] * 1001}, "items", "max_length"),
        ({"items": []}, "items", "empty"),
        ({"items": {"text": "x"}}, "items", "not_a_list"),
        ({}, "items", "required"),
        ({"items": [], "extra": 1}, "extra", "unknown_field"),
    ],
)
def test_a_bad_bulk_envelope_is_a_400_and_writes_nothing(
    workspace, contributor, session_client, body, attr, code
):
    before = counts()

    response = session_client(contributor).post(url(workspace, "feedback") + "bulk/", body)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert counts() == before


def test_bulk_honours_the_idempotency_key(workspace, contributor, session_client):
    client = session_client(contributor)
    body = {"items": [{"text": "No reference one"}, {"text": "No reference two"}]}
    path = url(workspace, "feedback") + "bulk/"

    first = client.post(path, body, headers={"Idempotency-Key": "batch-1"})
    replay = client.post(path, body, headers={"Idempotency-Key": "batch-1"})
    changed = client.post(path, {"items": [{"text": "Other"}]}, headers={"Idempotency-Key": "batch-1"})

    assert (first.status_code, replay.status_code, changed.status_code) == (200, 200, 422)
    # The same JSON value (PostgreSQL's jsonb store does not keep the order of keys).
    assert replay.json() == first.json()
    assert first.json()["created"] == 2
    assert changed.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert FeedbackItem.objects.count() == 2


def test_bulk_runs_a_constant_number_of_queries(workspace, contributor, session_client, initech):
    client = session_client(contributor)
    path = url(workspace, "feedback") + "bulk/"

    def batch(start, n):
        return {
            "items": [
                {"text": f"Item {i}", "source_ref": f"ref-{i}", "contact_email": f"p{i}@initech.example"}
                for i in range(start, start + n)
            ]
        }

    with CaptureQueriesContext(connection) as few:
        assert client.post(path, batch(0, 5)).json()["created"] == 5
    with CaptureQueriesContext(connection) as many:
        assert client.post(path, batch(100, 50)).json()["created"] == 50

    # Within one INSERT batch (SQLite's bound-parameter limit makes batches smaller than
    # PostgreSQL's) the statements are the same whatever the number of items.
    assert len(many) == len(few)
    assert Contact.objects.filter(company=initech).count() == 55


# --- votes ----------------------------------------------------------------------------


def test_votes(workspace, contributor, session_client, feature, product):
    contact = ContactFactory(workspace=workspace, email="ann@example.com")
    other_feature = FeatureFactory(product=product)
    other_vote = VoteFactory(feature=other_feature)
    client = session_client(contributor)

    cast = client.post(url(workspace, "votes"), {"contact": contact.pk, "feature": feature.pk})
    again = client.post(url(workspace, "votes"), {"contact": contact.pk, "feature": feature.pk})

    assert cast.status_code == 201
    assert cast.json() == {
        "id": ANY,
        "contact": contact.pk,
        "contact_email": "ann@example.com",
        "feature": feature.pk,
        "created_at": ANY,
    }
    assert again.status_code == 200
    assert again.json() == cast.json()
    assert Vote.objects.filter(feature=feature).count() == 1
    vote_id = cast.json()["id"]
    assert ids(client.get(url(workspace, "votes"))) == [vote_id, other_vote.pk]
    assert ids(client.get(url(workspace, "votes") + f"?feature={feature.pk}")) == [vote_id]
    assert ids(client.get(url(workspace, "votes") + f"?contact={other_vote.contact_id}")) == [other_vote.pk]

    assert client.delete(url(workspace, "votes", vote_id)).status_code == 204
    assert client.delete(url(workspace, "votes", vote_id)).status_code == 404
    assert list(Vote.objects.all()) == [other_vote]


# --- isolation ------------------------------------------------------------------------


def test_another_workspaces_token_gets_404_on_every_feedback_endpoint(
    workspace, other_workspace, member, token_client, initech, feature
):
    contact = ContactFactory(workspace=workspace, company=initech)
    item = FeedbackItemFactory(workspace=workspace, company=initech, text="Secret")
    FeedbackLinkFactory(item=item, feature=feature)
    vote = VoteFactory(feature=feature, contact=contact)
    suggestion = DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_feature=feature, similarity=0.9
    )
    other_item = FeedbackItemFactory(workspace=other_workspace)
    attacker = member(other_workspace, Role.OWNER).user
    client = token_client(other_workspace, attacker)
    before = counts()

    answers = {}
    for ws in (workspace, other_workspace):  # the victim's URLs, then the victim's ids in the attacker's
        for name, response in {
            "companies": client.get(url(ws, "companies")) if ws == workspace else None,
            "company": client.get(url(ws, "companies", initech.pk)),
            "company-patch": client.patch(url(ws, "companies", initech.pk), {"name": "pwned"}),
            "company-delete": client.delete(url(ws, "companies", initech.pk)),
            "contacts": client.get(url(ws, "contacts")) if ws == workspace else None,
            "contact": client.get(url(ws, "contacts", contact.pk)),
            "contact-patch": client.patch(url(ws, "contacts", contact.pk), {"name": "pwned"}),
            "contact-delete": client.delete(url(ws, "contacts", contact.pk)),
            "feedback": client.get(url(ws, "feedback")) if ws == workspace else None,
            "item": client.get(url(ws, "feedback", item.pk)),
            "item-patch": client.patch(url(ws, "feedback", item.pk), {"text": "pwned"}),
            "item-delete": client.delete(url(ws, "feedback", item.pk)),
            "item-state": client.post(url(ws, "feedback", item.pk, "state"), {"state": "archived"}),
            "item-merge": client.post(url(ws, "feedback", item.pk, "merge"), {"into": other_item.pk}),
            "item-links": client.get(url(ws, "feedback", item.pk, "links")),
            "item-link": client.post(url(ws, "feedback", item.pk, "links"), {"feature": feature.pk}),
            "item-unlink": client.delete(url(ws, "feedback", item.pk, "links") + f"{feature.pk}/"),
            "item-duplicates": client.get(url(ws, "feedback", item.pk, "duplicates")),
            "dismiss": client.post(url(ws, "feedback", item.pk, "duplicates") + f"{suggestion.pk}/dismiss/"),
            "votes": client.get(url(ws, "votes")) if ws == workspace else None,
            "vote": client.get(url(ws, "votes", vote.pk)),
            "vote-delete": client.delete(url(ws, "votes", vote.pk)),
            "bulk": client.post(url(ws, "feedback") + "bulk/", {"items": [{"text": "x"}]})
            if ws == workspace
            else None,
            "volume": client.get(url(ws, "feedback") + "volume/") if ws == workspace else None,
            "top": client.get(url(ws, "feedback") + "top-features/") if ws == workspace else None,
            "similar": client.post(url(ws, "feedback") + "similar/", {"text": "Secret"})
            if ws == workspace
            else None,
        }.items():
            if response is not None:
                answers[f"{ws.slug}:{name}"] = response.status_code

    assert answers == dict.fromkeys(answers, 404)
    assert counts() == before
    item.refresh_from_db()
    assert (item.text, item.state, item.merged_into_id) == ("Secret", "new", None)
    assert Company.objects.get(pk=initech.pk).name == "Initech"


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ("feedback", "contact"),
        ("feedback", "company"),
        ("contacts", "company"),
        ("votes", "contact"),
        ("votes", "feature"),
        ("links", "feature"),
        ("merge", "into"),
        ("feature-merge", "into"),
    ],
)
def test_ids_from_another_workspace_in_bodies_are_400s(
    workspace, other_workspace, pm, session_client, feature, resource, field
):
    foreign_product = ProductFactory(workspace=other_workspace)
    foreign = {
        "contact": ContactFactory(workspace=other_workspace).pk,
        "company": CompanyFactory(workspace=other_workspace).pk,
        "feature": FeatureFactory(product=foreign_product).pk,
        "into": (
            FeatureFactory(product=foreign_product)
            if resource == "feature-merge"
            else FeedbackItemFactory(workspace=other_workspace)
        ).pk,
    }[field]
    item = FeedbackItemFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    path, body = {
        "feedback": (url(workspace, "feedback"), {"text": "x", field: foreign}),
        "contacts": (url(workspace, "contacts"), {"email": "new@example.com", field: foreign}),
        "votes": (url(workspace, "votes"), {"contact": contact.pk, "feature": feature.pk, field: foreign}),
        "links": (url(workspace, "feedback", item.pk, "links"), {field: foreign}),
        "merge": (url(workspace, "feedback", item.pk, "merge"), {field: foreign}),
        "feature-merge": (url(workspace, "features", feature.pk, "merge"), {field: foreign}),
    }[resource]
    before = counts()

    response = session_client(pm).post(path, body)

    assert response.status_code == 400
    assert response.json() == error(
        "does_not_exist", f'Invalid pk "{foreign}" - object does not exist.', field
    )
    assert counts() == before
    assert Feature.objects.filter(merged_into__isnull=False).count() == 0


# --- roles ----------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write(workspace, viewer, session_client, initech, feature):
    contact = ContactFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace)
    client = session_client(viewer)
    before = counts()

    writes = [
        client.post(url(workspace, "companies"), {"name": "X"}),
        client.patch(url(workspace, "companies", initech.pk), {"name": "X"}),
        client.post(url(workspace, "contacts"), {"email": "x@example.com"}),
        client.post(url(workspace, "feedback"), {"text": "x"}),
        client.patch(url(workspace, "feedback", item.pk), {"text": "x"}),
        client.post(url(workspace, "feedback", item.pk, "state"), {"state": "reviewed"}),
        client.post(url(workspace, "feedback", item.pk, "links"), {"feature": feature.pk}),
        client.post(url(workspace, "feedback") + "bulk/", {"items": [{"text": "x"}]}),
        client.post(url(workspace, "votes"), {"contact": contact.pk, "feature": feature.pk}),
    ]
    reads = [
        client.get(url(workspace, path))
        for path in ("companies", "contacts", "feedback", "votes", "feedback/volume", "feedback/top-features")
    ]

    assert [r.status_code for r in writes] == [403] * len(writes)
    assert writes[0].json() == error(
        "permission_denied", "This needs the Contributor role or higher.", None, "client_error"
    )
    assert [r.status_code for r in reads] == [200] * len(reads)
    assert counts() == before


def test_a_contributor_cannot_delete_or_merge_features(
    workspace, contributor, session_client, initech, product
):
    contact = ContactFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace)
    a, b = FeatureFactory(product=product), FeatureFactory(product=product)
    client = session_client(contributor)
    before = counts()

    answers = [
        client.delete(url(workspace, "feedback", item.pk)).status_code,
        client.delete(url(workspace, "companies", initech.pk)).status_code,
        client.delete(url(workspace, "contacts", contact.pk)).status_code,
        client.post(url(workspace, "features", a.pk, "merge"), {"into": b.pk}).status_code,
    ]

    assert answers == [403] * 4
    assert counts() == before


def test_a_read_scope_token_cannot_ingest(workspace, pm, token_client):
    client = token_client(workspace, pm, scopes=("read",))

    single = client.post(url(workspace, "feedback"), {"text": "x"})
    bulk = client.post(url(workspace, "feedback") + "bulk/", {"items": [{"text": "x"}]})

    assert (single.status_code, bulk.status_code) == (403, 403)
    assert client.get(url(workspace, "feedback")).status_code == 200
    assert FeedbackItem.objects.count() == 0


def test_anonymous_requests_are_401s(workspace, client):
    assert client.get(url(workspace, "feedback")).status_code == 401
    assert (
        client.post(
            url(workspace, "feedback") + "bulk/", {"items": []}, content_type="application/json"
        ).status_code
        == 401
    )


# --- reports --------------------------------------------------------------------------


def test_volume_report(workspace, contributor, session_client, product, feature):
    this_week = timezone.now()
    item = FeedbackItemFactory(workspace=workspace, received_at=this_week, tags=["SSO"])
    FeedbackLinkFactory(item=item, feature=feature)
    FeedbackItemFactory(workspace=workspace, received_at=this_week - timedelta(weeks=1))
    client = session_client(contributor)

    by_product = client.get(url(workspace, "feedback") + "volume/?weeks=2")
    by_tag = client.get(url(workspace, "feedback") + "volume/?by=tag&weeks=2")

    assert by_product.status_code == 200
    monday = (this_week - timedelta(days=this_week.weekday())).date()
    assert by_product.json() == {
        "by": "product",
        "weeks": [(monday - timedelta(weeks=1)).isoformat(), monday.isoformat()],
        "series": [
            {"key": str(product.pk), "label": "Analytics", "counts": [0, 1], "total": 1},
            {"key": None, "label": "Not linked", "counts": [1, 0], "total": 1},
        ],
    }
    assert by_tag.json()["series"] == [
        {"key": "sso", "label": "SSO", "counts": [0, 1], "total": 1},
        {"key": None, "label": "Untagged", "counts": [1, 0], "total": 1},
    ]
    for query, attr, code in (
        ("by=month", "by", "invalid_choice"),
        ("weeks=0", "weeks", "min_value"),
        ("weeks=105", "weeks", "max_value"),
        ("weeks=x", "weeks", "invalid"),
    ):
        bad = client.get(url(workspace, "feedback") + "volume/?" + query)
        assert bad.status_code == 400
        assert [(e["attr"], e["code"]) for e in bad.json()["errors"]] == [(attr, code)]


def test_top_features_report(workspace, contributor, session_client, product, feature, initech):
    Company.objects.filter(pk=initech.pk).update(arr="2500.5")
    FeedbackLinkFactory(feature=feature, item__company=initech)
    VoteFactory(feature=feature, contact__company=initech)
    runner_up = FeatureFactory(product=product, title="Dark mode")
    VoteFactory(feature=runner_up)
    client = session_client(contributor)

    response = client.get(url(workspace, "feedback") + "top-features/")
    limited = client.get(url(workspace, "feedback") + "top-features/?limit=1")

    assert response.status_code == 200
    assert response.json() == [
        {
            "feature": feature_summary(feature),
            "arr": "2500.50",
            "currency": "USD",
            "requesting_companies": 1,
            "feedback_count": 1,
            "votes_count": 1,
        },
        {
            "feature": feature_summary(runner_up),
            "arr": "0.00",
            "currency": "USD",
            "requesting_companies": 0,
            "feedback_count": 0,
            "votes_count": 1,
        },
    ]
    assert [row["feature"]["id"] for row in limited.json()] == [feature.pk]
    assert client.get(url(workspace, "feedback") + "top-features/?limit=101").status_code == 400


# --- query counts ---------------------------------------------------------------------

LIST_ENDPOINTS = {
    # name: (path under the workspace, most queries allowed)
    "companies": ("companies/", 6),
    "contacts": ("contacts/", 5),
    "feedback": ("feedback/", 6),
    "feedback-filtered": (
        "feedback/?tag=shared&search=thing&segment=smb&feature={feature}&ordering=received_at",
        6,
    ),
    "votes": ("votes/", 5),
    "links": ("feedback/{tracked}/links/", 7),
    "duplicates": ("feedback/{tracked}/duplicates/", 7),
    "volume-by-product": ("feedback/volume/", 5),
    "volume-by-tag": ("feedback/volume/?by=tag", 4),
    "top-features": ("feedback/top-features/", 5),
}


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_list_query_count_does_not_grow_with_rows(
    workspace, contributor, session_client, name, django_assert_max_num_queries
):
    product = ProductFactory(workspace=workspace)
    shared_feature = FeatureFactory(product=product)
    tracked = FeedbackItemFactory(workspace=workspace, tags=["shared"])
    client = session_client(contributor)
    path, most = LIST_ENDPOINTS[name]
    path = f"/api/v1/workspaces/{workspace.slug}/" + path.format(
        tracked=tracked.pk, feature=shared_feature.pk
    )

    def add_rows(n):
        for _ in range(n):
            company = CompanyFactory(workspace=workspace, segment="smb", arr=100)
            contact = ContactFactory(workspace=workspace, company=company)
            feature = FeatureFactory(product=ProductFactory(workspace=workspace))
            item = FeedbackItemFactory(
                workspace=workspace, company=company, contact=contact, tags=["shared", f"t{feature.pk}"]
            )
            FeedbackLinkFactory(item=item, feature=feature)
            FeedbackLinkFactory(item=item, feature=shared_feature)
            FeedbackLinkFactory(item=tracked, feature=feature)
            VoteFactory(feature=feature, contact=contact)
            DuplicateSuggestion.objects.create(
                workspace=workspace, item=tracked, similar_item=item, similarity=0.5
            )
            DuplicateSuggestion.objects.create(
                workspace=workspace, item=tracked, similar_feature=feature, similarity=0.6
            )

    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    add_rows(10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    rows = rows["series"] if isinstance(rows, dict) else rows
    assert len(rows) >= 10
    assert len(many) == len(few)
    with django_assert_max_num_queries(most):
        client.get(path)


# --- schema ---------------------------------------------------------------------------


def test_the_schema_has_every_feedback_endpoint_and_no_warnings(tmp_path):
    schema_file = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = schema_file.read_text()
    for path in (
        "companies/",
        "companies/{id}/",
        "contacts/",
        "contacts/{id}/",
        "feedback/",
        "feedback/{id}/",
        "feedback/{id}/state/",
        "feedback/bulk-state/",
        "feedback/{id}/merge/",
        "feedback/{id}/duplicates/",
        "feedback/{id}/duplicates/{suggestion_id}/dismiss/",
        "feedback/similar/",
        "feedback/{id}/links/",
        "feedback/{id}/links/{feature_id}/",
        "feedback/bulk/",
        "feedback/volume/",
        "feedback/top-features/",
        "votes/",
        "votes/{id}/",
        "features/{id}/merge/",
    ):
        assert f"/api/v1/workspaces/{{workspace_slug}}/{path}:" in schema
    assert "'301':" in schema


# --- dates: every entry path refuses what the engine cannot score ----------------------------


@pytest.mark.parametrize(
    "received_at", ["0001-01-01T00:00:00Z", "1899-12-30T00:00:00Z", "2099-01-01T00:00:00Z"]
)
def test_feedback_received_outside_1970_to_tomorrow_is_a_field_error_and_stores_nothing(
    workspace, contributor, session_client, received_at
):
    client = session_client(contributor)

    single = client.post(url(workspace, "feedback"), {"text": "Old", "received_at": received_at})
    bulk = client.post(
        url(workspace, "feedback") + "bulk/", {"items": [{"text": "Old", "received_at": received_at}]}
    )

    assert single.status_code == 400
    assert single.json()["errors"][0]["code"] == "out_of_range"
    assert single.json()["errors"][0]["attr"] == "received_at"
    assert bulk.status_code == 200
    assert bulk.json()["results"][0]["status"] == "invalid"
    assert [(e["code"], e["attr"]) for e in bulk.json()["results"][0]["errors"]] == [
        ("out_of_range", "received_at")
    ]
    assert FeedbackItem.objects.count() == 0


def test_an_offset_postgresql_refuses_is_stored_in_utc_by_single_and_bulk_ingest(
    workspace, contributor, session_client
):
    client = session_client(contributor)

    single = client.post(
        url(workspace, "feedback"), {"text": "One", "received_at": "2026-01-01T17:19:00+17:19"}
    )
    bulk = client.post(
        url(workspace, "feedback") + "bulk/",
        {"items": [{"text": "Two", "received_at": "2026-01-01T17:19:00+17:19"}]},
    )

    assert (single.status_code, bulk.status_code) == (201, 200)
    assert bulk.json()["created"] == 1
    assert [i.received_at for i in FeedbackItem.objects.order_by("pk")] == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    ]
    assert single.json()["received_at"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("parameter", ["received_after", "received_before"])
def test_a_filter_with_a_far_offset_answers_not_a_500(workspace, contributor, session_client, parameter):
    FeedbackItemFactory(workspace=workspace, received_at=datetime(2025, 12, 31, 12, tzinfo=UTC))

    response = session_client(contributor).get(
        url(workspace, "feedback"), {parameter: "2026-01-01T00:00:00+17:19"}
    )

    assert response.status_code == 200
    assert len(response.json()["results"]) == (1 if parameter == "received_after" else 0)


# --- what integrators expect: incremental sync, tombstones, lookups, upserts --------------------


@pytest.mark.parametrize("resource", ["companies", "contacts", "feedback", "votes", "feedback-links"])
def test_every_list_filters_by_when_rows_changed(workspace, contributor, session_client, feature, resource):
    from django.utils import timezone

    contact = ContactFactory(workspace=workspace)
    item = FeedbackItemFactory(
        workspace=workspace, contact=contact, company=CompanyFactory(workspace=workspace)
    )
    FeedbackLinkFactory(item=item, feature=feature)
    VoteFactory(contact=contact, feature=feature)
    client = session_client(contributor)
    cut = timezone.now()

    before = client.get(url(workspace, resource), {"updated_before": cut.isoformat()})
    after = client.get(url(workspace, resource), {"updated_after": cut.isoformat()})

    assert (before.status_code, after.status_code) == (200, 200)
    assert len(before.json()["results"]) >= 1
    assert after.json()["results"] == []


def test_deletions_are_listed_as_tombstones_with_what_they_took_along(
    workspace, pm, contributor, session_client, feature
):
    from django.utils import timezone

    contact = ContactFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace, contact=contact)
    link = FeedbackLinkFactory(item=item, feature=feature)
    vote = VoteFactory(contact=contact, feature=feature)
    client = session_client(pm)
    since = timezone.now()

    assert client.delete(url(workspace, "contacts", contact.pk)).status_code == 204  # takes the vote
    assert client.delete(url(workspace, "feedback", item.pk)).status_code == 204  # takes the link

    def tombstones(resource, **query):
        response = client.get(url(workspace, resource) + "deleted/", query)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert tombstones("contacts", since=since.isoformat()) == [contact.pk]
    assert tombstones("votes") == [vote.pk]
    assert tombstones("feedback") == [item.pk]
    assert tombstones("feedback-links") == [link.pk]
    assert tombstones("contacts", since=timezone.now().isoformat()) == []
    assert client.get(url(workspace, "contacts") + "deleted/?since=yesterday").status_code == 400
    assert client.get(url(workspace, "contacts") + "deleted/?sinse=2026-01-01").status_code == 400


def test_companies_and_contacts_are_found_by_domain_email_and_crm_id(workspace, contributor, session_client):
    initech = CompanyFactory(workspace=workspace, domain="initech.example", crm_external_id="acct-9")
    ann = ContactFactory(workspace=workspace, email="ann@initech.example", crm_external_id="lead-1")
    CompanyFactory(workspace=workspace, domain="globex.example")
    ContactFactory(workspace=workspace)
    client = session_client(contributor)

    assert ids(client.get(url(workspace, "companies"), {"domain": "https://www.INITECH.example/"})) == [
        initech.pk
    ]
    assert ids(client.get(url(workspace, "companies"), {"crm_external_id": "acct-9"})) == [initech.pk]
    assert ids(client.get(url(workspace, "contacts"), {"email": "ANN@initech.example"})) == [ann.pk]
    assert ids(client.get(url(workspace, "contacts"), {"crm_external_id": "lead-1"})) == [ann.pk]
    assert ids(client.get(url(workspace, "companies"), {"domain": "nowhere.example"})) == []


def test_a_company_is_created_or_updated_by_its_crm_id_and_the_same_call_again_changes_nothing(
    workspace, contributor, session_client
):
    client = session_client(contributor)
    path = url(workspace, "companies") + "by-external-id/acct-42/"

    created = client.put(path, {"name": "Initech", "arr": "120000", "segment": "enterprise"})
    events = AuditEvent.objects.count()
    again = client.put(path, {"name": "Initech", "arr": "120000", "segment": "enterprise"})
    updated = client.put(path, {"arr": "90000"})
    nameless = client.put(url(workspace, "companies") + "by-external-id/acct-43/", {"arr": "1"})
    mismatch = client.put(path, {"crm_external_id": "other"})

    assert created.status_code == 201
    assert (created.json()["crm_external_id"], created.json()["arr"]) == ("acct-42", "120000.00")
    assert again.status_code == 200
    assert again.json() == {**created.json(), "updated_at": ANY}
    assert AuditEvent.objects.count() == events + 1  # the update below; the repeat wrote nothing
    assert (updated.status_code, updated.json()["arr"], updated.json()["name"]) == (
        200,
        "90000.00",
        "Initech",
    )
    assert nameless.status_code == 400
    assert nameless.json()["errors"][0]["attr"] == "name"
    assert (mismatch.status_code, mismatch.json()["errors"][0]["code"]) == (400, "mismatch")
    assert Company.objects.filter(workspace=workspace).count() == 1


def test_a_contact_is_created_or_updated_by_its_crm_id(workspace, contributor, session_client, initech):
    client = session_client(contributor)
    path = url(workspace, "contacts") + "by-external-id/lead-7/"

    created = client.put(path, {"email": "Ann@initech.example", "name": "Ann"})
    renamed = client.put(path, {"name": "Ann Smith"})
    taken = client.post(
        url(workspace, "contacts"), {"email": "bob@initech.example", "crm_external_id": "lead-7"}
    )

    assert created.status_code == 201
    assert (created.json()["crm_external_id"], created.json()["company"]) == ("lead-7", initech.pk)
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["id"]) == (
        200,
        "Ann Smith",
        created.json()["id"],
    )
    assert taken.status_code == 400
    assert [(e["attr"], e["code"]) for e in taken.json()["errors"]] == [("crm_external_id", "unique")]
    assert Contact.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_upserts_of_one_crm_id_make_one_company(workspace, member):
    import threading

    from django.db import connection

    from feedback import services

    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent transactions; SQLite serialises every writer")
    user = member(workspace, Role.CONTRIBUTOR).user
    start = threading.Barrier(2)
    outcomes = []

    def upsert(name):
        try:
            start.wait(5)
            outcomes.append(
                services.company_upsert_by_external_id(
                    workspace=workspace, actor=user, external_id="acct-1", data={"name": name}
                )[1]
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert, args=(n,)) for n in ("One", "Two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False, True]
    assert Company.objects.filter(workspace=workspace, crm_external_id="acct-1").count() == 1


# --- money in several currencies -------------------------------------------------------------


def test_arr_in_another_currency_needs_its_rate(workspace, contributor, session_client):
    client = session_client(contributor)

    refused = client.post(url(workspace, "companies"), {"name": "Hexa", "arr": "1000", "arr_currency": "EUR"})
    workspace.currency_rates = {"EUR": "1.08"}
    workspace.save()
    accepted = client.post(
        url(workspace, "companies"), {"name": "Hexa", "arr": "1000", "arr_currency": "EUR"}
    )
    default = client.post(url(workspace, "companies"), {"name": "Plain", "arr": "10"})

    assert refused.status_code == 400
    assert [(e["attr"], e["code"]) for e in refused.json()["errors"]] == [
        ("arr_currency", "currency_rate_missing")
    ]
    assert (accepted.status_code, accepted.json()["arr_currency"]) == (201, "EUR")
    assert default.json()["arr_currency"] == "USD"


def test_demand_and_top_features_add_arr_up_in_the_reporting_currency(
    workspace, owner, contributor, session_client, feature
):
    from priority.recompute import run as recompute

    client = session_client(owner)
    assert (
        client.patch(f"/api/v1/workspaces/{workspace.slug}/", {"currency_rates": {"EUR": "2"}}).status_code
        == 200
    )
    euro = CompanyFactory(workspace=workspace, arr=Decimal(499_500), arr_currency="EUR", segment="smb")
    dollar = CompanyFactory(workspace=workspace, arr=Decimal(1000), arr_currency="USD", segment="smb")
    FeedbackLinkFactory(item=FeedbackItemFactory(workspace=workspace, company=euro), feature=feature)
    FeedbackLinkFactory(item=FeedbackItemFactory(workspace=workspace, company=dollar), feature=feature)
    recompute(workspace_id=workspace.pk)

    top = client.get(url(workspace, "feedback") + "top-features/").json()[0]
    feature.refresh_from_db()

    assert (top["arr"], top["currency"]) == ("1000000.00", "USD")  # 499,500 € × 2 + $1,000
    # smb weight 1 × (1 + log10(1 + 999,000/1000)) + 1 × (1 + log10(1 + 1)), nice-to-have 1 each
    assert feature.score_customer_impact == pytest.approx(4.0 + 1.30103, rel=1e-4)
    in_use = client.patch(f"/api/v1/workspaces/{workspace.slug}/", {"currency_rates": {}})
    assert in_use.status_code == 400
    assert [(e["attr"], e["code"]) for e in in_use.json()["errors"]] == [
        ("currency_rates.EUR", "currency_rate_missing")
    ]


def test_a_new_rate_re_scores_the_workspace(
    workspace, owner, session_client, feature, django_capture_on_commit_callbacks
):
    from roadmap.models import Feature, ScoreState

    Feature.objects.filter(pk=feature.pk).update(score_state=ScoreState.CLEAN)

    response = session_client(owner).patch(
        f"/api/v1/workspaces/{workspace.slug}/",
        {"reporting_currency": "EUR", "currency_rates": {"USD": "0.92"}},
    )

    assert response.status_code == 200
    assert (response.json()["reporting_currency"], response.json()["currency_rates"]) == (
        "EUR",
        {"USD": "0.92"},
    )
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY


def test_tombstones_page_with_their_cursor(workspace, pm, session_client):
    companies = CompanyFactory.create_batch(3, workspace=workspace)
    client = session_client(pm)
    for company in companies:
        assert client.delete(url(workspace, "companies", company.pk)).status_code == 204

    seen, page = [], url(workspace, "companies") + "deleted/?page_size=2"
    while page:
        response = client.get(page)
        assert response.status_code == 200
        seen += [row["id"] for row in response.json()["results"]]
        page = response.json()["next"]

    assert seen == [company.pk for company in companies]
