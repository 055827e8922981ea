"""Creating features in the portal and editing every field a product manager owns: the quick
"New feature" form of the roadmap pages, the full new-feature form, the feature page's section
forms (Basics, Planning, Relations, Scoring inputs), the long form, and dependencies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from roadmap.models import Competitor, Feature, FeatureDependency, FeatureStatusChange, RoadmapSettings, Tag
from tests.roadmap.factories import CriterionFactory, FeatureFactory, GoalFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
PAGES = ["roadmap/", "roadmap/kanban/", "roadmap/timeline/", "roadmap/matrix/", ""]


def feature(workspace, product=None, **fields):
    return FeatureFactory(product=product or ProductFactory(workspace=workspace), **fields)


def audit_count():
    return AuditEvent.objects.count()


def feature_events(f):
    return list(AuditEvent.objects.filter(target_type="roadmap.feature", target_id=str(f.pk)).order_by("id"))


def content(response):
    return response.content.decode()


# --- quick "New feature" on the roadmap pages ---------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_the_roadmap_pages_offer_new_feature_to_a_contributor_not_to_a_viewer(portal_client, workspace, page):
    ProductFactory(workspace=workspace, name="Core")
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    viewer, _ = portal_client(workspace, Role.VIEWER)

    shown = content(contributor.get(f"/w/{workspace.slug}/{page}"))
    hidden = content(viewer.get(f"/w/{workspace.slug}/{page}"))

    assert '<summary class="button">New feature</summary>' in shown
    assert f'action="/w/{workspace.slug}/features/new/"' in shown
    assert '<label for="newfeature-title">Title <span aria-hidden="true">*</span></label>' in shown
    assert ">Core</option>" in shown
    assert "New feature" not in hidden
    assert "/features/new/" not in hidden


def test_the_quick_form_preselects_the_boards_product_filter(portal_client, workspace):
    ProductFactory(workspace=workspace, name="Core")
    mobile = ProductFactory(workspace=workspace, name="Mobile")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = content(client.get(f"/w/{workspace.slug}/roadmap/?product={mobile.pk}"))
    assert f'<option value="{mobile.pk}" selected>Mobile</option>' in page


def test_quick_create_with_htmx_creates_and_opens_the_full_form(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(
        f"/w/{workspace.slug}/features/new/",
        {"quick": "1", "title": " Audit log ", "product": product.pk},
        **HX,
    )

    f = Feature.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/w/{workspace.slug}/features/{f.pk}/edit/"
    assert (f.title, f.product, f.status, f.workspace) == ("Audit log", product, "idea", workspace)
    assert [e.action for e in feature_events(f)] == ["created"]
    assert feature_events(f)[0].actor == membership.user
    assert FeatureStatusChange.objects.filter(feature=f, from_status="", to_status="idea").count() == 1
    follow = content(client.get(f"/w/{workspace.slug}/features/{f.pk}/edit/"))
    assert "Feature “Audit log” created: fill in the rest below." in follow
    assert "data-warn-unsaved" in follow


def test_quick_create_without_javascript_redirects_to_the_edit_form(portal_client, workspace):
    product = ProductFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(
        f"/w/{workspace.slug}/features/new/", {"quick": "1", "title": "Audit log", "product": product.pk}
    )
    f = Feature.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{f.pk}/edit/"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "", "product": "own"}, "title", "This field is required."),
        ({"title": "Audit log", "product": ""}, "product", "This field is required."),
        (
            {"title": "Audit log", "product": "theirs"},
            "product",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
        (
            {"title": "x" * 201, "product": "own"},
            "title",
            "Ensure this value has at most 200 characters (it has 201).",
        ),
    ],
)
def test_bad_quick_input_is_shown_inline_and_writes_nothing(
    portal_client, workspace, other_workspace, data, field, message
):
    own, theirs = ProductFactory(workspace=workspace), ProductFactory(workspace=other_workspace)
    data = {**data, "quick": "1", "product": {"own": own.pk, "theirs": theirs.pk, "": ""}[data["product"]]}
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    before = audit_count()

    htmx = client.post(f"/w/{workspace.slug}/features/new/", data, **HX)
    plain = client.post(f"/w/{workspace.slug}/features/new/", data)

    assert htmx.status_code == 200
    assert '<details class="new-feature" id="new-feature" open>' in content(htmx)
    assert f'<p class="error" role="alert">{message}</p>' in content(htmx)
    assert plain.status_code == 400  # the full form, with what was typed
    assert f'<p class="error" role="alert">{message}</p>' in content(plain)
    assert 'name="planned_start"' in content(plain)
    assert not Feature.objects.exists()
    assert audit_count() == before


def test_a_viewer_gets_403_and_nothing_is_written(portal_client, workspace):
    product = ProductFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.VIEWER)
    assert client.get(f"/w/{workspace.slug}/features/new/").status_code == 403
    response = client.post(
        f"/w/{workspace.slug}/features/new/", {"quick": "1", "title": "Audit log", "product": product.pk}
    )
    assert response.status_code == 403
    assert not Feature.objects.exists()


def test_a_non_member_gets_404(portal_client, workspace, other_workspace):
    ProductFactory(workspace=workspace)
    stranger, _ = portal_client(other_workspace, Role.OWNER)
    assert stranger.get(f"/w/{workspace.slug}/features/new/").status_code == 404


# --- the full new-feature form ---------------------------------------------------------------


def full_data(workspace, member, **overrides):
    product = ProductFactory(workspace=workspace, name="Core")
    team = TeamFactory(workspace=workspace, name="Platform")
    goal = GoalFactory(workspace=workspace, title="Grow enterprise")
    owner = member(workspace, Role.PRODUCT_MANAGER, username="dana").user
    Tag.objects.create(workspace=workspace, name="security")
    data = {
        "section": ["basics", "planning", "relations", "scoring"],
        "title": "Audit log",
        "product": product.pk,
        "description": "Every change, exported.",
        "public_title": "Audit log export",
        "release_note": "Export every change.",
        "is_public": "on",
        "horizon": "next",
        "planned_start": "2027-01-04",
        "target_date": "2027-02-26",
        "effort": "5",
        "team": team.pk,
        "owner": "dana",
        "goals": [goal.pk],
        "tags": "Security, compliance",
        "competitors": "Linear, Aha!",
        "reach": "2000",
        "impact": "2",
        "confidence_pct": "80",
        "ice_ease": "7",
        "business_value": "8",
        "value": "6",
        **overrides,
    }
    return data, {"product": product, "team": team, "goal": goal, "owner": owner}


def test_the_full_form_creates_a_feature_with_every_field(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    data, rows = full_data(workspace, member)

    page = content(client.get(f"/w/{workspace.slug}/features/new/?title=Audit"))
    assert 'value="Audit"' in page
    assert "portal/feature_form.js" in page
    response = client.post(f"/w/{workspace.slug}/features/new/", data)

    f = Feature.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{f.pk}/"
    assert (f.title, f.product, f.description, f.public_title, f.release_note, f.is_public) == (
        "Audit log",
        rows["product"],
        "Every change, exported.",
        "Audit log export",
        "Export every change.",
        True,
    )
    assert (f.horizon, f.planned_start, f.target_date, f.effort, f.team, f.owner) == (
        "next",
        date(2027, 1, 4),
        date(2027, 2, 26),
        Decimal("5.00"),
        rows["team"],
        rows["owner"],
    )
    assert list(f.goals.all()) == [rows["goal"]]
    assert sorted(t.name for t in f.tags.all()) == ["compliance", "security"]  # the existing tag's spelling
    assert Tag.objects.filter(workspace=workspace).count() == 2
    assert sorted(c.name for c in f.competitors.all()) == ["Aha!", "Linear"]
    assert (f.reach, f.impact, f.confidence_pct, f.ice_ease, f.business_value, f.value) == (
        2000,
        Decimal("2.00"),
        80,
        7,
        8,
        6,
    )
    created, relations = feature_events(f)
    assert created.action == "created"
    assert created.changes["title"] == "Audit log"
    assert relations.changes == {
        "goals": [rows["goal"].pk],
        "tags": ["compliance", "security"],
        "competitors": ["Aha!", "Linear"],
    }


def test_the_full_form_sets_scorecard_values_with_the_feature(portal_client, workspace, member):
    RoadmapSettings.objects.create(workspace=workspace, scoring_model="scorecard")
    CriterionFactory(workspace=workspace, key="fit", name="Strategic fit", weight=2)
    CriterionFactory(workspace=workspace, key="asks", name="Customer asks", source="customer_impact")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    data, _ = full_data(workspace, member, criterion_fit="7.5")

    page = content(client.get(f"/w/{workspace.slug}/features/new/"))
    assert "Weighted scorecard (the active model)" in page
    assert "Computed: Customer asks (from customer impact)" in page
    client.post(f"/w/{workspace.slug}/features/new/", data)

    f = Feature.objects.get()
    assert [(v.criterion.key, v.value) for v in f.criterion_values.select_related("criterion")] == [
        ("fit", Decimal("7.50"))
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target_date": "2026-12-01"}, "The target date is before the planned start."),
        ({"owner": "nobody"}, "No single match for “nobody”: pick a suggestion or type its #id."),
        ({"effort": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"impact": "4"}, "Select a valid choice. 4 is not one of the available choices."),
        ({"ice_ease": "11"}, "Ensure this value is less than or equal to 10."),
        (
            {"planned_start": "1990-01-01", "target_date": ""},
            "Must be between 2000-01-01 and 2100-12-31.",
        ),
    ],
)
def test_bad_full_form_input_is_inline_and_writes_nothing(
    portal_client, workspace, member, overrides, message
):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    data, _ = full_data(workspace, member, **overrides)
    before = audit_count()

    response = client.post(f"/w/{workspace.slug}/features/new/", data)

    assert response.status_code == 400
    assert f'<p class="error" role="alert">{message}</p>' in content(response)
    assert not Feature.objects.exists()
    assert not Competitor.objects.exists()
    assert Tag.objects.count() == 1
    assert audit_count() == before


# --- the feature page's sections ------------------------------------------------------------------


def test_the_feature_page_shows_every_section_with_edit_buttons_for_a_contributor(portal_client, workspace):
    f = feature(workspace, title="Audit log", reach=100, ice_ease=4, is_public=True)
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    viewer, _ = portal_client(workspace, Role.VIEWER)

    page = content(contributor.get(f"/w/{workspace.slug}/features/{f.pk}/"))
    seen = content(viewer.get(f"/w/{workspace.slug}/features/{f.pk}/"))

    for section in ("basics", "planning", "relations", "scoring"):
        assert f'href="/w/{workspace.slug}/features/{f.pk}/edit/{section}/"' in page
        assert f'id="section-{section}"' in seen
        assert f"/edit/{section}/" not in seen
    assert "<dt>Public roadmap</dt><dd>Shown</dd>" in seen
    # The active model (RICE) first; the others collapsed and labelled.
    assert seen.index("<strong>RICE</strong> (the active model)") < seen.index(
        "<summary>ICE inputs — used by ICE (not the active model)</summary>"
    )
    assert "<dt>Reach</dt><dd>100</dd>" in seen
    assert "<dt>ICE ease</dt><dd>4</dd>" in seen
    assert 'action="/w/acme/features/' + str(f.pk) + '/dependencies/"' in page
    assert "/dependencies/" not in seen


SECTION_CASES = {
    "basics": (
        {"title": "Audit log v2", "product": "other", "description": "New", "public_title": "Logs"},
        lambda f, ctx: (
            (f.title, f.product, f.description, f.public_title, f.is_public)
            == ("Audit log v2", ctx["other"], "New", "Logs", False)
        ),
        "<dt>Product</dt><dd>Mobile</dd>",
    ),
    "planning": (
        {
            "horizon": "now",
            "planned_start": "2027-03-01",
            "target_date": "2027-03-31",
            "effort": "2.5",
            "team": "team",
            "owner": "owner",
        },
        lambda f, ctx: (
            (f.horizon, f.planned_start, f.target_date, f.effort, f.team, f.owner)
            == ("now", date(2027, 3, 1), date(2027, 3, 31), Decimal("2.50"), ctx["team"], ctx["owner"])
        ),
        "<dt>Dates</dt><dd>1 Mar 2027 – 31 Mar 2027</dd>",
    ),
    "relations": (
        {"initiative": "", "goals": ["goal"], "tags": "api, Mobile", "competitors": "Linear"},
        lambda f, ctx: (
            list(f.goals.all()) == [ctx["goal"]]
            and sorted(t.name for t in f.tags.all()) == ["Mobile", "api"]
            and [c.name for c in f.competitors.all()] == ["Linear"]
        ),
        '<span class="badge">api</span>',
    ),
    "scoring": (
        {"reach": "300", "impact": "0.5", "confidence_pct": "50", "ice_impact": "3", "job_size": "8"},
        lambda f, ctx: (
            (f.reach, f.impact, f.confidence_pct, f.ice_impact, f.job_size)
            == (300, Decimal("0.50"), 50, 3, Decimal("8.00"))
        ),
        "<dt>RICE impact</dt><dd>0.5</dd>",
    ),
}


def section_context(workspace, member):
    ctx = {
        "other": ProductFactory(workspace=workspace, name="Mobile"),
        "team": TeamFactory(workspace=workspace),
        "goal": GoalFactory(workspace=workspace),
        "owner": member(workspace, Role.CONTRIBUTOR, username="dana").user,
    }
    return ctx


def resolve(data, ctx):
    out = {}
    for key, value in data.items():
        if key == "owner":
            out[key] = f"#{ctx['owner'].pk} dana"
        elif key == "product":
            out[key] = ctx["other"].pk
        elif key == "team":
            out[key] = ctx["team"].pk
        elif key == "goals":
            out[key] = [ctx["goal"].pk]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("section", list(SECTION_CASES))
def test_each_section_saves_inline_with_htmx(portal_client, workspace, member, section):
    data, check, shown = SECTION_CASES[section]
    ctx = section_context(workspace, member)
    f = feature(workspace, title="Audit log", is_public=True)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/{section}/"

    form = client.get(url, **HX)
    assert form.status_code == 200
    assert f'<input type="hidden" name="section" value="{section}">' in content(form)
    assert "data-warn-unsaved" in content(form)
    response = client.post(url, {"section": section, **resolve(data, ctx)}, **HX)

    assert response.status_code == 200
    assert '<p class="notice notice-success" role="status">Saved.</p>' in content(response)
    assert shown in content(response)
    f = Feature.objects.get(pk=f.pk)
    assert check(f, ctx)
    assert feature_events(f)[-1].action == "updated"


@pytest.mark.parametrize("section", list(SECTION_CASES))
def test_each_section_works_without_javascript(portal_client, workspace, member, section):
    data, check, _ = SECTION_CASES[section]
    ctx = section_context(workspace, member)
    f = feature(workspace, title="Audit log")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/{section}/"

    page = client.get(url)
    assert page.status_code == 200
    assert "<!doctype html>" in content(page)
    response = client.post(url, {"section": section, **resolve(data, ctx)})

    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{f.pk}/#section-{section}"
    assert check(Feature.objects.get(pk=f.pk), ctx)


def test_saving_basics_also_updates_the_page_title(portal_client, workspace):
    f = feature(workspace, title="Audit log")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/edit/basics/",
        {"section": "basics", "title": "Audit trail", "product": f.product_id},
        **HX,
    )
    assert '<h1 id="feature-title" hx-swap-oob="true">Audit trail</h1>' in content(response)


def test_unticking_the_public_flag_unpublishes(portal_client, workspace):
    f = feature(workspace, title="Audit log", is_public=True)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    client.post(
        f"/w/{workspace.slug}/features/{f.pk}/edit/basics/",
        {"section": "basics", "title": "Audit log", "product": f.product_id},
    )
    f.refresh_from_db()
    assert f.is_public is False
    assert feature_events(f)[-1].changes == {"is_public": [True, False]}


def test_unchanged_relations_are_neither_rewritten_nor_audited(portal_client, workspace):
    f = feature(workspace, title="Audit log")
    goal = GoalFactory(workspace=workspace)
    roadmap_services.feature_update(feature=f, actor=None, data={"goals": [goal], "tags": ["api"]})
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    before = audit_count()

    client.post(
        f"/w/{workspace.slug}/features/{f.pk}/edit/relations/",
        {"section": "relations", "goals": [goal.pk], "tags": "API", "competitors": "Linear"},
    )

    events = AuditEvent.objects.order_by("id")[before:]
    assert [e.changes for e in events] == [{"competitors": ["Linear"]}]


@pytest.mark.parametrize(
    ("section", "data", "field", "message"),
    [
        ("basics", {"title": "", "product": "own"}, "title", "This field is required."),
        ("basics", {"title": "Audit", "product": "theirs"}, "product", "Select a valid choice."),
        (
            "planning",
            {"planned_start": "2027-03-01", "target_date": "2027-02-01"},
            "target_date",
            "The target date is before the planned start.",
        ),
        ("planning", {"owner": "stranger"}, "owner", "No single match for “stranger”"),
        ("planning", {"team": "theirs-team"}, "team", "Select a valid choice."),
        ("planning", {"planned_start": "2027-02-30"}, "planned_start", "Enter a valid date."),
        ("relations", {"goals": ["theirs-goal"]}, "goals", "Select a valid choice."),
        (
            "scoring",
            {"confidence_pct": "101"},
            "confidence_pct",
            "Ensure this value is less than or equal to 100.",
        ),
        (
            "scoring",
            {"business_value": "21"},
            "business_value",
            "Ensure this value is less than or equal to 20.",
        ),
        ("scoring", {"job_size": "0"}, "job_size", "Ensure this value is greater than or equal to 0.01."),
    ],
)
def test_bad_section_input_is_inline_and_writes_nothing(
    portal_client, workspace, other_workspace, member, section, data, field, message
):
    f = feature(workspace, title="Audit log", effort=Decimal(3))
    member(other_workspace, Role.OWNER, username="stranger")
    theirs = {
        "own": f.product_id,
        "theirs": ProductFactory(workspace=other_workspace).pk,
        "theirs-team": TeamFactory(workspace=other_workspace).pk,
        "theirs-goal": GoalFactory(workspace=other_workspace).pk,
    }
    data = {
        k: ([theirs.get(x, x) for x in v] if isinstance(v, list) else theirs.get(v, v))
        for k, v in data.items()
    }
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    before = audit_count()
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/{section}/"

    htmx = client.post(url, {"section": section, **data}, **HX)
    plain = client.post(url, {"section": section, **data})

    assert htmx.status_code == 200
    assert plain.status_code == 400
    for response in (htmx, plain):
        text = content(response)
        assert '<p class="error" role="alert">' + message in text
        assert "field-invalid" in text
    assert audit_count() == before
    f.refresh_from_db()
    assert (f.title, f.effort, f.planned_start, f.owner_id, f.team_id) == (
        "Audit log",
        Decimal("3.00"),
        None,
        None,
        None,
    )


def test_an_error_in_a_collapsed_model_opens_its_group(portal_client, workspace):
    f = feature(workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/edit/scoring/", {"section": "scoring", "ice_ease": "0"}, **HX
    )
    assert '<details class="scoring-other" open>' in content(response)
    assert "Ensure this value is greater than or equal to 1." in content(response)


def test_section_access(portal_client, workspace, other_workspace):
    f = feature(workspace, title="Audit log")
    theirs = feature(other_workspace)
    viewer, _ = portal_client(workspace, Role.VIEWER)
    owner, _ = portal_client(workspace, Role.OWNER)

    assert viewer.get(f"/w/{workspace.slug}/features/{f.pk}/edit/basics/").status_code == 403
    response = viewer.post(
        f"/w/{workspace.slug}/features/{f.pk}/edit/basics/",
        {"section": "basics", "title": "Hacked", "product": f.product_id},
    )
    assert response.status_code == 403
    assert owner.get(f"/w/{workspace.slug}/features/{f.pk}/edit/secret/").status_code == 404
    assert owner.get(f"/w/{workspace.slug}/features/{theirs.pk}/edit/basics/").status_code == 404
    assert (
        owner.post(
            f"/w/{workspace.slug}/features/{theirs.pk}/edit/planning/", {"section": "planning"}
        ).status_code
        == 404
    )
    f.refresh_from_db()
    assert f.title == "Audit log"


def test_cancel_returns_one_sections_facts(portal_client, workspace):
    f = feature(workspace, horizon="later")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.get(f"/w/{workspace.slug}/features/{f.pk}/details/?section=planning", **HX)
    assert content(response).lstrip().startswith('<section class="feature-section" id="section-planning"')
    assert "<dt>Horizon</dt><dd>Later</dd>" in content(response)


# --- the long form -------------------------------------------------------------------------------


def test_the_long_form_edits_every_section_at_once(portal_client, workspace, member):
    f = feature(workspace, title="Audit log")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    data, rows = full_data(workspace, member, title="Audit log v2")

    page = client.get(f"/w/{workspace.slug}/features/{f.pk}/edit/")
    assert 'class="feature-form" data-warn-unsaved' in content(page)
    for section in ("basics", "planning", "relations", "scoring"):
        assert f'<input type="hidden" name="section" value="{section}">' in content(page)
    response = client.post(f"/w/{workspace.slug}/features/{f.pk}/edit/", data)

    assert response.status_code == 302
    f = Feature.objects.get(pk=f.pk)
    assert (f.title, f.product, f.team, f.owner, f.is_public, f.value) == (
        "Audit log v2",
        rows["product"],
        rows["team"],
        rows["owner"],
        True,
        6,
    )
    assert sorted(t.name for t in f.tags.all()) == ["compliance", "security"]


def test_the_long_form_keeps_other_models_inputs_when_only_one_is_posted_by_the_old_form(
    portal_client, workspace
):
    # Without section inputs (the page's former single form), the fields it had are saved and
    # the others are left alone.
    f = feature(workspace, title="Audit log", ice_ease=4, is_public=True)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    client.post(f"/w/{workspace.slug}/features/{f.pk}/edit/", {"title": "Audit", "reach": "10"})
    f.refresh_from_db()
    assert (f.title, f.reach, f.ice_ease, f.is_public) == ("Audit", 10, 4, True)


# --- dependencies --------------------------------------------------------------------------------


def test_adding_and_removing_a_dependency(portal_client, workspace):
    product = ProductFactory(workspace=workspace)
    f = feature(workspace, product, title="Audit log")
    base = feature(workspace, product, title="Data model")
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    url = f"/w/{workspace.slug}/features/{f.pk}/dependencies/"

    response = client.post(url, {"depends_on": "Data model"}, **HX)

    assert response.status_code == 200
    text = content(response)
    assert "Now depends on “Data model”." in text
    assert f'<a href="/w/{workspace.slug}/features/{base.pk}/">Data model</a>' in text
    dependency = FeatureDependency.objects.get()
    assert (dependency.feature, dependency.depends_on) == (f, base)
    event = AuditEvent.objects.get(target_type="roadmap.featuredependency")
    assert (event.action, event.actor, event.changes) == (
        "created",
        membership.user,
        {"feature": f.pk, "depends_on": base.pk},
    )

    removed = client.post(f"{url}{base.pk}/remove/")
    assert removed.status_code == 302
    assert removed["Location"] == f"/w/{workspace.slug}/features/{f.pk}/#dependencies"
    assert not FeatureDependency.objects.exists()


def test_a_cycle_is_refused_inline_and_nothing_is_written(portal_client, workspace):
    product = ProductFactory(workspace=workspace)
    a = feature(workspace, product, title="Alpha")
    b = feature(workspace, product, title="Bravo")
    roadmap_services.feature_add_dependency(feature=b, depends_on=a, actor=None)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    before = audit_count()
    url = f"/w/{workspace.slug}/features/{a.pk}/dependencies/"
    message = (
        "&#x27;Bravo&#x27; already depends on &#x27;Alpha&#x27;, directly or indirectly: "
        "this would make a cycle."
    )

    htmx = client.post(url, {"depends_on": f"#{b.pk} Bravo"}, **HX)
    plain = client.post(url, {"depends_on": f"#{b.pk} Bravo"})
    itself = client.post(url, {"depends_on": f"#{a.pk}"}, **HX)

    assert htmx.status_code == 200
    assert f'<p class="error" role="alert">{message}</p>' in content(htmx)
    assert plain.status_code == 400
    assert f'<p class="error" role="alert">{message}</p>' in content(plain)
    assert '<p class="error" role="alert">A feature cannot depend on itself.</p>' in content(itself)
    assert FeatureDependency.objects.count() == 1
    assert audit_count() == before


def test_dependency_access(portal_client, workspace, other_workspace):
    f = feature(workspace, title="Audit log")
    theirs = feature(other_workspace, title="Elsewhere")
    viewer, _ = portal_client(workspace, Role.VIEWER)
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)

    assert (
        viewer.post(f"/w/{workspace.slug}/features/{f.pk}/dependencies/", {"depends_on": "x"}).status_code
        == 403
    )
    refused = contributor.post(
        f"/w/{workspace.slug}/features/{f.pk}/dependencies/", {"depends_on": f"#{theirs.pk}"}, **HX
    )
    assert "No single match for “#" in content(refused)
    assert contributor.post(f"/w/{workspace.slug}/features/{theirs.pk}/dependencies/").status_code == 404
    assert (
        contributor.post(f"/w/{workspace.slug}/features/{f.pk}/dependencies/{theirs.pk}/remove/").status_code
        == 404
    )
    assert not FeatureDependency.objects.exists()


# --- query counts --------------------------------------------------------------------------------


def test_section_forms_query_count_does_not_grow_with_rows(
    portal_client, workspace, django_assert_num_queries
):
    f = feature(workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/"
    client.get(url)  # settings row

    def add_rows():
        for _ in range(5):
            goal = GoalFactory(workspace=workspace)
            ProductFactory(workspace=workspace)
            TeamFactory(workspace=workspace)
            roadmap_services.feature_update(
                feature=f, actor=None, data={"goals": [*f.goals.all(), goal], "tags": [f"t{goal.pk}"]}
            )

    # session, user, membership, feature + tags/goals/competitors, settings, criteria, criterion
    # values, products, teams, initiatives, goals
    with django_assert_num_queries(14):
        client.get(url)
    add_rows()
    with django_assert_num_queries(14):
        page = client.get(url)
    assert content(page).count('name="goals"') == 5


def test_the_boards_quick_form_adds_one_query_whatever_the_products(portal_client, workspace):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ProductFactory(workspace=workspace)
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    viewer, _ = portal_client(workspace, Role.VIEWER)
    contributor.get(f"/w/{workspace.slug}/roadmap/")
    viewer.get(f"/w/{workspace.slug}/roadmap/")
    with CaptureQueriesContext(connection) as seen:
        viewer.get(f"/w/{workspace.slug}/roadmap/")
    with CaptureQueriesContext(connection) as few:
        contributor.get(f"/w/{workspace.slug}/roadmap/")
    ProductFactory.create_batch(10, workspace=workspace)
    with CaptureQueriesContext(connection) as many:
        contributor.get(f"/w/{workspace.slug}/roadmap/")
    assert len(few) == len(seen) + 1
    assert len(many) == len(few)
