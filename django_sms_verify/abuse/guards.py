"""The defenses in front of every verification send, whatever provider carries it.

``services.request_verification`` calls two functions:

- :func:`check_number` right after parsing: the number's type must be able to take the
  channel (no SMS to fixed lines, no codes to premium-rate, toll-free, VoIP... numbers).
  A clear 400 (``unsupported_number_type``), like a number from a refused region.
- :func:`admit`: every per-request limit of a send at once: the client IP (``IP_RATE``),
  the resend interval and ``PHONE_RATE`` of the number, its block (the number without its
  last 4 digits, ``PREFIX_RATE``) and its region's suspension by the conversion monitor
  (:mod:`.conversion`). Whichever refuses, the caller gets the same ``RateLimited`` after
  the same cache work, so neither the answer nor its timing says which limit it was (a
  number's own limits would tell that someone else asked for it).

Daily spend caps are counted where a provider is actually called (:mod:`.spending`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import phonenumbers
from django.core.cache import caches

from django_sms_verify.abuse import pumping, throttling
from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import RateLimited, UnsupportedNumberType
from django_sms_verify.phones import Phone

NUMBER_TYPE_NAMES = {
    value: name for name, value in vars(phonenumbers.PhoneNumberType).items() if name.isupper()
}


def number_type(e164: str) -> str:
    """phonenumbers' type of ``e164`` by name: ``"MOBILE"``, ``"FIXED_LINE"``, ``"VOIP"``..."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    return NUMBER_TYPE_NAMES.get(kind, "UNKNOWN")


def check_number(number: Phone, channel: str) -> None:
    """Raise :class:`UnsupportedNumberType` unless ``number`` can take ``channel``."""
    allowed = app_settings.VOICE_NUMBER_TYPES if channel == "voice" else app_settings.SMS_NUMBER_TYPES
    kind = (
        phonenumbers.number_type(number.parsed)
        if number.parsed
        else phonenumbers.number_type(phonenumbers.parse(number.e164))
    )
    if NUMBER_TYPE_NAMES.get(kind, "UNKNOWN") not in allowed:
        raise UnsupportedNumberType()


def number_prefix(e164: str) -> str:
    """The number's block: ``+8613800138000`` -> ``+861380013``."""
    return e164[:-4]


def admit(
    number: Phone,
    *,
    resend_scope: str,
    client_ip: str | None,
    resend_free: Callable[[], bool] | None = None,
) -> None:
    """Count one send request against every limit, or raise :class:`RateLimited`.

    The client IP is counted on every request (refused ones too: probing costs the
    prober). The other limits are read together in one cache call; if one is spent the
    request is refused and counts against nothing else; if none is, the request takes
    the resend interval and counts against PHONE_RATE and PREFIX_RATE, each checked again
    on the counted value, so concurrent requests never pass a limit.
    """
    now = time.time()
    refusal: RateLimited | None = None
    if client_ip:
        ip_rate = app_settings.rate("IP_RATE")
        ip_key, ip_left = throttling.counter_key("ip", client_ip, ip_rate, now)
        if throttling.incr_counter(ip_key, ip_rate) > ip_rate.count:
            refusal = RateLimited(ip_left, reason="ip")

    interval = app_settings.RESEND_INTERVAL
    resend_key = throttling.interval_key("resend", resend_scope)
    counters = [
        ("phone", number.e164, app_settings.rate("PHONE_RATE")),
        ("prefix", number_prefix(number.e164), app_settings.rate("PREFIX_RATE")),
    ]
    keyed = [
        (scope, rate, *throttling.counter_key(scope, ident, rate, now)) for scope, ident, rate in counters
    ]
    suspension_key = pumping.suspension_key(number.region)
    cache = caches[app_settings.CACHE_ALIAS]
    values = cache.get_many([resend_key, suspension_key, *(key for _, _, key, _ in keyed)])

    if refusal is None and interval > 0 and resend_key in values:
        if resend_free is not None and resend_free():
            # The last code could not be sent (a worker may have said so in its own cache):
            # the interval is free, e.g. to ask for a voice call at once.
            cache.delete(resend_key)
        else:
            refusal = RateLimited(max(1.0, values[resend_key] - now), reason="resend")
    for scope, rate, key, left in keyed:
        if refusal is None and (values.get(key) or 0) >= rate.count:
            refusal = RateLimited(left, reason=scope)
    if refusal is None and pumping.enabled() and values.get(suspension_key):
        refusal = RateLimited(max(1.0, values[suspension_key] - now), reason="region_suspended")
    if refusal is not None:
        raise refusal

    if interval > 0 and not cache.add(resend_key, now + interval, timeout=interval):
        raise RateLimited(interval, reason="resend")  # a concurrent request took it first
    for scope, rate, key, left in keyed:
        if throttling.incr_counter(key, rate) > rate.count:
            raise RateLimited(left, reason=scope)
