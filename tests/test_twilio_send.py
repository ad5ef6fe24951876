"""Twilio SMS through the official library against the fake Twilio API: wire format,
status callback URLs, connection reuse, error mapping and failover."""

from __future__ import annotations

import logging
import re
import time

import pytest

from django_sms_verify import services
from django_sms_verify.exceptions import DeliveryFailed, RecipientRejected
from django_sms_verify.models import Message, MessageStatus, Verification, VerificationStatus
from django_sms_verify.providers.twilio import TwilioProvider
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL
from tests.fakes.twilio import FakeTwilioAPI
from tests.helpers import public_reason

SERVICE_SID = "MG" + "0123456789abcdef" * 2
FROM_NUMBER = "+14155550100"
PUBLIC = "https://sms.example.com"


@pytest.fixture
def fake():
    with FakeTwilioAPI() as server:
        yield server


@pytest.fixture
def backup_fake():
    with FakeTwilioAPI() as server:
        yield server


TEMPLATES = {
    **{
        usage: {"content": f"{usage} code <<code>>, valid <<ttl_minutes>> min"}
        for usage in ("Register", "SignIn", "ForgotPassword")
    },
    "Generic": {"content": "Order <<order>> has shipped"},
}


def twilio(make_connector, fake, name="twilio-main", priority=10, **senders):
    senders = senders or {"messaging_service_sid": SERVICE_SID}
    return make_connector(
        name, "twilio", priority=priority, templates=TEMPLATES, **fake.connector_fields(**senders)
    )


def code_in(body: str) -> str:
    return re.search(r"code (\d+)", body).group(1)


# --- acceptance 1: the exact form parameters, Messaging Service and number --------------------


def test_sms_from_messaging_service_posts_documented_form(api, make_connector, fake, settings):
    settings.SMS_VERIFY = {"PUBLIC_BASE_URL": PUBLIC}
    connector = twilio(make_connector, fake)

    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")

    assert response.status_code == 202, response.content
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.answer_status == 201
    form = request.form
    assert set(form) == {"To", "MessagingServiceSid", "Body", "StatusCallback"}
    assert form["To"] == PHONE_US
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert re.fullmatch(r"SignIn code \d{6}, valid 10 min", form["Body"])
    assert form["StatusCallback"] == f"{PUBLIC}/api/sms-verify/webhooks/twilio/twilio-main/status/"
    message = Message.objects.get()
    assert message.connector == connector
    assert message.provider == "twilio"
    assert message.provider_message_id == request.answer["sid"]
    assert message.provider_message_id.startswith("SM")
    assert message.status == MessageStatus.SENT
    assert code_in(form["Body"]) not in message.body  # the log masks the code

    checked = api.post(
        CHECK_URL,
        {"phone": PHONE_US, "usage_type": "SignIn", "code": code_in(form["Body"])},
        format="json",
    )
    assert checked.status_code == 200, checked.content


def test_sms_from_number_posts_from_not_service(api, make_connector, fake):
    twilio(make_connector, fake, from_number=FROM_NUMBER)

    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "Register"}, format="json")

    assert response.status_code == 202, response.content
    [form] = fake.messages
    assert set(form) == {"To", "From", "Body", "StatusCallback"}
    assert form["From"] == FROM_NUMBER
    assert form["To"] == PHONE_CN
    # No PUBLIC_BASE_URL: the callback URL is built from the request's own origin.
    assert form["StatusCallback"] == "http://testserver/api/sms-verify/webhooks/twilio/twilio-main/status/"


def test_messaging_service_wins_when_both_senders_are_set(make_connector, fake):
    twilio(make_connector, fake, messaging_service_sid=SERVICE_SID, from_number=FROM_NUMBER)

    services.send_notification(PHONE_US, "Generic", context={"order": "A-17"})

    [form] = fake.messages
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in form


