"""Companies and contacts in the portal: the lists, one company or contact, and their create,
edit and delete forms (roles as the API's, inline errors, nothing written when refused)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from feedback import services
from feedback.models import Company, Contact, FeedbackItem, Vote
from productops.errors import Conflict
from productops.models import AuditEvent, Role
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

ROLES = [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER, Role.OWNER]


def feature_in(workspace, **fields):
    return FeatureFactory(product=ProductFactory(workspace=workspace), **fields)


def company_data(**changes) -> dict:
    data = {
        "name": "Initech",
        "domain": "https://www.Initech.example/about",
        "segment": "enterprise",
        "plan": "Scale",
        "arr": "120000.50",
        "arr_currency": "USD",
        "lifecycle_stage": "active",
        "crm_external_id": "crm-7",
        "do_not_contact": "on",
        "account_owners": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def audit(target, action) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            target_type=target._meta.label_lower, target_id=str(target.pk), action=action
        ).order_by("id")
    )


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- company list and page -----------------------------------------------------------------


def test_company_list_offers_new_company_to_contributors_only(portal_client, workspace):
    CompanyFactory(workspace=workspace, name="Initech", do_not_contact=True)
    for role, shown in [(Role.VIEWER, False), (Role.CONTRIBUTOR, True)]:
        client, _ = portal_client(workspace, role)
        response = client.get("/w/acme/companies/")
        content = response.content.decode()
        assert response.status_code == 200
        assert ('href="/w/acme/companies/new/"' in content) is shown
        assert '<span class="badge badge-dnc">Do not contact</span>' in content
        assert '<a href="/w/acme/contacts/">Contacts</a>' in content


def test_company_page_shows_owners_do_not_contact_and_the_verbs_per_role(portal_client, workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR, username="sam", first_name="Sam", last_name="Sales").user
    company = CompanyFactory(workspace=workspace, name="Initech", do_not_contact=True)
    company.account_owners.set([owner])
    expected = {
        Role.VIEWER: (False, False),
        Role.CONTRIBUTOR: (True, False),
        Role.PRODUCT_MANAGER: (True, True),
        Role.OWNER: (True, True),
    }
    for role, (edit, delete) in expected.items():
        client, _ = portal_client(workspace, role)
        content = client.get(f"/w/acme/companies/{company.pk}/").content.decode()
        assert "<dt>Account owners</dt><dd>Sam Sales</dd>" in content
        assert "Yes: its contacts are never e-mailed" in content
        assert (f'href="/w/acme/companies/{company.pk}/edit/"' in content) is edit
        assert (f'href="/w/acme/companies/{company.pk}/delete/"' in content) is delete


# --- create --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_new_company_form_per_role(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    response = client.get("/w/acme/companies/new/")
    if role == Role.VIEWER:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    form = response.context["form"]
    # Account owners are product managers' (company_account_owners_set).
    assert ("account_owners" in form.fields) is (role != Role.CONTRIBUTOR)
    assert list(form.fields["arr_currency"].choices) == [("USD", "USD")]


def test_create_a_company(portal_client, workspace, member):
    workspace.currency_rates = {"EUR": "1.1"}
    workspace.save()
    sam = member(workspace, Role.VIEWER, username="sam").user
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)

    response = client.post(
        "/w/acme/companies/new/", company_data(arr_currency="EUR", account_owners=f"#{sam.pk} sam")
    )

    company = Company.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/companies/{company.pk}/"
    assert flashed(response) == ["Company “Initech” created."]
    assert (
        company.name,
        company.domain,
        company.segment,
        company.plan,
        company.arr,
        company.arr_currency,
        company.lifecycle_stage,
        company.crm_external_id,
        company.do_not_contact,
    ) == (
        "Initech",
        "initech.example",
        "enterprise",
        "Scale",
        Decimal("120000.50"),
        "EUR",
        "active",
        "crm-7",
        True,
    )
    assert list(company.account_owners.all()) == [sam]
    assert [e.actor for e in audit(company, "created")] == [membership.user]
    assert audit(company, "updated")[0].changes == {"account_owners": [[], [sam.pk]]}


def test_a_contributor_creates_a_company_without_owners(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    # An account_owners value is not a field of their form: ignored.
    response = client.post("/w/acme/companies/new/", company_data(account_owners="#1"))

    company = Company.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert list(company.account_owners.all()) == []
    assert audit(company, "updated") == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"arr": "-1"}, "arr", "Ensure this value is greater than or equal to 0."),
        ({"arr": "lots"}, "arr", "Enter a number."),
        (
            {"arr_currency": "EUR"},
            "arr_currency",
            "Select a valid choice. EUR is not one of the available choices.",
        ),
        (
            {"segment": "galactic"},
            "segment",
            "Select a valid choice. galactic is not one of the available choices.",
        ),
        ({"domain": "taken.example"}, "domain", "A company with this domain exists."),
        ({"crm_external_id": "crm-taken"}, "crm_external_id", "A company with this external id exists."),
        (
            {"account_owners": "nobody"},
            "account_owners",
            "No single match for “nobody”: pick a suggestion or type its #id.",
        ),
    ],
)
def test_create_company_inline_errors_write_nothing(portal_client, workspace, changes, field, message):
    CompanyFactory(workspace=workspace, name="Taken", domain="taken.example", crm_external_id="crm-taken")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    response = client.post("/w/acme/companies/new/", company_data(**changes))

    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert '<p class="error" role="alert">' in response.content.decode()
    assert Company.objects.filter(workspace=workspace).count() == 1
    assert not AuditEvent.objects.filter(target_type="feedback.company").exists()


def test_a_non_member_account_owner_rolls_back_the_whole_create(
    portal_client, workspace, other_workspace, member
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stranger = member(other_workspace, Role.OWNER, username="stranger").user

    response = client.post("/w/acme/companies/new/", company_data(account_owners=f"#{stranger.pk}"))

    assert response.status_code == 400
    assert "account_owners" in response.context["form"].errors
    assert not Company.objects.filter(workspace=workspace).exists()


def test_viewer_cannot_create(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    assert client.post("/w/acme/companies/new/", company_data()).status_code == 403
    assert not Company.objects.exists()


# --- edit ----------------------------------------------------------------------------------


def test_edit_a_company_and_its_owners(portal_client, workspace, member):
    kim = member(workspace, Role.VIEWER, username="kim").user
    lee = member(workspace, Role.VIEWER, username="lee").user
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example", arr=10)
    company.account_owners.set([kim])
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)

    page = client.get(f"/w/acme/companies/{company.pk}/edit/")
    assert page.status_code == 200
    assert f'value="#{kim.pk} kim"' in page.content.decode()

    response = client.post(
        f"/w/acme/companies/{company.pk}/edit/",
        company_data(
            name="Initech Ltd",
            domain="initech.example",
            arr="99",
            do_not_contact=None,
            account_owners=f"#{lee.pk}",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/companies/{company.pk}/"
    assert flashed(response) == ["Company “Initech Ltd” saved."]
    company.refresh_from_db()
    assert (company.name, company.arr, company.do_not_contact) == ("Initech Ltd", Decimal("99"), False)
    assert list(company.account_owners.all()) == [lee]
    changes = [e.changes for e in audit(company, "updated")]
    assert changes[0]["name"] == ["Initech", "Initech Ltd"]
    assert changes[0]["arr"] == ["10.00", "99"]
    assert changes[1] == {"account_owners": [[kim.pk], [lee.pk]]}
    assert all(e.actor == membership.user for e in audit(company, "updated"))


def test_a_contributor_edits_but_keeps_the_owners(portal_client, workspace, member):
    kim = member(workspace, Role.VIEWER, username="kim").user
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example")
    company.account_owners.set([kim])
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(
        f"/w/acme/companies/{company.pk}/edit/", company_data(domain="initech.example", account_owners="")
    )

    assert response.status_code == 302
    assert list(company.account_owners.all()) == [kim]


def test_edit_errors_are_inline_and_write_nothing(portal_client, workspace):
    CompanyFactory(workspace=workspace, domain="taken.example")
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(
        f"/w/acme/companies/{company.pk}/edit/", company_data(name="Renamed", domain="taken.example")
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {"domain": ["A company with this domain exists."]}
    assert "<h1>Edit “Initech”</h1>" in response.content.decode()
    company.refresh_from_db()
    assert (company.name, company.domain) == ("Initech", "initech.example")
    assert not AuditEvent.objects.filter(target_type="feedback.company").exists()


def test_edit_roles_and_other_workspaces(portal_client, workspace, other_workspace):
    company = CompanyFactory(workspace=workspace, name="Initech")
    theirs = CompanyFactory(workspace=other_workspace)
    viewer, _ = portal_client(workspace, Role.VIEWER)
    assert viewer.get(f"/w/acme/companies/{company.pk}/edit/").status_code == 403
    assert viewer.post(f"/w/acme/companies/{company.pk}/edit/", company_data(name="X")).status_code == 403
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(f"/w/acme/companies/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/w/acme/companies/{theirs.pk}/edit/", company_data(name="X")).status_code == 404
    assert client.get(f"/w/acme/companies/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/w/acme/companies/{theirs.pk}/delete/").status_code == 404
    assert Company.objects.get(pk=company.pk).name == "Initech"
    assert Company.objects.filter(pk=theirs.pk).exists()


# --- delete --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_delete_company_per_role(portal_client, workspace, role):
    company = CompanyFactory(workspace=workspace, name="Initech")
    item = FeedbackItemFactory(workspace=workspace, company=company)
    contact = ContactFactory(workspace=workspace, company=company)
    client, membership = portal_client(workspace, role)

    confirm = client.get(f"/w/acme/companies/{company.pk}/delete/")
    response = client.post(f"/w/acme/companies/{company.pk}/delete/")

    if role in (Role.VIEWER, Role.CONTRIBUTOR):
        assert (confirm.status_code, response.status_code) == (403, 403)
        assert Company.objects.filter(pk=company.pk).exists()
        return
    assert confirm.status_code == 200
    assert "Its 1 feedback item and its contacts stay, without a company." in confirm.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/companies/"
    assert flashed(response) == [
        "Company “Initech” deleted. Its feedback and contacts stay, without a company."
    ]
    assert not Company.objects.filter(pk=company.pk).exists()
    assert FeedbackItem.objects.get(pk=item.pk).company_id is None
    assert Contact.objects.get(pk=contact.pk).company_id is None
    event = AuditEvent.objects.get(target_type="feedback.company", action="deleted")
    assert (event.target_id, event.actor) == (str(company.pk), membership.user)


def test_a_refused_company_delete_is_a_message_and_writes_nothing(portal_client, workspace, monkeypatch):
    company = CompanyFactory(workspace=workspace, name="Initech")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    def refuse(*, company, actor):
        raise Conflict("Used by 2 stakeholders; remove them first.", code="in_use")

    monkeypatch.setattr(services, "company_delete", refuse)
    response = client.post(f"/w/acme/companies/{company.pk}/delete/", follow=True)

    assert response.redirect_chain == [(f"/w/acme/companies/{company.pk}/", 302)]
    assert (
        "“Initech” was not deleted: Used by 2 stakeholders; remove them first." in response.content.decode()
    )
    assert Company.objects.filter(pk=company.pk).exists()
    assert not AuditEvent.objects.filter(target_type="feedback.company").exists()


# --- contacts ------------------------------------------------------------------------------


def test_contact_list_searches_name_and_email(portal_client, workspace, other_workspace):
    initech = CompanyFactory(workspace=workspace, name="Initech", do_not_contact=True)
    peter = ContactFactory(
        workspace=workspace, email="peter@initech.example", name="Peter Gibbons", company=initech
    )
    ContactFactory(workspace=workspace, email="bill@lumbergh.example", name="Bill")
    ContactFactory(workspace=other_workspace, email="peter@elsewhere.example")
    FeedbackItemFactory(workspace=workspace, contact=peter)
    VoteFactory(contact=peter, feature=feature_in(workspace))
    client, _ = portal_client(workspace)

    def listed(query: str) -> list[str]:
        response = client.get(f"/w/acme/contacts/{query}")
        assert response.status_code == 200
        return [c.email for c in response.context["rows"]]

    assert listed("") == ["bill@lumbergh.example", "peter@initech.example"]
    assert listed("?q=peter") == ["peter@initech.example"]
    assert listed("?q=GIBBONS+initech") == ["peter@initech.example"]
    assert listed("?q=lumbergh") == ["bill@lumbergh.example"]
    assert listed("?q=nobody") == []
    response = client.get("/w/acme/contacts/?q=peter")
    row = response.context["rows"][0]
    assert (row.feedback_count, row.vote_count) == (1, 1)
    content = response.content.decode()
    dnc = '<span class="badge badge-dnc">Do not contact</span>'
    assert f'<a href="/w/acme/companies/{initech.pk}/">Initech</a> {dnc}' in content
    assert 'href="/w/acme/contacts/new/"' not in content  # a viewer


def test_contact_page_shows_their_feedback_and_votes(portal_client, workspace, other_workspace):
    contact = ContactFactory(workspace=workspace, email="peter@initech.example", name="Peter")
    item = FeedbackItemFactory(workspace=workspace, contact=contact, text="Offline mode please")
    feature = feature_in(workspace, title="Offline mode")
    FeedbackLinkFactory(item=item, feature=feature, importance="critical")
    VoteFactory(contact=contact, feature=feature_in(workspace, title="Dark mode"))
    FeedbackItemFactory(workspace=workspace, text="Someone else's idea")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    response = client.get(f"/w/acme/contacts/{contact.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert [i.pk for i in response.context["feedback"]] == [item.pk]
    assert "Offline mode please" in content
    assert f'<a href="/w/acme/features/{feature.pk}/">Offline mode</a>' in content
    assert "Critical / deal-blocker" in content
    assert ">Dark mode</a>" in content
    assert "Someone else" not in content
    assert f'href="/w/acme/contacts/{contact.pk}/edit/"' in content
    assert f'href="/w/acme/contacts/{contact.pk}/delete/"' in content
    theirs = ContactFactory(workspace=other_workspace)
    assert client.get(f"/w/acme/contacts/{theirs.pk}/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_create_a_contact_per_role(portal_client, workspace, role):
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example")
    client, membership = portal_client(workspace, role)

    form = client.get(f"/w/acme/contacts/new/?company={company.pk}")
    response = client.post(
        "/w/acme/contacts/new/",
        {
            "email": "Peter@Initech.example",
            "name": "Peter",
            "company": f"#{company.pk} Initech",
            "crm_external_id": "c-1",
        },
    )

    if role == Role.VIEWER:
        assert (form.status_code, response.status_code) == (403, 403)
        assert not Contact.objects.exists()
        return
    assert form.status_code == 200
    assert f'value="#{company.pk} Initech (initech.example)"' in form.content.decode()
    contact = Contact.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/contacts/{contact.pk}/"
    assert (contact.email, contact.name, contact.company, contact.crm_external_id) == (
        "peter@initech.example",
        "Peter",
        company,
        "c-1",
    )
    assert [e.actor for e in audit(contact, "created")] == [membership.user]


def test_a_company_typed_by_its_domain_is_found(portal_client, workspace):
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(
        "/w/acme/contacts/new/", {"email": "bob@example.com", "company": "initech.example"}
    )

    assert response.status_code == 302
    assert Contact.objects.get().company == company


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": "TAKEN@example.com"}, "email", "A contact with this email exists."),
        (
            {"email": "new@example.com", "crm_external_id": "crm-taken"},
            "crm_external_id",
            "A contact with this external id exists.",
        ),
        (
            {"email": "new@example.com", "company": "Nowhere Inc"},
            "company",
            "No single match for “Nowhere Inc”: pick a suggestion or type its #id.",
        ),
        (
            {"email": "new@example.com", "company": "#OTHER"},
            "company",
            "No single match for “#OTHER”: pick a suggestion or type its #id.",
        ),
    ],
)
def test_create_contact_inline_errors_write_nothing(
    portal_client, workspace, other_workspace, data, field, message
):
    ContactFactory(workspace=workspace, email="taken@example.com", crm_external_id="crm-taken")
    theirs = CompanyFactory(workspace=other_workspace)
    data = {key: value.replace("OTHER", str(theirs.pk)) for key, value in data.items()}
    message = message.replace("OTHER", str(theirs.pk))
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post("/w/acme/contacts/new/", data)

    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert Contact.objects.filter(workspace=workspace).count() == 1
    assert not AuditEvent.objects.filter(target_type="feedback.contact").exists()


def test_edit_a_contact(portal_client, workspace, other_workspace):
    old, new = (
        CompanyFactory(workspace=workspace, name="Old"),
        CompanyFactory(workspace=workspace, name="New"),
    )
    contact = ContactFactory(workspace=workspace, email="peter@example.com", name="Peter", company=old)
    ContactFactory(workspace=workspace, email="taken@example.com")
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)

    refused = client.post(f"/w/acme/contacts/{contact.pk}/edit/", {"email": "taken@example.com", "name": "P"})
    assert refused.status_code == 400
    assert refused.context["form"].errors == {"email": ["A contact with this email exists."]}
    assert "<h1>Edit Peter</h1>" in refused.content.decode()
    contact.refresh_from_db()
    assert (contact.email, contact.name) == ("peter@example.com", "Peter")

    response = client.post(
        f"/w/acme/contacts/{contact.pk}/edit/",
        {"email": "peter@example.com", "name": "Peter G", "company": f"#{new.pk}", "crm_external_id": ""},
    )
    assert response.status_code == 302
    assert flashed(response) == ["Contact peter@example.com saved."]
    contact.refresh_from_db()
    assert (contact.name, contact.company) == ("Peter G", new)
    [event] = audit(contact, "updated")
    assert event.actor == membership.user
    assert event.changes == {"name": ["Peter", "Peter G"], "company": ["Old", "New"]}

    viewer, _ = portal_client(workspace, Role.VIEWER)
    assert viewer.post(f"/w/acme/contacts/{contact.pk}/edit/", {"email": "x@example.com"}).status_code == 403
    theirs = ContactFactory(workspace=other_workspace)
    assert client.get(f"/w/acme/contacts/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/w/acme/contacts/{theirs.pk}/edit/", {"email": "x@example.com"}).status_code == 404
    assert Contact.objects.get(pk=contact.pk).email == "peter@example.com"


@pytest.mark.parametrize("role", ROLES)
def test_delete_contact_per_role(portal_client, workspace, role):
    contact = ContactFactory(workspace=workspace, email="peter@example.com")
    item = FeedbackItemFactory(workspace=workspace, contact=contact)
    VoteFactory(contact=contact, feature=feature_in(workspace))
    client, membership = portal_client(workspace, role)

    confirm = client.get(f"/w/acme/contacts/{contact.pk}/delete/")
    response = client.post(f"/w/acme/contacts/{contact.pk}/delete/")

    if role in (Role.VIEWER, Role.CONTRIBUTOR):
        assert (confirm.status_code, response.status_code) == (403, 403)
        assert Contact.objects.filter(pk=contact.pk).exists()
        assert Vote.objects.count() == 1
        return
    assert confirm.status_code == 200
    assert "Their 1 vote is deleted" in confirm.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/contacts/"
    assert flashed(response) == ["Contact peter@example.com deleted, with their votes. Their feedback stays."]
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Vote.objects.exists()
    assert FeedbackItem.objects.get(pk=item.pk).contact_id is None
    event = AuditEvent.objects.get(target_type="feedback.contact", action="deleted")
    assert (event.target_id, event.actor) == (str(contact.pk), membership.user)


def test_a_refused_contact_delete_is_a_message_and_writes_nothing(
    portal_client, workspace, other_workspace, monkeypatch
):
    contact = ContactFactory(workspace=workspace, email="peter@example.com")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    theirs = ContactFactory(workspace=other_workspace)
    assert client.post(f"/w/acme/contacts/{theirs.pk}/delete/").status_code == 404

    def refuse(*, contact, actor):
        raise Conflict("Used by a stakeholder; remove it first.", code="in_use")

    monkeypatch.setattr(services, "contact_delete", refuse)
    response = client.post(f"/w/acme/contacts/{contact.pk}/delete/", follow=True)

    assert response.redirect_chain == [(f"/w/acme/contacts/{contact.pk}/", 302)]
    assert (
        "peter@example.com was not deleted: Used by a stakeholder; remove it first."
        in response.content.decode()
    )
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Contact.objects.filter(pk=theirs.pk).exists()


# --- query counts --------------------------------------------------------------------------


def _more_companies(workspace, n: int) -> None:
    for _ in range(n):
        company = CompanyFactory(workspace=workspace, do_not_contact=True)
        contact = ContactFactory(workspace=workspace, company=company)
        FeedbackItemFactory(workspace=workspace, company=company, contact=contact)
        VoteFactory(contact=contact, feature=feature_in(workspace))


def test_company_list_query_count(portal_client, workspace, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.OWNER)
    _more_companies(workspace, 1)
    client.get("/w/acme/companies/")
    # session, user, membership, workspace switcher; count, page of companies with their counts.
    with django_assert_num_queries(6):
        assert client.get("/w/acme/companies/?sort=-arr").status_code == 200
    _more_companies(workspace, 12)
    with django_assert_num_queries(6):
        response = client.get("/w/acme/companies/?sort=-arr")
    assert len(response.context["rows"]) == 13


def test_contact_list_query_count(portal_client, workspace, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.OWNER)
    _more_companies(workspace, 1)
    client.get("/w/acme/contacts/")
    # session, user, membership, switcher; count, page of contacts with their company and counts.
    with django_assert_num_queries(6):
        assert client.get("/w/acme/contacts/?q=example").status_code == 200
    _more_companies(workspace, 12)
    with django_assert_num_queries(6):
        response = client.get("/w/acme/contacts/?q=example")
    assert len(response.context["rows"]) == 13


def test_contact_page_query_count(portal_client, workspace, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.OWNER)
    contact = ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace))

    def add(n: int) -> None:
        for _ in range(n):
            item = FeedbackItemFactory(workspace=workspace, contact=contact)
            FeedbackLinkFactory(item=item, feature=feature_in(workspace))
            VoteFactory(contact=contact, feature=feature_in(workspace))

    add(1)
    client.get(f"/w/acme/contacts/{contact.pk}/")
    # session, user, membership, switcher; contact; feedback count, page, links; votes.
    with django_assert_num_queries(9):
        assert client.get(f"/w/acme/contacts/{contact.pk}/").status_code == 200
    add(12)
    with django_assert_num_queries(9):
        response = client.get(f"/w/acme/contacts/{contact.pk}/")
    assert len(response.context["votes"]) == 13


def test_company_form_query_count(portal_client, workspace, member, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.OWNER)
    company = CompanyFactory(workspace=workspace)
    company.account_owners.set([member(workspace).user])
    client.get(f"/w/acme/companies/{company.pk}/edit/")
    # session, user, membership, switcher; company; its owners.
    with django_assert_num_queries(6):
        assert client.get(f"/w/acme/companies/{company.pk}/edit/").status_code == 200
    company.account_owners.add(*[member(workspace).user for _ in range(5)])
    with django_assert_num_queries(6):
        assert client.get(f"/w/acme/companies/{company.pk}/edit/").status_code == 200
