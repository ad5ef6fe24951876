"""A delivery report can reach us before the send's own answer is stored (Aliyun reports
carry our message id as OutId): the later, lower status must not overwrite it."""

from __future__ import annotations

from django_sms_verify import services
from django_sms_verify.models import Message, MessageStatus
from django_sms_verify.providers import PROVIDER_CLASSES
from django_sms_verify.providers.base import OutgoingMessage, SendResult
from django_sms_verify.providers.locmem import LocmemProvider
from django_sms_verify.sending.sync import record_status
from tests.conftest import PHONE_CN

KEY = "fastreport"


class FastReportProvider(LocmemProvider):
    """Accepts the message, and its delivery report arrives before the API call returns."""

    key = KEY

    def _deliver(self, message: OutgoingMessage) -> SendResult:
        result = super()._deliver(message)
        record_status(Message.objects.get(pk=message.message_id), MessageStatus.DELIVERED)
        return result


def test_an_early_delivery_report_is_not_overwritten_by_the_send(make_connector, monkeypatch):
    from django_sms_verify import providers

    monkeypatch.setitem(PROVIDER_CLASSES, KEY, f"{__name__}.FastReportProvider")
    monkeypatch.setitem(providers._loaded, KEY, FastReportProvider)
    make_connector("fast", provider=KEY)

    services.request_verification(PHONE_CN, "SignIn")

    message = Message.objects.get()
    assert message.status == MessageStatus.DELIVERED  # not moved back to "sent"
    assert message.provider_message_id.startswith("locmem-")  # the send's own fields are kept
    assert message.connector_name == "fast"
