"""Store one raw e-mail (RFC 822) as feedback: for an MTA pipe or a saved .eml file."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from feedback.channels.email import MAX_EMAIL_BYTES, feedback_from_email
from productops.errors import DomainError
from productops.models import Workspace


class Command(BaseCommand):
    help = "Store a raw e-mail as feedback. A message stored before (same Message-ID) is not stored again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default="-", help="The message file; '-' or none reads stdin.")
        parser.add_argument("--workspace", required=True, help="Workspace slug.")

    def handle(self, *args: object, **options: str) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        try:
            if options["path"] == "-":
                raw = sys.stdin.buffer.read(MAX_EMAIL_BYTES + 1)
            else:
                with Path(options["path"]).open("rb") as file:
                    raw = file.read(MAX_EMAIL_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}.") from exc
        try:
            item, created = feedback_from_email(workspace=workspace, raw=raw)
        except DomainError as exc:
            where = f" ({exc.attr})" if exc.attr else ""
            raise CommandError(f"{exc.detail}{where}") from exc
        if created:
            self.stdout.write(f"Stored as feedback #{item.pk}.")
        else:
            self.stdout.write(f"Already stored as feedback #{item.pk}.")
