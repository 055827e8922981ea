"""Themes: the pure clustering, labelling and matching (feedback.themes), and the services
that store them (feedback.theme_services), on the real embedding model."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from feedback import theme_selectors, theme_services, themes
from feedback.embeddings import DIMENSIONS, embed_in_context
from feedback.models import FeedbackItem, FeedbackLink, Theme, ThemeDismissal, ThemeMember, ThemeRun
from productops.errors import Conflict, Forbidden, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap.models import Feature
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

TOPICS = {
    "sso": [
        "single sign-on",
        "SSO through Okta",
        "SAML login",
        "signing in with Azure AD",
        "login with our Google Workspace accounts",
        "SSO with our identity provider",
    ],
    "export": [
        "exporting dashboards to PDF",
        "a CSV export of the reports",
        "downloading charts as Excel files",
        "exporting the table to a spreadsheet",
        "PDF export of every dashboard",
    ],
    "mobile": [
        "a mobile app for iPhone",
        "an Android app",
        "using the dashboards on a phone",
        "a native iOS app",
        "the mobile view on small screens",
    ],
    "slow": [
        "dashboards loading slowly",
        "the page takes 30 seconds to load",
        "slow performance with big tables",
        "charts are really slow to render",
        "loading times for large reports",
    ],
    "dark": [
        "a dark mode",
        "a dark theme for the interface",
        "night mode for late shifts",
        "darker colours for the UI",
        "dark mode because the white screen hurts",
    ],
}
FRAMES = [
    "We need {x} for our rollout.",
    "Please add {x}.",
    "{x} is a must before we renew.",
    "Our IT team keeps asking about {x}.",
    "Any news on {x}?",
    "Customers complain about {x}.",
    "Is {x} on the roadmap?",
    "{x} would really help our managers.",
    "Still waiting for {x}, it blocks us.",
    "Talked to the VP today: {x} came up again.",
]
EXTRA = ["", " Thanks!", " This is urgent.", " Our whole team agrees.", " It came up in the QBR."]


def synthetic(n: int, *, seed: int = 1, start: int = 0) -> list[tuple[str, str]]:
    """``n`` (topic, text) pairs from the five topics, in turn, with varied wording."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for i in range(start, start + n):
        topic = names[i % len(names)]
        text = rng.choice(FRAMES).format(x=rng.choice(TOPICS[topic]))
        rows.append((topic, text[0].upper() + text[1:] + rng.choice(EXTRA)))
    return rows


def store(workspace, rows, *, days_ago: float = 1, company=None) -> list[FeedbackItem]:
    now = timezone.now()
    items = [
        FeedbackItem(
            workspace=workspace,
            text=text,
            company=company,
            received_at=now - timedelta(days=days_ago, minutes=i),
        )
        for i, (_topic, text) in enumerate(rows)
    ]
    return FeedbackItem.objects.bulk_create(items)


def export_pdf(workspace) -> list[FeedbackItem]:
    """A second topic, so k-means (k ≥ 2) has two to find."""
    texts = [
        "Exporting a dashboard to PDF cuts off the last column.",
        "PDF export of the report please.",
        "Export the table to PDF.",
        "The PDF export is missing charts.",
    ]
    return [FeedbackItemFactory(workspace=workspace, text=text) for text in texts]


def membership(workspace) -> dict[int, int]:
    """item id → theme id."""
    return dict(
        ThemeMember.objects.filter(workspace=workspace).values_list("item_id", "theme_id").order_by("item_id")
    )


# --- pure functions ----------------------------------------------------------------------


def test_choose_k_grows_with_the_square_root_and_is_clamped():
    assert [themes.choose_k(n) for n in (1, 8, 50, 300, 5000, 100_000)] == [2, 2, 5, 12, 40, 40]


