"""Demo data of the public board: enabled for the demo workspace, with a few comments.

Runs after the roadmap and feedback seeders (``seed_demo``); idempotent.
"""

from __future__ import annotations

import random

from django.db import transaction
from django.utils import timezone

from board import services
from board.models import BoardContact, Comment
from feedback.models import Contact
from productops.demo import DemoContext
from roadmap.models import Feature

COMMENTS = [
    "This would save our team hours every week.",
    "We need this before our renewal, please!",
    "Would love to see this for the mobile app too.",
    "Any update on timing? Happy to beta test.",
    "+1, our admins ask about this every month.",
    "It would be great if it also worked with SSO.",
]


@transaction.atomic
def seed(context: DemoContext, rng: random.Random) -> None:
    workspace = context.workspace
    services.board_settings_update(
        workspace=workspace,
        actor=context.users["demo"],
        data={
            "enabled": True,
            "anonymous_viewing": True,
            "title": f"{workspace.name} ideas",
            "intro": "Tell us what you need, vote for the ideas that matter to you, and follow our roadmap.",
        },
    )
    if Comment.objects.filter(workspace=workspace).exists():
        return
    contacts = list(Contact.objects.for_workspace(workspace).order_by("id")[:4])
    features = list(Feature.objects.for_workspace(workspace).filter(is_public=True).order_by("id")[:6])
    now = timezone.now()
    for contact in contacts:
        BoardContact.objects.get_or_create(
            contact=contact, defaults={"workspace": workspace, "verified_at": now}
        )
    for index, feature in enumerate(features):
        if not contacts:
            break
        for offset in range(1 + index % 2):
            contact = contacts[(index + offset) % len(contacts)]
            services.comment_create(
                workspace=workspace,
                contact=contact,
                feature=feature,
                body=COMMENTS[(index + offset) % len(COMMENTS)],
            )
