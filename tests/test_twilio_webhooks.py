"""Twilio webhooks: signed status callbacks update the delivery log (never backwards);
inbound STOP/START keywords record and lift opt-outs. Requests are signed the way Twilio
signs them, with the library's ``RequestValidator``."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from django_sms_verify import services
from django_sms_verify.exceptions import OptedOut
from django_sms_verify.models import Message, MessageStatus, OptOut
from django_sms_verify.signals import message_status_changed
from tests.conftest import PHONE_CN, PHONE_US, REQUEST_URL
from tests.fakes.twilio import FakeTwilioAPI

SERVICE_SID = "MG" + "0123456789abcdef" * 2
STATUS_PATH = "/api/sms-verify/webhooks/twilio/{name}/status/"
INBOUND_PATH = "/api/sms-verify/webhooks/twilio/{name}/inbound/"
TEMPLATES = {
    "SignIn": {"content": "SignIn code <<code>>"},
    "Generic": {"content": "Order <<order>> has shipped"},
}


@pytest.fixture
def fake():
    with FakeTwilioAPI() as server:
        yield server


@pytest.fixture
def connector(make_connector, fake):
    return make_connector(
        "twilio-main",
        "twilio",
        templates=TEMPLATES,
        **fake.connector_fields(messaging_service_sid=SERVICE_SID),
    )


@pytest.fixture
def message(connector, fake) -> Message:
    """A notification really sent through the fake: it has Twilio's SM... sid."""
    return services.send_notification(PHONE_US, "Generic", context={"order": "A-17"})


@pytest.fixture
def status_changes():
    seen = []

    def spy(sender, message, old_status, new_status, **kwargs):
        seen.append((message.pk, old_status, new_status))

    message_status_changed.connect(spy)
    yield seen
    message_status_changed.disconnect(spy)