def test_cluster_finds_the_topics_and_is_deterministic():
    rows = synthetic(300)
    # The encoder's vectors, which themes cluster. The distilled table's averaged words put
    # "dashboards" of three topics together on some CPUs (69 % pure on an AVX-512 VNNI one).
    vectors = embed_in_context([text for _, text in rows])
    topics = np.array([topic for topic, _ in rows])

    first = themes.cluster(vectors)
    again = themes.cluster(vectors)

    assert [c.members.tolist() for c in first.clusters] == [c.members.tolist() for c in again.clusters]
    assert np.array_equal(first.centroids, again.centroids)
    assert len(first.centroids) == 12
    assert sum(len(c.members) for c in first.clusters) >= 270
    for found in first.clusters:
        assert len(found.members) >= themes.MIN_SIZE
        assert found.cohesion >= themes.MIN_COHESION
        assert list(found.similarities) == sorted(found.similarities, reverse=True)
        assert abs(float(np.linalg.norm(found.centroid)) - 1) < 1e-5
    # Most clusters are one topic: at least 80 % of the themed items sit with their own topic.
    pure = sum(np.unique(topics[c.members], return_counts=True)[1].max() for c in first.clusters)
    assert pure / sum(len(c.members) for c in first.clusters) >= 0.8


def test_cluster_from_its_own_centroids_changes_nothing():
    vectors = embed_in_context([text for _, text in synthetic(300)])
    first = themes.cluster(vectors)

    rerun = themes.cluster(vectors, previous_centroids=first.centroids)

    assert [c.members.tolist() for c in rerun.clusters] == [c.members.tolist() for c in first.clusters]


def test_small_and_loose_clusters_are_dropped():
    texts = [
        "Dark mode please",
        "A dark theme for the interface",
        "Dark mode for late shifts",
        "The invoice total is wrong",
        "Bananas are yellow",
        "Our office moved to Lisbon",
    ]
    # The encoder's own vectors, which themes cluster (and MEMBER_CUTOFF is set for): the
    # distilled table's put "Bananas are yellow" at 0.49 to the dark-mode centroid.
    vectors = embed_in_context(texts)

    clustering = themes.cluster(vectors)

    assert [sorted(c.members.tolist()) for c in clustering.clusters] == [[0, 1, 2]]
    assert themes.cluster(vectors[:2]).clusters == []
    loose = themes.cluster(vectors[3:], min_size=3)
    assert loose.clusters == []


def test_assign_takes_the_nearest_centroid_above_the_cutoff():
    centroids = np.eye(3, dtype=np.float32)
    rows = np.array([[0.9, 0.1, 0], [0.1, 0.2, 0.97], [0.3, 0.3, 0.3]], dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)

    assert themes.assign(rows, centroids, cutoff=0.6).tolist() == [0, 2, -1]
    assert themes.assign(rows, np.zeros((0, 3), np.float32)).tolist() == [-1, -1, -1]


def test_label_takes_the_most_distinctive_content_words():
    clusters = [
        ["Please add dark mode", "Dark mode for the night shift", "A dark theme would be nice"],
        ["Export to PDF please", "PDF export cuts the last column", "Export the report as PDF"],
    ]

    # "night" and "column" are used once: not enough to name a theme.
    assert themes.label(clusters) == [["dark", "mode"], ["export", "pdf"]]
    assert themes.label([["Dark mode", "Dark theme"]]) == [["dark", "mode", "theme"]]


def test_match_previous_is_greedy_best_first_with_a_jaccard_floor():
    previous = {10: {1, 2, 3, 4}, 20: {5, 6, 7, 8}, 30: {9, 10}}
    clusters = [[1, 2, 3, 4, 99], [5, 6], [1, 2, 3], [11, 12]]

    # [1,2,3,4,99] ~ 10 (0.8) wins over [1,2,3] ~ 10 (0.75); [5,6] ~ 20 is 0.5: taken.
    assert themes.match_previous(clusters, previous) == [10, 20, None, None]
    assert themes.match_previous([], previous) == []
    assert themes.match_previous(clusters, {}) == [None, None, None, None]


# --- the recompute -----------------------------------------------------------------------


