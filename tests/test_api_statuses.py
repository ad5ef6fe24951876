"""Every status and body of SPEC §6 for both endpoints."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import django_sms_verify
from django_sms_verify.models import Verification
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL
from tests.helpers import assert_error, check_code, latest_code, request_code, wrong_code

ENDPOINTS = [REQUEST_URL, CHECK_URL]


# --- POST verifications/ -------------------------------------------------------------------


def test_request_answers_202_with_the_documented_body(api, connector):
    before = timezone.now()
    response = request_code(api, phone="+86 138 0013 8000", channel="sms")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "phone", "usage_type", "channel", "status", "expires_at", "resend_after"}
    assert uuid.UUID(body["id"])
    assert body["phone"] == PHONE_CN  # E.164, whatever the input's spacing
    assert body["usage_type"] == "SignIn"
    assert body["channel"] == "sms"
    assert body["status"] == "pending"
    assert parse_datetime(body["expires_at"]) > before + timedelta(seconds=590)
    assert body["resend_after"] == 60
    assert response["Cache-Control"] == "no-store"


def test_request_channel_defaults_to_sms(api, connector):
    assert request_code(api).json()["channel"] == "sms"


def test_request_body_never_contains_the_code(api, connector):
    response = request_code(api)
    assert latest_code() not in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": "not a number"}, "phone"),
        ({"phone": "+86 000"}, "phone"),
        ({"phone": "+999123456789"}, "phone"),
        ({"usage_type": "Login"}, "usage_type"),
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "email"}, "channel"),
    ],
)
def test_request_field_errors_are_400_naming_the_field(api, connector, fields, field):
    body = {"phone": PHONE_CN, "usage_type": "SignIn", **fields}
    response = api.post(REQUEST_URL, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"] and data["code"]
    assert isinstance(data[field], list) and data[field]
    assert data["errors"][field] == data[field]
    assert django_sms_verify.outbox == []


@pytest.mark.parametrize("missing", ["phone", "usage_type"])
def test_request_missing_field_is_400_required(api, connector, missing):
    body = {"phone": PHONE_CN, "usage_type": "SignIn"}
    del body[missing]
    data = assert_error(api.post(REQUEST_URL, body, format="json"), 400, "required")
    assert data[missing]


def test_request_disallowed_region_is_a_phone_field_error(api, connector, settings):
    settings.SMS_VERIFY = {"ALLOWED_REGIONS": ["US"]}
    data = assert_error(request_code(api), 400, "region_not_allowed")
    assert data["phone"]


def test_request_throttled_is_429_with_retry_after(api, connector):
    request_code(api)
    response = request_code(api)
    data = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    assert set(data) == {"detail", "code"}


def test_request_when_every_connector_fails_is_503(api, make_connector):
    make_connector(config={"fail": "transient"})
    data = assert_error(request_code(api), 503, "delivery_failed")
    assert set(data) == {"detail", "code"}
    assert not Verification.objects.filter(status="pending").exists()


def test_request_with_no_connector_at_all_is_503(api, db):
    assert_error(request_code(api), 503, "delivery_failed")


def test_request_rejected_recipient_is_400_with_reason(api, make_connector):
    make_connector(config={"fail": "permanent"})
    data = assert_error(request_code(api), 400, "recipient_rejected")
    assert data["reason"] == "invalid_number"


def test_request_answer_is_the_same_for_any_registered_or_unknown_number(api, connector, django_user_model):
    django_user_model.objects.create_user("known")  # unusable password: no slow hashing
    known = request_code(api, phone="+8613800138001").json()
    unknown = request_code(api, phone="+8613800138002").json()
    assert set(known) == set(unknown)
    assert known["status"] == unknown["status"] == "pending"
    assert known["resend_after"] == unknown["resend_after"]


# --- POST verifications/check/ -------------------------------------------------------------


def test_check_right_code_is_200_with_a_token(api, connector):
    request_code(api)
    response = check_code(api, latest_code())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "verification_token"}
    assert body["status"] == "approved"
    assert isinstance(body["verification_token"], str) and len(body["verification_token"]) > 20
    assert response["Cache-Control"] == "no-store"
    assert django_sms_verify.consume_verification_token(body["verification_token"], usage_type="SignIn")


def test_check_wrong_code_is_400_invalid_code_with_attempts_left(api, connector):
    request_code(api)
    data = assert_error(check_code(api, wrong_code(latest_code())), 400, "invalid_code")
    assert data["attempts_left"] == 4
    assert set(data) == {"detail", "code", "attempts_left"}


def test_check_expired_is_400_expired(api, connector):
    request_code(api)
    Verification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(check_code(api, latest_code()), 400, "expired")


def test_check_after_the_cap_is_400_max_attempts_reached(api, connector, settings):
    settings.SMS_VERIFY = {"MAX_CHECK_ATTEMPTS": 1}
    request_code(api)
    code = latest_code()
    assert check_code(api, wrong_code(code)).json()["attempts_left"] == 0
    assert_error(check_code(api, code), 400, "max_attempts_reached")


def test_check_with_nothing_pending_is_400_not_found(api, connector):
    assert_error(check_code(api, "123456"), 400, "not_found")


def test_check_throttled_is_429_with_retry_after(api, connector, settings):
    settings.SMS_VERIFY = {"PHONE_CHECK_RATE": "2/h"}
    request_code(api)
    code = latest_code()
    check_code(api, wrong_code(code))
    check_code(api, wrong_code(code))
    response = check_code(api, code)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "12345"}, "code"),
        ({"code": "12345a"}, "code"),
        ({"phone": "12"}, "phone"),
        ({"usage_type": "signin"}, "usage_type"),
    ],
)
def test_check_field_errors_are_400_naming_the_field(api, connector, fields, field):
    body = {"phone": PHONE_CN, "usage_type": "SignIn", "code": "123456", **fields}
    response = api.post(CHECK_URL, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"] and data["code"]
    assert data[field]


@pytest.mark.parametrize("missing", ["phone", "usage_type", "code"])
def test_check_missing_field_is_400_required(api, connector, missing):
    body = {"phone": PHONE_CN, "usage_type": "SignIn", "code": "123456"}
    del body[missing]
    data = assert_error(api.post(CHECK_URL, body, format="json"), 400, "required")
    assert data[missing]


# --- both endpoints: content types and methods ---------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("application/x-www-form-urlencoded", "phone=%2B8613800138000&usage_type=SignIn&code=123456"),
        ("multipart/form-data; boundary=xyz", "--xyz--"),
        ("text/plain", '{"phone": "+8613800138000", "usage_type": "SignIn"}'),
        ("application/xml", "<phone>+8613800138000</phone>"),
    ],
)
def test_non_json_bodies_are_415(api, connector, url, content_type, payload):
    response = api.generic("POST", url, payload, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert django_sms_verify.outbox == []


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(api, connector, url, method):
    response = getattr(api, method)(url)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_bad_json_is_400_parse_error(api, connector, url):
    response = api.generic("POST", url, '{"phone": ', content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_json_that_is_not_an_object_is_400(api, connector, url):
    response = api.generic("POST", url, "[]", content_type="application/json")
    data = assert_error(response, 400, "invalid")
    assert data["non_field_errors"]


@pytest.mark.parametrize(("url", "status"), [(REQUEST_URL, 202), (CHECK_URL, 400)])
def test_endpoints_need_no_session_or_csrf_token(connector, url, status):
    """The API is anonymous: a client enforcing CSRF, without a session, gets real answers."""
    strict = Client(enforce_csrf_checks=True)
    body = {"phone": PHONE_CN, "usage_type": "SignIn", "code": "123456"}
    response = strict.post(url, body, content_type="application/json")
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["code"] == "not_found"
