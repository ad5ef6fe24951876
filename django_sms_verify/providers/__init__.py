"""Provider registry: provider key -> class, imported on first use."""

from __future__ import annotations

from django.utils.module_loading import import_string

from django_sms_verify.providers.base import SMS, VOICE, ConfigField, OutgoingMessage, Provider, SendResult

PROVIDER_CLASSES: dict[str, str] = {
    "console": "django_sms_verify.providers.console.ConsoleProvider",
    "locmem": "django_sms_verify.providers.locmem.LocmemProvider",
    "twilio": "django_sms_verify.providers.twilio.TwilioProvider",
    "aliyun": "django_sms_verify.providers.aliyun.AliyunProvider",
    "ronglian": "django_sms_verify.providers.ronglian.RonglianProvider",
}

_loaded: dict[str, type[Provider]] = {}


def available_providers() -> dict[str, type[Provider]]:
    """The providers whose module is present, by key."""
    found = {}
    for key in PROVIDER_CLASSES:
        try:
            found[key] = provider_class(key)
        except (ImportError, KeyError):
            continue
    return found


def provider_class(key: str) -> type[Provider]:
    if key not in _loaded:
        _loaded[key] = import_string(PROVIDER_CLASSES[key])
    return _loaded[key]


__all__ = [
    "SMS",
    "VOICE",
    "ConfigField",
    "OutgoingMessage",
    "Provider",
    "SendResult",
    "available_providers",
    "provider_class",
]