@pytest.mark.django_db
def test_recompute_stores_themes_with_size_companies_arr_trend_and_typical_items(workspace):
    big = CompanyFactory(workspace=workspace, arr=100_000)
    small = CompanyFactory(workspace=workspace, arr=2_500)
    contact = ContactFactory(workspace=workspace, company=small)
    dark = [
        "We need a dark mode for the night shift.",
        "Dark mode please, the white screen hurts.",
        "A dark theme for the interface would help.",
        "Dark mode for late shifts.",
    ]
    items = [
        FeedbackItemFactory(workspace=workspace, text=dark[0], company=big),
        FeedbackItemFactory(workspace=workspace, text=dark[1], company=big),
        FeedbackItemFactory(workspace=workspace, text=dark[2], contact=contact),
        FeedbackItemFactory(workspace=workspace, text=dark[3]),
    ]
    export_pdf(workspace)
    before = timezone.now() - timedelta(days=40)
    FeedbackItemFactory(workspace=workspace, text="Please add a dark mode.", received_at=before)
    # Not clustered: linked, merged, archived, too old.
    FeedbackLinkFactory(
        feature=FeatureFactory(product=ProductFactory(workspace=workspace)),
        item=FeedbackItemFactory(workspace=workspace, text="Dark mode in the mobile app"),
    )
    FeedbackItemFactory(workspace=workspace, text="Dark mode now", merged_into=items[0])
    FeedbackItemFactory(workspace=workspace, text="Dark mode at last", state="archived")
    FeedbackItemFactory(
        workspace=workspace, text="Dark mode", received_at=timezone.now() - timedelta(days=70)
    )

    stored = theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30)

    assert len(stored) == 2
    theme = next(t for t in stored if "dark" in t.words)
    assert theme.words[:2] == ["dark", "mode"]
    assert theme.label == ", ".join(theme.words)
    assert (theme.size, theme.company_count, theme.arr, theme.arr_currency) == (
        4,
        2,
        Decimal("102500.00"),
        "USD",
    )
    # This period: the four and the linked one (open feedback); the period before: one.
    assert (theme.trend_current, theme.trend_previous) == (5, 1)
    assert theme.run_number == 1
    assert len(theme_services.theme_centroid(theme)) == DIMENSIONS
    members = list(theme_selectors.theme_members(theme=theme))
    assert sorted(m.item_id for m in members) == sorted(i.pk for i in items)
    assert [m.rank for m in members] == [0, 1, 2, 3]
    assert [m.similarity for m in members] == sorted((m.similarity for m in members), reverse=True)
    run = ThemeRun.objects.get()
    assert (run.number, run.item_count, run.candidate_count, run.sampled, run.theme_count) == (
        1,
        8,
        8,
        False,
        2,
    )


@pytest.mark.django_db
def test_a_period_outside_the_choices_is_refused(workspace):
    with pytest.raises(ValidationFailed) as refused:
        theme_services.themes_recompute(workspace_id=workspace.pk, period_days=14)
    assert (refused.value.attr, refused.value.code) == ("period_days", "invalid_choice")


@pytest.mark.django_db
def test_the_input_is_capped_at_the_most_recent_items_and_says_it_is_sampled(workspace, monkeypatch):
    monkeypatch.setattr(theme_services, "MAX_ITEMS", 20)
    store(workspace, synthetic(25))

    theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30)

    run = ThemeRun.objects.get()
    assert (run.item_count, run.candidate_count, run.sampled) == (20, 25, True)
    newest = set(FeedbackItem.objects.order_by("-received_at", "-id").values_list("pk", flat=True)[:20])
    assert set(membership(workspace)) <= newest


@pytest.mark.django_db
def test_rerun_on_unchanged_data_gives_the_same_themes_and_5_percent_new_items_keep_90_percent(workspace):
    store(workspace, synthetic(300, seed=3))
    first = theme_services.themes_recompute(workspace_id=workspace.pk)
    before = membership(workspace)
    labels = {t.pk: t.label for t in first}

    again = theme_services.themes_recompute(workspace_id=workspace.pk)

    assert membership(workspace) == before
    assert {t.pk: t.label for t in again} == labels
    assert len(before) >= 270
    assert len(first) >= 8

    store(workspace, synthetic(15, seed=4, start=300), days_ago=0.5)  # 5 % new
    theme_services.themes_recompute(workspace_id=workspace.pk)
    after = membership(workspace)

    kept = sum(after.get(item_id) == theme_id for item_id, theme_id in before.items())
    assert kept / len(before) >= 0.9
    assert ThemeRun.objects.get().number == 3


