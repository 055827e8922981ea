"""Factories of comms' models."""

import factory
from django.utils import timezone

from comms.models import Threshold, WebhookEndpoint
from comms.webhooks import new_secret
from tests.productops.factories import WorkspaceFactory

# --- close the loop, webhooks and thresholds (tests/comms/test_loop.py, test_webhooks.py,
# test_events.py, test_thresholds.py) ------------------------------------------------------


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An active endpoint on a public https URL (never called by a test that does not mean to)."""

    class Meta:
        model = WebhookEndpoint

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Endpoint {n}")
    url = factory.Sequence(lambda n: f"https://hooks.example.com/{n}")
    event_types = factory.LazyFunction(
        lambda: [
            "release.shipped",
            "feature.status_changed",
            "feedback.created",
            "priority.rank_changed",
            "feature.threshold_crossed",
        ]
    )
    secret = factory.LazyFunction(new_secret)


class ThresholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Threshold

    workspace = factory.SubFactory(WorkspaceFactory)
    metric = "companies"
    value = 3


# --- stakeholders and subscriptions (tests/comms/test_subscribers.py, tests/board/test_email_pages.py)


class StakeholderFactory(factory.django.DjangoModelFactory):
    """A confirmed external stakeholder (the team made them)."""

    class Meta:
        model = "comms.Stakeholder"

    workspace = factory.SubFactory(WorkspaceFactory)
    kind = "external"
    name = factory.Sequence(lambda n: f"Stakeholder {n}")
    email = factory.Sequence(lambda n: f"stakeholder{n}@example.com")
    audience = "executive"
    confirmed_at = factory.LazyFunction(timezone.now)


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """``stakeholder`` follows its whole workspace by e-mail (weekly unless told otherwise)."""

    class Meta:
        model = "comms.Subscription"

    stakeholder = factory.SubFactory(StakeholderFactory)
    workspace = factory.LazyAttribute(lambda s: s.stakeholder.workspace)
    target_workspace = factory.LazyAttribute(lambda s: s.stakeholder.workspace)
    channel = "email"
    cadence = "weekly"
