"""One security event per API call: what was asked (masked phone, client IP) and the outcome.

The request endpoint logs ``verification_requested`` (sent), ``throttled`` (any 429, with
the limit that refused it) or ``request_refused`` (any other error, with its code); the
check endpoint ``verification_approved``, ``throttled`` or ``check_failed``. The reason
is the internal one (which limit, the provider's refusal) even where the API answers
everybody alike. Codes and tokens are never read from the request or the response.
"""

from __future__ import annotations

from typing import Any

from django_sms_verify.abuse.security_log import security_event
from django_sms_verify.abuse.throttling import client_ip
from django_sms_verify.exceptions import RateLimited, RecipientRejected, SmsVerifyError

# url name -> (event on success, event on an error other than a throttle)
ENDPOINT_EVENTS = {
    "verification-request": ("verification_requested", "request_refused"),
    "verification-check": ("verification_approved", "check_failed"),
}


class SecurityEventsMixin:
    """Mixed into the API's base view, before ``APIView``."""

    def handle_exception(self, exc):
        self._security_exception = exc
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        log_api_call(request, response.status_code, getattr(self, "_security_exception", None), response)
        return response


def log_api_call(request, status_code: int, exc: BaseException | None, response=None) -> None:
    match = getattr(request, "resolver_match", None)
    endpoint = match.url_name if match else ""
    ok_event, error_event = ENDPOINT_EVENTS.get(endpoint, ("api_call", "api_error"))
    if status_code == 429:
        event = "throttled"
    elif status_code < 400:
        event = ok_event
    else:
        event = error_event
    data = _request_data(request)
    fields: dict[str, Any] = {
        "endpoint": endpoint,
        "status": status_code,
        # The number the view parsed (a Phone), else as the client typed it.
        "phone": getattr(request, "sms_verify_phone", None) or data.get("phone"),
        "usage_type": data.get("usage_type") if isinstance(data.get("usage_type"), str) else None,
        "ip": client_ip(request.META),
    }
    if status_code >= 400:
        fields["reason"] = _reason(exc, response)
    security_event(event, **fields)


def _request_data(request) -> dict:
    try:
        data = request.data
    except Exception:  # a body that did not parse: the error is already the answer
        return {}
    return data if isinstance(data, dict) else {}


def _reason(exc: BaseException | None, response) -> str:
    cause = getattr(exc, "__cause__", None)
    if isinstance(cause, RateLimited):
        return cause.reason
    if isinstance(cause, RecipientRejected):
        return f"{cause.code}:{cause.reason}"
    if isinstance(cause, SmsVerifyError):
        return cause.code
    body = getattr(response, "data", None)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return body["code"]
    return "error"
