"""One error tree, rooted in :class:`SmsVerifyError`.

Every error carries a stable machine ``code`` (what the REST API answers) and a
translatable message. Provider errors also say whether they are *permanent* (about the
recipient: retrying elsewhere cannot help) or *transient* (worth failing over).
Configuration problems stand outside the tree (:class:`ConfigurationError` is an
``ImproperlyConfigured``) so that catching send failures never hides a broken set-up.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class SmsVerifyError(Exception):
    code = "error"
    default_message: Any = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, code: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        super().__init__(str(self.message))


class ConfigurationError(ImproperlyConfigured):
    """The app or a connector is set up wrongly (a missing credential, a bad template)."""


# --- input -----------------------------------------------------------------------------


class InvalidPhoneNumber(SmsVerifyError, ValueError):
    code = "invalid_phone"
    default_message = _("Enter a valid phone number in international format, e.g. +8613800138000.")


class RegionNotAllowed(InvalidPhoneNumber):
    code = "region_not_allowed"
    default_message = _("Phone numbers from this region are not supported.")


class UnsupportedNumberType(InvalidPhoneNumber):
    """A valid number of a kind that cannot take the channel (a fixed line for SMS,
    premium rate, toll free, VoIP where phonenumbers can tell...)."""

    code = "unsupported_number_type"
    default_message = _("This phone number cannot receive verification codes. Use a mobile number.")


class ChannelUnavailable(SmsVerifyError):
    code = "channel_unavailable"
    default_message = _("No configured provider can deliver by this channel to this number.")


class TemplateError(SmsVerifyError, ValueError):
    code = "template_error"
    default_message = _("The message template is invalid.")


# --- limits ----------------------------------------------------------------------------


class RateLimited(SmsVerifyError):
    code = "throttled"
    default_message = _("Too many requests. Try again later.")

    def __init__(self, wait: float, message: Any = None, *, reason: str = "rate_limited") -> None:
        self.wait = max(1, int(wait + 0.999))
        # which limit it was ("ip", "phone", "prefix", "region_suspended"...): for the
        # security log only; the API answers every throttle alike.
        self.reason = reason
        super().__init__(message)


# --- delivery --------------------------------------------------------------------------


class ProviderError(SmsVerifyError):
    """A provider refused or failed a send.

    ``permanent`` errors are about the recipient (invalid number, unsubscribed, blocked):
    the same message would fail at any provider. Everything else is transient.
    """

    code = "provider_error"
    permanent = False

    def __init__(
        self,
        message: Any = None,
        *,
        provider: str = "",
        provider_code: str | int | None = None,
        status: int | None = None,
        reason: str | None = None,
        permanent: bool | None = None,
    ) -> None:
        self.provider = provider
        self.provider_code = "" if provider_code is None else str(provider_code)
        self.status = status
        # reason: our normalized cause, e.g. "invalid_number", "unsubscribed", "timeout"
        self.reason = reason or ("rejected" if (permanent or self.permanent) else "unavailable")
        if permanent is not None:
            self.permanent = permanent
        super().__init__(message)


class PermanentProviderError(ProviderError):
    permanent = True


class TransientProviderError(ProviderError):
    permanent = False


class SpendCapReached(TransientProviderError):
    """Our own daily send cap (overall or for one connector) is spent. Transient: the next
    connector may still have budget, and the cap resets the next day."""

    code = "spend_cap_reached"


class RecipientRejected(SmsVerifyError):
    """A provider refused the recipient for good; no other connector was tried."""

    code = "recipient_rejected"
    default_message = _("This phone number cannot receive messages.")

    def __init__(self, message: Any = None, *, reason: str = "rejected", message_record: Any = None):
        self.reason = reason
        self.message_record = message_record
        super().__init__(message)


class OptedOut(RecipientRejected):
    code = "opted_out"
    default_message = _("This phone number has unsubscribed from our messages.")


class DeliveryFailed(SmsVerifyError):
    code = "delivery_failed"
    default_message = _("The message could not be sent. Try again later.")

    def __init__(self, message: Any = None, *, message_record: Any = None) -> None:
        self.message_record = message_record
        super().__init__(message)


# --- checks ----------------------------------------------------------------------------


class CheckFailed(SmsVerifyError):
    """Base of the answers a code check can fail with."""


class InvalidCode(CheckFailed):
    code = "invalid_code"
    default_message = _("The code is not correct.")

    def __init__(self, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        super().__init__()


class CodeExpired(CheckFailed):
    code = "expired"
    default_message = _("The code has expired. Request a new one.")


class MaxAttemptsReached(CheckFailed):
    code = "max_attempts_reached"
    default_message = _("Too many wrong codes. Request a new code.")


class VerificationNotFound(CheckFailed):
    code = "not_found"
    default_message = _("No pending verification for this phone number and usage type.")


class InvalidToken(SmsVerifyError):
    code = "invalid_token"
    default_message = _("The verification token is invalid, expired or already used.")
