"""Enumeration: the request endpoint answers every valid number alike, whatever happens
behind it; every throttle (and a suspended region) answers the same 429."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from django.core.cache import cache

from django_sms_verify.models import Message, Verification
from tests.abuse_support import check_code, cn_numbers, request_code, rotating_ip

ALL_OPEN = {"PREFIX_RATE": "1000/h", "CONVERSION_MIN_SENDS": 0}


def expected_retry_after(before: float, after: float) -> set[str]:
    return {str(60 - int(t) % 60) for t in (before, after)}


def normalized_throttle_answer(response, before: float, after: float) -> tuple:
    """The answer with the clock taken out: status, body, header names and values."""
    assert response.status_code == 429
    retry_after = response["Retry-After"]
    assert retry_after in expected_retry_after(before, after)
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {retry_after} seconds.",
        "code": "throttled",
    }
    assert response["Cache-Control"] == "no-store"
    headers = {name.lower(): value for name, value in response.items()}
    headers["retry-after"] = "<now>"
    headers.pop("content-length")  # the detail's number may have one digit or two
    return response.status_code, tuple(sorted(headers.items()))


def throttled_by(api, settings, cause: str):
    """A request refused by ``cause``, made at a moment the caller notes."""
    if cause == "ip":
        settings.SMS_VERIFY = {**ALL_OPEN, "IP_RATE": "1/h"}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613900139000", ip="192.0.2.1")
    if cause == "resend":
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613800138000", ip="192.0.2.2")
    if cause == "phone":
        settings.SMS_VERIFY = {**ALL_OPEN, "RESEND_INTERVAL": 0, "PHONE_RATE": "1/h"}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613800138000", ip="192.0.2.2")
    if cause == "max_sends":
        settings.SMS_VERIFY = {**ALL_OPEN, "RESEND_INTERVAL": 0, "MAX_SENDS": 1}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613800138000", ip="192.0.2.2")
    if cause == "prefix":
        settings.SMS_VERIFY = {"PREFIX_RATE": "1/h", "CONVERSION_MIN_SENDS": 0}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613800138001", ip="192.0.2.2")
    if cause == "region_suspended":
        settings.SMS_VERIFY = {"CONVERSION_MIN_SENDS": 1}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        return lambda: request_code(api, "+8613900139000", ip="192.0.2.2")
    if cause == "check":
        settings.SMS_VERIFY = {**ALL_OPEN, "PHONE_CHECK_RATE": "1/h"}
        request_code(api, "+8613800138000", ip="192.0.2.1")
        check_code(api, "+8613800138000", "000000")
        return lambda: check_code(api, "+8613800138000", "000000")
    raise AssertionError(cause)


CAUSES = ["ip", "resend", "phone", "max_sends", "prefix", "region_suspended", "check"]


@pytest.mark.usefixtures("connector")
def test_every_throttle_answers_the_same_429(api, settings):
    answers = {}
    for cause in CAUSES:
        cache.clear()
        Verification.objects.all().delete()
        settings.SMS_VERIFY = ALL_OPEN
        call = throttled_by(api, settings, cause)
        before = time.time()
        response = call()
        answers[cause] = normalized_throttle_answer(response, before, time.time())
    assert len(set(answers.values())) == 1, answers


@pytest.mark.usefixtures("connector")
def test_a_first_send_and_a_resend_answer_alike(api, settings):
    settings.SMS_VERIFY = {**ALL_OPEN, "RESEND_INTERVAL": 0}
    request_code(api, "+8613800138000", ip="192.0.2.1")  # someone asked for this number
    time.sleep(1.1)  # ...a while ago
    resent = request_code(api, "+8613800138000", ip="192.0.2.2")
    first = request_code(api, "+8613900139000", ip="192.0.2.2")
    assert resent.status_code == first.status_code == 202
    assert sorted(resent.json()) == sorted(first.json())
    assert dict(resent.items()).keys() == dict(first.items()).keys()
    for answer in (resent.json(), first.json()):
        assert answer["status"] == "pending" and answer["resend_after"] == 0
        expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
        # A resend no longer shows the earlier request's (shorter) expiry.
        assert abs(expires.timestamp() - (time.time() + 600)) < 1


def test_a_provider_refusal_reveals_no_reason(api, make_connector, settings):
    """Whatever the provider says about the number (invalid, unsubscribed, blacklisted),
    the API gives one answer; the delivery log keeps the provider's reason."""
    settings.SMS_VERIFY = ALL_OPEN
    make_connector(config={"fail": "permanent:unsubscribed"})
    response = request_code(api, "+8613800138000")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This phone number cannot receive messages.",
        "code": "recipient_rejected",
        "reason": "rejected",
    }
    assert Message.objects.get().error_code == "unsubscribed"


@pytest.mark.usefixtures("connector")
def test_one_number_of_a_block_tells_nothing_of_its_neighbours(api, settings):
    """The answers for a block's numbers are alike until the block limit, and alike after."""
    settings.SMS_VERIFY = {"PREFIX_RATE": "5/h", "CONVERSION_MIN_SENDS": 0}
    answers = [request_code(api, p, ip=rotating_ip(n)) for n, p in enumerate(cn_numbers("+861380013", 8))]
    shapes = {(a.status_code, tuple(sorted(a.json()))) for a in answers}
    assert shapes == {
        (202, ("channel", "expires_at", "id", "phone", "resend_after", "status", "usage_type")),
        (429, ("code", "detail")),
    }
