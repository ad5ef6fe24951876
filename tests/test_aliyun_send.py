"""Sending through an ``aliyun`` connector, against the fake Alibaba Cloud SMS."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.models import Message, MessageStatus, Verification, VerificationStatus
from django_sms_verify.providers import provider_class
from django_sms_verify.providers.aliyun_signing import percent_encode, signature
from django_sms_verify.sending.sync import provider_for
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL
from tests.fakes.aliyun import FakeAliyunSms, make_aliyun_connector, server_signature
from tests.helpers import public_reason

SIGN_IN = {"phone": PHONE_CN, "usage_type": "SignIn"}

# The public test vector of the RPC v1 signature (see PROVIDERS.md).
VECTOR_PARAMS = {
    "AccessKeyId": "testid",
    "AccountName": "<a%b'>",
    "Action": "SingleSendMail",
    "AddressType": "1",
    "Format": "XML",
    "HtmlBody": "4",
    "RegionId": "cn-hangzhou",
    "ReplyToAddress": "true",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "c1b2c332-4cfb-4a0f-b8cc-ebe622aa0a5c",
    "SignatureVersion": "1.0",
    "Subject": "3",
    "TagName": "2",
    "Timestamp": "2016-10-20T06:27:56Z",
    "ToAddress": "1@test.com",
    "Version": "2015-11-23",
}
VECTOR_SIGNATURE = "llJfXJjBW3OacrVgxxsITgYaYm0="


@pytest.fixture
def backup(make_connector):
    return make_connector(name="locmem-backup", priority=20)


def sent_code(request) -> str:
    return json.loads(request.params["TemplateParam"])["code"]


# --- the signature ------------------------------------------------------------------


def test_signature_matches_the_published_test_vector():
    assert signature("POST", VECTOR_PARAMS, "testsecret") == VECTOR_SIGNATURE
    # ...and so does the fake's own implementation, which the send tests rely on
    assert server_signature("POST", VECTOR_PARAMS, "testsecret") == VECTOR_SIGNATURE
    assert signature("POST", VECTOR_PARAMS, "testsecreT") != VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("a*b", "a%2Ab"),
        ("a~b-c_d.e", "a~b-c_d.e"),
        ("+/=&", "%2B%2F%3D%26"),
        ("验证码", "%E9%AA%8C%E8%AF%81%E7%A0%81"),
    ],
)
def test_percent_encoding_is_rfc3986(raw, encoded):
    assert percent_encode(raw) == encoded


# --- acceptance 1: a verification reaches the fake, validly signed ---------------------


def test_verification_reaches_the_fake_with_a_valid_signature(api, aliyun, aliyun_fake):
    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202, response.content
    [request] = aliyun_fake.requests
    assert (request.method, request.http_status, request.code) == ("POST", 200, "OK")
    params = request.params
    assert params["Signature"] == server_signature("POST", params, aliyun_fake.access_key_secret)
    assert params["Action"] == "SendSms"
    assert params["SignName"] == "阿里云短信测试"
    assert params["TemplateCode"] == "SMS_1002"  # the SignIn template's templateId
    assert params["PhoneNumbers"] == "13800138000"
    template_param = json.loads(params["TemplateParam"])
    assert list(template_param) == ["code"]
    assert re.fullmatch(r"\d{6}", template_param["code"])

    message = Message.objects.get()
    assert params["OutId"] == str(message.pk)
    assert message.status == MessageStatus.SENT
    assert message.connector_name == "aliyun-cn"
    assert message.provider_message_id == next(iter(aliyun_fake.messages))
    assert template_param["code"] not in message.body

    # the code the fake received is the one that verifies
    check = {**SIGN_IN, "code": template_param["code"]}
    assert api.post(CHECK_URL, check, format="json").status_code == 200


def test_every_request_has_a_fresh_nonce_and_a_utc_timestamp(aliyun, aliyun_fake):
    services.request_verification(PHONE_CN, "SignIn")
    services.request_verification(PHONE_CN, "Register")

    first, second = (r.params for r in aliyun_fake.sends)
    assert first["SignatureNonce"] != second["SignatureNonce"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["Timestamp"])
    assert (first["Version"], first["Format"], first["SignatureMethod"]) == (
        "2017-05-25",
        "JSON",
        "HMAC-SHA1",
    )


@pytest.mark.parametrize(
    ("phone", "api_number"),
    [
        ("+8613800138000", "13800138000"),  # mainland: the 11 digits
        ("+85291234567", "85291234567"),  # Hong Kong: country code + number, no +
        ("+14155552671", "14155552671"),
    ],
)
def test_phone_numbers_take_the_form_the_api_expects(aliyun, aliyun_fake, phone, api_number):
    services.request_verification(phone, "SignIn")

    assert aliyun_fake.sends[-1].params["PhoneNumbers"] == api_number


def test_notification_params_are_filled_and_sent_as_strings(make_connector, aliyun_fake):
    generic = {
        "template_id": "SMS_2001",
        "content": "订单<<order>>已发货 收件人<<name>>",
        "params": {"order": "<<order>>", "name": "<<name>>", "parcels": 2},
    }
    make_aliyun_connector(make_connector, aliyun_fake, templates={"Generic": generic})

    message = services.send_notification(PHONE_CN, "Generic", context={"order": "A-17", "name": "张三"})

    params = aliyun_fake.sends[-1].params
    assert params["TemplateCode"] == "SMS_2001"
    # the fake refuses non-string values, as the service does
    assert json.loads(params["TemplateParam"]) == {"order": "A-17", "name": "张三", "parcels": "2"}
    assert message.status == MessageStatus.SENT
    assert message.body == "订单A-17已发货 收件人张三"


def test_a_test_send_reports_the_provider_message_id(aliyun, aliyun_fake):
    message = services.send_test_message(aliyun, PHONE_CN, "SignIn")

    assert message.status == MessageStatus.SENT
    assert message.provider_message_id in aliyun_fake.messages


def test_a_failed_test_send_reports_the_provider_error(aliyun, aliyun_fake):
    aliyun_fake.fail("isv.AMOUNT_NOT_ENOUGH")

    message = services.send_test_message(aliyun, PHONE_CN, "SignIn")

    assert message.status == MessageStatus.FAILED
    assert message.error_code == "isv.AMOUNT_NOT_ENOUGH"
    assert "账户余额不足" in message.error_message


# --- acceptance 2: a wrong secret is rejected ---------------------------------------------


def test_a_wrong_secret_is_rejected_by_the_fake(api, make_connector, aliyun_fake):
    make_aliyun_connector(make_connector, aliyun_fake, secret="not-the-secret")

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "delivery_failed"
    [request] = aliyun_fake.requests
    assert (request.http_status, request.code) == (400, "SignatureDoesNotMatch")
    assert aliyun_fake.sends == []
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.attempts[0]["error_code"] == "SignatureDoesNotMatch"
    # The gateway echoes its string to sign (with the code in it): none of it is kept.
    code = sent_code(request)
    stored = json.dumps(message.attempts) + message.error_message
    assert code not in stored
    assert "string to sign" not in stored


def test_an_unknown_access_key_id_fails_over(api, make_connector, aliyun_fake, backup):
    connector = make_aliyun_connector(make_connector, aliyun_fake)
    connector.config["accessKeyId"] = "LTAI-unknown"
    connector.save()

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202
    assert aliyun_fake.requests[0].code == "InvalidAccessKeyId.NotFound"
    assert len(django_sms_verify.outbox) == 1


# --- acceptance 5: flow control fails over, an invalid number does not --------------------


def test_business_limit_control_fails_over_to_the_next_connector(api, aliyun, backup, aliyun_fake):
    aliyun_fake.fail("isv.BUSINESS_LIMIT_CONTROL")

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202, response.content
    assert [r.code for r in aliyun_fake.requests] == ["isv.BUSINESS_LIMIT_CONTROL"]
    assert [m.connector for m in django_sms_verify.outbox] == ["locmem-backup"]
    message = Message.objects.get()
    assert message.connector_name == "locmem-backup"
    assert message.status == MessageStatus.SENT
    [attempt] = message.attempts
    assert (attempt["connector"], attempt["error_code"], attempt["permanent"]) == (
        "aliyun-cn",
        "isv.BUSINESS_LIMIT_CONTROL",
        False,
    )


def test_an_invalid_number_answer_does_not_fail_over(api, aliyun, backup, aliyun_fake):
    aliyun_fake.fail("isv.MOBILE_NUMBER_ILLEGAL")

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["reason"]) == ("recipient_rejected", "invalid_number")
    assert body["detail"] == "This phone number cannot receive messages."  # the same for every refusal
    assert django_sms_verify.outbox == []
    message = Message.objects.get()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "isv.MOBILE_NUMBER_ILLEGAL")
    assert Verification.objects.get().status == VerificationStatus.FAILED


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("isv.SMS_SIGNATURE_ILLEGAL", "signature_rejected"),
        ("isv.BLACK_KEY_CONTROL_LIMIT", "blacklisted"),
    ],
)
def test_permanent_errors_answer_400_without_failover(api, aliyun, backup, aliyun_fake, code, reason):
    aliyun_fake.fail(code)

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 400
    assert response.json()["reason"] == public_reason(reason)
    assert django_sms_verify.outbox == []


def test_an_unapproved_template_answers_400_without_failover(api, aliyun, backup, aliyun_fake):
    aliyun_fake.approved_templates = {"SMS_9999"}  # the fake itself refuses SMS_1002

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 400
    assert response.json()["reason"] == public_reason("template_rejected")
    assert aliyun_fake.requests[0].code == "isv.SMS_TEMPLATE_ILLEGAL"
    assert django_sms_verify.outbox == []


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        ("isv.DAY_LIMIT_CONTROL", 200),
        ("isv.AMOUNT_NOT_ENOUGH", 200),
        ("isp.SYSTEM_ERROR", 200),
        ("Throttling.User", 400),
        ("isv.A_CODE_WE_HAVE_NEVER_SEEN", 200),
    ],
)
def test_transient_errors_fail_over(api, aliyun, backup, aliyun_fake, code, http_status):
    aliyun_fake.fail(code, http_status=http_status)

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202
    assert len(django_sms_verify.outbox) == 1
    assert Message.objects.get().attempts[0]["error_code"] == code


def test_a_5xx_answer_fails_over(api, aliyun, backup, aliyun_fake):
    aliyun_fake.http_status = 500

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202
    assert [r.http_status for r in aliyun_fake.requests] == [500]
    assert len(django_sms_verify.outbox) == 1


def test_a_slow_answer_times_out_and_fails_over(api, aliyun, backup, aliyun_fake, settings):
    settings.SMS_VERIFY = {"PROVIDER_TIMEOUT": 0.3}
    aliyun_fake.delay = 5

    started = time.monotonic()
    response = api.post(REQUEST_URL, SIGN_IN, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert elapsed < 2, elapsed
    assert Message.objects.get().attempts[0]["error_code"] == "timeout"
    assert len(django_sms_verify.outbox) == 1


def test_when_every_connector_fails_the_api_answers_503(api, aliyun, aliyun_fake):
    aliyun_fake.http_status = 503

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 503
    assert Verification.objects.get().status == VerificationStatus.FAILED


def test_a_template_without_template_code_fails_over_without_calling(
    api, make_connector, aliyun_fake, backup
):
    make_aliyun_connector(make_connector, aliyun_fake, templates={"SignIn": {"content": "code <<code>>"}})

    response = api.post(REQUEST_URL, SIGN_IN, format="json")

    assert response.status_code == 202
    assert aliyun_fake.requests == []
    assert Message.objects.get().attempts[0]["error_code"] == "misconfigured"


# --- connections, secrets, configuration -------------------------------------------------


def test_sends_reuse_one_connection(aliyun, aliyun_fake):
    services.request_verification(PHONE_CN, "SignIn")
    services.request_verification(PHONE_CN, "Register")
    services.send_test_message(aliyun, PHONE_CN, "ForgotPassword")

    ports = {r.client_port for r in aliyun_fake.sends}
    assert len(aliyun_fake.sends) == 3
    assert len(ports) == 1


def wait_for_open_connections(aliyun_fake: FakeAliyunSms, count: int) -> int:
    deadline = time.monotonic() + 2
    while aliyun_fake.open_connections != count and time.monotonic() < deadline:
        time.sleep(0.01)
    return aliyun_fake.open_connections


def test_close_releases_the_pooled_connection(aliyun, aliyun_fake):
    provider = provider_for(aliyun)  # the instance sends go through, kept alive here
    services.request_verification(PHONE_CN, "SignIn")
    assert aliyun_fake.open_connections == 1

    provider.close()

    assert wait_for_open_connections(aliyun_fake, 0) == 0


def test_changing_the_connector_replaces_its_provider(aliyun, aliyun_fake):
    services.request_verification(PHONE_CN, "SignIn")

    aliyun.priority = 11
    aliyun.save()  # a changed connector gets a new provider; the old one is closed
    services.request_verification(PHONE_CN, "Register")

    first, second = aliyun_fake.sends
    assert first.client_port != second.client_port
    assert wait_for_open_connections(aliyun_fake, 1) == 1


def test_secrets_and_codes_stay_out_of_the_logs(api, make_connector, aliyun_fake, caplog):
    caplog.set_level(logging.DEBUG)
    make_aliyun_connector(make_connector, aliyun_fake)
    wrong = make_aliyun_connector(
        make_connector, aliyun_fake, name="aliyun-wrong", priority=5, secret="bad-secret"
    )

    api.post(REQUEST_URL, SIGN_IN, format="json")  # fails on "aliyun-wrong", then goes
    aliyun_fake.fail("isv.MOBILE_NUMBER_ILLEGAL")
    services.send_test_message(wrong, PHONE_CN, "Register")

    codes = [sent_code(r) for r in aliyun_fake.requests]
    assert len(codes) == 3
    assert caplog.records
    for secret in [aliyun_fake.access_key_secret, "bad-secret", *codes]:
        assert secret not in caplog.text


def test_config_and_templates_are_validated():
    cls = provider_class("aliyun")

    errors = cls.validate_config({"accessKeyId": "LTAI", "accessKeySecret": "", "signName": " "})

    assert set(errors) == {"accessKeySecret", "signName"}
    assert cls.secret_field_names() == ("accessKeySecret",)
    assert "template_id" in cls.validate_template("SignIn", "", {"code": "<<code>>"})
    assert cls.validate_template("SignIn", "SMS_1", {"code": "<<code>>"}) == {}
    assert "params" in cls.validate_template("SignIn", "SMS_1", ["<<code>>"])
    assert cls.default_params == {"code": "<<code>>"}
