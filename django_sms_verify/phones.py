"""Phone numbers parsed once at the edge into E.164 and carried as that everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from django.utils.translation import gettext_lazy as _

from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import InvalidPhoneNumber, RegionNotAllowed

MAX_INPUT_LENGTH = 32
# ASCII digits and the punctuation people type; anything else (letters, other scripts'
# digits, control characters) is refused before phonenumbers normalizes it away.
ALLOWED_INPUT = re.compile(r"\+?[0-9 ()./-]+")


@dataclass(frozen=True)
class Phone:
    e164: str
    region: str
    country_code: int
    national_number: str
    # phonenumbers' own object, kept so later steps (the number's type) need not parse again.
    parsed: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.e164


def parse_phone(raw: object, *, default_region: str | None = None) -> Phone:
    """Parse and validate ``raw``; raise :class:`InvalidPhoneNumber` or
    :class:`RegionNotAllowed` with a message fit to show the user."""
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(_("The phone number must be a string."))
    text = raw.strip()
    if not text or len(text) > MAX_INPUT_LENGTH or not ALLOWED_INPUT.fullmatch(text):
        raise InvalidPhoneNumber()
    region = default_region or app_settings.DEFAULT_REGION
    if not text.startswith("+") and not region:
        raise InvalidPhoneNumber(
            _("Start the phone number with + and the country code, e.g. +8613800138000.")
        )
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber() from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_("This phone number does not exist."))
    number_region = phonenumbers.region_code_for_number(number) or ""
    allowed = app_settings.allowed_regions
    if allowed is not None and number_region not in allowed:
        raise RegionNotAllowed()
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=number_region,
        country_code=number.country_code,
        national_number=str(number.national_number),
        parsed=number,
    )


def mask_phone(e164: str) -> str:
    """``+8613800138000`` -> ``+86138****8000``: enough to tell numbers apart in logs."""
    if len(e164) <= 8:
        return e164[:2] + "*" * max(0, len(e164) - 2)
    return e164[:-8] + "****" + e164[-4:]