def test_no_status_callback_without_a_public_origin(make_connector, fake):
    twilio(make_connector, fake)

    services.request_verification(PHONE_US, "SignIn")

    [form] = fake.messages
    assert "StatusCallback" not in form


def test_connections_are_reused_between_sends(make_connector, fake):
    twilio(make_connector, fake)

    services.send_notification(PHONE_US, "Generic", context={"order": "first"})
    services.send_notification(PHONE_CN, "Generic", context={"order": "second"})

    assert [r.answer_status for r in fake.requests] == [201, 201]
    first, second = fake.requests
    assert first.client_port == second.client_port  # one kept-alive TCP connection


def test_library_uses_basic_auth_with_account_sid_and_token(make_connector, fake):
    # The fake refuses anything but Basic AccountSid:AuthToken; a wrong token shows it checks.
    connector = twilio(make_connector, fake)
    wrong = make_connector(
        "twilio-wrong-token",
        "twilio",
        priority=5,
        config=connector.config,
        secrets={"authToken": "not-the-token"},
        base_url=fake.base_url,
        templates=TEMPLATES,
    )

    message = services.send_notification(PHONE_US, "Generic", context={"order": "x"})

    assert [r.answer_status for r in fake.requests] == [401, 201]
    assert fake.requests[0].answer["code"] == 20003
    assert message.connector_name == "twilio-main"
    assert message.attempts[0]["connector"] == wrong.name
    assert message.attempts[0]["error_code"] == "20003"
    assert message.attempts[0]["permanent"] is False


# --- acceptance 5: transient failures fail over, recipient errors do not ------------------


@pytest.mark.parametrize(
    ("break_primary", "error_code"),
    [
        (lambda fake: fake.answer_500(), "500"),
        (lambda fake: fake.answer_error(20429, status=429, message="Too Many Requests"), "20429"),
        (lambda fake: fake.answer_error(20003, status=401, message="Authenticate"), "20003"),
    ],
    ids=["http-500", "throttled-429", "auth-401"],
)
def test_transient_errors_fail_over(api, make_connector, fake, backup_fake, break_primary, error_code):
    twilio(make_connector, fake, name="twilio-primary", priority=10)
    backup = twilio(make_connector, backup_fake, name="twilio-backup", priority=20)
    break_primary(fake)

    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")

    assert response.status_code == 202, response.content
    assert len(fake.messages) == 1
    assert len(backup_fake.messages) == 1
    message = Message.objects.get()
    assert message.connector == backup
    assert message.status == MessageStatus.SENT
    assert message.attempts[0]["connector"] == "twilio-primary"
    assert message.attempts[0]["error_code"] == error_code
    assert message.attempts[0]["permanent"] is False


def test_slow_answer_times_out_and_fails_over(api, make_connector, fake, backup_fake, settings):
    settings.SMS_VERIFY = {"PROVIDER_TIMEOUT": 1}
    twilio(make_connector, fake, name="twilio-slow", priority=10)
    backup = twilio(make_connector, backup_fake, name="twilio-backup", priority=20)
    fake.answer_slowly(5)

    started = time.monotonic()
    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 202, response.content
    assert 1 <= elapsed < 3, elapsed  # bounded by PROVIDER_TIMEOUT, not by the fake's 5 s
    message = Message.objects.get()
    assert message.connector == backup
    assert message.attempts[0]["error_code"] == "timeout"
    assert len(backup_fake.messages) == 1


@pytest.mark.parametrize(
    ("twilio_code", "reason"),
    [
        (21211, "invalid_number"),
        (21610, "unsubscribed"),
        (21408, "region_blocked"),
        (21612, "unreachable"),
        (21614, "not_mobile"),
        (30005, "invalid_number"),
    ],
)
def test_recipient_errors_answer_400_without_failover(
    api, make_connector, fake, backup_fake, twilio_code, reason
):
    twilio(make_connector, fake, name="twilio-primary", priority=10)
    twilio(make_connector, backup_fake, name="twilio-backup", priority=20)
    fake.answer_error(twilio_code, message="The 'To' number is refused.")

    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "recipient_rejected"
    assert body["reason"] == public_reason(reason)
    assert body["detail"]
    assert "+1415" not in body["detail"]  # our wording, not Twilio's text with the number
    assert backup_fake.requests == []  # no failover
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == str(twilio_code)
    assert message.connector_name == "twilio-primary"
    assert Verification.objects.get().status == VerificationStatus.FAILED


