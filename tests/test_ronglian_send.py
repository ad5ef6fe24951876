"""Sending through a ``ronglian`` connector, against the fake platform in tests/fakes.

Everything goes through the REST API or ``services``; the connector lives in the database
with ``base_url`` pointing at the fake.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.models import Message, MessageStatus, Template, Verification, VerificationStatus
from django_sms_verify.providers import provider_class, ronglian_errors
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL
from tests.fakes.ronglian import ACCOUNT_SID, APP_ID, AUTH_TOKEN, FakeRonglian
from tests.helpers import public_reason

PROVIDER_TIMEOUT = 1
CHINA = ZoneInfo("Asia/Shanghai")
TEMPLATES = {
    "SignIn": {"template_id": "1", "content": "您的验证码是<<code>>, <<ttl_minutes>>分钟内有效。"},
    "Generic": {"template_id": "2", "content": "验证码<<code>>, <<ttl_minutes>>分钟有效。"},
}

# What each mapped statusCode must do, written out here independently of the provider's
# table: True = permanent (API 400 with the reason, no failover), False = transient.
EXPECTED_HANDLING: dict[str, tuple[bool, str]] = {
    "160042": (True, "invalid_number"),
    "160013": (True, "invalid_number"),
    "112316": (True, "invalid_number"),
    "160034": (True, "blacklisted"),
    "112317": (True, "blacklisted"),
    "160072": (True, "blacklisted"),
    "160073": (True, "blacklisted"),
    "160074": (True, "blacklisted"),
    "160051": (True, "unsubscribed"),
    "160068": (True, "unsubscribed"),
    "160032": (True, "template_rejected"),
    "112323": (True, "template_rejected"),
    "160038": (False, "throttled"),
    "160039": (False, "throttled"),
    "160040": (False, "throttled"),
    "160041": (False, "throttled"),
    "160056": (False, "throttled"),
    "112314": (False, "throttled"),
    "111111": (False, "throttled"),
    "111142": (False, "account"),
    "160014": (False, "account"),
    "111138": (False, "account"),
    "111139": (False, "account"),
    "111140": (False, "account"),
    "111141": (False, "account"),
    "112303": (False, "account"),
    "111177": (False, "account"),
    "111180": (False, "account"),
    "160053": (False, "account"),
    "160058": (False, "account"),
    "160061": (False, "account"),
    "160062": (False, "account"),
    "111100": (False, "auth"),
    "111101": (False, "auth"),
    "111102": (False, "auth"),
    "111103": (False, "auth"),
    "111104": (False, "auth"),
    "111105": (False, "auth"),
    "111106": (False, "auth"),
    "111107": (False, "auth"),
    "111108": (False, "auth"),
    "111109": (False, "auth"),
    "111113": (False, "auth"),
    "111143": (False, "auth"),
    "111181": (False, "misconfigured"),
    "111182": (False, "misconfigured"),
    "112310": (False, "misconfigured"),
    "113302": (False, "misconfigured"),
    "112311": (False, "misconfigured"),
    "160043": (False, "misconfigured"),
    "160036": (False, "misconfigured"),
    "160057": (False, "misconfigured"),
    "160052": (False, "misconfigured"),
    "160031": (False, "misconfigured"),
    "160033": (False, "content_rejected"),
    "160049": (False, "content_rejected"),
    "160000": (False, "unavailable"),
    "160050": (False, "unavailable"),
    "160063": (False, "unavailable"),
    "160064": (False, "unavailable"),
    "111000": (False, "unavailable"),
    # documented ranges and codes we do not know
    "111001": (False, "unavailable"),
    "111050": (False, "unavailable"),
    "160005": (False, "unavailable"),
    "160010": (False, "unavailable"),
    "999999": (False, "unknown"),
    "160011": (False, "unknown"),
}
PERMANENT_CODES = [code for code, (permanent, _) in EXPECTED_HANDLING.items() if permanent]
TRANSIENT_CODES = [code for code, (permanent, _) in EXPECTED_HANDLING.items() if not permanent]


@pytest.fixture(autouse=True)
def _fast_timeouts(settings):
    settings.SMS_VERIFY = {"PROVIDER_TIMEOUT": PROVIDER_TIMEOUT}


@pytest.fixture
def fake():
    with FakeRonglian() as server:
        yield server


@pytest.fixture
def make_ronglian(make_connector, fake):
    def make(*, auth_token=AUTH_TOKEN, base_url=None, priority=10, **kwargs):
        return make_connector(
            "ronglian-cn",
            "ronglian",
            priority=priority,
            config={"accountSID": ACCOUNT_SID, "appId": APP_ID},
            secrets={"authToken": auth_token} if auth_token else {},
            base_url=fake.url if base_url is None else base_url,
            templates=TEMPLATES,
            **kwargs,
        )

    return make


@pytest.fixture
def ronglian(make_ronglian):
    return make_ronglian()


@pytest.fixture
def backup(make_connector):
    """The next connector: a locmem one with a higher priority number."""
    return make_connector("locmem-backup", priority=20)


def request_code(api, phone=PHONE_CN, usage_type="SignIn"):
    return api.post(REQUEST_URL, {"phone": phone, "usage_type": usage_type}, format="json")


def latest_message() -> Message:
    return Message.objects.order_by("-created_at").first()


# --- acceptance 1: a signed request with datas = [code, minutes] ----------------------


def test_verification_reaches_the_fake_signed_with_code_and_minutes(api, fake, ronglian):
    response = request_code(api)

    assert response.status_code == 202, response.content
    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert sent.problems == []
    assert sent.path == f"/2013-12-26/Accounts/{ACCOUNT_SID}/SMS/TemplateSMS"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["content-type"] == "application/json;charset=utf-8"

    # Authorization = base64(accountSID:timestamp); sig = upper(md5(SID + token + the same timestamp))
    sid, timestamp = base64.b64decode(sent.headers["authorization"]).decode().split(":")
    assert sid == ACCOUNT_SID
    digest = hashlib.md5(f"{ACCOUNT_SID}{AUTH_TOKEN}{timestamp}".encode(), usedforsecurity=False)
    assert sent.query["sig"] == [digest.hexdigest().upper()]
    # The timestamp is China Standard Time, whatever the server's own time zone.
    sent_at = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    assert abs(datetime.now(CHINA) - sent_at) < timedelta(minutes=1)

    code = sent.body["datas"][0]
    assert sent.body == {"to": "13800138000", "appId": APP_ID, "templateId": "1", "datas": [code, "10"]}
    assert code.isdigit() and len(code) == 6

    message = latest_message()
    assert message.status == MessageStatus.SENT
    assert message.connector_name == "ronglian-cn"
    assert message.provider_message_id == sent.answered["templateSMS"]["smsMessageSid"]
    assert code not in message.body  # the stored body masks the code
    # The code that reached the platform is the one that verifies.
    check = api.post(CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": code}, format="json")
    assert check.status_code == 200, check.content


def test_usage_type_without_template_uses_generic_template_id(fake, ronglian):
    services.request_verification(PHONE_CN, "ForgotPassword")

    assert fake.requests[0].problems == []
    assert fake.requests[0].body["templateId"] == "2"


def test_custom_params_become_datas(fake, ronglian):
    Template.objects.filter(connector=ronglian, usage_type="SignIn").update(
        params=["<<ttl_minutes>>", "<<code>>", "登录"]
    )

    services.request_verification(PHONE_CN, "SignIn")

    datas = fake.requests[0].body["datas"]
    assert datas[0] == "10" and datas[1].isdigit() and datas[2] == "登录"


def test_international_number_is_sent_as_00_country_code_number(fake, ronglian):
    services.request_verification(PHONE_US, "SignIn")

    assert fake.requests[0].problems == []
    assert fake.requests[0].body["to"] == "0014155552671"


def test_connections_are_reused_between_sends(fake, ronglian):
    services.request_verification(PHONE_CN, "SignIn")
    services.request_verification("+8613900139000", "SignIn")

    assert len(fake.requests) == 2
    assert fake.requests[0].client_port == fake.requests[1].client_port


# --- acceptance 2: a wrong authToken --------------------------------------------------


def test_wrong_auth_token_is_refused_and_fails_over_to_the_next_connector(api, fake, make_ronglian, backup):
    make_ronglian(auth_token="0123456789abcdef0123456789abcdef")

    response = request_code(api)

    assert response.status_code == 202, response.content
    assert fake.requests[0].answered["statusCode"] == "111109"
    assert [sent.connector for sent in django_sms_verify.outbox] == ["locmem-backup"]
    message = latest_message()
    assert message.status == MessageStatus.SENT
    assert message.connector_name == "locmem-backup"
    first_attempt = message.attempts[0]
    assert first_attempt["connector"] == "ronglian-cn"
    assert first_attempt["error_code"] == "111109"
    assert first_attempt["permanent"] is False
    assert "Sig" in first_attempt["error_message"]


def test_wrong_auth_token_on_the_last_connector_answers_503(api, fake, make_ronglian):
    make_ronglian(auth_token="0123456789abcdef0123456789abcdef")

    response = request_code(api)

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "delivery_failed"
    message = latest_message()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "111109"
    assert "111109" in message.error_message and "Sig" in message.error_message
    assert Verification.objects.get().status == VerificationStatus.FAILED


# --- acceptance 3: each mapped status code --------------------------------------------


@pytest.mark.parametrize("status_code", PERMANENT_CODES)
def test_permanent_status_code_answers_400_with_reason_and_no_failover(
    api, fake, ronglian, backup, status_code
):
    fake.answer_status(status_code, f"平台说明 {status_code}")

    response = request_code(api)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "recipient_rejected"
    assert body["reason"] == public_reason(EXPECTED_HANDLING[status_code][1])
    assert body["detail"] == "This phone number cannot receive messages."  # the same for every refusal
    assert len(fake.requests) == 1 and fake.requests[0].problems == []
    assert django_sms_verify.outbox == []  # the backup connector was not tried
    message = latest_message()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == status_code
    assert f"平台说明 {status_code}" in message.error_message  # the log keeps the platform's text
    assert [a["connector"] for a in message.attempts] == ["ronglian-cn"]
    assert message.attempts[0]["permanent"] is True


@pytest.mark.parametrize("status_code", TRANSIENT_CODES)
def test_transient_status_code_fails_over(api, fake, ronglian, backup, status_code):
    fake.answer_status(status_code, f"平台说明 {status_code}")

    response = request_code(api)

    assert response.status_code == 202, response.content
    assert fake.requests[0].problems == []
    assert [sent.connector for sent in django_sms_verify.outbox] == ["locmem-backup"]
    attempt = latest_message().attempts[0]
    assert attempt["connector"] == "ronglian-cn"
    assert attempt["error_code"] == status_code
    assert attempt["permanent"] is False
    assert f"平台说明 {status_code}" in attempt["error_message"]


def test_every_mapped_status_code_is_covered_here():
    mapped = set(ronglian_errors.PERMANENT) | set(ronglian_errors.TRANSIENT)
    assert mapped <= set(EXPECTED_HANDLING)


def test_transient_status_code_on_the_last_connector_answers_503(api, fake, ronglian):
    fake.answer_status("160038")

    response = request_code(api)

    assert response.status_code == 503
    assert response.json()["code"] == "delivery_failed"
    assert latest_message().error_code == "160038"


# --- transport failures are transient ------------------------------------------------


def test_http_500_fails_over(api, fake, ronglian, backup):
    fake.answer_http_error(500)

    response = request_code(api)

    assert response.status_code == 202
    assert latest_message().attempts[0]["error_code"] == "http_500"
    assert [sent.connector for sent in django_sms_verify.outbox] == ["locmem-backup"]


def test_unreadable_answer_fails_over(api, fake, ronglian, backup):
    fake.answer_garbage()

    response = request_code(api)

    assert response.status_code == 202
    assert latest_message().attempts[0]["error_code"] == "bad_response"


def test_timeout_fails_over_within_the_provider_timeout(api, fake, ronglian, backup):
    fake.delay(PROVIDER_TIMEOUT + 5)  # cut short when the fake stops

    started = time.monotonic()
    response = request_code(api)
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert latest_message().attempts[0]["error_code"] == "timeout"
    assert [sent.connector for sent in django_sms_verify.outbox] == ["locmem-backup"]
    assert PROVIDER_TIMEOUT <= elapsed < PROVIDER_TIMEOUT + 3  # slack for a busy machine


def test_connection_refused_fails_over(api, make_ronglian, backup):
    # A port we hold bound but never listen on: connections to it are refused.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        make_ronglian(base_url=f"http://127.0.0.1:{holder.getsockname()[1]}")

        response = request_code(api)

    assert response.status_code == 202
    assert latest_message().attempts[0]["error_code"] == "unreachable"


def test_missing_auth_token_fails_over_without_calling_the_platform(api, fake, make_ronglian, backup):
    make_ronglian(auth_token="")

    response = request_code(api)

    assert response.status_code == 202
    assert fake.requests == []
    attempt = latest_message().attempts[0]
    assert attempt["error_code"] == "misconfigured"
    assert "authToken" in attempt["error_message"]


def test_template_saved_without_template_id_fails_over_without_calling_the_platform(
    api, fake, ronglian, backup
):
    Template.objects.filter(connector=ronglian).update(template_id="")  # bypasses validation

    response = request_code(api)

    assert response.status_code == 202
    assert fake.requests == []
    assert latest_message().attempts[0]["error_code"] == "misconfigured"


# --- secrets and codes stay out of logs and output ------------------------------------


WRONG_TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("scenario", ["sent", "wrong_token", "platform_echoes_request"])
def test_no_auth_token_or_code_in_logs_or_output(
    fake, make_ronglian, backup, settings, caplog, capsys, scenario
):
    # A 10-digit code cannot turn up by chance inside a timestamp, a port or an id.
    settings.SMS_VERIFY = {"PROVIDER_TIMEOUT": PROVIDER_TIMEOUT, "CODE_LENGTH": 10}
    token = WRONG_TOKEN if scenario == "wrong_token" else AUTH_TOKEN
    make_ronglian(auth_token=token)
    if scenario == "platform_echoes_request":
        # Worst case: a statusMsg quoting our body (with the code) and the token.
        fake.answer_status("160050", f"短信发送失败 {{body}} {AUTH_TOKEN}")
    caplog.set_level(logging.DEBUG)

    services.request_verification(PHONE_CN, "SignIn")

    code = fake.requests[0].body["datas"][0]
    assert len(code) == 10
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    output = capsys.readouterr()
    assert "ronglian-cn" in caplog.text  # the send was logged at all
    message = latest_message()
    stored = message.body + "".join(attempt["error_message"] for attempt in message.attempts)
    if scenario != "sent":
        assert message.attempts[0]["connector"] == "ronglian-cn"
    for secret in (token, code):
        assert secret not in logged
        assert secret not in output.out and secret not in output.err
        assert secret not in stored


# --- configuration ------------------------------------------------------------------


def test_config_needs_account_sid_auth_token_and_app_id():
    cls = provider_class("ronglian")

    assert set(cls.validate_config({})) == {"accountSID", "authToken", "appId"}
    assert cls.validate_config({"accountSID": ACCOUNT_SID, "authToken": AUTH_TOKEN, "appId": APP_ID}) == {}
    assert set(cls.validate_config({"accountSID": "a/b", "authToken": "x", "appId": APP_ID})) == {
        "accountSID"
    }
    assert [f.name for f in cls.fields if f.secret] == ["authToken"]


def test_template_needs_a_numeric_template_id_and_list_params(ronglian):
    def errors(**fields):
        template = Template(connector=ronglian, usage_type="Register", **fields)
        try:
            template.full_clean()
        except ValidationError as exc:
            return set(exc.message_dict)
        return set()

    assert "template_id" in errors(content="<<code>>")
    assert "template_id" in errors(template_id="SMS_1", content="<<code>>")
    assert "params" in errors(template_id="3", params={"code": "<<code>>"})
    assert errors(template_id="3", content="验证码<<code>>") == set()
    assert errors(template_id="3", params=["<<code>>"]) == set()
