"""The one allow-list of django-zeal's N+1 detector (``ZEAL_ALLOWLIST`` in productops/test_settings.py).

zeal runs in every test (tests/conftest.py): each request (its middleware) and each Celery
task run in the test process is one count, and a relation or ``.get()`` loaded twice from the
same line of code within one count fails the test with ``NPlusOneError``. A test's own body is
not a count: tests build their data by calling services in loops, which zeal cannot tell from
an N+1 (a survey of the suite with one count per test flagged 153 tests at 55 sites, all of
them set-up loops, ``seed_demo`` or single-row re-reads).

The rule: an entry is allowed only for a deliberate one-row access that zeal cannot tell from
a loop, or a false positive; every entry says which. A real N+1 is fixed where it is (the app's
selectors: ``select_related`` / ``prefetch_related`` / ``.only()``), never listed, except the
entries under "known, bounded, to fix", which are open problems with an owner, not exemptions.
Entries match ``"app_label.Model"`` and a field (``get()`` is a repeated ``.get()``).
"""

from __future__ import annotations

ZEAL_ALLOWLIST: list[dict[str, str]] = [
    # False positive: SessionMiddleware loads the one session of a request and a test's
    # ``force_login`` writes one per client; never a loop.
    {"model": "sessions.Session", "field": "get()"},
    # One row per workspace (``get_or_create`` of the workspace's settings): a page that
    # reads it twice reads the same single row, there are no rows to loop over.
    {"model": "roadmap.RoadmapSettings", "field": "get()"},
    {"model": "releases.ReleaseSettings", "field": "get()"},
    {"model": "releases.ChangelogSettings", "field": "get()"},
    {"model": "comms.CommsSettings", "field": "get()"},
    {"model": "board.BoardSettings", "field": "get()"},
    # False positive: the tenant row. Every request reads its workspace once by slug; the
    # admin's forms look the same row up again when they validate a workspace field.
    {"model": "productops.Workspace", "field": "get()"},
    # False positive: Django's admin change form reads the goal it edits and its ModelChoiceField
    # looks the parent goal up (``.get()``) from the same line of Django's code.
    {"model": "roadmap.Goal", "field": "get()"},
    # Deliberate one-row reads, and known, bounded, to fix. The portal re-reads the one
    # feature (kanban card, portal/views/roadmap.py _feature_or_404) or item (the next item of
    # the inbox, portal/views/feedback.py _item_or_404) it shows after a write. And the bulk
    # actions go through the one-row service, which re-reads and locks its row with
    # ``select_for_update().get()``: shipping a release (one feature status change per shipped
    # feature), bulk triage (feedback_items_change_state), bulk link (feedback_links_create),
    # sending a test event to the selected webhook endpoints (comms admin), the admin's ship and
    # publish-notes actions over the selected releases. Each is bounded by
    # its selection; locking the rows in one query is the fix (docs/performance.md). Only the
    # repeated ``.get()`` is allowed: a relation loaded per row still fails.
    {"model": "roadmap.Feature", "field": "get()"},
    {"model": "feedback.FeedbackItem", "field": "get()"},
    {"model": "feedback.FeedbackLink", "field": "get()"},
    {"model": "comms.WebhookEndpoint", "field": "get()"},
    {"model": "releases.Release", "field": "get()"},
]
