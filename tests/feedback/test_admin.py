"""The feedback admin console: every model browsable with constant queries, writes through
the services, computed columns read-only, and the merge action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from feedback import services, vectors
from feedback.models import (
    Company,
    Contact,
    DuplicateSuggestion,
    FeatureVector,
    FeedbackItem,
    FeedbackLink,
    FeedbackSettings,
    FeedbackVector,
    InboundWebhook,
    Vote,
)
from productops.models import AuditEvent
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    InboundWebhookFactory,
    VoteFactory,
)
from tests.feedback.test_themes import THEME_ADMIN_MAKERS
from tests.productops.factories import WorkspaceFactory
from tests.productops.test_admin import admin_url, assert_admin_pages_work
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _feature():
    return FeatureFactory(product=ProductFactory())


def _suggestion(n: int) -> DuplicateSuggestion:
    item = FeedbackItemFactory()
    other = FeedbackItemFactory(workspace=item.workspace)
    return DuplicateSuggestion.objects.create(
        workspace=item.workspace, item=item, similar_item=other, similarity=0.8
    )


FEEDBACK_MAKERS = {
    Company: lambda n: CompanyFactory(),
    Contact: lambda n: ContactFactory(company=CompanyFactory()),
    FeedbackItem: lambda n: FeedbackItemFactory(contact=ContactFactory(), company=CompanyFactory()),
    FeedbackLink: lambda n: FeedbackLinkFactory(feature=_feature()),
    Vote: lambda n: VoteFactory(feature=_feature()),
    DuplicateSuggestion: _suggestion,
    InboundWebhook: lambda n: InboundWebhookFactory(workspace=WorkspaceFactory()),
    FeedbackSettings: lambda n: services.feedback_settings_update(
        workspace=WorkspaceFactory(), actor=None, semantic_suggestions=False
    ),
    FeedbackVector: lambda n: _vector(),
    FeatureVector: lambda n: _feature_vector(),
}
FEEDBACK_MAKERS.update(THEME_ADMIN_MAKERS)  # the themes' models (tests/feedback/test_themes.py)


def _vector():
    item = FeedbackItemFactory(text="Export the roadmap to PDF")
    vectors.items_embed(item_ids=[item.pk])
    return FeedbackVector.objects.get(item=item)


def _feature_vector():
    feature = _feature()
    vectors.features_embed_pending(workspace_id=feature.workspace_id)
    return FeatureVector.objects.get(feature=feature)


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("feedback").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    assert set(FEEDBACK_MAKERS) == models


@pytest.mark.parametrize("model", list(FEEDBACK_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, FEEDBACK_MAKERS[model])


def test_merge_action_merges_into_the_oldest_keeping_each_items_links_and_votes(admin_client):
    feature, other_feature = _feature(), None
    workspace = feature.workspace
    other_feature = FeatureFactory(product=feature.product)
    now = timezone.now()
    oldest = FeedbackItemFactory(workspace=workspace, received_at=now - timedelta(days=3), tags=["a"])
    newer = FeedbackItemFactory(workspace=workspace, received_at=now - timedelta(days=1), tags=["b"])
    FeedbackLinkFactory(feature=feature, item=oldest, importance="nice_to_have")
    FeedbackLinkFactory(feature=feature, item=newer, importance="critical")
    FeedbackLinkFactory(feature=other_feature, item=newer)
    vote = VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace))

    response = admin_client.post(
        admin_url(FeedbackItem, "changelist"),
        {"action": "merge_into_oldest", "_selected_action": [newer.pk, oldest.pk]},
        follow=True,
    )

    assert f"Merged 1 item(s) into #{oldest.pk}." in response.content.decode()
    newer.refresh_from_db()
    oldest.refresh_from_db()
    assert (newer.merged_into_id, newer.state) == (oldest.pk, "archived")
    assert oldest.tags == ["a", "b"]
    # Each item keeps its own links: merging never changes who asks for what.
    assert dict(FeedbackLink.objects.filter(item=oldest).values_list("feature_id", "importance")) == {
        feature.pk: "nice_to_have"
    }
    assert dict(FeedbackLink.objects.filter(item=newer).values_list("feature_id", "importance")) == {
        feature.pk: "critical",
        other_feature.pk: "nice_to_have",
    }
    assert Vote.objects.filter(pk=vote.pk, feature=feature).exists()
    merged = AuditEvent.objects.filter(action="merged", target_type="feedback.feedbackitem")
    assert sorted(merged.values_list("target_id", flat=True)) == sorted([str(oldest.pk), str(newer.pk)])
    assert all(e.changes == {"source": newer.pk, "target": oldest.pk} for e in merged)


def test_merge_action_needs_two_items_of_one_workspace(admin_client):
    a = FeedbackItemFactory()
    b = FeedbackItemFactory()

    one = admin_client.post(
        admin_url(FeedbackItem, "changelist"),
        {"action": "merge_into_oldest", "_selected_action": [a.pk]},
        follow=True,
    )
    two = admin_client.post(
        admin_url(FeedbackItem, "changelist"),
        {"action": "merge_into_oldest", "_selected_action": [a.pk, b.pk]},
        follow=True,
    )

    assert "Select at least two items to merge." in one.content.decode()
    assert "Only items of the same workspace can be merged." in two.content.decode()
    assert FeedbackItem.objects.filter(merged_into__isnull=False).count() == 0


def test_computed_columns_are_read_only(admin_client):
    item = FeedbackItemFactory()
    page = admin_client.get(admin_url(FeedbackItem, "change", item.pk)).content.decode()

    assert 'name="text"' in page
    assert 'name="match_text"' not in page
    assert 'name="merged_into"' not in page
    webhook = InboundWebhookFactory()
    hook_page = admin_client.get(admin_url(InboundWebhook, "change", webhook.pk)).content.decode()
    assert webhook.secret not in hook_page


def test_editing_an_item_goes_through_the_service(admin_client):
    item = FeedbackItemFactory(text="Old words here")

    response = admin_client.post(
        admin_url(FeedbackItem, "change", item.pk),
        {
            "text": "Export to CSV please",
            "kind": "request",
            "importance": "important",
            "state": "new",
            "tags": "[]",
        },
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.text, item.importance, item.match_text) == (
        "Export to CSV please",
        "important",
        "export csv",
    )
    assert AuditEvent.objects.filter(target_type="feedback.feedbackitem", action="updated").count() == 1


def _staff_with(*codenames: str):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.productops.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_rotating_a_webhook_secret_needs_the_change_permission(admin_client):
    webhook = InboundWebhookFactory(workspace=WorkspaceFactory())
    secret = webhook.secret
    url = admin_url(InboundWebhook, "changelist")
    form = {"action": "rotate_secret", "_selected_action": [webhook.pk]}

    viewer = _staff_with("view_inboundwebhook")
    assert "rotate_secret" not in viewer.get(url).content.decode()
    viewer.post(url, form)
    webhook.refresh_from_db()
    assert webhook.secret == secret

    response = admin_client.post(url, form, follow=True)
    webhook.refresh_from_db()
    assert webhook.secret != secret
    assert f"new signing secret (shown once): {webhook.secret}" in response.content.decode()


def test_creating_a_webhook_shows_its_secret_once_to_its_creator(admin_client):
    workspace = WorkspaceFactory()
    response = admin_client.post(
        admin_url(InboundWebhook, "add"),
        {"workspace": workspace.pk, "provider": "generic", "name": "CRM"},
        follow=True,
    )
    webhook = InboundWebhook.objects.get(workspace=workspace)
    assert f"Signing secret (shown once): {webhook.secret}" in response.content.decode()
    assert (
        webhook.secret
        not in admin_client.get(admin_url(InboundWebhook, "change", webhook.pk)).content.decode()
    )


def test_feedback_received_before_1970_is_refused_in_the_console(admin_client):
    workspace = WorkspaceFactory()

    response = admin_client.post(
        admin_url(FeedbackItem, "add"),
        {
            "workspace": workspace.pk,
            "text": "Spreadsheet epoch",
            "source": "portal",
            "kind": "request",
            "importance": "important",
            "tags": "[]",
            "received_at_0": "1899-12-30",
            "received_at_1": "00:00:00",
        },
        follow=True,
    )

    assert "Must be between 1970-01-01 and" in response.content.decode()
    assert not FeedbackItem.objects.exists()


def test_an_operator_sets_account_owners_and_do_not_contact_through_the_services(admin_client):
    from feedback.models import Company
    from productops.models import Role
    from tests.productops.factories import MembershipFactory

    company = CompanyFactory(name="Initech", arr=1000)
    owner = MembershipFactory(workspace=company.workspace, role=Role.VIEWER).user

    response = admin_client.post(
        admin_url(Company, "change", company.pk),
        {
            "name": "Initech",
            "domain": "",
            "segment": "",
            "plan": "",
            "arr": "1000",
            "arr_currency": company.arr_currency,
            "lifecycle_stage": company.lifecycle_stage,
            "crm_external_id": "",
            "do_not_contact": "on",
            "account_owners": [owner.pk],
        },
    )

    assert response.status_code == 302, response.content[:2000]
    company.refresh_from_db()
    assert company.do_not_contact is True
    assert list(company.account_owners.all()) == [owner]
    changes = [e.changes for e in AuditEvent.objects.filter(target_type="feedback.company")]
    assert {"account_owners": [[], [owner.pk]]} in changes
    assert any("do_not_contact" in c for c in changes)