def post_signed(path, params, token, *, origin="http://testserver", signature=None):
    """POST ``params`` form-encoded, as Twilio does, signed for ``origin`` + ``path``."""
    if signature is None:
        signature = RequestValidator(token).compute_signature(origin + path, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return Client().post(path, urlencode(params), content_type="application/x-www-form-urlencoded", **headers)


def status_params(message, status, **extra):
    return {
        "MessageSid": message.provider_message_id,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550100",
        "To": message.to,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def test_providers_md_signature_vector():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    validator = RequestValidator("12345")
    assert validator.compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert validator.validate(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


# --- acceptance 3: status callbacks ------------------------------------------------------------


def test_signed_delivered_callback_updates_log_and_fires_signal(message, fake, status_changes):
    assert message.status == MessageStatus.SENT
    path = STATUS_PATH.format(name="twilio-main")

    response = post_signed(path, status_params(message, "delivered"), fake.auth_token)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None
    assert status_changes == [(message.pk, MessageStatus.SENT, MessageStatus.DELIVERED)]


def test_late_sent_after_delivered_stays_delivered(message, fake, status_changes):
    path = STATUS_PATH.format(name="twilio-main")

    for status in ("delivered", "sent", "sending", "queued"):
        assert post_signed(path, status_params(message, status), fake.auth_token).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert status_changes == [(message.pk, MessageStatus.SENT, MessageStatus.DELIVERED)]


def test_undelivered_records_twilio_error(message, fake, status_changes):
    path = STATUS_PATH.format(name="twilio-main")
    params = status_params(message, "undelivered", ErrorCode="30003")

    assert post_signed(path, params, fake.auth_token).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.UNDELIVERED
    assert message.error_code == "30003"
    assert message.error_message == "Unreachable destination handset"
    assert status_changes[-1][2] == MessageStatus.UNDELIVERED


@pytest.mark.parametrize(
    "how",
    ["unsigned", "other-token", "other-url", "tampered-params", "garbage"],
)
def test_bad_signatures_get_403_and_change_nothing(message, fake, status_changes, how):
    path = STATUS_PATH.format(name="twilio-main")
    params = status_params(message, "delivered")
    validator = RequestValidator(fake.auth_token)
    signature = {
        "unsigned": "",
        "other-token": RequestValidator("not-the-token").compute_signature(
            "http://testserver" + path, params
        ),
        "other-url": validator.compute_signature("http://testserver/elsewhere/", params),
        "tampered-params": validator.compute_signature(
            "http://testserver" + path, status_params(message, "failed")
        ),
        "garbage": "bm90IGEgc2lnbmF0dXJl",
    }[how]

    response = post_signed(path, params, fake.auth_token, signature=signature)

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert status_changes == []


def test_public_base_url_is_what_is_signed(message, fake, settings):
    settings.SMS_VERIFY = {"PUBLIC_BASE_URL": "https://sms.example.com"}
    path = STATUS_PATH.format(name="twilio-main")

    # Signed for the URL Django sees behind the proxy: refused.
    refused = post_signed(path, status_params(message, "delivered"), fake.auth_token)
    assert refused.status_code == 403
    # Signed for the public URL Twilio called: accepted.
    accepted = post_signed(
        path, status_params(message, "delivered"), fake.auth_token, origin="https://sms.example.com"
    )
    assert accepted.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_status_callback_url_given_to_twilio_is_the_one_that_validates(api, connector, fake):
    # End to end: the StatusCallback our send gave Twilio, signed as Twilio would sign it.
    assert (
        api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json").status_code == 202
    )
    [form] = fake.messages
    callback = form["StatusCallback"]
    origin, path = callback.split("/api/", 1)
    message = Message.objects.get()

    response = post_signed(
        "/api/" + path, status_params(message, "delivered"), fake.auth_token, origin=origin
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_call_status_completed_means_delivered(api, make_connector, fake):
    make_connector(
        "twilio-calls",
        "twilio",
        templates={"SignIn": {"content": "Code <<code>>", "language": "en"}},
        **fake.connector_fields(from_number="+14155550100"),
    )
    response = api.post(
        REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn", "channel": "voice"}, format="json"
    )
    assert response.status_code == 202
    message = Message.objects.get()
    params = {"CallSid": message.provider_message_id, "CallStatus": "completed", "To": PHONE_US}

    assert post_signed(STATUS_PATH.format(name="twilio-calls"), params, fake.auth_token).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_callback_for_another_connectors_message_changes_nothing(message, make_connector, status_changes):
    with FakeTwilioAPI() as other_fake:
        make_connector(
            "twilio-other",
            "twilio",
            templates=TEMPLATES,
            **other_fake.connector_fields(messaging_service_sid=SERVICE_SID),
        )
        path = STATUS_PATH.format(name="twilio-other")

        response = post_signed(path, status_params(message, "delivered"), other_fake.auth_token)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert status_changes == []


def test_unknown_sid_and_unknown_status_are_acknowledged(message, fake, status_changes):
    path = STATUS_PATH.format(name="twilio-main")
    unknown_sid = status_params(message, "delivered", MessageSid="SM" + "f" * 32)
    unknown_status = status_params(message, "partially_delivered")

    assert post_signed(path, unknown_sid, fake.auth_token).status_code == 200
    assert post_signed(path, unknown_status, fake.auth_token).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert status_changes == []


def test_unknown_connector_is_404_and_get_is_405(connector, fake):
    assert post_signed(STATUS_PATH.format(name="nobody"), {}, fake.auth_token).status_code == 404
    assert Client().get(STATUS_PATH.format(name="twilio-main")).status_code == 405


# --- acceptance 4: STOP / START ----------------------------------------------------------------


def inbound(body, fake, *, phone=PHONE_US, **extra):
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+14155550100",
        "Body": body,
        **extra,
    }
    return post_signed(INBOUND_PATH.format(name="twilio-main"), params, fake.auth_token)


def test_stop_refuses_notifications_and_start_allows_them_again(api, connector, fake):
    response = inbound("STOP", fake)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response />")
    assert OptOut.objects.filter(phone=PHONE_US, connector_name="twilio-main").exists()

    with pytest.raises(OptedOut) as refused:
        services.send_notification(PHONE_US, "Generic", context={"order": "A-17"})
    assert "unsubscribed" in str(refused.value.message)
    assert refused.value.message_record.status == MessageStatus.FAILED
    assert refused.value.message_record.error_code == "opted_out"
    assert fake.messages == []

    # Verification codes still go: the user asked for this one.
    assert (
        api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json").status_code == 202
    )
    assert len(fake.messages) == 1

    assert inbound("START", fake).status_code == 200
    assert not OptOut.objects.exists()
    sent = services.send_notification(PHONE_US, "Generic", context={"order": "A-17"})
    assert sent.status == MessageStatus.SENT
    assert fake.messages[-1]["Body"] == "Order A-17 has shipped"


@pytest.mark.parametrize(
    "keyword", ["STOP", "stop", " Stop ", "UNSUBSCRIBE", "退订", "STOPALL", "CANCEL", "END", "QUIT"]
)
def test_opt_out_keywords(connector, fake, keyword):
    assert inbound(keyword, fake, phone=PHONE_CN).status_code == 200
    assert services.is_opted_out(PHONE_CN)


@pytest.mark.parametrize("keyword", ["START", "unstop", "YES"])
def test_opt_in_keywords(connector, fake, keyword):
    services.record_opt_out(PHONE_CN, connector_name="twilio-main", keyword="STOP")
    assert inbound(keyword, fake, phone=PHONE_CN).status_code == 200
    assert not services.is_opted_out(PHONE_CN)


def test_other_messages_change_nothing(connector, fake):
    assert inbound("please stop calling me at night", fake).status_code == 200
    assert not OptOut.objects.exists()


def test_advanced_opt_out_type_is_honoured(connector, fake):
    assert inbound("ARRETER", fake, OptOutType="STOP").status_code == 200
    assert services.is_opted_out(PHONE_US)


def test_unsigned_inbound_is_refused(connector, fake):
    params = {"From": PHONE_US, "Body": "STOP", "MessageSid": "SM" + "a" * 32}
    forged = RequestValidator("guess").compute_signature(
        "http://testserver" + INBOUND_PATH.format(name="twilio-main"), params
    )

    assert (
        post_signed(INBOUND_PATH.format(name="twilio-main"), params, "", signature=forged).status_code == 403
    )
    assert not OptOut.objects.exists()
