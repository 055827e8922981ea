"""Demo data of the platform core: the demo workspace and its people.

``seed_demo`` calls this, then each domain app's ``<app>.demo.seed``. Every
seeder is idempotent: it looks things up by natural key before creating them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
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


# With DEBUG on the demo login is an operator of the admin console: staff, in this group,
# which holds every permission of the project's own apps (and the periodic tasks'). With
# DEBUG off (seed_demo --force) the published demo/demo login is never staff: it loses
# staff, superuser and this group if an earlier DEBUG run gave them.
DEMO_OPERATORS_GROUP = "Demo operators"
OPERATOR_APPS = (
    "productops",
    "roadmap",
    "feedback",
    "priority",
    "releases",
    "comms",
    "board",
    "django_celery_beat",
)


def demo_operator_set(user: User, *, staff: bool) -> None:
    """Make the demo login an operator of the admin console (``staff``) or take it away."""
    if staff:
        group, _ = Group.objects.get_or_create(name=DEMO_OPERATORS_GROUP)
        # Not the user model's own permissions: with change_user, Django's user admin would let
        # the demo login make itself a superuser.
        group.permissions.set(
            Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS).exclude(
                content_type__app_label="productops", content_type__model="user"
            )
        )
        user.groups.add(group)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        return
    user.groups.remove(*Group.objects.filter(name=DEMO_OPERATORS_GROUP))
    user.user_permissions.clear()
    if user.is_staff or user.is_superuser:
        user.is_staff = user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])


@dataclass
class DemoContext:
    workspace: Workspace
    users: dict[str, User]
    scale: int


@transaction.atomic
def seed_core(*, scale: int, demo_staff: bool = False) -> DemoContext:
    """The demo workspace and its people; ``demo_staff`` (seed_demo: ``DEBUG``) makes the demo
    login an operator of the admin console, otherwise it is never staff."""
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
    demo_operator_set(owner, staff=demo_staff)
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if workspace is None:
        workspace = services.workspace_create(name="Acme Analytics", slug=DEMO_WORKSPACE_SLUG, owner=owner)
    for username, _, role in DEMO_PEOPLE:
        if not Membership.objects.filter(workspace=workspace, user=users[username]).exists():
            services.membership_add(workspace=workspace, user=users[username], role=role, actor=None)
    return DemoContext(workspace=workspace, users=users, scale=scale)
