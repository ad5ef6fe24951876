"""``manage.py sms_verify_connector import FILE`` / ``export NAME``: Logto-style connector JSON."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from django_sms_verify.connector_json import ConnectorJSONError, export_connector, import_connectors
from django_sms_verify.models import Connector


class Command(BaseCommand):
    help = "Import a connector from JSON (Logto's keys), or export one with its secrets masked."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        importer = sub.add_parser(
            "import", help="Create or update connectors from a JSON file ('-' = stdin)."
        )
        importer.add_argument("file")
        exporter = sub.add_parser("export", help="Print a connector as JSON, secrets masked.")
        exporter.add_argument("name")

    def handle(self, *args, action: str, **options):
        if action == "import":
            return self._import(options["file"])
        return self._export(options["name"])

    def _import(self, path: str) -> None:
        try:
            if path == "-":
                payload = json.load(sys.stdin)
            else:
                with open(path, encoding="utf-8") as handle:
                    payload = json.load(handle)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        try:
            results = import_connectors(payload)
        except ConnectorJSONError as exc:
            raise CommandError(str(exc)) from exc
        for connector, created in results:
            verb = "Created" if created else "Updated"
            self.stdout.write(self.style.SUCCESS(f"{verb} connector {connector.name} ({connector.provider})"))

    def _export(self, name: str) -> None:
        connector = Connector.objects.filter(name=name).first()
        if connector is None:
            raise CommandError(f"no connector named {name!r}")
        self.stdout.write(json.dumps(export_connector(connector), ensure_ascii=False, indent=2))
