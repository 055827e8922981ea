"""The Themes page (portal/views/themes.py): linked from the inbox, what each theme shows,
its actions per role, the sampled notice, constant queries."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import theme_services
from feedback.models import FeedbackLink, ThemeDismissal, ThemeMember, ThemeRun
from productops.models import Role
from roadmap.models import Feature
from tests.feedback.factories import CompanyFactory, FeedbackItemFactory
from tests.feedback.test_themes import export_pdf, store, synthetic
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/w/acme/feedback/themes/"


@pytest.fixture
def dark(workspace):
    big = CompanyFactory(workspace=workspace, name="Big Co", arr=120_000)
    for text in ["Dark mode please", "A dark theme please", "Dark mode for night shifts", "Dark mode now"]:
        FeedbackItemFactory(workspace=workspace, text=text, company=big, importance="important")
    export_pdf(workspace)
    return next(t for t in theme_services.themes_recompute(workspace_id=workspace.pk) if "dark" in t.words)


def test_the_inbox_links_to_the_themes(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)

    content = client.get("/w/acme/feedback/").content.decode()

    assert f'href="{URL}"' in content


def test_the_page_before_any_run(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.get(URL)

    assert response.status_code == 200
    assert "have not been computed yet" in response.content.decode()


def test_the_page_shows_each_theme(portal_client, workspace, dark):
    client, _ = portal_client(workspace, Role.VIEWER)

    response = client.get(URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert f"<h2>{dark.label}</h2>" in content
    assert "<strong>4</strong> items" in content
    assert "<strong>1</strong> company" in content
    assert "<strong>$120,000</strong> ARR" in content
    assert '<span aria-label="up">↑</span>' in content
    assert "4 vs 0 the 30 days before" in content
    assert content.count('class="pane-list theme-items"') == 2
    # Viewers read; they get no actions.
    assert "Create a feature from this theme" not in content
    assert "Wrong theme" not in content
    assert "Recompute themes" not in content
    assert "<script" not in content.split("</main>")[0].split("<main")[-1]
    assert " onclick=" not in content
    assert " style=" not in content


def test_contributors_get_the_actions(portal_client, workspace, dark):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    content = client.get(URL).content.decode()

    assert f'href="/w/acme/feedback/themes/{dark.pk}/create-feature/"' in content
    assert f'action="/w/acme/feedback/themes/{dark.pk}/link/?period=30"' in content
    assert content.count("Wrong theme</button>") == 6
    assert "Recompute themes" in content
    assert f'name="t{dark.pk}-feature"' in content


def test_the_period_switch_and_the_sampled_notice(portal_client, workspace, dark):
    ThemeRun.objects.filter(period_days=30).update(sampled=True, item_count=10_000, candidate_count=12_345)
    client, _ = portal_client(workspace, Role.VIEWER)

    thirty = client.get(URL + "?period=30").content.decode()
    seven = client.get(URL + "?period=7").content.decode()
    unknown = client.get(URL + "?period=12")

    assert "Sampled: the 10000 most recent of 12345 unlinked items were clustered" in thirty
    assert "have not been computed yet" in seven
    assert unknown.status_code == 200
    assert dark.label in unknown.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_recompute_button(portal_client, workspace, role, django_capture_on_commit_callbacks):
    client, _ = portal_client(workspace, role)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(URL + "recompute/", {"period": "7"})

    if role == Role.VIEWER:
        assert response.status_code == 403
        assert callbacks == []
    else:
        assert response.status_code == 302
        assert response["Location"] == URL + "?period=7"
        assert [c.__qualname__ for c in callbacks] == ["enqueue feedback.tasks.themes_recompute"]


def test_create_a_feature_from_a_theme(portal_client, workspace, dark):
    product = ProductFactory(workspace=workspace, name="Web app")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    path = f"{URL}{dark.pk}/create-feature/"

    form = client.get(path)
    refused = client.post(path, {"title": "Dark mode", "product": "", "importance": ""})
    assert refused.status_code == 400
    assert not Feature.objects.exists()
    created = client.post(path, {"title": "Dark mode", "product": product.pk, "importance": ""})

    assert form.status_code == 200
    assert f'value="{dark.label}"' in form.content.decode()
    assert "It will be linked to 4 items" in form.content.decode()
    feature = Feature.objects.get()
    assert created.status_code == 302
    assert created["Location"] == f"/w/acme/features/{feature.pk}/"
    assert feature.title == "Dark mode"
    assert set(FeedbackLink.objects.filter(feature=feature).values_list("importance", flat=True)) == {
        "important"
    }
    assert FeedbackLink.objects.filter(feature=feature).count() == 4


def test_viewers_cannot_create_link_or_dismiss(portal_client, workspace, dark):
    client, _ = portal_client(workspace, Role.VIEWER)
    item_id = ThemeMember.objects.filter(theme=dark).values_list("item_id", flat=True)[0]
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))

    assert client.get(f"{URL}{dark.pk}/create-feature/").status_code == 403
    assert client.post(f"{URL}{dark.pk}/link/", {f"t{dark.pk}-feature": f"#{feature.pk}"}).status_code == 403
    assert client.post(f"{URL}{dark.pk}/items/{item_id}/dismiss/").status_code == 403
    assert not FeedbackLink.objects.exists()
    assert not ThemeDismissal.objects.exists()


def test_link_a_theme_with_the_features_picker(portal_client, workspace, dark):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Dark mode")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    path = f"{URL}{dark.pk}/link/?period=30"

    unknown = client.post(path, {f"t{dark.pk}-feature": "#999999", f"t{dark.pk}-importance": ""})
    linked = client.post(
        path, {f"t{dark.pk}-feature": f"#{feature.pk}", f"t{dark.pk}-importance": "critical"}
    )

    assert unknown.status_code == 400
    assert "No single match" in unknown.content.decode()
    assert linked.status_code == 302
    assert [str(m) for m in get_messages(linked.wsgi_request)] == ["Linked 4 items to “Dark mode”."]
    assert set(FeedbackLink.objects.values_list("importance", flat=True)) == {"critical"}


def test_link_to_a_declined_feature_shows_the_error_under_the_theme(portal_client, workspace, dark):
    declined = FeatureFactory(product=ProductFactory(workspace=workspace), status="declined")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(f"{URL}{dark.pk}/link/?period=30", {f"t{dark.pk}-feature": f"#{declined.pk}"})

    assert response.status_code == 409
    assert "This feature was declined" in response.content.decode()
    assert not FeedbackLink.objects.exists()


def test_wrong_theme(portal_client, workspace, dark, other_workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    item_id = ThemeMember.objects.filter(theme=dark).order_by("rank").values_list("item_id", flat=True)[0]
    outsider = FeedbackItemFactory(workspace=workspace)

    response = client.post(f"{URL}{dark.pk}/items/{item_id}/dismiss/")
    not_in_it = client.post(f"{URL}{dark.pk}/items/{outsider.pk}/dismiss/")

    assert response.status_code == 302
    assert ThemeDismissal.objects.filter(theme=dark, item_id=item_id).exists()
    assert not ThemeMember.objects.filter(theme=dark, item_id=item_id).exists()
    assert not_in_it.status_code == 404


def test_another_workspaces_theme_is_a_404(portal_client, workspace, other_workspace):
    for text in ["Dark mode please", "A dark theme please", "Dark mode for night shifts", "Dark mode now"]:
        FeedbackItemFactory(workspace=other_workspace, text=text)
    export_pdf(other_workspace)
    theirs = theme_services.themes_recompute(workspace_id=other_workspace.pk)[0]
    client, _ = portal_client(workspace, Role.OWNER)

    assert client.get(f"{URL}{theirs.pk}/create-feature/").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/link/", {}).status_code == 404
    item_id = ThemeMember.objects.filter(theme=theirs).values_list("item_id", flat=True)[0]
    assert client.post(f"{URL}{theirs.pk}/items/{item_id}/dismiss/").status_code == 404


def test_the_page_costs_the_same_queries_for_few_and_many_themes(portal_client, workspace, dark):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200

    store(workspace, synthetic(200))
    assert len(theme_services.themes_recompute(workspace_id=workspace.pk)) > 4
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200

    assert len(many) == len(few)
