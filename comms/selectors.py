"""Reads of comms: stakeholders and subscriptions."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from comms.models import CommsSettings, Stakeholder, Subscription
from productops.models import Workspace


def stakeholders_list(*, workspace: Workspace, audience: str | None = None) -> QuerySet[Stakeholder]:
    rows = Stakeholder.objects.for_workspace(workspace).annotate(subscription_count=Count("subscriptions"))
    if audience:
        rows = rows.filter(audience=audience)
    return rows.order_by("name", "email", "id")


def subscriptions_list(*, workspace: Workspace, stakeholder_id: int | None = None) -> QuerySet[Subscription]:
    rows = Subscription.objects.for_workspace(workspace).select_related(
        "stakeholder", "product", "goal", "initiative", "feature", "release", "target_workspace"
    )
    if stakeholder_id is not None:
        rows = rows.filter(stakeholder_id=stakeholder_id)
    return rows.order_by("id")


def comms_settings(*, workspace: Workspace) -> CommsSettings:
    """The workspace's settings (defaults, unsaved, when it has none yet)."""
    return CommsSettings.objects.filter(workspace=workspace).first() or CommsSettings(workspace=workspace)
