"""Pumping detection per region: how many codes sent there were approved.

SMS pumping sends codes nobody enters (the attacker earns on the traffic), so a region
whose send-to-approval rate collapses is suspended for a cool-down: once it had at least
``CONVERSION_MIN_SENDS`` sends in the last ``CONVERSION_WINDOW`` seconds and fewer than
``CONVERSION_MIN_RATE`` of them approved. The window slides in twelve steps; counters
live in the cache (``cache.add`` + ``incr``, atomic on Redis), so every server shares them.
A suspension starts the counts afresh, so the region is judged again on new traffic.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import phonenumbers
from django.core.cache import caches

from django_sms_verify.abuse.security_log import security_event
from django_sms_verify.conf import app_settings
from django_sms_verify.signals import fraud_suspected

PREFIX = "sms_verify:conv"
STEPS = 12


def _cache():
    return caches[app_settings.CACHE_ALIAS]


def region_of(e164: str) -> str:
    # Not cached per number: a number seen before would then answer faster than a new one.
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _step_seconds() -> int:
    return max(1, app_settings.CONVERSION_WINDOW // STEPS)


def _keys(region: str, kind: str, now: float) -> list[str]:
    step = _step_seconds()
    current = int(now // step)
    return [f"{PREFIX}:{region}:{kind}:{n}" for n in range(current - STEPS + 1, current + 1)]


def _count(key: str) -> None:
    cache = _cache()
    timeout = app_settings.CONVERSION_WINDOW + _step_seconds()
    cache.add(key, 0, timeout=timeout)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)


def suspension_key(region: str) -> str:
    """The cache key that holds (until when) ``region`` is suspended."""
    return f"{PREFIX}:{region}:suspended"


def enabled() -> bool:
    return app_settings.CONVERSION_MIN_SENDS > 0


def record_send(region: str) -> None:
    """Count one code sent to ``region``; suspend the region if its approvals collapsed."""
    if not enabled():
        return
    now = time.time()
    send_keys, approval_keys = _keys(region, "s", now), _keys(region, "a", now)
    _count(send_keys[-1])
    counts = _cache().get_many(send_keys + approval_keys)
    sends = sum(counts.get(k, 0) for k in send_keys)
    approvals = sum(counts.get(k, 0) for k in approval_keys)
    if sends >= app_settings.CONVERSION_MIN_SENDS and approvals < app_settings.CONVERSION_MIN_RATE * sends:
        _suspend(region, sends, approvals, send_keys + approval_keys)


def record_approval(region: str) -> None:
    if enabled():
        _count(_keys(region, "a", time.time())[-1])


def _suspend(region: str, sends: int, approvals: int, counter_keys: list[str]) -> None:
    cooldown = app_settings.CONVERSION_COOLDOWN
    until = time.time() + cooldown
    cache = _cache()
    if not cache.add(suspension_key(region), until, timeout=cooldown):
        return  # another request suspended it first: one signal per suspension
    cache.delete_many(counter_keys)
    security_event("region_suspended", region=region, sends=sends, approvals=approvals, cooldown=cooldown)
    fraud_suspected.send(
        sender=_verification_model(),
        region=region,
        sends=sends,
        approvals=approvals,
        until=datetime.fromtimestamp(until, tz=UTC),
    )


def suspended_for(region: str) -> float:
    """Seconds left in ``region``'s suspension (0 when it is not suspended)."""
    if not enabled():
        return 0
    until = _cache().get(suspension_key(region))
    return max(0.0, until - time.time()) if until else 0


def lift_suspension(region: str) -> None:
    """End ``region``'s suspension now (an operator decided it was a false alarm)."""
    _cache().delete(suspension_key(region))


def _verification_model():
    from django_sms_verify.models import Verification

    return Verification


# Receivers, connected in AppConfig.ready(): count what the service layer reports.


def on_verification_requested(sender, verification, **kwargs) -> None:
    if enabled():
        record_send(region_of(verification.phone))


def on_verification_approved(sender, verification, **kwargs) -> None:
    if enabled():
        record_approval(region_of(verification.phone))
