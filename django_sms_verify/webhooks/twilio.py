"""Twilio webhooks: delivery status callbacks and inbound SMS (opt-out keywords).

Both check ``X-Twilio-Signature`` with the connector's auth token over the public URL
Twilio called (``SMS_VERIFY["PUBLIC_BASE_URL"]`` + path behind a proxy, else the
request's own URL) and the posted fields; anything else gets 403 and changes nothing.
"""

from __future__ import annotations

import logging

import phonenumbers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from django_sms_verify import services
from django_sms_verify.conf import app_settings
from django_sms_verify.models import Connector, Message, MessageStatus
from django_sms_verify.providers.twilio_errors import DELIVERY_ERRORS
from django_sms_verify.sending.sync import record_status
from django_sms_verify.webhooks.base import WebhookView

logger = logging.getLogger("django_sms_verify.webhooks")

SIGNATURE_HEADER = "HTTP_X_TWILIO_SIGNATURE"

# Twilio message statuses (MessageStatus) and call statuses (CallStatus) -> ours.
# Statuses before "sent" (queued, accepted, sending...) are not ours to record: the
# message is already "sent" (handed to Twilio) once the API accepted it.
STATUS_MAP: dict[str, str] = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    # calls
    "in-progress": MessageStatus.SENT,
    "completed": MessageStatus.DELIVERED,
    "busy": MessageStatus.UNDELIVERED,
    "no-answer": MessageStatus.UNDELIVERED,
}

# Twilio's default opt-out and opt-in keywords, plus the Chinese "unsubscribe" (退订, TD).
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "退订", "TD"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})


class TwilioWebhookView(WebhookView):
    provider = "twilio"

    def validate_request(self, request: HttpRequest, connector: Connector) -> None:
        token = connector.get_secrets().get("authToken")
        signature = request.META.get(SIGNATURE_HEADER, "")
        if not token or not signature:
            raise PermissionDenied
        if not RequestValidator(token).validate(public_url(request), request.POST, signature):
            raise PermissionDenied


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: our public origin + the path, when configured."""
    base = app_settings.PUBLIC_BASE_URL
    if base:
        return base.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


class TwilioStatusView(TwilioWebhookView):
    """``POST webhooks/twilio/<name>/status/``: MessageSid + MessageStatus, or CallSid + CallStatus."""

    def handle(self, request: HttpRequest, connector: Connector) -> HttpResponse:
        data = request.POST
        sid = data.get("MessageSid") or data.get("CallSid") or ""
        twilio_status = (data.get("MessageStatus") or data.get("CallStatus") or "").lower()
        status = STATUS_MAP.get(twilio_status)
        # Always 200 for what we cannot use: Twilio would only retry it.
        if not sid or status is None:
            return HttpResponse(status=200)
        message = Message.objects.filter(
            connector=connector, provider=self.provider, provider_message_id=sid
        ).first()
        if message is None:
            logger.info("twilio status %s for unknown sid via %s", twilio_status, connector.name)
            return HttpResponse(status=200)
        error_code = data.get("ErrorCode") or ""
        moved = record_status(
            message,
            status,
            error_code=error_code,
            error_message=DELIVERY_ERRORS.get(error_code, f"Twilio error {error_code}" if error_code else ""),
        )
        logger.info(
            "twilio status %s for message %s: %s", twilio_status, message.pk, "recorded" if moved else "kept"
        )
        return HttpResponse(status=200)


class TwilioInboundView(TwilioWebhookView):
    """``POST webhooks/twilio/<name>/inbound/``: STOP-like keywords opt out, START opts in.

    Twilio answers the keywords itself (and blocks further messages from that sender);
    we record them so notifications through every connector respect them.
    """

    def handle(self, request: HttpRequest, connector: Connector) -> HttpResponse:
        data = request.POST
        phone = _e164(data.get("From", ""))
        keyword = (data.get("Body") or "").strip().upper()
        # With Advanced Opt-Out, Twilio names the keyword's meaning (custom keywords too).
        opt_type = (data.get("OptOutType") or "").strip().upper()
        if phone:
            if opt_type == "STOP" or keyword in OPT_OUT_KEYWORDS:
                services.record_opt_out(phone, connector_name=connector.name, keyword=keyword[:32])
            elif opt_type == "START" or keyword in OPT_IN_KEYWORDS:
                services.lift_opt_out(phone)
        else:
            logger.info("twilio inbound SMS from an unusable number via %s", connector.name)
        # Empty TwiML: no reply from us (Twilio sends its own opt-out confirmations).
        return HttpResponse(str(MessagingResponse()), content_type="text/xml")


def _e164(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
