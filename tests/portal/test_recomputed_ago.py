"""'recomputed just now' on the dashboard and the scoring settings (the ``ago`` filter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.templatetags.portal_time import ago
from productops.models import Role
from roadmap.models import RoadmapSettings
from roadmap.selectors import settings_for

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (59, "just now"),
        (-30, "just now"),  # a little ahead (clock skew)
        (60, "1\xa0minute ago"),
        (61 * 60, "1\xa0hour, 1\xa0minute ago"),
        (2 * 86400, "2\xa0days ago"),
    ],
)
def test_ago_reads_just_now_under_a_minute(seconds, text):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == text


def test_ago_of_nothing_is_empty():
    assert ago(None) == ""
    assert ago("") == ""


@pytest.mark.parametrize("path", ["", "settings/scoring/"])
def test_a_recompute_seconds_ago_reads_recomputed_just_now(portal_client, workspace, path):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    settings_for(workspace.pk)
    settings = RoadmapSettings.objects.filter(workspace=workspace)
    settings.update(last_recomputed_at=timezone.now() - timedelta(seconds=5))
    content = client.get(f"/w/{workspace.slug}/{path}").content.decode()
    assert ", recomputed just now</span>" in content
    assert "0\xa0minutes" not in content

    settings.update(last_recomputed_at=timezone.now() - timedelta(minutes=3, seconds=5))
    content = client.get(f"/w/{workspace.slug}/{path}").content.decode()
    assert ", recomputed 3\xa0minutes ago</span>" in content


def test_feedback_received_seconds_ago_reads_just_now_in_the_triage_pane(portal_client, workspace):
    from tests.feedback.factories import FeedbackItemFactory

    client, _ = portal_client(workspace, Role.VIEWER)
    item = FeedbackItemFactory(workspace=workspace, received_at=timezone.now() - timedelta(seconds=5))

    content = client.get(f"/w/{workspace.slug}/feedback/{item.pk}/").content.decode()

    assert '<span class="muted small">(just now)</span>' in content
    assert "0\xa0minutes" not in content
