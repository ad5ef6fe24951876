"""Security events: one structured line each on the ``django_sms_verify.security`` logger.

    security_event("throttled", phone="+8613800138000", ip="203.0.113.7", reason="prefix")
    # {"event": "throttled", "phone": "+86138****8000", "ip": "203.0.113.7", "reason": "prefix"}

The line is a JSON object, so log shippers can parse it; the same fields travel on the
record as ``record.security_event`` (the event name) and ``record.security_fields``.
Phones are masked, fields that could carry a secret are redacted, values are cut to a
bounded length, and control and formatting characters are escaped, so text an attacker
typed can neither forge a line of its own nor hide in one.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

import phonenumbers

from django_sms_verify.conf import app_settings
from django_sms_verify.phones import Phone, mask_phone

logger = logging.getLogger("django_sms_verify.security")

# Names of fields that must never carry their value into a log.
SECRET_FIELDS = frozenset(
    {
        "code",
        "token",
        "verification_token",
        "secret",
        "password",
        "auth_token",
        "authtoken",
        "access_key_secret",
        "accesskeysecret",
        "signature",
        "idempotency_key",
    }
)
PHONE_FIELDS = frozenset({"phone", "to"})
ROUTINE_EVENTS = frozenset({"verification_requested", "verification_approved", "idempotency_replayed"})
MAX_VALUE_LENGTH = 200
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Unicode categories escaped in the line: controls (newlines, ANSI escapes, DEL, C1),
# formatting characters (bidi overrides, zero-width), line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def security_event(event: str, **fields: Any) -> None:
    """Log one security event named ``event`` with ``fields`` (phone, ip, reason...)."""
    if not EVENT_NAME.fullmatch(event):
        raise ValueError(f"security event names are lower_snake_case, got {event!r}")
    clean = {name: _clean(name, value) for name, value in fields.items()}
    line = _escape(json.dumps({"event": event, **clean}, ensure_ascii=False, default=str))
    level = logging.INFO if event in ROUTINE_EVENTS else logging.WARNING
    logger.log(level, "%s", line, extra={"security_event": event, "security_fields": clean})


def masked_phone(raw: object) -> str:
    """A phone number as logs may show it: E.164 when it parses, masked either way."""
    if isinstance(raw, Phone):  # parsed already
        return mask_phone(raw.e164)
    if not isinstance(raw, str) or not raw:
        return ""
    text = raw.strip()[:32]
    try:
        region = None if text.startswith("+") else app_settings.DEFAULT_REGION
        number = phonenumbers.parse(text, region.upper() if region else None)
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return mask_phone(text)


def _clean(name: str, value: Any) -> Any:
    if name.lower() in SECRET_FIELDS:
        return "[redacted]"
    if name in PHONE_FIELDS:
        return masked_phone(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_VALUE_LENGTH]


def _escape(line: str) -> str:
    # json.dumps escapes only C0 controls; escape every other unsafe character too, as
    # JSON \\u escapes, so the line still parses back to the original values.
    if line.isprintable():  # the usual line: no control, format or separator character at all
        return line
    return "".join(
        json.dumps(char)[1:-1] if unicodedata.category(char) in UNSAFE_CATEGORIES else char for char in line
    )