@pytest.mark.django_db
def test_a_theme_nobody_takes_is_deleted_and_themes_are_per_period(workspace):
    export_pdf(workspace)
    for text in ["Dark mode please", "A dark theme please", "Dark mode for night shifts", "Dark mode now"]:
        FeedbackItemFactory(workspace=workspace, text=text)
    theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30)
    theme_services.themes_recompute(workspace_id=workspace.pk, period_days=7)
    assert set(Theme.objects.values_list("period_days", flat=True)) == {7, 30}
    thirty = set(Theme.objects.filter(period_days=30).values_list("pk", flat=True))

    FeedbackItem.objects.update(state="archived")
    assert theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30) == []

    assert not Theme.objects.filter(pk__in=thirty).exists()
    assert Theme.objects.filter(period_days=7).exists()
    assert ThemeRun.objects.get(period_days=30).theme_count == 0


@pytest.mark.django_db
def test_recompute_request_enqueues_after_commit_for_contributors(
    workspace, member, django_capture_on_commit_callbacks
):
    viewer = member(workspace, Role.VIEWER).user
    contributor = member(workspace, Role.CONTRIBUTOR).user
    with pytest.raises(Forbidden):
        theme_services.themes_recompute_request(workspace=workspace, actor=viewer, period_days=30)

    with django_capture_on_commit_callbacks() as callbacks:
        assert (
            theme_services.themes_recompute_request(workspace=workspace, actor=contributor, period_days=7)
            == 7
        )

    assert [c.__qualname__ for c in callbacks] == ["enqueue feedback.tasks.themes_recompute"]


@pytest.mark.django_db
def test_the_periodic_task_recomputes_every_period_of_workspaces_with_feedback(workspace, other_workspace):
    from feedback.tasks import themes_recompute_all

    store(workspace, synthetic(10))

    assert themes_recompute_all() == 3

    assert set(ThemeRun.objects.values_list("workspace_id", "period_days")) == {
        (workspace.pk, 7),
        (workspace.pk, 30),
        (workspace.pk, 90),
    }


@pytest.mark.django_db
def test_the_migration_schedules_the_periodic_task():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="feedback: recompute themes")
    assert (task.task, task.interval.every, task.interval.period) == (
        "feedback.tasks.themes_recompute_all",
        21600,
        "seconds",
    )


# --- acting on a theme -------------------------------------------------------------------


@pytest.fixture
def dark_theme(workspace):
    big = CompanyFactory(workspace=workspace, name="Big", arr=100_000)
    small = CompanyFactory(workspace=workspace, name="Small", arr=5_000)
    texts = [
        ("We need a dark mode for the night shift.", big, "critical"),
        ("Dark mode please, the white screen hurts.", big, "nice_to_have"),
        ("A dark theme for the interface would help.", small, "important"),
        ("Dark mode for late shifts.", None, "nice_to_have"),
    ]
    for text, company, importance in texts:
        FeedbackItemFactory(workspace=workspace, text=text, company=company, importance=importance)
    export_pdf(workspace)
    stored = theme_services.themes_recompute(workspace_id=workspace.pk)
    return next(t for t in stored if "dark" in t.words)


@pytest.mark.django_db
def test_create_a_feature_from_a_theme_links_each_item_with_its_own_importance(workspace, member, dark_theme):
    user = member(workspace, Role.CONTRIBUTOR).user
    product = ProductFactory(workspace=workspace)

    feature = theme_services.theme_create_feature(theme=dark_theme, actor=user, data={"product": product})

    assert feature.title == dark_theme.label
    links = {
        link.item.text: link.importance
        for link in FeedbackLink.objects.filter(feature=feature).select_related("item")
    }
    assert links == {
        "We need a dark mode for the night shift.": "critical",
        "Dark mode please, the white screen hurts.": "nice_to_have",
        "A dark theme for the interface would help.": "important",
        "Dark mode for late shifts.": "nice_to_have",
    }
    assert set(FeedbackItem.objects.filter(links__feature=feature).values_list("state", flat=True)) == {
        "linked"
    }
    assert AuditEvent.objects.filter(
        target_type="feedback.theme", changes__feature_created=feature.pk
    ).exists()


