"""Duplicates by words and by meaning, in batches (feedback.duplicate_services)."""

import pytest
from django.db.models import Q

from feedback import duplicate_services, services, tasks
from feedback.models import DuplicateSuggestion, FeedbackItem, FeedbackVector
from tests.feedback.factories import FeedbackItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _pairs(item):
    return {
        (s.item_id, s.similar_item_id, s.similar_feature_id): s
        for s in DuplicateSuggestion.objects.filter(Q(item=item) | Q(similar_item=item))
    }


def test_a_paraphrase_is_suggested_for_its_meaning_and_says_so(workspace):
    original = FeedbackItemFactory(workspace=workspace, text="Export roadmap to PDF")
    unrelated = FeedbackItemFactory(workspace=workspace, text="Invoices should show our VAT number")
    new = FeedbackItemFactory(workspace=workspace, text="Can I download my roadmap as a PDF document?")

    assert duplicate_services.duplicates_find_many(item_ids=[original.pk, unrelated.pk, new.pk]) == 3

    pairs = _pairs(new)
    assert list(pairs) == [(original.pk, new.pk, None)]
    pair = pairs[(original.pk, new.pk, None)]
    assert pair.reason == "meaning"
    assert pair.word_similarity < 0.7
    assert pair.meaning_similarity > 0.7
    assert pair.similarity >= 0.7
    assert FeedbackItem.objects.filter(duplicates_checked_at__isnull=True).count() == 0


def test_the_same_words_are_suggested_for_their_words(workspace):
    original = FeedbackItemFactory(
        workspace=workspace, text="We need SAML single sign-on with Okta for our team"
    )
    duplicate_services.duplicates_find_many(item_ids=[original.pk])  # its own check, on commit
    new = FeedbackItemFactory(workspace=workspace, text="we need SAML single sign on with Okta for the team!")

    duplicate_services.duplicates_find_many(item_ids=[new.pk])

    (pair,) = _pairs(new).values()
    assert (pair.item_id, pair.similar_item_id) == (original.pk, new.pk)
    assert pair.reason == "words"
    assert pair.similarity == pair.word_similarity > 0.7


def test_a_batch_embeds_only_its_own_items_and_the_later_check_finds_the_pair(workspace):
    earlier = FeedbackItemFactory(workspace=workspace, text="Export roadmap to PDF")
    later = FeedbackItemFactory(workspace=workspace, text="Can I download my roadmap as a PDF document?")

    duplicate_services.duplicates_find_many(item_ids=[earlier.pk])

    assert _pairs(earlier) == {}  # the later item has no vector yet: its own check is queued
    assert not FeedbackVector.objects.filter(item=later).exists()

    duplicate_services.duplicates_find_many(item_ids=[later.pk])

    assert list(_pairs(later)) == [(earlier.pk, later.pk, None)]


def test_requests_that_share_words_but_ask_for_different_things_are_not_suggested(workspace):
    FeedbackItemFactory(workspace=workspace, text="dark mode for mobile")
    new = FeedbackItemFactory(workspace=workspace, text="dark mode for the web dashboard")

    duplicate_services.duplicates_find_many(item_ids=[new.pk])

    assert _pairs(new) == {}


def test_a_feature_is_suggested_by_meaning(workspace):
    product = ProductFactory(workspace=workspace)
    # The title shares no word with the item (its words score 0); the description says
    # the same thing in other words.
    feature = FeatureFactory(
        product=product,
        title="Undo for deletes",
        description="Bring back cards that were deleted by accident.",
    )
    item = FeedbackItemFactory(
        workspace=workspace, text="I removed a card by mistake and could not get it back"
    )

    duplicate_services.duplicates_find_many(item_ids=[item.pk])

    (suggestion,) = _pairs(item).values()
    assert (suggestion.similar_feature_id, suggestion.reason) == (feature.pk, "meaning")
    assert suggestion.word_similarity == 0.0


def test_with_semantic_suggestions_off_only_words_count(workspace):
    services.feedback_settings_update(workspace=workspace, actor=None, semantic_suggestions=False)
    FeedbackItemFactory(workspace=workspace, text="Export roadmap to PDF")
    new = FeedbackItemFactory(workspace=workspace, text="Can I download my roadmap as a PDF document?")
    twin = FeedbackItemFactory(workspace=workspace, text="can i download my roadmap as a pdf document")

    duplicate_services.duplicates_find_many(item_ids=[new.pk, twin.pk])

    assert [(s.reason, s.meaning_similarity) for s in _pairs(new).values()] == [("words", None)]
    assert set(_pairs(new)) == {(new.pk, twin.pk, None)}


def test_running_twice_adds_nothing_and_keeps_a_dismissal(workspace):
    original = FeedbackItemFactory(workspace=workspace, text="Export roadmap to PDF")
    new = FeedbackItemFactory(workspace=workspace, text="Can I download my roadmap as a PDF document?")
    duplicate_services.duplicates_find_many(item_ids=[original.pk, new.pk])
    (pair,) = _pairs(new).values()
    services.duplicate_dismiss(suggestion=pair, actor=None)

    duplicate_services.duplicates_find_many(item_ids=[new.pk])

    assert [(s.pk, s.dismissed) for s in _pairs(new).values()] == [(pair.pk, True)]


def test_items_that_cannot_be_embedded_are_checked_by_words(workspace):
    link = "https://example.com/tickets/123"
    first = FeedbackItemFactory(workspace=workspace, text=link)
    second = FeedbackItemFactory(workspace=workspace, text="")

    assert duplicate_services.duplicates_find_many(item_ids=[first.pk, second.pk]) == 2

    assert FeedbackItem.objects.filter(duplicates_checked_at__isnull=True).count() == 0


def test_one_workspaces_failure_does_not_stop_the_others(workspace, other_workspace, monkeypatch, caplog):
    original = FeedbackItemFactory(workspace=workspace, text="Export roadmap to PDF")
    duplicate_services.duplicates_find_many(item_ids=[original.pk])
    mine = FeedbackItemFactory(workspace=workspace, text="Can I download my roadmap as a PDF document?")
    theirs = FeedbackItemFactory(workspace=other_workspace, text="Dark mode please")
    real = duplicate_services._check_workspace

    def broken(*, workspace_id, **kwargs):
        if workspace_id == other_workspace.pk:
            raise RuntimeError("a bad row")
        return real(workspace_id=workspace_id, **kwargs)

    monkeypatch.setattr(duplicate_services, "_check_workspace", broken)

    assert duplicate_services.duplicates_find_many(item_ids=[mine.pk, theirs.pk]) == 1

    assert len(_pairs(mine)) == 1
    assert FeedbackItem.objects.get(pk=theirs.pk).duplicates_checked_at is None
    assert "duplicate detection failed" in caplog.text


def test_the_sweep_checks_every_pending_item_in_batches(workspace, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    items = [
        FeedbackItemFactory(workspace=workspace, text=f"Request number {i} about exports") for i in range(5)
    ]

    assert tasks.find_duplicates_pending() == 5

    assert (
        FeedbackItem.objects.filter(pk__in=[i.pk for i in items], duplicates_checked_at__isnull=True).count()
        == 0
    )
    assert tasks.find_duplicates_pending() == 0
