"""Data migrations of the feedback app, run forwards from the state before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_duplicate_pairs_stored_both_ways_become_one_row_each():
    executor = MigrationExecutor(connection)
    before = [("feedback", "0008_link_and_vote_updated_at")]
    after = [("feedback", "0010_duplicate_pair_ordered_constraint")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Workspace = old.get_model("productops", "Workspace")
    Item = old.get_model("feedback", "FeedbackItem")
    Suggestion = old.get_model("feedback", "DuplicateSuggestion")
    workspace = Workspace.objects.create(name="Old", slug="old")
    a, b, c = (
        Item.objects.create(workspace=workspace, text=t, received_at="2026-01-01T00:00:00Z") for t in "abc"
    )
    Suggestion.objects.create(workspace=workspace, item=b, similar_item=a, similarity=0.8, dismissed=True)
    Suggestion.objects.create(workspace=workspace, item=a, similar_item=b, similarity=0.9)
    Suggestion.objects.create(workspace=workspace, item=c, similar_item=a, similarity=0.7)

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    new = executor.loader.project_state(after).apps.get_model("feedback", "DuplicateSuggestion")
    assert sorted(new.objects.values_list("item_id", "similar_item_id", "similarity", "dismissed")) == [
        (a.pk, b.pk, 0.9, True),
        (a.pk, c.pk, 0.7, False),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
