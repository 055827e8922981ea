"""Create an API token for a member of a workspace and print it once."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from productops import services
from productops.errors import DomainError
from productops.models import User, Workspace


class Command(BaseCommand):
    help = "Create an API token (printed once; only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--user", required=True, help="Username of a member to act as.")
        parser.add_argument("--scopes", default="read", help="Comma-separated: read, write.")
        parser.add_argument("--name", default="cli", help="A label to recognise the token by.")

    def handle(self, *args: object, **options: str) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            token, key = services.api_token_create(
                workspace=workspace, user=user, name=options["name"], scopes=scopes, actor=None
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write(f"Token {token.name!r} ({', '.join(token.scopes)}) for {user} in {workspace.slug}.")
        self.stderr.write("Store it now: it is not shown again.")
        self.stdout.write(key)
