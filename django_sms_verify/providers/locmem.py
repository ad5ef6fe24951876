"""Test provider: appends each message to ``django_sms_verify.outbox``.

Set ``"fail": "transient"``, ``"permanent"`` or ``"permanent:<reason>"`` in a locmem connector's config to
make it fail, for testing failover in host projects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError, TransientProviderError
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, Provider, SendResult


@dataclass(frozen=True)
class SentMessage:
    connector: str
    to: str
    text: str
    channel: str
    usage_type: str
    template_id: str
    params: Any
    language: str
    provider_message_id: str
    message_id: str


class LocmemProvider(Provider):
    key = "locmem"
    verbose_name = _("In-memory outbox (tests)")
    supports_voice = True
    fields = (
        ConfigField(
            "fail",
            _("Simulated failure"),
            required=False,
            help_text=_('"transient", "permanent", "permanent:<reason>" or empty.'),
        ),
    )

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        return self._deliver(message)

    def place_call(self, message: OutgoingMessage) -> SendResult:
        return self._deliver(message)

    def _deliver(self, message: OutgoingMessage) -> SendResult:
        from django_sms_verify import outbox

        fail = self.config.get("fail")
        if fail == "transient":
            raise TransientProviderError(
                "simulated outage", provider=self.key, provider_code="503", status=503, reason="unavailable"
            )
        if fail and fail.startswith("permanent"):
            # "permanent" or "permanent:<reason>", e.g. "permanent:unsubscribed"
            reason = fail.partition(":")[2] or "invalid_number"
            raise PermanentProviderError(
                "simulated invalid number" if reason == "invalid_number" else f"simulated refusal: {reason}",
                provider=self.key,
                provider_code=reason,
                status=400,
                reason=reason,
            )
        provider_id = f"locmem-{uuid.uuid4().hex[:16]}"
        outbox.append(
            SentMessage(
                connector=self.name,
                to=message.to,
                text=message.text,
                channel=message.channel,
                usage_type=message.usage_type,
                template_id=message.template_id,
                params=message.params,
                language=message.language,
                provider_message_id=provider_id,
                message_id=message.message_id,
            )
        )
        return SendResult(provider_message_id=provider_id, status="sent")
