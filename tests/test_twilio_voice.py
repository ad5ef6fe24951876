"""Voice codes through Twilio: a call whose inline TwiML says the code digit by digit,
slowly, twice, in the template's language."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from django_sms_verify.models import Message
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL
from tests.fakes.twilio import FakeTwilioAPI

SERVICE_SID = "MG" + "0123456789abcdef" * 2
FROM_NUMBER = "+14155550100"


@pytest.fixture
def fake():
    with FakeTwilioAPI() as server:
        yield server


def voice_connector(make_connector, fake, *, content, language, name="twilio-voice", priority=10, **senders):
    senders = senders or {"from_number": FROM_NUMBER}
    templates = {"SignIn": {"content": content, "language": language}}
    return make_connector(
        name, "twilio", priority=priority, templates=templates, **fake.connector_fields(**senders)
    )


def request_voice(api, phone):
    return api.post(REQUEST_URL, {"phone": phone, "usage_type": "SignIn", "channel": "voice"}, format="json")


def spoken(twiml: str) -> list[ET.Element]:
    root = ET.fromstring(twiml)  # noqa: S314  (what our code sent to the fake)
    assert root.tag == "Response"
    return root.findall("Say")


def slow_digits(say: ET.Element) -> str:
    """The digits said inside <prosody rate="slow">, checking a pause sits between each two."""
    [prosody] = say.findall("prosody")
    assert prosody.get("rate") == "slow"
    digits = [prosody.text or ""] + [(b.tail or "") for b in prosody.findall("break")]
    assert all(len(d) == 1 and d.isdigit() for d in digits), digits
    return "".join(digits)


def test_english_voice_code_is_said_digit_by_digit_twice(api, make_connector, fake, settings):
    settings.SMS_VERIFY = {"PUBLIC_BASE_URL": "https://sms.example.com"}
    voice_connector(make_connector, fake, content="Your sign-in code is <<code>>.", language="en")

    response = request_voice(api, PHONE_US)

    assert response.status_code == 202, response.content
    assert response.json()["channel"] == "voice"
    [request] = fake.requests
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Calls.json"
    assert set(request.form) == {"To", "From", "Twiml", "StatusCallback"}
    assert request.form["To"] == PHONE_US
    assert request.form["From"] == FROM_NUMBER
    assert request.form["StatusCallback"] == (
        "https://sms.example.com/api/sms-verify/webhooks/twilio/twilio-voice/status/"
    )
    says = spoken(request.form["Twiml"])
    assert len(says) == 2
    codes = {slow_digits(say) for say in says}
    assert len(codes) == 1
    code = codes.pop()
    assert len(code) == 6
    for say in says:
        assert say.get("language") == "en-US"
        assert say.get("voice") == "Polly.Joanna"
        assert say.text == "Your sign-in code is "
    message = Message.objects.get()
    assert message.channel == "voice"
    assert message.provider_message_id == request.answer["sid"]
    assert message.provider_message_id.startswith("CA")
    assert code not in message.body

    # What the call said is the code that verifies.
    checked = api.post(CHECK_URL, {"phone": PHONE_US, "usage_type": "SignIn", "code": code}, format="json")
    assert checked.status_code == 200, checked.content


def test_chinese_template_speaks_mandarin(api, make_connector, fake):
    voice_connector(
        make_connector,
        fake,
        content="您的验证码是<<code>>，<<ttl_minutes>>分钟内有效。",  # noqa: RUF001
        language="zh-CN",
    )

    response = request_voice(api, PHONE_CN)

    assert response.status_code == 202, response.content
    says = spoken(fake.calls[0]["Twiml"])
    assert len(says) == 2
    for say in says:
        assert say.get("language") == "cmn-CN"  # Twilio's code for Polly.Zhiyu's Mandarin
        assert say.get("voice") == "Polly.Zhiyu"
        assert say.text == "您的验证码是"
        assert say.find("prosody").tail == "，10分钟内有效。"  # noqa: RUF001  (short numbers stay numbers)
    code = slow_digits(says[0])
    assert slow_digits(says[1]) == code
    checked = api.post(CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": code}, format="json")
    assert checked.status_code == 200, checked.content


def test_language_without_a_known_voice_separates_digits_with_commas(api, make_connector, fake):
    voice_connector(make_connector, fake, content="Votre code est <<code>>.", language="fr-FR")

    assert request_voice(api, PHONE_US).status_code == 202

    says = spoken(fake.calls[0]["Twiml"])
    assert len(says) == 2
    for say in says:
        assert say.get("language") == "fr-FR"
        assert say.get("voice") is None
        assert say.findall("*") == []  # no SSML for Twilio's default voice
        text = say.text
        assert text.startswith("Votre code est ")
        spelled = text.removeprefix("Votre code est ").rstrip(".,")
        assert all(len(part.strip()) == 1 for part in spelled.split(","))


def test_connector_without_from_number_cannot_call_and_fails_over(api, make_connector, fake):
    with FakeTwilioAPI() as backup:
        voice_connector(
            make_connector,
            fake,
            content="Code <<code>>",
            language="en",
            name="twilio-sms-only",
            priority=10,
            messaging_service_sid=SERVICE_SID,
        )
        voice_connector(
            make_connector, backup, content="Code <<code>>", language="en", name="twilio-calls", priority=20
        )

        response = request_voice(api, PHONE_US)

        assert response.status_code == 202, response.content
        assert fake.requests == []
        assert len(backup.calls) == 1
    message = Message.objects.get()
    assert message.connector_name == "twilio-calls"
    assert message.attempts[0]["connector"] == "twilio-sms-only"
    assert message.attempts[0]["error_code"] == "config"


def test_unreachable_number_for_a_call_answers_400(api, make_connector, fake):
    voice_connector(make_connector, fake, content="Code <<code>>", language="en")
    fake.answer_error(21214, message="'To' phone number cannot be reached")

    response = request_voice(api, PHONE_US)

    assert response.status_code == 400, response.content
    assert response.json()["reason"] == "unreachable"
    assert Message.objects.get().error_code == "21214"


def test_call_timeout_fails_over(api, make_connector, fake, settings):
    settings.SMS_VERIFY = {"PROVIDER_TIMEOUT": 1}
    with FakeTwilioAPI() as backup:
        voice_connector(make_connector, fake, content="Code <<code>>", language="en", name="slow", priority=1)
        voice_connector(make_connector, backup, content="Code <<code>>", language="en", name="ok", priority=2)
        fake.answer_slowly(5)

        assert request_voice(api, PHONE_US).status_code == 202

        assert len(backup.calls) == 1
    assert Message.objects.get().attempts[0]["error_code"] == "timeout"


def test_only_the_code_is_spelled_other_numbers_are_read_as_numbers(api, make_connector, fake):
    voice_connector(
        make_connector,
        fake,
        content="Code <<code>> for order 20261123. Questions: 4008001234.",
        language="en",
    )

    assert request_voice(api, PHONE_US).status_code == 202

    says = spoken(fake.calls[0]["Twiml"])
    code = slow_digits(says[0])
    assert len(code) == 6
    for say in says:
        assert say.text == "Code "
        assert say.find("prosody").tail == " for order 20261123. Questions: 4008001234."
    checked = api.post(CHECK_URL, {"phone": PHONE_US, "usage_type": "SignIn", "code": code}, format="json")
    assert checked.status_code == 200, checked.content
