"""Tasks mode, failures: transient ones are retried on the same connector after growing
delays, then the next connector takes over; a permanent one is final at once."""

from __future__ import annotations

import pytest

from django_sms_verify.models import Message, MessageStatus, Verification
from tests.conftest import PHONE_CN, REQUEST_URL
from tests.fakes.http_sms import KEY, fake_sms_server
from tests.fakes.worker import tasks_settings, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workers(settings, tmp_path):
    # Retries after 0.5 s * 2**n, 75-100 % of it: 0.375-0.5 s, then 0.75-1 s.
    env = tasks_settings(settings, tmp_path, RETRY_ATTEMPTS=2, RETRY_BASE_DELAY=0.5)
    yield env
    env.stop_all()


def connectors(make_connector, primary, backup):
    make_connector("primary", KEY, priority=10, base_url=primary.url, secrets={"token": primary.token})
    make_connector("backup", KEY, priority=20, base_url=backup.url, secrets={"token": backup.token})


def finished(verification_id):
    message = Message.objects.filter(verification_id=verification_id).first()
    return message if message and message.status in (MessageStatus.SENT, MessageStatus.FAILED) else None


def test_transient_failures_are_retried_with_growing_delays_then_fail_over(api, make_connector, workers):
    with fake_sms_server(script=["503", "429", "503"]) as primary, fake_sms_server() as backup:
        connectors(make_connector, primary, backup)
        workers.start_worker()
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
        assert response.status_code == 202
        message = wait_until(lambda: finished(response.json()["id"]))

        assert message.status == MessageStatus.SENT
        assert message.connector_name == "backup"
        first, second, third = primary.received
        [sent] = backup.received
        assert first.text == second.text == third.text == sent.text

        wait_1, wait_2 = second.at - first.at, third.at - second.at
        assert wait_1 >= 0.375
        assert wait_2 >= 0.75
        assert wait_2 > wait_1
        # Once the primary's retries are spent the backup is called at once, not after a delay.
        assert sent.at - third.at < 0.375

        assert [(a["connector"], a["error_code"], a["permanent"]) for a in message.attempts] == [
            ("primary", "503", False),
            ("primary", "429", False),
            ("primary", "503", False),
        ]
        assert message.error_code == ""


def test_a_permanent_failure_is_not_retried_and_voice_can_follow(api, make_connector, workers):
    with fake_sms_server(script=["invalid_number"]) as primary, fake_sms_server() as backup:
        connectors(make_connector, primary, backup)
        workers.start_worker()
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
        assert response.status_code == 202
        verification_id = response.json()["id"]
        message = wait_until(lambda: finished(verification_id))

        assert message.status == MessageStatus.FAILED
        assert message.error_code == "invalid_number"
        assert [(a["connector"], a["permanent"]) for a in message.attempts] == [("primary", True)]
        assert len(primary.received) == 1
        assert backup.received == []
        # Nobody received that code: the verification is not left pending.
        assert Verification.objects.get(pk=verification_id).status == "failed"
        state = api.get(f"{REQUEST_URL}{verification_id}/").json()
        assert state["status"] == "failed"
        assert state["delivery"]["status"] == "failed"
        assert state["delivery"]["error_code"] == "invalid_number"

        # What the sign-in page then offers: the same number by voice, at once (the worker
        # released the resend interval, as sync mode does on a failed send).
        response = api.post(
            REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "channel": "voice"}, format="json"
        )
        assert response.status_code == 202, response.content
        call = wait_until(lambda: finished(response.json()["id"]))
        assert call.status == MessageStatus.SENT
        assert primary.received[-1].channel == "voice"
        assert backup.received == []
