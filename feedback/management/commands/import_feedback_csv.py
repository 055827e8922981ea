"""Import feedback from a CSV file into a workspace and print the report."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from feedback.channels.csv_import import FIELDS, feedback_csv_import
from productops.errors import DomainError
from productops.models import Workspace


class Command(BaseCommand):
    help = (
        "Import feedback from a UTF-8 CSV file. Valid rows are stored, invalid ones reported by line; "
        "re-running on the same file creates nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The CSV file.")
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help=f"Map a column to a field (repeatable). Fields: {', '.join(FIELDS)}; empty ignores it.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: object, **options: object) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        mapping = {}
        for entry in options["map"]:
            header, separator, field = entry.rpartition("=")
            if not separator or not header.strip():
                raise CommandError(f"--map {entry!r}: give it as HEADER=FIELD.")
            mapping[header.strip()] = field.strip()
        path = Path(options["path"])
        try:
            with path.open("rb") as file:
                report = feedback_csv_import(workspace=workspace, actor=None, file=file, mapping=mapping)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        except DomainError as exc:
            raise CommandError(exc.detail) from exc

        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self.stdout.write(
            f"Created {report.created}, duplicates {report.duplicates}, errors {len(report.errors)}; "
            f"companies created {report.companies_created}, contacts created {report.contacts_created}."
        )
        if report.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(report.ignored_columns)}")
        for error in report.errors:
            where = f" ({error.field})" if error.field else ""
            self.stdout.write(f"Line {error.line}{where}: {error.detail} [{error.code}]")
