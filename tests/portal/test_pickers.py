"""Pickers: the suggestions endpoint and the form fields that resolve what was typed or chosen."""

from __future__ import annotations

import pytest
from django import forms

from portal.forms.pickers import PickerField, PickerMultipleField, bind_pickers
from productops.models import Role
from roadmap.models import Tag
from tests.feedback.factories import CompanyFactory, ContactFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def url(workspace, kind, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/w/{workspace.slug}/pick/{kind}/" + (f"?{query}" if query else "")


def test_company_suggestions_match_name_or_domain_in_the_workspace_only(
    portal_client, workspace, other_workspace
):
    client, _ = portal_client(workspace, Role.VIEWER)
    acme = CompanyFactory(workspace=workspace, name="Acme Corp", domain="acme.test")
    CompanyFactory(workspace=workspace, name="Initech", domain="initech.test")
    CompanyFactory(workspace=other_workspace, name="Acme Elsewhere", domain="acme-else.test")

    response = client.get(url(workspace, "companies", q="acme"))

    assert response.status_code == 200
    assert response.content.decode().strip() == (
        f'<option value="#{acme.pk} Acme Corp (acme.test)">Acme Corp (acme.test)</option>'
    )


def test_the_field_parameter_names_the_query_and_multiple_keeps_earlier_values(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    Tag.objects.create(workspace=workspace, name="mobile")

    response = client.get(url(workspace, "tags", field="tags", tags="api,%20mob", multiple=1))

    assert response.content.decode().strip() == '<option value="api, mobile">mobile</option>'


def test_suggestions_are_capped_and_their_query_count_does_not_grow(
    portal_client, workspace, django_assert_num_queries
):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    FeatureFactory.create_batch(5, product=product, title="Export things")
    client.get(url(workspace, "features", q="export"))  # session and caches warmed

    with django_assert_num_queries(4):  # session, user, membership, the features
        few = client.get(url(workspace, "features", q="export"))
    FeatureFactory.create_batch(30, product=product, title="Export more")
    with django_assert_num_queries(4):
        many = client.get(url(workspace, "features", q="export"))

    assert few.content.decode().count("<option") == 5
    assert many.content.decode().count("<option") == 20


def test_member_suggestions_carry_the_user_id(portal_client, member, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    dana = member(workspace, Role.CONTRIBUTOR, username="dana", first_name="Dana", last_name="Scully").user

    response = client.get(url(workspace, "members", q="scully"))

    assert response.content.decode().strip() == (
        f'<option value="#{dana.pk} Dana Scully (dana)">Dana Scully (dana)</option>'
    )


def test_an_unknown_kind_is_404_and_a_non_member_gets_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    stranger, _ = portal_client(other_workspace, Role.OWNER)

    assert client.get(url(workspace, "workspaces", q="a")).status_code == 404
    assert stranger.get(url(workspace, "companies", q="a")).status_code == 404


def test_signed_out_is_sent_to_sign_in(client, workspace):
    response = client.get(url(workspace, "companies", q="a"))

    assert response.status_code == 302
    assert "/login/" in response["Location"] or "login" in response["Location"]


class PickForm(forms.Form):
    company = PickerField(kind="companies", required=False)
    contact = PickerField(kind="contacts", required=False)
    features = PickerMultipleField(kind="features", required=False)
    tags = PickerMultipleField(kind="tags", required=False)
    owner = PickerField(kind="members", required=False)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        bind_pickers(self, workspace)


def test_fields_resolve_ids_exact_values_and_new_tag_names(member, workspace):
    acme = CompanyFactory(workspace=workspace, name="Acme Corp", domain="acme.test")
    contact = ContactFactory(workspace=workspace, company=acme, email="ann@acme.test")
    product = ProductFactory(workspace=workspace)
    sso, dark = (
        FeatureFactory(product=product, title="SSO"),
        FeatureFactory(product=product, title="Dark mode"),
    )
    dana = member(workspace, Role.CONTRIBUTOR, username="dana").user

    form = PickForm(
        {
            "company": "acme.test",
            "contact": "ANN@acme.test",
            "features": f"#{dark.pk} Dark mode, sso, #{dark.pk}",
            "tags": "api, New tag, api",
            "owner": f"#{dana.pk} dana",
        },
        workspace=workspace,
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "company": acme,
        "contact": contact,
        "features": [dark, sso],
        "tags": ["api", "New tag"],
        "owner": dana,
    }


def test_fields_refuse_another_workspaces_id_and_ambiguous_names(workspace, other_workspace):
    theirs = CompanyFactory(workspace=other_workspace, name="Theirs")
    CompanyFactory(workspace=workspace, name="Twin", domain="twin-a.test")
    CompanyFactory(workspace=workspace, name="Twin", domain="twin-b.test")

    form = PickForm({"company": f"#{theirs.pk} Theirs", "contact": "nobody@x.test"}, workspace=workspace)
    assert not form.is_valid()
    assert form.errors["company"] == [
        f"No single match for “#{theirs.pk} Theirs”: pick a suggestion or type its #id."
    ]
    assert form.errors["contact"] == [
        "No single match for “nobody@x.test”: pick a suggestion or type its #id."
    ]

    ambiguous = PickForm({"company": "twin"}, workspace=workspace)
    assert not ambiguous.is_valid()
    assert list(ambiguous.errors) == ["company"]


def test_the_widget_renders_a_datalist_pointed_at_the_search(workspace):
    acme = CompanyFactory(workspace=workspace, name="Acme Corp", domain="")
    form = PickForm(initial={"company": acme}, workspace=workspace)

    html = str(form["company"])

    assert f'value="#{acme.pk} Acme Corp"' in html
    assert f'hx-get="/w/{workspace.slug}/pick/companies/?field=company"' in html
    assert 'list="id_company-options"' in html
    assert '<datalist id="id_company-options"></datalist>' in html


def test_an_empty_query_lists_the_first_rows_and_members_are_not_found_by_address(
    portal_client, member, workspace
):
    client, _ = portal_client(workspace, Role.VIEWER)
    CompanyFactory(workspace=workspace, name="Beta", domain="beta.test")
    alpha = CompanyFactory(workspace=workspace, name="Alpha", domain="alpha.test")
    member(workspace, Role.CONTRIBUTOR, username="dana", email="secret-dana@corp.test")

    companies = client.get(url(workspace, "companies", q="")).content.decode()
    by_address = client.get(url(workspace, "members", q="secret-dana")).content.decode()

    assert companies.index(f"#{alpha.pk} Alpha") < companies.index("Beta")
    assert by_address.strip() == ""