@pytest.mark.django_db
def test_create_a_feature_from_a_theme_refused_writes_nothing(workspace, member, dark_theme):
    user = member(workspace, Role.CONTRIBUTOR).user
    viewer = member(workspace, Role.VIEWER).user

    with pytest.raises(ValidationFailed) as refused:
        theme_services.theme_create_feature(theme=dark_theme, actor=user, data={"title": "Dark mode"})
    assert (refused.value.attr, refused.value.code) == ("product", "required")
    with pytest.raises(Forbidden):
        theme_services.theme_create_feature(
            theme=dark_theme, actor=viewer, data={"product": ProductFactory(workspace=workspace)}
        )

    assert not Feature.objects.exists()
    assert not FeedbackLink.objects.exists()


@pytest.mark.django_db
def test_create_a_feature_from_a_theme_of_more_than_100_items(workspace, member, monkeypatch):
    from feedback import services

    monkeypatch.setattr(services, "MAX_FEATURE_FROM_FEEDBACK_ITEMS", 2)
    user = member(workspace, Role.CONTRIBUTOR).user
    for text in ["Dark mode please", "A dark theme please", "Dark mode for night shifts", "Dark mode now"]:
        FeedbackItemFactory(workspace=workspace, text=text)
    export_pdf(workspace)
    theme = next(t for t in theme_services.themes_recompute(workspace_id=workspace.pk) if "dark" in t.words)

    feature = theme_services.theme_create_feature(
        theme=theme, actor=user, data={"title": "Dark mode", "product": ProductFactory(workspace=workspace)}
    )

    assert FeedbackLink.objects.filter(feature=feature).count() == 4


@pytest.mark.django_db
def test_link_a_theme_to_a_feature_skips_items_linked_already(workspace, member, dark_theme):
    user = member(workspace, Role.CONTRIBUTOR).user
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    first = theme_services.theme_open_items(dark_theme)[0]
    FeedbackLinkFactory(feature=feature, item=first, importance="important")

    assert theme_services.theme_link_feature(theme=dark_theme, actor=user, feature=feature) == 3
    assert theme_services.theme_link_feature(theme=dark_theme, actor=user, feature=feature) == 0

    assert FeedbackLink.objects.filter(feature=feature).count() == 4
    assert FeedbackLink.objects.get(item=first).importance == "important"
    assert theme_services.theme_open_items(dark_theme)[0] == first


@pytest.mark.django_db
def test_link_a_theme_to_a_declined_or_foreign_feature_is_refused(
    workspace, other_workspace, member, dark_theme
):
    user = member(workspace, Role.CONTRIBUTOR).user
    declined = FeatureFactory(product=ProductFactory(workspace=workspace), status="declined")
    foreign = FeatureFactory(product=ProductFactory(workspace=other_workspace))

    with pytest.raises(Conflict):
        theme_services.theme_link_feature(theme=dark_theme, actor=user, feature=declined)
    with pytest.raises(ValidationFailed) as refused:
        theme_services.theme_link_feature(theme=dark_theme, actor=user, feature=foreign)
    assert (refused.value.attr, refused.value.code) == ("feature", "does_not_exist")
    assert not FeedbackLink.objects.exists()


