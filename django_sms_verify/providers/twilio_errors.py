"""Twilio's error codes, sorted into ours: permanent (about the recipient) or transient.

Only errors about the recipient are permanent: the same message would fail at any
provider, so failing over is pointless and the caller is told why. Everything else
(authentication, throttling, outages, our own set-up) is transient and fails over.
Sources for each code are listed in ``docs/twilio.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError, ProviderError, TransientProviderError

PROVIDER = "twilio"


@dataclass(frozen=True)
class RecipientError:
    reason: str  # our normalized cause, answered by the API as ``reason``
    message: Any  # shown to the caller; never contains the number or Twilio's raw text


INVALID_NUMBER = RecipientError("invalid_number", _("This phone number is not valid."))
UNREACHABLE = RecipientError("unreachable", _("This phone number cannot be reached."))
UNSUBSCRIBED = RecipientError("unsubscribed", _("This phone number has unsubscribed from our messages."))
REGION_BLOCKED = RecipientError(
    "region_blocked", _("Messages to this phone number's country or region are not enabled.")
)
NOT_MOBILE = RecipientError("not_mobile", _("This phone number cannot receive text messages."))

# Errors the REST API answers synchronously when a message or call is created.
PERMANENT_REST_ERRORS: dict[int, RecipientError] = {
    21211: INVALID_NUMBER,  # Invalid 'To' phone number (messages and calls)
    21214: UNREACHABLE,  # 'To' phone number cannot be reached (calls)
    21217: INVALID_NUMBER,  # Phone number does not appear to be valid (calls)
    21408: REGION_BLOCKED,  # Permission to send to this region is not enabled (geo permissions)
    21610: UNSUBSCRIBED,  # Recipient replied STOP: unsubscribed
    21612: UNREACHABLE,  # 'To' not reachable via SMS from this sender
    21614: NOT_MOBILE,  # 'To' is not a valid mobile number
    21635: NOT_MOBILE,  # 'To' number cannot be a landline
    # Carrier delivery errors: normally reported later in status callbacks, but about the
    # recipient wherever they appear (another provider cannot reach the handset either).
    30003: UNREACHABLE,  # Unreachable destination handset
    30005: INVALID_NUMBER,  # Unknown destination handset (inactive, no longer in service)
    30006: NOT_MOBILE,  # Landline or unreachable carrier
}

# Delivery errors that arrive later, as ErrorCode in status callbacks (for the log).
DELIVERY_ERRORS: dict[str, str] = {
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
    "21610": "Attempt to send to unsubscribed recipient",
}


def from_rest_error(status: int | None, code: int | str | None, text: str = "") -> ProviderError:
    """Our error for an error answer of Twilio's REST API.

    ``text`` (Twilio's message) is kept on transient errors for operators (it names no
    secret); permanent ones carry our own wording, fit to show the end user.
    """
    try:
        number = int(code) if code is not None else None
    except (TypeError, ValueError):
        number = None
    recipient = PERMANENT_REST_ERRORS.get(number) if number is not None else None
    if recipient is not None:
        return PermanentProviderError(
            recipient.message,
            provider=PROVIDER,
            provider_code=number,
            status=status,
            reason=recipient.reason,
        )
    if status == 429 or number == 20429:
        reason = "throttled"
    elif status in (401, 403) or number == 20003:
        reason = "auth_failed"
    else:
        reason = "unavailable"
    summary = f"Twilio error {number or '-'} (HTTP {status or '-'})"
    if text:
        summary = f"{summary}: {text[:300]}"
    return TransientProviderError(
        summary, provider=PROVIDER, provider_code=number or status, status=status, reason=reason
    )
