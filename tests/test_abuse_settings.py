"""The abuse defenses' settings are validated at start-up, with messages naming them."""

from __future__ import annotations

import pytest

from django_sms_verify.checks import check_settings


def errors_for(settings, **values) -> list[str]:
    settings.SMS_VERIFY = values
    return [f"{e.id} {e.msg}" for e in check_settings()]


def test_the_defaults_pass(settings):
    assert errors_for(settings) == []


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"PREFIX_RATE": "lots"}, "sms_verify.E003 SMS_VERIFY['PREFIX_RATE'] is not a rate"),
        (
            {"SMS_NUMBER_TYPES": ["MOBILE", "CELL"]},
            "SMS_VERIFY['SMS_NUMBER_TYPES'] has unknown number types ['CELL']",
        ),
        ({"VOICE_NUMBER_TYPES": []}, "SMS_VERIFY['VOICE_NUMBER_TYPES'] must be a non-empty list"),
        ({"SMS_NUMBER_TYPES": "MOBILE"}, "SMS_VERIFY['SMS_NUMBER_TYPES'] must be a non-empty list"),
        ({"CONVERSION_MIN_RATE": 20}, "sms_verify.E010 SMS_VERIFY['CONVERSION_MIN_RATE'] must be a fraction"),
        ({"CONVERSION_MIN_SENDS": -1}, "SMS_VERIFY['CONVERSION_MIN_SENDS'] must be a whole number from 0"),
        ({"CONVERSION_WINDOW": 10}, "SMS_VERIFY['CONVERSION_WINDOW'] must be a whole number from 60"),
        ({"CONVERSION_COOLDOWN": 0}, "SMS_VERIFY['CONVERSION_COOLDOWN'] must be a whole number from 1"),
        (
            {"DAILY_SEND_CAP": "1000"},
            "sms_verify.E011 SMS_VERIFY['DAILY_SEND_CAP'] must be None or a whole number",
        ),
        ({"DAILY_SEND_CAP": -5}, "SMS_VERIFY['DAILY_SEND_CAP'] must be None or a whole number"),
        ({"CONNECTOR_DAILY_SEND_CAPS": [100]}, "SMS_VERIFY['CONNECTOR_DAILY_SEND_CAPS'] must be a dict"),
        (
            {"CONNECTOR_DAILY_SEND_CAPS": {"twilio-main": 100, "aliyun-cn": "many"}},
            "SMS_VERIFY['CONNECTOR_DAILY_SEND_CAPS'] needs a whole number of 0 or more for "
            "connectors ['aliyun-cn']",
        ),
        ({"IDEMPOTENCY_TTL": 5}, "SMS_VERIFY['IDEMPOTENCY_TTL'] must be a whole number from 60"),
    ],
)
def test_wrong_values_are_named(settings, values, expected):
    errors = errors_for(settings, **values)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_good_values_pass(settings):
    assert (
        errors_for(
            settings,
            PREFIX_RATE="100/10m",
            SMS_NUMBER_TYPES=["MOBILE"],
            VOICE_NUMBER_TYPES=["MOBILE", "FIXED_LINE", "VOIP"],
            CONVERSION_MIN_SENDS=0,
            CONVERSION_MIN_RATE=0.05,
            DAILY_SEND_CAP=0,
            CONNECTOR_DAILY_SEND_CAPS={"twilio-main": 500},
            IDEMPOTENCY_TTL=3600,
        )
        == []
    )
