"""Geo permissions and number types: numbers that cannot (or must not) get a code are
refused with a clear 400 before anything is counted or sent."""

from __future__ import annotations

import pytest

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.exceptions import UnsupportedNumberType
from django_sms_verify.models import Message, Verification
from tests.abuse_support import request_code

REFUSED_FOR_SMS = {
    "+861058123456": "FIXED_LINE",  # Beijing landline
    "+442079460000": "FIXED_LINE",  # London landline
    "+19005551234": "PREMIUM_RATE",
    "+18005551234": "TOLL_FREE",
    "+445612345678": "VOIP",  # UK 056 numbers: phonenumbers can tell these
    "+447012345678": "PERSONAL_NUMBER",
}
ACCEPTED = {
    "+8613800138000": "MOBILE",
    "+447400123456": "MOBILE",
    "+14155552671": "FIXED_LINE_OR_MOBILE",  # North America: phonenumbers cannot tell
}


@pytest.mark.parametrize("phone", REFUSED_FOR_SMS)
def test_numbers_that_cannot_take_a_code_get_a_clear_400(api, connector, phone):
    response = request_code(api, phone)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unsupported_number_type"
    assert body["phone"] == ["This phone number cannot receive verification codes. Use a mobile number."]
    assert django_sms_verify.outbox == []
    assert not Verification.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("phone", ACCEPTED)
def test_mobile_numbers_and_numbers_that_may_be_mobile_get_a_code(api, connector, phone):
    assert request_code(api, phone).status_code == 202
    assert [m.to for m in django_sms_verify.outbox] == [phone]


def test_a_voice_call_may_go_to_a_fixed_line(api, connector):
    response = api.post(
        "/api/sms-verify/verifications/",
        {"phone": "+861058123456", "usage_type": "SignIn", "channel": "voice"},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert django_sms_verify.outbox[-1].channel == "voice"


def test_premium_rate_numbers_get_no_call_either(api, connector):
    response = api.post(
        "/api/sms-verify/verifications/",
        {"phone": "+19005551234", "usage_type": "SignIn", "channel": "voice"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_number_type"


def test_the_accepted_types_are_settings(api, connector, settings):
    settings.SMS_VERIFY = {"SMS_NUMBER_TYPES": ["MOBILE"]}
    assert request_code(api, "+14155552671").status_code == 400
    settings.SMS_VERIFY = {"SMS_NUMBER_TYPES": ["MOBILE", "FIXED_LINE_OR_MOBILE", "FIXED_LINE"]}
    assert request_code(api, "+861058123456").status_code == 202


def test_the_python_api_refuses_them_too(connector):
    with pytest.raises(UnsupportedNumberType):
        services.request_verification("+861058123456", "SignIn")
    assert django_sms_verify.outbox == []


def test_a_refused_type_costs_the_client_nothing(api, connector, settings):
    """Refused before the IP limit counts: a typo does not eat the user's budget."""
    settings.SMS_VERIFY = {"IP_RATE": "1/h"}
    assert request_code(api, "+861058123456", ip="192.0.2.9").status_code == 400
    assert request_code(api, "+8613800138000", ip="192.0.2.9").status_code == 202


def test_allowed_regions_refuse_other_countries(api, connector, settings):
    settings.SMS_VERIFY = {"ALLOWED_REGIONS": ["CN"]}
    response = request_code(api, "+447400123456")
    assert response.status_code == 400
    assert response.json()["code"] == "region_not_allowed"
    assert request_code(api, "+8613800138000").status_code == 202
    assert [m.to for m in django_sms_verify.outbox] == ["+8613800138000"]


def test_connector_regions_route_each_number_to_its_own_connectors(api, make_connector):
    make_connector("cn-only", regions=["CN"])
    make_connector("us-only", regions=["US"])
    assert request_code(api, "+8613800138000").status_code == 202
    assert request_code(api, "+14155552671").status_code == 202
    assert [(m.to, m.connector) for m in django_sms_verify.outbox] == [
        ("+8613800138000", "cn-only"),
        ("+14155552671", "us-only"),
    ]
    # No connector serves GB: nothing is sent, the log says why.
    response = request_code(api, "+447400123456")
    assert response.status_code == 503
    assert Message.objects.get(to="+447400123456").error_code == "no_connector"
