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


@pytest.mark.django_db(transaction=True)
def test_a_workspace_on_the_defaults_reports_in_the_currency_most_arr_is_in():
    executor = MigrationExecutor(connection)
    before = [("feedback", "0011_sync_timestamps_and_external_ids")]
    after = [("feedback", "0012_reporting_currency_from_arr")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Workspace = old.get_model("productops", "Workspace")
    Company = old.get_model("feedback", "Company")
    euro = Workspace.objects.create(name="Euro", slug="euro")
    chosen = Workspace.objects.create(name="Chosen", slug="chosen", currency_rates={"EUR": "1.1"})
    dollar = Workspace.objects.create(name="Dollar", slug="dollar")
    Company.objects.create(workspace=euro, name="A", arr=900, arr_currency="EUR")
    Company.objects.create(workspace=euro, name="B", arr=100, arr_currency="USD")
    Company.objects.create(workspace=chosen, name="C", arr=900, arr_currency="EUR")
    Company.objects.create(workspace=dollar, name="D", arr=900, arr_currency="USD")

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    new = executor.loader.project_state(after).apps.get_model("productops", "Workspace")
    assert dict(new.objects.values_list("slug", "reporting_currency")) == {
        "euro": "EUR",
        "chosen": "USD",
        "dollar": "USD",
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
