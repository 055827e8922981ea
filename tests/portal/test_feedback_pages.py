"""The feedback pages of the team portal: triage inbox, item pane and actions, CSV import, companies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import Company, Contact, DuplicateSuggestion, FeedbackItem, FeedbackLink
from productops.models import AuditEvent, Role
from roadmap.models import Feature, ScoreState
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(1)&gt;"
NOW = timezone.now()


def ago(hours: int):
    return NOW - timedelta(hours=hours)


def inbox_url(workspace, query: str = "") -> str:
    return f"/w/{workspace.slug}/feedback/{query}"


def item_url(item, suffix: str = "") -> str:
    return f"/w/{item.workspace.slug}/feedback/{item.pk}/{suffix}"


def feature_in(workspace, **fields) -> Feature:
    return FeatureFactory(product=ProductFactory(workspace=workspace), **fields)


def states(*items) -> list[str]:
    return [FeedbackItem.objects.get(pk=item.pk).state for item in items]


# --- the inbox list ----------------------------------------------------------------------


def test_inbox_lists_new_items_newest_first_and_not_archived_ones(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace)
    older = FeedbackItemFactory(workspace=workspace, text="Older request for exports", received_at=ago(5))
    newer = FeedbackItemFactory(workspace=workspace, text="Newer request for charts", received_at=ago(1))
    FeedbackItemFactory(workspace=workspace, text="An archived complaint", state="archived")
    FeedbackItemFactory(workspace=workspace, text="A reviewed question", state="reviewed")
    FeedbackItemFactory(workspace=other_workspace, text="Someone else's feedback")

    response = client.get(inbox_url(workspace))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Newer request for charts" in content
    assert "Older request for exports" in content
    assert content.index("Newer request for charts") < content.index("Older request for exports")
    assert "An archived complaint" not in content
    assert "A reviewed question" not in content
    assert "Someone else&#x27;s feedback" not in content
    # The newest item is open in the pane.
    assert f'<h2 id="pane-h" tabindex="-1">Feedback #{newer.pk} ' in content
    assert f'data-item-id="{older.pk}"' in content
    # Counts per state.
    assert (
        '<a href="/w/acme/feedback/?state=new" aria-current="page">New <span class="badge">2</span></a>'
        in content
    )
    assert '<a href="/w/acme/feedback/?state=archived">Archived <span class="badge">1</span></a>' in content
    assert '<a href="/w/acme/feedback/?state=all">All <span class="badge">4</span></a>' in content


def test_state_switcher_shows_that_state(portal_client, workspace):
    client, _ = portal_client(workspace)
    FeedbackItemFactory(workspace=workspace, text="Still new")
    FeedbackItemFactory(workspace=workspace, text="Put away", state="archived")

    archived = client.get(inbox_url(workspace, "?state=archived")).content.decode()
    every = client.get(inbox_url(workspace, "?state=all")).content.decode()

    assert "Put away" in archived
    assert "Still new" not in archived
    assert "Put away" in every
    assert "Still new" in every


def test_filters_and_search_narrow_the_list(portal_client, workspace):
    client, _ = portal_client(workspace)
    big = CompanyFactory(workspace=workspace, name="Bigcorp", segment="enterprise")
    small = CompanyFactory(workspace=workspace, name="Smallco", segment="smb")
    FeedbackItemFactory(
        workspace=workspace, text="Slack export of reports", source="slack", company=big, tags=["Export"]
    )
    FeedbackItemFactory(workspace=workspace, text="Email about dark mode", source="email", company=small)
    FeedbackItemFactory(workspace=workspace, text="Call about pricing pages", source="sales_call")

    def listed(query: str) -> list[str]:
        response = client.get(inbox_url(workspace, query))
        assert response.status_code == 200
        rows = [item.text for item in response.context["rows"]]
        return sorted(rows)

    assert listed("?source=slack") == ["Slack export of reports"]
    assert listed(f"?company={small.pk}") == ["Email about dark mode"]
    assert listed("?segment=enterprise") == ["Slack export of reports"]
    assert listed("?tag=export") == ["Slack export of reports"]
    assert listed("?q=dark+mode") == ["Email about dark mode"]
    assert listed("?q=pricing&source=sales_call") == ["Call about pricing pages"]
    assert listed("?q=nothing-like-this") == []
    # An invalid filter is ignored and shown, not a 500.
    response = client.get(inbox_url(workspace, "?source=carrier-pigeon"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3
    assert "Select a valid choice" in response.content.decode()


def test_item_links_keep_the_filters(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace, text="Dark mode please", source="slack")

    content = client.get(inbox_url(workspace, "?source=slack&q=dark")).content.decode()

    assert f'hx-get="/w/acme/feedback/{item.pk}/?source=slack&amp;q=dark"' in content
    assert f'action="/w/acme/feedback/{item.pk}/state/?source=slack&amp;q=dark"' in content


# --- the detail pane ----------------------------------------------------------------------------


def test_htmx_gets_the_pane_alone_and_a_browser_the_whole_page(portal_client, workspace):
    client, _ = portal_client(workspace)
    company = CompanyFactory(
        workspace=workspace, name="Initech", segment="enterprise", arr=Decimal("120000"), arr_currency="USD"
    )
    contact = ContactFactory(
        workspace=workspace, company=company, name="Peter", email="peter@initech.example"
    )
    feature = feature_in(workspace, title="Scheduled reports", status="planned", horizon="next")
    item = FeedbackItemFactory(
        workspace=workspace,
        text="We need scheduled reports",
        contact=contact,
        source="zendesk",
        source_url="https://support.example/tickets/42",
        importance="critical",
        tags=["reports", "enterprise"],
    )
    FeedbackLinkFactory(item=item, feature=feature, importance="important")

    partial = client.get(item_url(item), **HTMX)
    full = client.get(item_url(item))

    assert partial.status_code == 200
    pane = partial.content.decode()
    assert "<html" not in pane
    assert pane.lstrip().startswith('<article class="feedback-detail"')
    assert "We need scheduled reports" in pane
    assert "Peter" in pane
    assert "peter@initech.example" in pane
    assert '<a href="/w/acme/companies/' in pane
    assert "Initech</a> · Enterprise · ARR $120,000" in pane
    assert (
        '<a href="https://support.example/tickets/42" rel="noopener noreferrer nofollow" target="_blank">'
        in pane
    )
    assert "Critical / deal-blocker" in pane
    assert '<span class="badge">reports</span>' in pane
    assert f'<a href="/w/acme/features/{feature.pk}/">Scheduled reports</a>' in pane
    assert '<span class="badge badge-planned">Planned</span>' in pane
    assert full.status_code == 200
    page = full.content.decode()
    assert "<html" in page
    assert '<div id="inbox" class="inbox">' in page
    assert f'<h2 id="pane-h" tabindex="-1">Feedback #{item.pk} ' in page


def test_pane_shows_stored_and_live_suggestions(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace, text="Please add single sign-on with Okta for our team")
    stored_twin = FeedbackItemFactory(workspace=workspace, text="Totally different words here")
    live_twin = FeedbackItemFactory(
        workspace=workspace, text="Please add single sign-on with Okta for our team!"
    )
    stored_feature = feature_in(workspace, title="Audit log export")
    live_feature = feature_in(workspace, title="Single sign-on with Okta")
    declined = feature_in(workspace, title="Okta single sign-on", status="declined")
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=stored_twin, similarity=0.9
    )
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_feature=stored_feature, similarity=0.8
    )
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_feature=declined, similarity=0.95
    )

    response = client.get(item_url(item), **HTMX)

    suggestions = response.context
    assert [s.item for s in suggestions["item_suggestions"]] == [live_twin, stored_twin]
    assert [s.suggestion is None for s in suggestions["item_suggestions"]] == [True, False]
    assert [s.feature for s in suggestions["feature_suggestions"]] == [live_feature, stored_feature]
    content = response.content.decode()
    assert f"Merge into #{stored_twin.pk}" in content
    assert f"Merge into #{live_twin.pk}" in content
    assert content.count("Not a duplicate") == 1  # only a stored suggestion can be dismissed
    # The picker offers the suggested features first, the best one chosen.
    assert suggestions["feature_options"][:2] == [live_feature, stored_feature]
    assert f'<option value="{live_feature.pk}" selected>' in content
    assert declined not in suggestions["feature_options"]


def test_viewer_sees_the_pane_without_actions(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    item = FeedbackItemFactory(workspace=workspace)
    twin = FeedbackItemFactory(workspace=workspace)
    DuplicateSuggestion.objects.create(workspace=workspace, item=item, similar_item=twin, similarity=0.9)

    content = client.get(item_url(item), **HTMX).content.decode()

    assert "Mark reviewed" not in content
    assert "Archive" not in content
    assert "Link to a feature" not in content
    assert "Merge into" not in content
    assert "Not a duplicate" not in content
    inbox = client.get(inbox_url(workspace)).content.decode()
    assert 'name="ids"' not in inbox
    assert "Import CSV" not in inbox


def test_text_is_escaped_in_the_list_the_pane_and_the_company_page(portal_client, workspace):
    client, _ = portal_client(workspace)
    company = CompanyFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace, text=XSS, company=company)

    for response in (
        client.get(inbox_url(workspace)),
        client.get(item_url(item), **HTMX),
        client.get(f"/w/acme/companies/{company.pk}/"),
    ):
        content = response.content.decode()
        assert response.status_code == 200
        assert XSS_ESCAPED in content
        assert "<script>alert(1)</script>" not in content
        assert "<img src=x onerror=alert(1)>" not in content


def test_a_merged_item_redirects_to_the_survivor(portal_client, workspace):
    client, _ = portal_client(workspace)
    survivor = FeedbackItemFactory(workspace=workspace)
    merged = FeedbackItemFactory(workspace=workspace, merged_into=survivor, state="archived")

    response = client.get(item_url(merged, "?state=all"))

    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/feedback/{survivor.pk}/?state=all"


def test_another_workspaces_item_and_company_are_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    theirs = FeedbackItemFactory(workspace=other_workspace)
    their_company = CompanyFactory(workspace=other_workspace)
    feature = feature_in(workspace)

    assert client.get(item_url(theirs)).status_code == 404
    assert client.get(item_url(theirs), **HTMX).status_code == 404
    assert client.post(item_url(theirs, "state/"), {"to": "archived"}).status_code == 404
    assert (
        client.post(item_url(theirs, "link/"), {"feature": feature.pk, "importance": "important"}).status_code
        == 404
    )
    assert client.get(f"/w/acme/companies/{their_company.pk}/").status_code == 404
    assert client.get(f"/w/{other_workspace.slug}/feedback/").status_code == 404
    assert FeedbackItem.objects.get(pk=theirs.pk).state == "new"
    assert not FeedbackLink.objects.exists()


# --- actions -----------------------------------------------------------------------------------


def test_linking_creates_the_link_marks_the_feature_dirty_and_advances(portal_client, workspace):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    first = FeedbackItemFactory(workspace=workspace, received_at=ago(1))
    second = FeedbackItemFactory(workspace=workspace, received_at=ago(2))
    feature = feature_in(workspace, title="Dark mode")
    Feature.objects.filter(pk=feature.pk).update(score_state=ScoreState.CLEAN)

    response = client.post(
        item_url(first, "link/?state=new"), {"feature": feature.pk, "importance": "critical"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/feedback/{second.pk}/?state=new"
    link = FeedbackLink.objects.get()
    assert (link.item_id, link.feature_id, link.importance, link.created_by_id) == (
        first.pk,
        feature.pk,
        "critical",
        membership.user_id,
    )
    assert states(first) == ["linked"]
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CREATED, target_id=str(link.pk)).count() == 1


def test_linking_with_htmx_swaps_in_the_next_item_and_pushes_its_url(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    first = FeedbackItemFactory(workspace=workspace, text="First one", received_at=ago(1))
    second = FeedbackItemFactory(workspace=workspace, text="Second one", received_at=ago(2))
    feature = feature_in(workspace, title="Dark mode")

    response = client.post(
        item_url(first, "link/"), {"feature": feature.pk, "importance": "important"}, **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Push-Url"] == f"/w/acme/feedback/{second.pk}/"
    content = response.content.decode()
    assert "<html" not in content
    assert "Linked to “Dark mode”." in content
    assert f'<h2 id="pane-h" tabindex="-1">Feedback #{second.pk} ' in content
    assert "First one" not in content  # it left the "new" list


def test_link_refusals_show_inline_and_write_nothing(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace)
    declined = feature_in(workspace, title="Never", status="declined")
    theirs = feature_in(other_workspace)

    no_feature = client.post(item_url(item, "link/"), {"importance": "important"})
    foreign = client.post(item_url(item, "link/"), {"feature": theirs.pk, "importance": "important"})
    refused = client.post(
        item_url(item, "link/"), {"feature": declined.pk, "importance": "important"}, **HTMX
    )

    assert no_feature.status_code == 400
    assert "This field is required." in no_feature.content.decode()
    assert foreign.status_code == 400
    assert "Choose a feature of this workspace." in foreign.content.decode()
    assert refused.status_code == 409
    assert "This feature was declined; link or vote on another one." in refused.content.decode()
    assert not FeedbackLink.objects.exists()
    assert states(item) == ["new"]


def test_viewer_gets_403_on_every_action_and_nothing_is_written(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    item = FeedbackItemFactory(workspace=workspace)
    twin = FeedbackItemFactory(workspace=workspace)
    feature = feature_in(workspace)
    suggestion = DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=twin, similarity=0.9
    )

    assert (
        client.post(item_url(item, "link/"), {"feature": feature.pk, "importance": "important"}).status_code
        == 403
    )
    assert client.post(item_url(item, "state/"), {"to": "archived"}).status_code == 403
    assert client.post(item_url(item, "merge/"), {"into": twin.pk}).status_code == 403
    assert client.post(item_url(item, f"suggestions/{suggestion.pk}/dismiss/")).status_code == 403
    assert client.post("/w/acme/feedback/bulk/", {"action": "archived", "ids": [item.pk]}).status_code == 403
    assert client.get("/w/acme/feedback/import/").status_code == 403

    assert not FeedbackLink.objects.exists()
    assert states(item, twin) == ["new", "new"]
    assert FeedbackItem.objects.get(pk=item.pk).merged_into_id is None
    assert DuplicateSuggestion.objects.get(pk=suggestion.pk).dismissed is False


def test_archive_and_mark_reviewed_advance_to_the_next_item(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    first = FeedbackItemFactory(workspace=workspace, received_at=ago(1))
    second = FeedbackItemFactory(workspace=workspace, received_at=ago(2))
    third = FeedbackItemFactory(workspace=workspace, received_at=ago(3))

    archived = client.post(item_url(first, "state/"), {"to": "archived"})
    reviewed = client.post(item_url(second, "state/"), {"to": "reviewed"}, **HTMX)

    assert archived.status_code == 302
    assert archived["Location"] == f"/w/acme/feedback/{second.pk}/"
    assert reviewed.status_code == 200
    assert reviewed["HX-Push-Url"] == f"/w/acme/feedback/{third.pk}/"
    assert "Marked reviewed." in reviewed.content.decode()
    assert states(first, second, third) == ["archived", "reviewed", "new"]
    # The last item: back up the list, or nothing left.
    last = client.post(item_url(third, "state/"), {"to": "archived"})
    assert last["Location"] == "/w/acme/feedback/"
    assert "Nothing left to triage here." in client.get(last["Location"]).content.decode()


def test_advancing_at_the_end_of_a_list_goes_back_up(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    top = FeedbackItemFactory(workspace=workspace, received_at=ago(1))
    bottom = FeedbackItemFactory(workspace=workspace, received_at=ago(2))

    response = client.post(item_url(bottom, "state/?state=all"), {"to": "reviewed"})

    assert response["Location"] == f"/w/acme/feedback/{top.pk}/?state=all"


def test_a_refused_transition_is_shown_and_changes_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    linked = FeedbackItemFactory(workspace=workspace, state="linked")

    response = client.post(item_url(linked, "state/?state=linked"), {"to": "reviewed"}, **HTMX)

    assert response.status_code == 400
    assert "Cannot move from Linked to Reviewed." in response.content.decode()
    assert states(linked) == ["linked"]


def test_merge_into_a_suggested_duplicate_advances(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    source = FeedbackItemFactory(workspace=workspace, received_at=ago(1), tags=["sso"])
    target = FeedbackItemFactory(workspace=workspace, received_at=ago(2))
    FeedbackItemFactory(workspace=workspace, received_at=ago(3))  # after the target
    feature = feature_in(workspace)
    FeedbackLinkFactory(item=source, feature=feature)
    DuplicateSuggestion.objects.create(workspace=workspace, item=source, similar_item=target, similarity=0.9)

    response = client.post(item_url(source, "merge/"), {"into": target.pk})

    assert response.status_code == 302
    # The source left the "new" list: on to the next one, which is the target.
    assert response["Location"] == f"/w/acme/feedback/{target.pk}/"
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.merged_into_id, source.state) == (target.pk, "archived")
    assert (target.tags, target.state) == (["sso"], "new")
    # The source keeps its link (its company still asks); the target lists it as "also asked by".
    assert list(FeedbackLink.objects.values_list("item_id", "feature_id")) == [(source.pk, feature.pk)]
    pane = client.get(item_url(target, "")).content.decode()
    assert "Also asked by" in pane
    assert f"#{source.pk}" in pane


def test_merge_refusals_write_nothing(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace)
    theirs = FeedbackItemFactory(workspace=other_workspace)

    foreign = client.post(item_url(item, "merge/"), {"into": theirs.pk})
    itself = client.post(item_url(item, "merge/"), {"into": item.pk})

    assert foreign.status_code == 400
    assert "Choose feedback of this workspace to merge into." in foreign.content.decode()
    assert itself.status_code == 400
    assert "An item cannot be merged into itself." in itself.content.decode()
    assert FeedbackItem.objects.filter(merged_into__isnull=False).count() == 0


def test_dismissing_a_suggestion_hides_it_and_stays_on_the_item(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace, text="Export to PDF please", received_at=ago(1))
    FeedbackItemFactory(workspace=workspace, received_at=ago(2))
    twin = FeedbackItemFactory(workspace=workspace, text="Totally unrelated words")
    suggestion = DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=twin, similarity=0.9
    )

    response = client.post(item_url(item, f"suggestions/{suggestion.pk}/dismiss/"), **HTMX)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Suggestion dismissed." in content
    assert f'data-item-id="{item.pk}"' in content
    assert f"Merge into #{twin.pk}" not in content
    assert DuplicateSuggestion.objects.get(pk=suggestion.pk).dismissed is True
    assert states(item) == ["new"]
    plain = client.post(item_url(item, f"suggestions/{suggestion.pk}/dismiss/"))
    assert plain["Location"] == f"/w/acme/feedback/{item.pk}/"


def test_dismissing_another_items_suggestion_is_404(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace)
    other = FeedbackItemFactory(workspace=workspace)
    suggestion = DuplicateSuggestion.objects.create(
        workspace=workspace, item=other, similar_item=FeedbackItemFactory(workspace=workspace), similarity=0.9
    )

    assert client.post(item_url(item, f"suggestions/{suggestion.pk}/dismiss/")).status_code == 404
    assert DuplicateSuggestion.objects.get(pk=suggestion.pk).dismissed is False


# --- bulk actions ------------------------------------------------------------------------------


def test_bulk_archive_and_review_change_exactly_the_selected_items(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    a, b, c, d = (FeedbackItemFactory(workspace=workspace, received_at=ago(h)) for h in range(1, 5))

    archived = client.post("/w/acme/feedback/bulk/", {"action": "archived", "ids": [a.pk, c.pk]})
    reviewed = client.post("/w/acme/feedback/bulk/?state=new", {"action": "reviewed", "ids": [b.pk]}, **HTMX)

    assert archived.status_code == 302
    assert archived["Location"] == "/w/acme/feedback/"
    assert reviewed.status_code == 200
    assert "Marked reviewed: 1 item." in reviewed.content.decode()
    assert states(a, b, c, d) == ["archived", "reviewed", "archived", "new"]


def test_bulk_select_all_on_page_uses_the_pages_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    a, b, c = (FeedbackItemFactory(workspace=workspace) for _ in range(3))

    response = client.post(
        "/w/acme/feedback/bulk/", {"action": "archived", "all_on_page": "on", "page_ids": [a.pk, b.pk]}
    )

    assert response.status_code == 302
    assert states(a, b, c) == ["archived", "archived", "new"]


def test_bulk_link_links_every_selected_item(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    a, b, c = (FeedbackItemFactory(workspace=workspace) for _ in range(3))
    feature = feature_in(workspace, title="Bulk target")
    Feature.objects.filter(pk=feature.pk).update(score_state=ScoreState.CLEAN)

    response = client.post(
        "/w/acme/feedback/bulk/",
        {"action": "link", "ids": [a.pk, c.pk], "feature": feature.pk, "importance": "important"},
    )

    assert response.status_code == 302
    assert sorted(FeedbackLink.objects.values_list("item_id", "importance")) == [
        (a.pk, "important"),
        (c.pk, "important"),
    ]
    assert states(a, b, c) == ["linked", "new", "linked"]
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY


def test_bulk_is_all_or_nothing(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    new = FeedbackItemFactory(workspace=workspace)
    linked = FeedbackItemFactory(workspace=workspace, state="linked")
    theirs = FeedbackItemFactory(workspace=other_workspace)
    feature = feature_in(workspace)

    bad_move = client.post("/w/acme/feedback/bulk/", {"action": "reviewed", "ids": [new.pk, linked.pk]})
    foreign = client.post(
        "/w/acme/feedback/bulk/",
        {"action": "link", "ids": [new.pk, theirs.pk], "feature": feature.pk, "importance": "important"},
    )
    nothing = client.post("/w/acme/feedback/bulk/", {"action": "archived"}, **HTMX)
    no_feature = client.post("/w/acme/feedback/bulk/", {"action": "link", "ids": [new.pk]})

    assert bad_move.status_code == 400
    assert "Cannot move from Linked to Reviewed." in bad_move.content.decode()
    assert foreign.status_code == 400
    assert f"Not found in this workspace: [{theirs.pk}]." in foreign.content.decode()
    assert nothing.status_code == 400
    assert "Select at least one item." in nothing.content.decode()
    assert no_feature.status_code == 400
    assert "Choose the feature to link the items to." in no_feature.content.decode()
    assert states(new, linked, theirs) == ["new", "linked", "new"]
    assert not FeedbackLink.objects.exists()


# --- CSV import -------------------------------------------------------------------------------


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_csv_import_creates_items_and_reports_counts(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    csv = (
        b"Customer said,email,company,domain,segment,arr\n"
        b"Please add dark mode,ann@acme-corp.example,Acme Corp,acme-corp.example,enterprise,50000\n"
        b"Export to PDF cuts columns,bob@acme-corp.example,Acme Corp,acme-corp.example,enterprise,50000\n"
    )

    page = client.get("/w/acme/feedback/import/")
    response = client.post(
        "/w/acme/feedback/import/", {"file": upload("feedback.csv", csv), "col_text": "Customer said"}
    )

    assert page.status_code == 200
    assert '<label for="id_col_text">Text column</label>' in page.content.decode()
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.created, report.duplicates, report.companies_created, report.contacts_created) == (
        2,
        0,
        1,
        2,
    )
    content = response.content.decode()
    assert "<div><dt>Created</dt><dd>2</dd></div>" in content
    assert "<div><dt>Skipped (errors)</dt><dd>0</dd></div>" in content
    assert sorted(FeedbackItem.objects.values_list("text", "source")) == [
        ("Export to PDF cuts columns", "csv"),
        ("Please add dark mode", "csv"),
    ]
    company = Company.objects.get(domain="acme-corp.example")
    assert (company.segment, company.arr) == ("enterprise", Decimal("50000"))

    again = client.post(
        "/w/acme/feedback/import/", {"file": upload("feedback.csv", csv), "col_text": "Customer said"}
    )
    assert (again.context["report"].created, again.context["report"].duplicates) == (0, 2)
    assert "<div><dt>Matched (stored before)</dt><dd>2</dd></div>" in again.content.decode()
    assert FeedbackItem.objects.count() == 2


def test_csv_import_reports_bad_rows_by_line(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    csv = (
        b"text,email,importance\n"
        b"Good row,ok@example.com,critical\n"
        b",nobody@example.com,\n"
        b"Bad email,not-an-email,\n"
        b"Bad importance,x@example.com,whenever\n"
        b"Too,many,cells,here\n"
    )

    response = client.post("/w/acme/feedback/import/", {"file": upload("f.csv", csv)})

    assert response.status_code == 200
    report = response.context["report"]
    assert report.created == 1
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "text"),
        (4, "contact_email"),
        (5, "importance"),
        (6, None),
    ]
    assert response.context["skipped"] == 4
    content = response.content.decode()
    assert '<tr><td class="num">3</td><td>text</td><td>Text is required.</td></tr>' in content
    assert (
        '<tr><td class="num">4</td><td>contact_email</td><td>Enter a valid email address.</td></tr>'
        in content
    )
    assert '<tr><td class="num">6</td><td>—</td><td>Expected 3 cells, found 4.</td></tr>' in content
    assert list(FeedbackItem.objects.values_list("text", flat=True)) == ["Good row"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text\nCaf\xe9 au lait\n", "The file is not UTF-8 (at line 2); save it as UTF-8 and retry."),
        (b"hello,world\nfoo,bar\n", "The file has no text column"),
        (b"text\n", "The file has a header but no rows."),
        (b"", "The submitted file is empty."),
    ],
)
def test_csv_import_file_errors_are_a_400_and_write_nothing(portal_client, workspace, content, message):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post("/w/acme/feedback/import/", {"file": upload("f.csv", content)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["report"] is None
    assert FeedbackItem.objects.count() == 0
    assert Company.objects.count() == 0
    assert Contact.objects.count() == 0


def test_csv_import_mapping_errors_are_form_errors(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    unknown = client.post(
        "/w/acme/feedback/import/", {"file": upload("f.csv", b"text\nHello there\n"), "col_text": "Nope"}
    )
    twice = client.post(
        "/w/acme/feedback/import/",
        {"file": upload("f.csv", b"a,b\nHello,there\n"), "col_text": "a", "col_tags": "A"},
    )

    assert unknown.status_code == 400
    assert "The mapping names columns the file does not have: &#x27;Nope&#x27;." in unknown.content.decode()
    assert twice.status_code == 400
    assert "This column is mapped to another field already." in twice.content.decode()
    assert FeedbackItem.objects.count() == 0


# --- companies ----------------------------------------------------------------------------------


def test_companies_table_shows_arr_counts_and_filters(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace)
    initech = CompanyFactory(
        workspace=workspace,
        name="Initech",
        segment="enterprise",
        plan="Scale",
        arr=Decimal("120000"),
        lifecycle_stage="active",
    )
    CompanyFactory(
        workspace=workspace, name="Hooli", segment="smb", arr=Decimal("9500.50"), arr_currency="EUR"
    )
    CompanyFactory(workspace=workspace, name="Globex", segment="mid_market", lifecycle_stage="churned")
    CompanyFactory(workspace=other_workspace, name="Elsewhere Inc")
    FeedbackItemFactory(workspace=workspace, company=initech)
    FeedbackItemFactory(workspace=workspace, company=initech)
    VoteFactory(feature=feature_in(workspace), contact=ContactFactory(workspace=workspace, company=initech))

    response = client.get("/w/acme/companies/")

    assert response.status_code == 200
    content = response.content.decode()
    assert [c.name for c in response.context["rows"]] == ["Globex", "Hooli", "Initech"]
    assert "Elsewhere Inc" not in content
    assert f'<a href="/w/acme/companies/{initech.pk}/">Initech</a>' in content
    assert '<td class="num">$120,000</td>' in content
    assert '<td class="num">€9,500.50</td>' in content
    initech_row = response.context["rows"][2]
    assert (initech_row.feedback_count, initech_row.requested_feature_count) == (2, 1)

    def names(query: str) -> list[str]:
        return [c.name for c in client.get(f"/w/acme/companies/{query}").context["rows"]]

    assert names("?segment=smb") == ["Hooli"]
    assert names("?lifecycle=churned") == ["Globex"]
    assert names("?q=initech") == ["Initech"]
    assert names("?q=company") == ["Globex", "Hooli", "Initech"]  # by domain (companyN.example)
    assert names("?sort=-arr") == ["Initech", "Hooli", "Globex"]
    assert names("?sort=-feedback") == ["Initech", "Globex", "Hooli"]
    assert names("?sort=-name") == ["Initech", "Hooli", "Globex"]
    assert names("?sort=sideways") == ["Globex", "Hooli", "Initech"]


def test_companies_are_paginated(portal_client, workspace):
    client, _ = portal_client(workspace)
    for n in range(27):
        CompanyFactory(workspace=workspace, name=f"Company {n:02d}")

    first = client.get("/w/acme/companies/?sort=name")
    second = client.get("/w/acme/companies/?sort=name&page=2")

    assert len(first.context["rows"]) == 25
    assert [c.name for c in second.context["rows"]] == ["Company 25", "Company 26"]
    assert '<a href="?sort=name&amp;page=2" rel="next">' in first.content.decode()


def test_company_page_shows_contacts_requests_with_features_and_votes(portal_client, workspace):
    client, _ = portal_client(workspace)
    company = CompanyFactory(workspace=workspace, name="Initech", arr=Decimal("120000"), plan="Scale")
    peter = ContactFactory(workspace=workspace, company=company, name="Peter", email="peter@initech.example")
    feature = feature_in(workspace, title="Scheduled reports", status="planned", horizon="next")
    voted = feature_in(workspace, title="Dark mode", status="in_progress", horizon="now")
    asked = FeedbackItemFactory(
        workspace=workspace, company=company, contact=peter, text="Reports every Monday"
    )
    FeedbackLinkFactory(item=asked, feature=feature, importance="critical")
    FeedbackItemFactory(workspace=workspace, contact=peter, text="Via the contact only")
    FeedbackItemFactory(workspace=workspace, text="Not theirs")
    VoteFactory(feature=voted, contact=peter)

    response = client.get(f"/w/acme/companies/{company.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<dt>ARR</dt><dd>$120,000</dd>" in content
    assert "Peter" in content
    assert "peter@initech.example" in content
    assert "Reports every Monday" in content
    assert "Via the contact only" in content
    assert "Not theirs" not in content
    assert f'<a href="/w/acme/features/{feature.pk}/">Scheduled reports</a>' in content
    assert '<span class="badge badge-planned">Planned</span>' in content
    assert '<span class="badge">Next</span>' in content
    assert f'<td><a href="/w/acme/features/{voted.pk}/">Dark mode</a></td>' in content
    assert '<td><span class="badge badge-in_progress">In progress</span></td>' in content
    assert "<td>Now</td>" in content


# --- query counts -------------------------------------------------------------------------------


def count_queries(client, url: str, **extra) -> int:
    client.get(url, **extra)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


def test_inbox_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    company = CompanyFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace, company=company)
    feature = feature_in(workspace)
    FeedbackLinkFactory(item=FeedbackItemFactory(workspace=workspace, company=company), feature=feature)
    few = count_queries(client, inbox_url(workspace, "?state=all"))
    for n in range(12):
        item = FeedbackItemFactory(workspace=workspace, contact=contact, company=company if n % 2 else None)
        FeedbackLinkFactory(item=item, feature=feature_in(workspace))
        CompanyFactory(workspace=workspace)
    many = count_queries(client, inbox_url(workspace, "?state=all"))
    assert many == few


def test_pane_query_count_does_not_grow_with_suggestions_and_links(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace, contact=ContactFactory(workspace=workspace))
    FeedbackLinkFactory(item=item, feature=feature_in(workspace))
    DuplicateSuggestion.objects.create(
        workspace=workspace, item=item, similar_item=FeedbackItemFactory(workspace=workspace), similarity=0.9
    )
    few = count_queries(client, item_url(item), **HTMX)
    few_full = count_queries(client, item_url(item))
    for _n in range(12):
        FeedbackLinkFactory(item=item, feature=feature_in(workspace))
        DuplicateSuggestion.objects.create(
            workspace=workspace,
            item=item,
            similar_item=FeedbackItemFactory(workspace=workspace),
            similarity=0.8,
        )
        DuplicateSuggestion.objects.create(
            workspace=workspace, item=item, similar_feature=feature_in(workspace), similarity=0.7
        )
    response = client.get(item_url(item), **HTMX)
    assert len(response.context["links"]) == 13
    assert len(response.context["item_suggestions"]) == 13
    assert len(response.context["feature_suggestions"]) == 12
    assert count_queries(client, item_url(item), **HTMX) == few
    assert count_queries(client, item_url(item)) == few_full


def test_companies_list_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace)
    CompanyFactory(workspace=workspace)
    few = count_queries(client, "/w/acme/companies/?sort=-feedback")
    for _ in range(12):
        company = CompanyFactory(workspace=workspace)
        FeedbackItemFactory(workspace=workspace, company=company)
    many = count_queries(client, "/w/acme/companies/?sort=-feedback")
    assert many == few


def test_company_page_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace)
    company = CompanyFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace, company=company)
    FeedbackLinkFactory(
        item=FeedbackItemFactory(workspace=workspace, company=company), feature=feature_in(workspace)
    )
    VoteFactory(feature=feature_in(workspace), contact=contact)
    few = count_queries(client, f"/w/acme/companies/{company.pk}/")
    for _ in range(12):
        other = ContactFactory(workspace=workspace, company=company)
        item = FeedbackItemFactory(workspace=workspace, company=company, contact=other)
        FeedbackLinkFactory(item=item, feature=feature_in(workspace))
        FeedbackLinkFactory(item=item, feature=feature_in(workspace))
        VoteFactory(feature=feature_in(workspace), contact=other)
    many = count_queries(client, f"/w/acme/companies/{company.pk}/")
    assert many == few


# --- the feature picker -----------------------------------------------------------------------


def test_feature_picker_searches_linkable_features(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    sso = feature_in(workspace, title="Single sign-on")
    feature_in(workspace, title="Sign-in page redesign", status="declined")
    feature_in(workspace, title="Dark mode")
    feature_in(other_workspace, title="Single sign-on elsewhere")

    response = client.get("/w/acme/feedback/features/?q=sign", **HTMX)
    none = client.get("/w/acme/feedback/features/?q=zzz", **HTMX)

    assert response.status_code == 200
    assert list(response.context["feature_options"]) == [sso]
    assert f'<option value="{sso.pk}">Single sign-on — Idea</option>' in response.content.decode()
    assert "No feature matches “zzz”" in none.content.decode()


def test_bulk_actions_refuse_more_than_a_page_of_items(portal_client, workspace):
    from feedback.models import FeedbackItem
    from portal.forms.feedback import MAX_BULK_IDS

    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item = FeedbackItemFactory(workspace=workspace)
    response = client.post(
        f"/w/{workspace.slug}/feedback/bulk/",
        {"action": "archive", "ids": [item.pk] * (MAX_BULK_IDS + 1)},
    )
    assert response.status_code == 400
    assert f"Select at most {MAX_BULK_IDS} items." in response.content.decode()
    assert FeedbackItem.objects.get(pk=item.pk).state == "new"
