"""Create a workspace for an existing user, who becomes its owner, and print its URL."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from productops import services
from productops.errors import DomainError
from productops.models import User


class Command(BaseCommand):
    help = "Create a workspace owned by the user with --owner's e-mail; prints the workspace's URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The workspace's name.")
        parser.add_argument("--owner", required=True, help="E-mail of the user who owns it (any case).")
        parser.add_argument("--slug", default="", help="Its URL slug (default: from the name).")

    def handle(self, *args: object, name: str, owner: str, slug: str, **options: object) -> None:
        user = User.objects.filter(email__iexact=owner.strip()).first()
        if user is None:
            raise CommandError(
                f"No user with the e-mail {owner.strip()}; create one first (manage.py createsuperuser)."
            )
        try:
            workspace = services.workspace_create(owner=user, name=name, slug=slug)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write(f"Workspace {workspace.name!r} created; {user} is its owner.")
        self.stdout.write(f"{settings.PUBLIC_BASE_URL}/w/{workspace.slug}/")
