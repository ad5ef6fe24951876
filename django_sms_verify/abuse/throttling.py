"""Rate limits on the Django cache, shared by every process that shares the cache.

Fixed windows counted with ``cache.add`` + ``cache.incr`` (atomic on Redis and
memcached); identifiers are hashed so no phone number or IP lands in a cache key.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import caches

from django_sms_verify.conf import Rate, app_settings
from django_sms_verify.exceptions import RateLimited

PREFIX = "sms_verify:rl"


def _cache():
    return caches[app_settings.CACHE_ALIAS]


def _key(scope: str, ident: str, *parts: object) -> str:
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return ":".join([PREFIX, scope, digest, *map(str, parts)])


def _window(rate: Rate, now: float) -> tuple[int, float]:
    window = int(now // rate.period)
    return window, (window + 1) * rate.period - now


def hit(scope: str, ident: str, rate: Rate) -> None:
    """Count one event; raise :class:`RateLimited` if it is over ``rate``."""
    count, remaining = count_event(scope, ident, rate)
    if count > rate.count:
        raise RateLimited(remaining, reason=scope)


def count_event(scope: str, ident: str, rate: Rate) -> tuple[int, float]:
    """Count one event; answer the window's count so far and the seconds left in it."""
    key, remaining = counter_key(scope, ident, rate, time.time())
    return incr_counter(key, rate), remaining


def counter_key(scope: str, ident: str, rate: Rate, now: float) -> tuple[str, float]:
    """The cache key of ``ident``'s counter in the window of ``now``, and the seconds left in it."""
    window, remaining = _window(rate, now)
    return _key(scope, ident, window), remaining


def incr_counter(key: str, rate: Rate) -> int:
    """Add one to the counter ``key`` (of a window of ``rate``); answer the new count."""
    cache = _cache()
    for _attempt in range(3):
        # add-then-incr on every call, even for a new key: the same cache work whether or not
        # the number was seen before (no timing difference to learn from).
        cache.add(key, 0, timeout=rate.period + 1)
        try:
            return cache.incr(key)
        except ValueError:  # the key expired (or was evicted) between add and incr
            continue
    # The cache keeps losing the key (evictions under pressure): count this one alone.
    return 1


def interval_key(scope: str, ident: str) -> str:
    """The cache key :func:`take_interval` holds for ``ident``."""
    return _key(scope, ident)


def ensure_available(scope: str, ident: str, rate: Rate) -> None:
    """Raise :class:`RateLimited` if ``rate`` is already spent, without counting."""
    now = time.time()
    window, remaining = _window(rate, now)
    if (_cache().get(_key(scope, ident, window)) or 0) >= rate.count:
        raise RateLimited(remaining, reason=scope)


def take_interval(scope: str, ident: str, interval: int) -> None:
    """Allow one event per ``interval`` seconds; raise :class:`RateLimited` otherwise."""
    if interval <= 0:
        return
    now = time.time()
    key = _key(scope, ident)
    cache = _cache()
    if not cache.add(key, now + interval, timeout=interval):
        until = cache.get(key)
        raise RateLimited((until - now) if until else interval, reason=scope)


def release_interval(scope: str, ident: str) -> None:
    _cache().delete(_key(scope, ident))


def client_ip(meta: dict) -> str:
    """The client's IP from a request's META, trusting ``NUM_PROXIES`` proxies' X-Forwarded-For."""
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = app_settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote
