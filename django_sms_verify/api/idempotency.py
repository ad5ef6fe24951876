"""The optional ``Idempotency-Key`` request header (draft-ietf-httpapi-idempotency-key-header).

A client that may retry a POST (a flaky mobile network) sends a unique key with it:

- the first request with a key runs, and its answer (status, body, headers) is kept for
  ``IDEMPOTENCY_TTL`` seconds (24 h by default);
- the same key with the same body replays that answer (with ``Idempotent-Replayed: true``)
  and sends nothing;
- the same key with another body answers ``422`` (``idempotency_key_mismatch``);
- the same key while the first request still runs answers ``409`` (``idempotency_key_in_use``).

Throttled (429) and failed (5xx) answers are not kept: nothing was sent, and a retry
with the same key may succeed. Keys live in the Django cache named by ``CACHE_ALIAS``;
``cache.add`` claims a key atomically, so of two concurrent requests one runs and the
other gets 409. The key is hashed (with the endpoint's path) before it becomes a cache key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re

from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

from django_sms_verify.abuse.security_log import security_event
from django_sms_verify.abuse.throttling import client_ip
from django_sms_verify.conf import app_settings

HEADER = "Idempotency-Key"
PREFIX = "sms_verify:idem"
# An sf-string per the draft ("..."), or the bare token most clients send.
VALID_KEY = re.compile(r'"?([\x20-\x21\x23-\x7e]{1,255})"?')
# How long a key stays claimed by a request that never finishes (its process died).
IN_FLIGHT_TIMEOUT = 300
KEPT_HEADERS_EXCLUDED = frozenset({"content-length", "set-cookie"})


class IdempotencyMixin:
    """Put before the view's base class: ``class View(IdempotencyMixin, SmsVerifyAPIView)``."""

    def dispatch(self, request, *args, **kwargs):
        raw_key = request.headers.get(HEADER)
        if request.method != "POST" or raw_key is None:
            return super().dispatch(request, *args, **kwargs)
        match = VALID_KEY.fullmatch(raw_key)
        if not match:
            return _error(
                request,
                400,
                "invalid_idempotency_key",
                _("Idempotency-Key must be 1 to 255 printable ASCII characters."),
            )
        cache = caches[app_settings.CACHE_ALIAS]
        cache_key = _cache_key(request.path, match.group(1))
        fingerprint = _fingerprint(request)
        if not cache.add(cache_key, {"fingerprint": fingerprint, "done": False}, IN_FLIGHT_TIMEOUT):
            first = cache.get(cache_key)
            if first is not None or not cache.add(
                cache_key, {"fingerprint": fingerprint, "done": False}, IN_FLIGHT_TIMEOUT
            ):
                return _answer_repeat(request, first, fingerprint)
        try:
            response = super().dispatch(request, *args, **kwargs)
            if callable(getattr(response, "render", None)):
                response.render()
        except BaseException:
            cache.delete(cache_key)
            raise
        if response.status_code == 429 or response.status_code >= 500:
            cache.delete(cache_key)
        else:
            cache.set(cache_key, _kept(fingerprint, response), app_settings.IDEMPOTENCY_TTL)
        return response


def _cache_key(path: str, key: str) -> str:
    digest = hashlib.sha256(path.encode() + b"\n" + key.encode()).hexdigest()
    return f"{PREFIX}:{digest}"


def _fingerprint(request) -> str:
    """The request body, read as JSON where it is JSON (so key order and spacing do not
    count), with its content type."""
    body = request.body
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(request.content_type.encode() + b"\n" + body)
    return digest.hexdigest()


def _kept(fingerprint: str, response) -> dict:
    return {
        "fingerprint": fingerprint,
        "done": True,
        "status": response.status_code,
        "content": response.content,
        "headers": [(k, v) for k, v in response.items() if k.lower() not in KEPT_HEADERS_EXCLUDED],
    }


def _answer_repeat(request, first: dict | None, fingerprint: str) -> HttpResponse:
    if first is not None and first["fingerprint"] != fingerprint:
        return _error(
            request,
            422,
            "idempotency_key_mismatch",
            _("This Idempotency-Key was already used with a different request."),
        )
    if first is None or not first["done"]:
        response = _error(
            request,
            409,
            "idempotency_key_in_use",
            _("A request with this Idempotency-Key is still being processed."),
        )
        response["Retry-After"] = "1"
        return response
    response = HttpResponse(first["content"], status=first["status"])
    for name, value in first["headers"]:
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    security_event(
        "idempotency_replayed", status=first["status"], phone=_phone(request), ip=client_ip(request.META)
    )
    return response


def _error(request, status: int, code: str, detail) -> JsonResponse:
    reason = code.removeprefix("idempotency_key_")
    security_event(
        "idempotency_conflict",
        reason=reason,
        status=status,
        phone=_phone(request),
        ip=client_ip(request.META),
    )
    response = JsonResponse({"detail": str(detail), "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _phone(request) -> object:
    try:
        return json.loads(request.body).get("phone")
    except (ValueError, AttributeError):
        return None
