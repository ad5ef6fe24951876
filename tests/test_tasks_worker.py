"""Tasks mode with a real worker: the database backend's ``db_worker`` in its own process.

The API answers before any provider is called; the worker sends through a fake provider
server; a worker killed in the middle of a send loses nothing.
"""

from __future__ import annotations

import re
import time

import pytest

from django_sms_verify.models import Message, MessageStatus, Verification
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL
from tests.fakes.http_sms import KEY, fake_sms_server
from tests.fakes.worker import kill, tasks_settings, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workers(settings, tmp_path):
    env = tasks_settings(settings, tmp_path)
    yield env
    env.stop_all()


def fake_connector(make_connector, server, name="fake", **kwargs):
    return make_connector(name, KEY, base_url=server.url, secrets={"token": server.token}, **kwargs)


def message_for(verification_id) -> Message:
    return Message.objects.filter(verification_id=verification_id).order_by("-created_at").first()


def status_of(api, verification_id) -> dict:
    response = api.get(f"{REQUEST_URL}{verification_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_api_answers_before_the_provider_is_called_and_the_worker_sends(api, make_connector, workers):
    from django_tasks_db.models import DBTaskResult

    with fake_sms_server() as fake:
        fake_connector(make_connector, fake)
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
        assert response.status_code == 202, response.content
        verification_id = response.json()["id"]

        # No worker runs yet: the answer cannot have waited for the provider.
        assert fake.received == []
        message = message_for(verification_id)
        assert message.status == MessageStatus.QUEUED
        assert DBTaskResult.objects.filter(status="READY").count() == 1
        assert status_of(api, verification_id)["delivery"]["status"] == "queued"

        workers.start_worker()
        [received] = fake.wait_for(1)
        assert received.to == PHONE_CN
        assert received.reference == str(message.pk)
        assert fake.rejected == []
        code = re.search(r"code (\d+)", received.text).group(1)

        wait_until(lambda: message_for(verification_id).status == MessageStatus.SENT)
        message = message_for(verification_id)
        assert message.provider_message_id.startswith("fake-")
        assert message.connector_name == "fake"
        assert code not in message.body and "******" in message.body
        assert message.attempts == []
        state = status_of(api, verification_id)
        assert state["status"] == "pending"
        assert state["delivery"]["status"] == "sent"

    response = api.post(CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": code}, format="json")
    assert response.status_code == 200, response.content


def test_request_does_not_wait_for_a_slow_provider(api, make_connector, workers):
    with fake_sms_server(delay=0.8) as fake:
        fake_connector(make_connector, fake)
        workers.start_worker()
        started = time.time()
        response = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "Register"}, format="json")
        answered = time.time()
        assert response.status_code == 202, response.content
        [received] = fake.wait_for(1)
        # The provider answers 0.8 s after the call reached it; the API had answered before.
        assert answered < received.at + fake.delay
        assert answered - started < fake.delay
        wait_until(lambda: message_for(response.json()["id"]).status == MessageStatus.SENT)


def test_a_worker_killed_mid_send_loses_nothing(api, make_connector, workers):
    from django_tasks_db.models import DBTaskResult

    with fake_sms_server(script=["hang"]) as fake:
        fake_connector(make_connector, fake)
        doomed = workers.start_worker("doomed")
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
        assert response.status_code == 202
        verification_id = response.json()["id"]
        fake.wait_for(1)  # the worker has claimed the task and is inside the provider call
        message = message_for(verification_id)
        assert message.status == MessageStatus.SENDING
        assert message.attempts[-1]["error_code"] == "interrupted"
        assert DBTaskResult.objects.get().status == "RUNNING"

        kill(doomed)
        fake.release()
        # The queue itself never gives the task back: it stays RUNNING for a dead worker.
        assert DBTaskResult.objects.get().status == "RUNNING"

        # Workers recover for each other: once the message has been stuck for STALE_AFTER
        # (2 s here), the next task a live worker runs queues it again.
        rescuer = workers.start_worker("rescuer")
        wait_until(lambda: time.time() - message_for(verification_id).updated_at.timestamp() > 2.1, 10)
        other = api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")
        assert other.status_code == 202
        received = fake.wait_for(3)
        assert sorted(r.to for r in received) == sorted([PHONE_CN, PHONE_CN, PHONE_US])

        wait_until(lambda: message_for(verification_id).status == MessageStatus.SENT)
        message = message_for(verification_id)
        assert [a["error_code"] for a in message.attempts] == ["interrupted"]
        assert message.provider_message_id.startswith("fake-")
        # The interrupted call and the one after recovery carried the same code.
        codes = {re.search(r"code (\d+)", r.text).group(1) for r in received if r.to == PHONE_CN}
        assert len(codes) == 1

        # Sent once the provider accepted: a later requeue or worker never sends it again.
        assert "Requeued 0" in workers.manage("sms_verify_requeue", "--older-than", "0")
        time.sleep(0.3)
        assert len(fake.received) == 3
        assert rescuer.poll() is None
    assert Verification.objects.get(pk=verification_id).status == "pending"
    response = api.post(
        CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": codes.pop()}, format="json"
    )
    assert response.status_code == 200, response.content
