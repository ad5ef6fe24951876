"""Development provider: prints each message on the server's standard output."""

from __future__ import annotations

import sys
import uuid

from django.utils.translation import gettext_lazy as _

from django_sms_verify.providers.base import OutgoingMessage, Provider, SendResult


class ConsoleProvider(Provider):
    key = "console"
    verbose_name = _("Console (development)")
    supports_voice = True

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        return self._print("SMS", message)

    def place_call(self, message: OutgoingMessage) -> SendResult:
        return self._print("VOICE", message)

    def _print(self, kind: str, message: OutgoingMessage) -> SendResult:
        # Deliberately stdout, not logging: this output is the message itself.
        extra = f" template={message.template_id} params={message.params}" if message.template_id else ""
        sys.stdout.write(
            f"[django-sms-verify console] {kind} to {message.to} via {self.name}: {message.text}{extra}\n"
        )
        sys.stdout.flush()
        return SendResult(provider_message_id=f"console-{uuid.uuid4().hex[:16]}", status="delivered")
