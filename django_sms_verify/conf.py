"""The ``SMS_VERIFY`` settings: one object, defaults in one dict, read lazily.

Values are read from ``django.conf.settings`` on every access so that
``override_settings`` works in tests; ``checks.py`` validates them at start-up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "CODE_LENGTH": 6,
    "CODE_TTL": 600,
    "MAX_CHECK_ATTEMPTS": 5,
    "MAX_SENDS": 5,
    "RESEND_INTERVAL": 60,
    "PHONE_RATE": "5/h",
    "IP_RATE": "30/h",
    "PHONE_CHECK_RATE": "10/h",
    "NUM_PROXIES": 0,
    "PROVIDER_TIMEOUT": 10,
    "ALLOWED_REGIONS": None,  # None = every region
    "DEFAULT_REGION": None,
    "TOKEN_TTL": 900,
    "PUBLIC_BASE_URL": None,
    # Which Django cache holds the rate-limit counters (share it, e.g. Redis, across servers).
    "CACHE_ALIAS": "default",
    # Fernet keys (url-safe base64, 32 bytes) for secrets at rest; the first encrypts,
    # all decrypt. Empty = keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS.
    "ENCRYPTION_KEYS": [],
    # --- abuse and fraud defenses (docs/abuse.md) ---
    # phonenumbers number types a code may be sent to, per channel; the rest (fixed lines
    # for SMS, premium rate, shared cost, toll free, VoIP where known, pagers...) get a 400.
    "SMS_NUMBER_TYPES": ["MOBILE", "FIXED_LINE_OR_MOBILE"],
    "VOICE_NUMBER_TYPES": ["MOBILE", "FIXED_LINE_OR_MOBILE", "FIXED_LINE"],
    # Sends to one number block: the E.164 number without its last 4 digits.
    "PREFIX_RATE": "20/h",
    # Per-region send-to-approval monitor: once a region had at least CONVERSION_MIN_SENDS
    # sends within CONVERSION_WINDOW seconds and fewer than CONVERSION_MIN_RATE of them were
    # approved, its sends stop for CONVERSION_COOLDOWN seconds. 0 sends turns it off.
    "CONVERSION_MIN_SENDS": 50,
    "CONVERSION_MIN_RATE": 0.2,
    "CONVERSION_WINDOW": 3600,
    "CONVERSION_COOLDOWN": 3600,
    # Daily send caps (the site's local day): overall, and per connector name. None = no cap.
    "DAILY_SEND_CAP": None,
    "CONNECTOR_DAILY_SEND_CAPS": {},
    # Seconds an Idempotency-Key and the answer it replays are kept.
    "IDEMPOTENCY_TTL": 86400,
    # "sync": send inside the request. "tasks": commit the message and send it from a
    # Django Tasks worker (django.tasks on Django 6, the django-tasks backport on 5.2).
    "DELIVERY": "sync",
    "TASKS_BACKEND": "default",  # alias in TASKS
    "TASKS_QUEUE": "default",
    # Tasks mode: a transient failure is retried on the same connector this many times,
    # after RETRY_BASE_DELAY * 2**n seconds (75-100 % of it, capped at RETRY_MAX_DELAY),
    # before the next connector is tried.
    "RETRY_ATTEMPTS": 2,
    "RETRY_BASE_DELAY": 2,
    "RETRY_MAX_DELAY": 60,
    # Tasks mode: a message still queued or sending this many seconds after its last step
    # (its worker died) is queued again.
    "STALE_AFTER": 120,
}

RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    """``"5/h"`` parsed: at most ``count`` events per ``period`` seconds."""

    count: int
    period: int

    @classmethod
    def parse(cls, value: str) -> Rate:
        """Parse ``"<count>/<s|m|h|d>"`` (``"10/5m"`` is 10 per 5 minutes); ValueError if not."""
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(f"expected '<count>/<period>' such as '5/h', got {value!r}")
        count_text, period_text = value.split("/", 1)
        period_text = period_text.strip()
        multiplier_text, unit = period_text[:-1], period_text[-1:]
        if unit not in RATE_PERIODS or not count_text.strip().isdigit():
            raise ValueError(f"expected '<count>/<period>' such as '5/h', got {value!r}")
        multiplier = int(multiplier_text) if multiplier_text else 1
        count = int(count_text)
        if count < 1 or multiplier < 1:
            raise ValueError(f"count and period must be positive in {value!r}")
        return cls(count=count, period=multiplier * RATE_PERIODS[unit])


@functools.lru_cache(maxsize=64)  # read on every request; settings hold a handful of rates
def _parsed_rate(value: str) -> Rate:
    return Rate.parse(value)


class AppSettings:
    """Attribute access to ``SMS_VERIFY[...]`` with the defaults filled in."""

    def _user_settings(self) -> dict[str, Any]:
        return getattr(settings, "SMS_VERIFY", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"SMS_VERIFY has no setting {name!r}")
        return self._user_settings().get(name, DEFAULTS[name])

    def rate(self, name: str) -> Rate:
        value = getattr(self, name)
        return _parsed_rate(value) if isinstance(value, str) else Rate.parse(value)

    @property
    def allowed_regions(self) -> frozenset[str] | None:
        regions = self.ALLOWED_REGIONS
        if not regions:
            return None
        return frozenset(r.upper() for r in regions)


app_settings = AppSettings()
