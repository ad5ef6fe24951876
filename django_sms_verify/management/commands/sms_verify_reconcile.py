"""``manage.py sms_verify_reconcile``: settle messages whose delivery report was lost.

Run it from cron every few minutes. It asks the providers that can tell (Alibaba Cloud
SMS's QuerySendDetails) about messages still ``sent`` after ``--older-than`` minutes.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_sms_verify.sending.reconciliation import reconcile_statuses


class Command(BaseCommand):
    help = "Ask providers for the final status of messages whose delivery report never came."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=10,
            metavar="MINUTES",
            help="Only messages sent at least this many minutes ago (default 10).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="Ask about at most this many messages in this run.",
        )

    def handle(self, *args, older_than: int, limit: int | None, **options) -> None:
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more minutes.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be 1 or more.")
        result = reconcile_statuses(older_than=timedelta(minutes=older_than), limit=limit)
        updated = ", ".join(f"{count} {status}" for status, count in sorted(result.updated.items()))
        self.stdout.write(
            f"Checked {result.checked} message(s): {updated or 'none updated'}; "
            f"{result.pending} still without a final status."
        )
        if result.errors:
            self.stderr.write(f"{len(result.errors)} query(ies) failed: " + "; ".join(result.errors[:10]))
            if not result.checked:
                raise CommandError("Every status query failed.")
