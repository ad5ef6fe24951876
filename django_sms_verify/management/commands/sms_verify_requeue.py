"""Queue again the messages whose worker died (tasks mode).

Workers already do this for each other while tasks flow; run this from cron (every few
minutes) so that a message is not left behind when nothing else is being sent.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import ConfigurationError
from django_sms_verify.sending.worker import requeue_stale, require_tasks


class Command(BaseCommand):
    help = "Queue again the messages left queued or sending by a worker that died (tasks mode)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Seconds without progress after which a message counts as stuck "
            "(default: SMS_VERIFY['STALE_AFTER']).",
        )

    def handle(self, *args, older_than: float | None, **options) -> None:
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must not be negative.")
        try:
            require_tasks()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        requeued = requeue_stale(older_than)
        seconds = app_settings.STALE_AFTER if older_than is None else older_than
        self.stdout.write(f"Requeued {len(requeued)} message(s) stuck for more than {seconds:g}s.")
