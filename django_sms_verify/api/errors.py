"""Domain errors as API errors: every error body has ``detail`` and a machine ``code``."""

from __future__ import annotations

import time

from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from django_sms_verify import exceptions as domain


class ServiceError(exceptions.APIException):
    def __init__(self, error: domain.SmsVerifyError, status_code: int, **extra) -> None:
        self.status_code = status_code
        self.extra = extra
        super().__init__(detail=str(error.message), code=error.code)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


# Every throttle answers alike (SPEC §6: nothing may depend on the number): one Retry-After
# for everybody at a given moment, the next full minute, whichever limit it was.
RETRY_AFTER_STEP = 60


def public_retry_after() -> int:
    return RETRY_AFTER_STEP - int(time.time()) % RETRY_AFTER_STEP


PUBLIC_REJECTION_REASONS = frozenset(
    {"invalid_number", "unreachable", "not_mobile", "region_blocked", "no_voice"}
)


def to_api_error(error: domain.SmsVerifyError) -> exceptions.APIException:
    if isinstance(error, domain.RateLimited):
        return exceptions.Throttled(wait=public_retry_after())
    if isinstance(error, domain.InvalidPhoneNumber):
        return exceptions.ValidationError({"phone": [str(error.message)]}, code=error.code)
    if isinstance(error, domain.ChannelUnavailable):
        return exceptions.ValidationError({"channel": [str(error.message)]}, code=error.code)
    if isinstance(error, domain.DeliveryFailed):
        return ServiceError(error, status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(error, domain.RecipientRejected):
        # Reasons about the number itself (it does not exist, is no mobile) are the user's to
        # know. Others ("unsubscribed", "blacklisted") would tell anyone that the number has had
        # dealings with this site: they answer "rejected". The message log keeps the real one.
        reason = error.reason if error.reason in PUBLIC_REJECTION_REASONS else "rejected"
        return ServiceError(domain.RecipientRejected(), status.HTTP_400_BAD_REQUEST, reason=reason)
    if isinstance(error, domain.InvalidCode):
        return ServiceError(error, status.HTTP_400_BAD_REQUEST, attempts_left=error.attempts_left)
    return ServiceError(error, status.HTTP_400_BAD_REQUEST)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE: JSON, not Django's HTML 400
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        codes = exc.get_codes()
        first = _first_code(codes) or "invalid"
        # Field errors stand at the top level ({"phone": [...]}) and, complete, under
        # "errors": a field named like our own keys ("code", "detail") only appears there.
        top_level = {k: v for k, v in fields.items() if k not in ("detail", "code", "errors")}
        response.data = {"detail": _first_message(fields), "code": first, **top_level, "errors": fields}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = {
            "detail": data.get("detail", "") if isinstance(data, dict) else str(data),
            "code": codes if isinstance(codes, str) else "error",
            **getattr(exc, "extra", {}),
        }
    response["Cache-Control"] = "no-store"
    return response


def _first_code(codes) -> str | None:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            found = _first_code(value)
            if found:
                return found
    if isinstance(codes, list):
        for value in codes:
            found = _first_code(value)
            if found:
                return found
    return None


def _first_message(fields: dict) -> str:
    for name, value in fields.items():
        while isinstance(value, list | dict) and value:
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        if value:
            return f"{name}: {value}" if name != "non_field_errors" else str(value)
    return str(_("Invalid input."))