@pytest.mark.django_db
def test_wrong_theme_removes_the_item_and_it_is_not_put_back(workspace, member, dark_theme):
    user = member(workspace, Role.CONTRIBUTOR).user
    big_item = FeedbackItem.objects.get(text="Dark mode please, the white screen hurts.")
    small_item = FeedbackItem.objects.get(text="A dark theme for the interface would help.")

    dismissal = theme_services.theme_item_dismiss(theme=dark_theme, item=small_item, actor=user)
    again = theme_services.theme_item_dismiss(theme=dark_theme, item=small_item, actor=user)

    assert again.pk == dismissal.pk
    assert (dismissal.dismissed_by, dismissal.theme_id) == (user, dark_theme.pk)
    dark_theme.refresh_from_db()
    assert (dark_theme.size, dark_theme.company_count, dark_theme.arr) == (3, 1, Decimal("100000.00"))
    assert small_item.pk not in membership(workspace)

    rerun = next(t for t in theme_services.themes_recompute(workspace_id=workspace.pk) if "dark" in t.words)

    assert rerun.pk == dark_theme.pk
    assert small_item.pk not in membership(workspace)
    assert big_item.pk in membership(workspace)
    assert rerun.size == 3
    assert ThemeDismissal.objects.count() == 1
    assert AuditEvent.objects.filter(
        target_type="feedback.theme", changes__dismissed_item=small_item.pk
    ).exists()


@pytest.mark.django_db
def test_wrong_theme_for_an_item_not_in_it(workspace, member, dark_theme):
    user = member(workspace, Role.CONTRIBUTOR).user
    outsider = FeedbackItemFactory(workspace=workspace, text="Invoices are wrong")

    with pytest.raises(ValidationFailed) as refused:
        theme_services.theme_item_dismiss(theme=dark_theme, item=outsider, actor=user)

    assert (refused.value.attr, refused.value.code) == ("item", "not_a_member")
    assert not ThemeDismissal.objects.exists()


@pytest.mark.django_db
def test_theme_list_costs_constant_queries(workspace, dark_theme, django_assert_num_queries):
    store(workspace, synthetic(60))
    theme_services.themes_recompute(workspace_id=workspace.pk)

    with django_assert_num_queries(2):
        rows = list(theme_selectors.theme_list(workspace=workspace, period_days=30))
        typical = [[m.item.company for m in t.typical] for t in rows]

    assert len(rows) >= 2
    assert all(len(t) == 3 for t in typical)


# --- the admin console (tests/feedback/test_admin.py walks these makers) ------------------


def _theme(n: int = 0) -> Theme:
    item = FeedbackItemFactory()
    return Theme.objects.create(
        workspace=item.workspace,
        label=f"theme {n}",
        centroid=np.zeros(256, np.float32).tobytes(),
        size=1,
        computed_at=timezone.now(),
    )


def _member(n: int) -> ThemeMember:
    theme = _theme(n)
    item = FeedbackItemFactory(workspace=theme.workspace)
    return ThemeMember.objects.create(workspace=theme.workspace, theme=theme, item=item, similarity=0.9)


def _dismissal(n: int) -> ThemeDismissal:
    theme = _theme(n)
    item = FeedbackItemFactory(workspace=theme.workspace)
    return ThemeDismissal.objects.create(workspace=theme.workspace, theme=theme, item=item)


THEME_ADMIN_MAKERS = {
    Theme: _theme,
    ThemeMember: _member,
    ThemeDismissal: _dismissal,
    ThemeRun: lambda n: ThemeRun.objects.create(workspace=FeedbackItemFactory().workspace, period_days=30),
}


@pytest.mark.django_db
def test_themes_are_read_only_in_the_admin(admin_client):
    theme = _theme()

    assert admin_client.get(f"/admin/feedback/theme/{theme.pk}/change/").status_code == 200
    assert admin_client.get("/admin/feedback/theme/add/").status_code == 403
    assert admin_client.post(f"/admin/feedback/theme/{theme.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_theme_vectors_run_the_encoder_on_the_configured_threads(workspace, settings, monkeypatch):
    from feedback import embeddings

    settings.FEEDBACK_THEMES_THREADS = 3
    items = store(workspace, synthetic(4))
    seen = []
    real = embeddings.embed_in_context

    def recording(texts, *, threads=1):
        seen.append((len(texts), threads))
        return real(texts, threads=threads)

    monkeypatch.setattr(embeddings, "embed_in_context", recording)

    ids, matrix = theme_services.theme_vectors(workspace_id=workspace.pk, item_ids=[i.pk for i in items])

    assert seen == [(4, 3)]
    assert ids == sorted(i.pk for i in items)
    assert matrix.shape == (4, DIMENSIONS)