def test_notification_to_invalid_number_raises_recipient_rejected(make_connector, fake):
    twilio(make_connector, fake)
    fake.answer_error(21211)

    with pytest.raises(RecipientRejected) as caught:
        services.send_notification(PHONE_US, "Generic", context={"order": "x"})

    assert caught.value.reason == "invalid_number"
    assert caught.value.message_record.error_code == "21211"


def test_every_connector_failing_answers_503(api, make_connector, fake, backup_fake):
    twilio(make_connector, fake, name="twilio-primary", priority=10)
    twilio(make_connector, backup_fake, name="twilio-backup", priority=20)
    fake.answer_500()
    backup_fake.answer_error(20429, status=429)

    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "delivery_failed"
    assert Verification.objects.get().status == VerificationStatus.FAILED
    message = Message.objects.get()
    assert [a["connector"] for a in message.attempts] == ["twilio-primary", "twilio-backup"]


def test_unreachable_api_is_transient(make_connector, fake):
    connector = twilio(make_connector, fake)
    connector.base_url = "http://127.0.0.1:9"  # discard port: nothing listens
    connector.save()

    with pytest.raises(DeliveryFailed) as caught:
        services.send_notification(PHONE_US, "Generic", context={"order": "x"})

    assert caught.value.message_record.attempts[0]["error_code"] == "unavailable"


# --- secrets and codes stay out of logs and errors --------------------------------------


def test_token_and_code_never_logged(api, make_connector, fake, backup_fake, caplog):
    twilio(make_connector, fake, name="twilio-primary", priority=10)
    twilio(make_connector, backup_fake, name="twilio-backup", priority=20)
    fake.answer_error(20003, status=401)
    caplog.set_level(logging.DEBUG)

    response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")

    assert response.status_code == 202
    code = code_in(backup_fake.messages[0]["Body"])
    assert caplog.records  # the library and the app did log
    for text in (fake.auth_token, backup_fake.auth_token, code):
        assert text not in caplog.text
    message = Message.objects.get()
    assert code not in message.body
    assert fake.auth_token not in str(message.attempts)


# --- connector configuration -------------------------------------------------------------


def test_config_needs_a_sender():
    errors = TwilioProvider.validate_config({"accountSID": "AC" + "0" * 32, "authToken": "t"})
    assert "fromNumber" in errors


def test_config_checks_sid_formats():
    errors = TwilioProvider.validate_config(
        {"accountSID": "XY123", "authToken": "t", "fromMessagingServiceSID": "MG1", "fromNumber": "12"}
    )
    assert set(errors) == {"accountSID", "fromMessagingServiceSID", "fromNumber"}


def test_config_needs_token():
    errors = TwilioProvider.validate_config({"accountSID": "AC" + "0" * 32, "fromNumber": FROM_NUMBER})
    assert set(errors) == {"authToken"}


@pytest.mark.parametrize(
    "senders",
    [
        {"fromMessagingServiceSID": SERVICE_SID},
        {"fromNumber": FROM_NUMBER},
        {"fromNumber": "MyBrand"},
        {"fromMessagingServiceSID": SERVICE_SID, "fromNumber": FROM_NUMBER},
    ],
)
def test_valid_configs(senders):
    assert TwilioProvider.validate_config({"accountSID": "AC" + "ab" * 16, "authToken": "t", **senders}) == {}


def test_token_is_stored_encrypted(make_connector, fake):
    connector = twilio(make_connector, fake)
    assert fake.auth_token not in connector.secrets_encrypted
    assert "authToken" not in connector.config
