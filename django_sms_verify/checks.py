"""System checks for ``SMS_VERIFY``: a wrong value stops start-up with a message naming it."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

import phonenumbers
from django.core.checks import Error, Tags, Warning, register

from django_sms_verify.conf import DEFAULTS, Rate, app_settings

# name -> (low, high) inclusive bounds for integer settings
INT_BOUNDS = {
    "CODE_LENGTH": (4, 10),
    "CODE_TTL": (30, 86400),
    "MAX_CHECK_ATTEMPTS": (1, 100),
    "MAX_SENDS": (1, 100),
    "RESEND_INTERVAL": (0, 86400),
    "NUM_PROXIES": (0, 10),
    "PROVIDER_TIMEOUT": (1, 120),
    "TOKEN_TTL": (30, 86400),
    "CONVERSION_MIN_SENDS": (0, 1_000_000),
    "CONVERSION_WINDOW": (60, 7 * 86400),
    "CONVERSION_COOLDOWN": (1, 7 * 86400),
    "IDEMPOTENCY_TTL": (60, 7 * 86400),
}
RATE_SETTINGS = ("PHONE_RATE", "IP_RATE", "PHONE_CHECK_RATE", "PREFIX_RATE")
NUMBER_TYPE_SETTINGS = ("SMS_NUMBER_TYPES", "VOICE_NUMBER_TYPES")
KNOWN_NUMBER_TYPES = frozenset(
    name for name in vars(phonenumbers.PhoneNumberType) if name.isupper() and name != "UNKNOWN"
)
KNOWN_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def _error(setting: str, message: str, check_id: str) -> Error:
    return Error(
        f"SMS_VERIFY['{setting}'] {message}",
        hint=f"Fix SMS_VERIFY['{setting}'] in your settings (default: {DEFAULTS[setting]!r}).",
        id=f"sms_verify.{check_id}",
    )


@register()
def check_settings(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    user = app_settings._user_settings()
    if not isinstance(user, dict):
        return [Error("SMS_VERIFY must be a dict.", id="sms_verify.E000")]
    for name in user:
        if name not in DEFAULTS:
            errors.append(
                Error(
                    f"SMS_VERIFY has an unknown setting '{name}'.",
                    hint="Known settings: " + ", ".join(sorted(DEFAULTS)),
                    id="sms_verify.E001",
                )
            )
    for name, (low, high) in INT_BOUNDS.items():
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors.append(
                _error(name, f"must be a whole number from {low} to {high}, got {value!r}.", "E002")
            )
    for name in RATE_SETTINGS:
        try:
            Rate.parse(getattr(app_settings, name))
        except ValueError as exc:
            errors.append(_error(name, f"is not a rate: {exc}.", "E003"))
    regions = app_settings.ALLOWED_REGIONS
    if regions is not None:
        if not isinstance(regions, list | tuple | set | frozenset) or not all(
            isinstance(r, str) for r in regions
        ):
            errors.append(_error("ALLOWED_REGIONS", "must be a list of ISO 3166 alpha-2 codes.", "E004"))
        else:
            unknown = sorted(r for r in regions if r.upper() not in KNOWN_REGIONS)
            if unknown:
                errors.append(_error("ALLOWED_REGIONS", f"has unknown region codes: {unknown}.", "E004"))
    default_region = app_settings.DEFAULT_REGION
    if default_region is not None and (
        not isinstance(default_region, str) or default_region.upper() not in KNOWN_REGIONS
    ):
        errors.append(
            _error("DEFAULT_REGION", f"is not an ISO 3166 alpha-2 code: {default_region!r}.", "E005")
        )
    base_url = app_settings.PUBLIC_BASE_URL
    if base_url is not None:
        try:
            parts = urlsplit(base_url) if isinstance(base_url, str) else None
        except ValueError:  # e.g. "http://[::1": an unclosed IPv6 host
            parts = None
        if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                _error("PUBLIC_BASE_URL", f"must be an absolute http(s) URL, got {base_url!r}.", "E006")
            )
    keys = app_settings.ENCRYPTION_KEYS
    if isinstance(keys, str | bytes) or not isinstance(keys, list | tuple):
        errors.append(_error("ENCRYPTION_KEYS", "must be a list of Fernet keys.", "E007"))
    else:
        for key in keys:
            try:
                valid = len(base64.urlsafe_b64decode(key)) == 32
            except (binascii.Error, TypeError, ValueError):
                valid = False
            if not valid:
                errors.append(
                    _error(
                        "ENCRYPTION_KEYS",
                        "holds a value that is not a Fernet key (32 url-safe base64 bytes).",
                        "E007",
                    )
                )
                break
    if not isinstance(app_settings.CACHE_ALIAS, str):
        errors.append(_error("CACHE_ALIAS", "must be the name of a cache in CACHES.", "E008"))
    else:
        from django.conf import settings

        if app_settings.CACHE_ALIAS not in settings.CACHES:
            errors.append(
                _error("CACHE_ALIAS", f"names no cache in CACHES: {app_settings.CACHE_ALIAS!r}.", "E008")
            )
    errors.extend(_abuse_setting_errors())
    return errors


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _abuse_setting_errors() -> list[Error]:
    """The settings of the abuse defenses (number types, conversion monitor, spend caps)."""
    errors: list[Error] = []
    for name in NUMBER_TYPE_SETTINGS:
        types = getattr(app_settings, name)
        if isinstance(types, str) or not isinstance(types, list | tuple) or not types:
            errors.append(_error(name, "must be a non-empty list of phonenumbers number types.", "E009"))
            continue
        unknown = sorted(str(t) for t in types if t not in KNOWN_NUMBER_TYPES)
        if unknown:
            errors.append(
                _error(
                    name,
                    f"has unknown number types {unknown}; use {sorted(KNOWN_NUMBER_TYPES)}.",
                    "E009",
                )
            )
    rate = app_settings.CONVERSION_MIN_RATE
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        errors.append(_error("CONVERSION_MIN_RATE", f"must be a fraction from 0 to 1, got {rate!r}.", "E010"))
    cap = app_settings.DAILY_SEND_CAP
    if cap is not None and not _is_count(cap):
        errors.append(
            _error("DAILY_SEND_CAP", f"must be None or a whole number of 0 or more, got {cap!r}.", "E011")
        )
    caps = app_settings.CONNECTOR_DAILY_SEND_CAPS
    if not isinstance(caps, dict):
        errors.append(
            _error("CONNECTOR_DAILY_SEND_CAPS", "must be a dict of connector name -> daily cap.", "E011")
        )
    else:
        bad = sorted(str(k) for k, v in caps.items() if not isinstance(k, str) or not _is_count(v))
        if bad:
            errors.append(
                _error(
                    "CONNECTOR_DAILY_SEND_CAPS",
                    f"needs a whole number of 0 or more for connectors {bad}.",
                    "E011",
                )
            )
    return errors


DELIVERY_MODES = ("sync", "tasks")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register()
def check_delivery_settings(app_configs=None, **kwargs) -> list[Error]:
    """DELIVERY and the tasks-mode settings (retries, recovery, the Tasks backend)."""
    if not isinstance(app_settings._user_settings(), dict):
        return []  # reported by check_settings
    errors: list[Error] = []
    mode = app_settings.DELIVERY
    if mode not in DELIVERY_MODES:
        errors.append(_error("DELIVERY", f'must be "sync" or "tasks", got {mode!r}.', "E013"))
    retries = app_settings.RETRY_ATTEMPTS
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        errors.append(
            _error("RETRY_ATTEMPTS", f"must be a whole number from 0 to 20, got {retries!r}.", "E002")
        )
    base, ceiling = app_settings.RETRY_BASE_DELAY, app_settings.RETRY_MAX_DELAY
    for name, value in (("RETRY_BASE_DELAY", base), ("RETRY_MAX_DELAY", ceiling)):
        if not _number(value) or not 0 < value <= 86400:
            errors.append(_error(name, f"must be a number of seconds above 0, got {value!r}.", "E015"))
    if _number(base) and _number(ceiling) and base > ceiling:
        errors.append(_error("RETRY_MAX_DELAY", "must not be below RETRY_BASE_DELAY.", "E015"))
    stale, timeout = app_settings.STALE_AFTER, app_settings.PROVIDER_TIMEOUT
    if not _number(stale) or stale < 1:
        errors.append(
            _error("STALE_AFTER", f"must be a number of seconds, at least 1, got {stale!r}.", "E016")
        )
    elif _number(timeout) and stale < 2 * timeout:
        # A live worker waiting on a slow provider must not look dead.
        errors.append(
            _error("STALE_AFTER", f"must be at least twice PROVIDER_TIMEOUT ({2 * timeout}s).", "E016")
        )
    for name in ("TASKS_BACKEND", "TASKS_QUEUE"):
        if not isinstance(getattr(app_settings, name), str):
            errors.append(_error(name, "must be a string.", "E014"))
    if mode == "tasks" and isinstance(app_settings.TASKS_BACKEND, str):
        errors.extend(_tasks_backend_errors())
    return errors


def _tasks_backend_errors() -> list[Error]:
    from django_sms_verify.exceptions import ConfigurationError

    try:
        from django_sms_verify.sending.tasks import task_backends
    except ConfigurationError as exc:
        return [_error("DELIVERY", f'is "tasks" but no Tasks framework is installed: {exc}', "E014")]
    except Exception as exc:  # the task could not be declared on the configured backend
        return [_error("TASKS_BACKEND", f"cannot run the send task: {exc}", "E014")]
    alias = app_settings.TASKS_BACKEND
    try:
        backend = task_backends[alias]
    except Exception:
        return [_error("TASKS_BACKEND", f"names no backend in TASKS: {alias!r}.", "E014")]
    queues = getattr(backend, "queues", None)
    if queues and app_settings.TASKS_QUEUE not in queues:
        return [_error("TASKS_QUEUE", f"is not a queue of the {alias!r} backend: {sorted(queues)}.", "E014")]
    return []


# Caches that cannot hold a limit for a deployment: nothing kept, or one count per process.
UNSHARED_CACHES = {
    "django.core.cache.backends.dummy.DummyCache": "keeps nothing, so no rate limit, resend "
    "interval or fraud monitor holds",
    "django.core.cache.backends.locmem.LocMemCache": "is kept by each process on its own "
    "(every worker process counts its own requests) and culls entries beyond MAX_ENTRIES "
    "(300 by default), counters included",
}


@register(Tags.security, deploy=True)
def check_rate_limit_cache(app_configs=None, **kwargs) -> list[Warning]:
    """``manage.py check --deploy``: the limits need a cache every server shares."""
    from django.conf import settings

    alias = app_settings.CACHE_ALIAS if isinstance(app_settings._user_settings(), dict) else None
    backend = settings.CACHES.get(alias, {}).get("BACKEND") if isinstance(alias, str) else None
    if backend not in UNSHARED_CACHES:
        return []  # a shared cache, or a wrong CACHE_ALIAS (sms_verify.E008)
    return [
        Warning(
            f"The cache '{alias}' holding the SMS rate limits ({backend.rsplit('.', 1)[-1]}) "
            f"{UNSHARED_CACHES[backend]}.",
            hint="Point SMS_VERIFY['CACHE_ALIAS'] at a cache all servers share: Redis, Memcached "
            "or the database cache (docs/abuse.md).",
            id="sms_verify.W001",
        )
    ]
