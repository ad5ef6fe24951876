"""A wrong value of each ``SMS_VERIFY`` setting fails ``manage.py check`` with a message naming it."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_sms_verify.conf import DEFAULTS

WRONG_VALUES = [
    ("DELIVERY", "celery"),
    ("TASKS_BACKEND", 3),
    ("TASKS_QUEUE", ["default"]),
    ("RETRY_ATTEMPTS", -1),
    ("RETRY_BASE_DELAY", 0),
    ("RETRY_MAX_DELAY", "1m"),
    ("STALE_AFTER", 0),
    ("SMS_NUMBER_TYPES", []),
    ("SMS_NUMBER_TYPES", ["MOBILE", "CELLPHONE"]),
    ("VOICE_NUMBER_TYPES", "MOBILE"),
    ("PREFIX_RATE", "20 per hour"),
    ("CONVERSION_MIN_SENDS", -1),
    ("CONVERSION_MIN_RATE", 1.5),
    ("CONVERSION_MIN_RATE", "0.2"),
    ("CONVERSION_WINDOW", 10),
    ("CONVERSION_COOLDOWN", 0),
    ("DAILY_SEND_CAP", -5),
    ("DAILY_SEND_CAP", "1000"),
    ("CONNECTOR_DAILY_SEND_CAPS", ["twilio-main"]),
    ("CONNECTOR_DAILY_SEND_CAPS", {"twilio-main": -1}),
    ("IDEMPOTENCY_TTL", 5),
    ("CODE_LENGTH", 3),
    ("CODE_LENGTH", 11),
    ("CODE_LENGTH", "6"),
    ("CODE_LENGTH", True),
    ("CODE_LENGTH", 6.0),
    ("CODE_TTL", 0),
    ("CODE_TTL", -60),
    ("CODE_TTL", None),
    ("MAX_CHECK_ATTEMPTS", 0),
    ("MAX_CHECK_ATTEMPTS", "5"),
    ("MAX_SENDS", 0),
    ("MAX_SENDS", [5]),
    ("RESEND_INTERVAL", -1),
    ("RESEND_INTERVAL", "60"),
    ("PHONE_RATE", "5 per hour"),
    ("PHONE_RATE", "0/h"),
    ("PHONE_RATE", 5),
    ("PHONE_RATE", "5/w"),
    ("PHONE_RATE", "5/0h"),
    ("IP_RATE", "30"),
    ("IP_RATE", "-3/h"),
    ("IP_RATE", None),
    ("PHONE_CHECK_RATE", "ten/h"),
    ("PHONE_CHECK_RATE", "10/"),
    ("PHONE_CHECK_RATE", "10/xh"),
    ("NUM_PROXIES", -1),
    ("NUM_PROXIES", "1"),
    ("PROVIDER_TIMEOUT", 0),
    ("PROVIDER_TIMEOUT", 1000),
    ("PROVIDER_TIMEOUT", "10"),
    ("ALLOWED_REGIONS", "CN"),
    ("ALLOWED_REGIONS", ["CN", "XX"]),
    ("ALLOWED_REGIONS", ["CHN"]),
    ("ALLOWED_REGIONS", [86]),
    ("ALLOWED_REGIONS", 86),
    ("ALLOWED_REGIONS", {"CN": True, "ZZ": True}),
    ("DEFAULT_REGION", "ZZ"),
    ("DEFAULT_REGION", "China"),
    ("DEFAULT_REGION", 86),
    ("DEFAULT_REGION", ["CN"]),
    ("TOKEN_TTL", 0),
    ("TOKEN_TTL", "900"),
    ("PUBLIC_BASE_URL", "example.com"),
    ("PUBLIC_BASE_URL", "ftp://example.com"),
    ("PUBLIC_BASE_URL", "https://"),
    ("PUBLIC_BASE_URL", "http://[::1"),
    ("PUBLIC_BASE_URL", 443),
    ("CACHE_ALIAS", "nope"),
    ("CACHE_ALIAS", None),
    ("CACHE_ALIAS", ["default"]),
    ("ENCRYPTION_KEYS", "a-single-string"),
    ("ENCRYPTION_KEYS", ["not-a-fernet-key"]),
    ("ENCRYPTION_KEYS", [123]),
    ("ENCRYPTION_KEYS", None),
]


def sms_verify_errors() -> list:
    return [e for e in run_checks() if e.id.startswith("sms_verify.")]


def test_every_setting_has_a_wrong_value_in_the_table():
    assert {name for name, _ in WRONG_VALUES} == set(DEFAULTS)


@pytest.mark.parametrize(("name", "value"), WRONG_VALUES, ids=[f"{n}={v!r}" for n, v in WRONG_VALUES])
def test_wrong_value_fails_check_naming_the_setting(name, value):
    with override_settings(SMS_VERIFY={name: value}):
        errors = sms_verify_errors()
        assert errors, f"{name}={value!r} passed the checks"
        assert all(e.level >= 40 for e in errors)  # ERROR: start-up stops
        assert any(f"SMS_VERIFY['{name}']" in e.msg for e in errors), [e.msg for e in errors]
        with pytest.raises(SystemCheckError, match=rf"SMS_VERIFY\['{name}'\]"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_defaults_pass_the_checks():
    with override_settings(SMS_VERIFY={}):
        assert sms_verify_errors() == []
    call_command("check", stdout=io.StringIO())


GOOD_VALUES = {
    "CODE_LENGTH": 8,
    "CODE_TTL": 300,
    "MAX_CHECK_ATTEMPTS": 3,
    "MAX_SENDS": 3,
    "RESEND_INTERVAL": 0,
    "PHONE_RATE": "10/5m",
    "IP_RATE": "100/d",
    "PHONE_CHECK_RATE": "20/h",
    "NUM_PROXIES": 1,
    "PROVIDER_TIMEOUT": 5,
    "ALLOWED_REGIONS": ["CN", "us"],
    "DEFAULT_REGION": "CN",
    "TOKEN_TTL": 600,
    "PUBLIC_BASE_URL": "https://example.com",
    "CACHE_ALIAS": "default",
    "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    "SMS_NUMBER_TYPES": ["MOBILE"],
    "VOICE_NUMBER_TYPES": ["MOBILE", "FIXED_LINE"],
    "PREFIX_RATE": "50/h",
    "CONVERSION_MIN_SENDS": 100,
    "CONVERSION_MIN_RATE": 0.1,
    "CONVERSION_WINDOW": 7200,
    "CONVERSION_COOLDOWN": 600,
    "DAILY_SEND_CAP": 10_000,
    "CONNECTOR_DAILY_SEND_CAPS": {"twilio-main": 500},
    "IDEMPOTENCY_TTL": 3600,
    "DELIVERY": "sync",
    "TASKS_BACKEND": "default",
    "TASKS_QUEUE": "default",
    "RETRY_ATTEMPTS": 3,
    "RETRY_BASE_DELAY": 1,
    "RETRY_MAX_DELAY": 30,
    "STALE_AFTER": 300,
}


def test_good_values_of_every_setting_pass_the_checks():
    assert set(GOOD_VALUES) == set(DEFAULTS)
    with override_settings(SMS_VERIFY=GOOD_VALUES):
        assert sms_verify_errors() == []


def test_unknown_setting_name_fails_check_naming_it():
    with override_settings(SMS_VERIFY={"CODE_LENGHT": 6}):
        errors = sms_verify_errors()
    assert [e.id for e in errors] == ["sms_verify.E001"]
    assert "CODE_LENGHT" in errors[0].msg


@pytest.mark.parametrize("value", [["CODE_LENGTH", 6], "CODE_LENGTH=6", 6])
def test_sms_verify_that_is_not_a_dict_fails_check(value):
    with override_settings(SMS_VERIFY=value):
        errors = sms_verify_errors()
    assert errors and "SMS_VERIFY" in errors[0].msg


def test_each_problem_has_a_stable_id_and_a_hint():
    with override_settings(SMS_VERIFY={"CODE_LENGTH": 1, "PHONE_RATE": "x", "DEFAULT_REGION": "ZZ"}):
        errors = sms_verify_errors()
    assert len(errors) == 3
    assert all(e.hint and e.id.startswith("sms_verify.E") for e in errors)


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "each process"),
        ("django.core.cache.backends.dummy.DummyCache", "keeps nothing"),
    ],
)
def test_deploy_check_warns_about_a_cache_servers_do_not_share(backend, words):
    with override_settings(CACHES={"default": {"BACKEND": backend}}):
        warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "sms_verify.W001"]
        plain = [m for m in run_checks() if m.id == "sms_verify.W001"]
    assert len(warnings) == 1 and words in warnings[0].msg and "CACHE_ALIAS" in warnings[0].hint
    assert plain == []  # development (plain `check`) is left alone


def test_deploy_check_accepts_a_shared_cache(tmp_path):
    shared = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    with override_settings(CACHES={"default": shared}):
        assert [m for m in run_checks(include_deployment_checks=True) if m.id == "sms_verify.W001"] == []
