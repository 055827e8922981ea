"""``feedback.services.feature_create_from_feedback``: one feature from feedback items, all or nothing."""

from __future__ import annotations

import pytest

from feedback import services
from feedback.models import FeedbackItem, FeedbackLink
from priority.recompute import run as recompute_workspace
from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap.models import Feature, FeatureStatusChange, ScoreState
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(workspace, member):
    return member(workspace, Role.CONTRIBUTOR).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Web app")


def _nothing_written(workspace) -> None:
    assert not Feature.objects.filter(workspace=workspace).exists()
    assert not FeedbackLink.objects.exists()
    assert not AuditEvent.objects.filter(
        target_type__in=["roadmap.feature", "feedback.feedbacklink"]
    ).exists()


def test_creates_the_feature_links_every_item_with_its_own_importance_and_counts_companies(
    workspace, user, product
):
    acme = CompanyFactory(workspace=workspace, name="Acme", arr=1000)
    globex = CompanyFactory(workspace=workspace, name="Globex", arr=500)
    first = FeedbackItemFactory(
        workspace=workspace, text="Offline mode please\nWe lose signal.", company=acme, importance="critical"
    )
    # No company of its own: its contact's company counts.
    second = FeedbackItemFactory(
        workspace=workspace, contact=ContactFactory(workspace=workspace, company=globex), state="reviewed"
    )
    archived = FeedbackItemFactory(workspace=workspace, company=acme, state="archived")

    feature = services.feature_create_from_feedback(
        workspace=workspace,
        actor=user,
        items=[first, second.pk, archived, first],
        data={"title": "Offline mode", "product": product},
    )

    feature.refresh_from_db()
    assert (feature.title, feature.product, feature.status, feature.score_state) == (
        "Offline mode",
        product,
        "idea",
        ScoreState.DIRTY,
    )
    links = {link.item_id: link.importance for link in FeedbackLink.objects.filter(feature=feature)}
    assert links == {first.pk: "critical", second.pk: "nice_to_have", archived.pk: "nice_to_have"}
    assert set(FeedbackLink.objects.filter(feature=feature).values_list("created_by", flat=True)) == {user.pk}
    # Linking makes new and reviewed items "linked"; an archived one stays archived.
    assert [FeedbackItem.objects.get(pk=i.pk).state for i in (first, second, archived)] == [
        "linked",
        "linked",
        "archived",
    ]
    assert FeatureStatusChange.objects.filter(feature=feature).count() == 1
    assert AuditEvent.objects.filter(
        target_type="roadmap.feature", target_id=str(feature.pk), action="created", actor=user
    ).exists()
    assert AuditEvent.objects.filter(target_type="feedback.feedbacklink", action="created").count() == 3

    recompute_workspace(workspace_id=workspace.pk, full=True)
    feature.refresh_from_db()
    assert feature.requesting_companies == 2
    assert feature.score_customer_impact > 0


def test_one_importance_for_every_item_and_the_title_from_the_first_item(workspace, user, product):
    first = FeedbackItemFactory(
        workspace=workspace, text="\n  Export   to CSV,\nplease  ", importance="critical"
    )
    second = FeedbackItemFactory(workspace=workspace, importance="nice_to_have")

    feature = services.feature_create_from_feedback(
        workspace=workspace,
        actor=user,
        items=[first, second],
        data={"title": "  ", "product": product, "description": "From the inbox"},
        importance="important",
    )

    assert (feature.title, feature.description) == ("Export to CSV,", "From the inbox")
    assert sorted(FeedbackLink.objects.filter(feature=feature).values_list("importance", flat=True)) == [
        "important",
        "important",
    ]


def test_a_long_first_line_makes_a_title_cut_at_a_word(workspace, user, product):
    item = FeedbackItemFactory(workspace=workspace, text="word " * 60)

    feature = services.feature_create_from_feedback(
        workspace=workspace, actor=user, items=[item], data={"product": product}
    )

    assert feature.title == ("word " * 23).strip() + "…"
    assert len(feature.title) <= services.DEFAULT_TITLE_LENGTH


@pytest.mark.parametrize(
    ("case", "error", "attr", "code"),
    [
        ("no items", ValidationFailed, "items", "required"),
        ("too many", ValidationFailed, "items", "too_many"),
        ("another workspace", ValidationFailed, "items", "does_not_exist"),
        ("unknown id", ValidationFailed, "items", "does_not_exist"),
        ("merged", Conflict, None, "item_merged"),
        ("no product", ValidationFailed, "product", "required"),
        ("another workspace's product", ValidationFailed, "product", "does_not_exist"),
        ("bad importance", ValidationFailed, "importance", "invalid_choice"),
        ("title too long", ValidationFailed, "title", "invalid"),
    ],
)
def test_refusals_write_nothing(workspace, other_workspace, user, product, case, error, attr, code):
    item = FeedbackItemFactory(workspace=workspace)
    items: list = [item]
    data: dict = {"title": "A feature", "product": product}
    importance = None
    if case == "no items":
        items = []
    elif case == "too many":
        items = [item.pk, *range(10**6, 10**6 + services.MAX_FEATURE_FROM_FEEDBACK_ITEMS)]
    elif case == "another workspace":
        items = [item, FeedbackItemFactory(workspace=other_workspace)]
    elif case == "unknown id":
        items = [item.pk, 10**9]
    elif case == "merged":
        target = FeedbackItemFactory(workspace=workspace)
        FeedbackItem.objects.filter(pk=item.pk).update(merged_into=target, state="archived")
    elif case == "no product":
        data = {"title": "A feature"}
    elif case == "another workspace's product":
        data = {"title": "A feature", "product": ProductFactory(workspace=other_workspace)}
    elif case == "bad importance":
        importance = "urgent"
    elif case == "title too long":
        data = {"title": "x" * 201, "product": product}

    with pytest.raises(error) as exc_info:
        services.feature_create_from_feedback(
            workspace=workspace, actor=user, items=items, data=data, importance=importance
        )

    assert exc_info.value.code == code
    if attr is not None:
        assert exc_info.value.attr == attr
    _nothing_written(workspace)


def test_a_refused_link_rolls_back_the_feature(workspace, user, product, monkeypatch):
    first, second = FeedbackItemFactory(workspace=workspace), FeedbackItemFactory(workspace=workspace)
    real = services.feedback_link_create

    def fail_on_second(*, item, **kwargs):
        if item.pk == second.pk:
            raise Conflict("No.", code="nope")
        return real(item=item, **kwargs)

    monkeypatch.setattr(services, "feedback_link_create", fail_on_second)

    with pytest.raises(Conflict):
        services.feature_create_from_feedback(
            workspace=workspace, actor=user, items=[first, second], data={"product": product}
        )

    _nothing_written(workspace)
    assert FeedbackItem.objects.get(pk=first.pk).state == "new"


def test_roles(workspace, member, product):
    item = FeedbackItemFactory(workspace=workspace)
    viewer = member(workspace, Role.VIEWER).user
    stranger = member(WorkspaceFactory(), Role.OWNER).user

    with pytest.raises(Forbidden):
        services.feature_create_from_feedback(
            workspace=workspace, actor=viewer, items=[item], data={"product": product}
        )
    with pytest.raises(NotFound):
        services.feature_create_from_feedback(
            workspace=workspace, actor=stranger, items=[item], data={"product": product}
        )
    _nothing_written(workspace)
    # The system (a task, a command) may.
    feature = services.feature_create_from_feedback(
        workspace=workspace, actor=None, items=[item], data={"product": product}
    )
    assert FeedbackLink.objects.get().feature == feature
