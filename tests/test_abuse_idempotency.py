"""Acceptance 5: the Idempotency-Key header on the request endpoint (IETF draft)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

import django_sms_verify
from django_sms_verify.models import Verification
from django_sms_verify.signals import message_status_changed
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL

BODY = {"phone": PHONE_CN, "usage_type": "SignIn"}


def post(client, body=None, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(REQUEST_URL, body or BODY, format="json", **headers, **extra)


@pytest.mark.usefixtures("connector")
def test_the_same_key_and_body_replay_the_first_answer(api):
    key = str(uuid.uuid4())
    first = post(api, key=key)
    assert first.status_code == 202
    replay = post(api, key=key)
    assert replay.status_code == 202
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    for header in ("Content-Type", "Cache-Control", "Vary", "Allow"):
        assert replay[header] == first[header]
    assert len(django_sms_verify.outbox) == 1
    assert Verification.objects.get().send_count == 1


@pytest.mark.usefixtures("connector")
def test_the_same_body_in_another_order_or_spacing_is_the_same_request(api):
    key = "order-independent"
    assert post(api, key=key).status_code == 202
    raw = '{ "usage_type": "SignIn",   "phone": "' + PHONE_CN + '" }'
    replay = api.post(REQUEST_URL, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"


@pytest.mark.usefixtures("connector")
def test_the_same_key_with_another_body_is_422(api):
    assert post(api, key="k-1").status_code == 202
    response = post(api, {"phone": PHONE_US, "usage_type": "SignIn"}, key="k-1")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was already used with a different request.",
        "code": "idempotency_key_mismatch",
    }
    assert response["Cache-Control"] == "no-store"
    assert [m.to for m in django_sms_verify.outbox] == [PHONE_CN]


@pytest.mark.usefixtures("connector")
def test_keys_are_independent_and_requests_without_one_are_not_replayed(api, settings):
    settings.SMS_VERIFY = {"RESEND_INTERVAL": 0}
    assert post(api, key="a").status_code == 202
    assert post(api, key="b").status_code == 202  # a new key: a new request (a resend)
    assert "Idempotent-Replayed" not in post(api)
    assert len(django_sms_verify.outbox) == 3


@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("key", ["", "x" * 256, "é", "line\nbreak"])
def test_a_malformed_key_is_400(api, key):
    response = post(api, key=key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert django_sms_verify.outbox == []


@pytest.mark.usefixtures("connector")
def test_a_quoted_key_as_the_draft_writes_it_is_the_same_key(api):
    assert post(api, key='"abc-123"').status_code == 202
    assert post(api, key="abc-123")["Idempotent-Replayed"] == "true"


@pytest.mark.usefixtures("connector")
def test_a_throttled_answer_is_not_kept(api, settings):
    """Nothing was sent: a retry with the same key after the limit may succeed."""
    settings.SMS_VERIFY = {"IP_RATE": "1/h"}
    assert post(api, key="first", REMOTE_ADDR="192.0.2.1").status_code == 202
    assert (
        post(api, {"phone": PHONE_US, "usage_type": "SignIn"}, key="t", REMOTE_ADDR="192.0.2.1").status_code
        == 429
    )
    retried = post(api, {"phone": PHONE_US, "usage_type": "SignIn"}, key="t", REMOTE_ADDR="192.0.2.2")
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried


def test_a_failed_delivery_is_not_kept(api, make_connector):
    connector = make_connector(config={"fail": "transient"})
    assert post(api, key="retry-me").status_code == 503
    connector.config = {}
    connector.save()
    assert post(api, key="retry-me").status_code == 202
    assert len(django_sms_verify.outbox) == 1


@pytest.mark.usefixtures("connector")
def test_keys_expire_after_idempotency_ttl(api, settings):
    import time

    settings.SMS_VERIFY = {"IDEMPOTENCY_TTL": 1, "RESEND_INTERVAL": 0}
    assert post(api, key="short").status_code == 202
    time.sleep(1.1)
    again = post(api, key="short")
    assert again.status_code == 202 and "Idempotent-Replayed" not in again
    assert len(django_sms_verify.outbox) == 2


@pytest.mark.usefixtures("connector")
def test_the_check_endpoint_ignores_the_header(api):
    """Only the request endpoint sends; a check is not replayed (a code approves once)."""
    assert post(api).status_code == 202
    body = {"phone": PHONE_CN, "usage_type": "SignIn", "code": "000000"}
    for attempts_left in (4, 3):
        response = api.post(CHECK_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="c")
        assert response.json()["attempts_left"] == attempts_left


class HeldDelivery:
    """Holds the first send inside the request (while its message is being recorded)
    until the test lets it go, through the app's own message_status_changed signal."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, sender, message, old_status, new_status, **kwargs) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(timeout=20)

    def __enter__(self):
        message_status_changed.connect(self, weak=False)
        return self

    def __exit__(self, *exc):
        self.release.set()
        message_status_changed.disconnect(self)


@pytest.mark.django_db(transaction=True)
def test_a_request_while_the_first_is_running_is_409(make_connector):
    make_connector()
    answers: dict[str, object] = {}

    def first() -> None:
        try:
            answers["first"] = post(APIClient(), key="busy")
        finally:
            connection.close()

    with HeldDelivery() as held:
        thread = threading.Thread(target=first)
        thread.start()
        assert held.entered.wait(timeout=20)
        second = post(APIClient(), key="busy")
        assert second.status_code == 409
        assert second.json() == {
            "detail": "A request with this Idempotency-Key is still being processed.",
            "code": "idempotency_key_in_use",
        }
        assert second["Retry-After"] == "1"
        held.release.set()
        thread.join(timeout=20)
    assert answers["first"].status_code == 202
    third = post(APIClient(), key="busy")
    assert third.status_code == 202 and third.content == answers["first"].content
    assert len(django_sms_verify.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_send_once(make_connector):
    """Released together: one runs; the other gets 409 (still running) or the replay."""
    make_connector()
    start = threading.Barrier(2)
    answers = []

    def one() -> None:
        try:
            client = APIClient()
            start.wait(timeout=10)
            answers.append(post(client, key="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([202, 409], [202, 202])
    if statuses == [202, 202]:
        assert answers[0].content == answers[1].content
        assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 1
    assert len(django_sms_verify.outbox) == 1
    assert Verification.objects.count() == 1
