"""Demo data of the platform core: the demo workspace and its people.

``seed_demo`` calls this, then each domain app's ``<app>.demo.seed``. Every
seeder is idempotent: it looks things up by natural key before creating them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from productops import services
from productops.models import Membership, Role, User, Workspace

DEMO_WORKSPACE_SLUG = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 (the published demo login, created only by seed_demo)

DEMO_PEOPLE = [
    ("demo", "Dana Demo", Role.OWNER),
    ("alice", "Alice Admin", Role.ADMIN),
    ("priya", "Priya PM", Role.PRODUCT_MANAGER),
    ("carlos", "Carlos Contributor", Role.CONTRIBUTOR),
    ("vera", "Vera Viewer", Role.VIEWER),
]


@dataclass
class DemoContext:
    workspace: Workspace
    users: dict[str, User]
    scale: int


@transaction.atomic
def seed_core(*, scale: int) -> DemoContext:
    users: dict[str, User] = {}
    for username, full_name, _ in DEMO_PEOPLE:
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@demo.productops.local", "first_name": first, "last_name": last},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[username] = user
    owner = users[DEMO_USERNAME]
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if workspace is None:
        workspace = services.workspace_create(name="Acme Analytics", slug=DEMO_WORKSPACE_SLUG, owner=owner)
    for username, _, role in DEMO_PEOPLE:
        if not Membership.objects.filter(workspace=workspace, user=users[username]).exists():
            services.membership_add(workspace=workspace, user=users[username], role=role, actor=None)
    return DemoContext(workspace=workspace, users=users, scale=scale)
