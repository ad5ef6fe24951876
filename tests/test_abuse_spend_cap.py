"""Acceptance 3: daily spend caps, overall and per connector, exact under concurrency."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.abuse.spend_caps import spend_status
from django_sms_verify.exceptions import DeliveryFailed
from django_sms_verify.models import DailySendCount, Message, MessageStatus
from django_sms_verify.signals import spend_cap_reached
from tests.abuse_support import cn_numbers, request_code, rotating_ip

OPEN_LIMITS = {"PREFIX_RATE": "1000/h", "CONVERSION_MIN_SENDS": 0}
ON_POSTGRES = connection.vendor == "postgresql" or os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture
def caps_reached():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    spend_cap_reached.connect(receiver)
    yield received
    spend_cap_reached.disconnect(receiver)


def send_many(api, count, first=0):
    phones = cn_numbers("+861380013", count, start=first)
    return [request_code(api, p, ip=rotating_ip(first + n)).status_code for n, p in enumerate(phones)]


@pytest.mark.usefixtures("connector")
def test_the_overall_cap_stops_sends_with_a_clear_record(api, settings, caps_reached):
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 5}
    assert send_many(api, 8) == [202] * 5 + [503] * 3
    assert len(django_sms_verify.outbox) == 5
    assert api.post(
        "/api/sms-verify/verifications/", {"phone": "+8613900139000", "usage_type": "SignIn"}, format="json"
    ).json() == {"detail": "The message could not be sent. Try again later.", "code": "delivery_failed"}

    refused = Message.objects.filter(status=MessageStatus.FAILED)
    assert refused.count() == 4
    assert {m.error_code for m in refused} == {"spend_cap"}
    assert {m.error_message for m in refused} == {"Daily send cap of all connectors reached (5)."}

    overall = spend_status()[0]
    assert (overall.connector_name, overall.sent, overall.cap, overall.refused) == ("", 5, 5, 4)
    assert overall.exhausted and overall.remaining == 0 and overall.cap_reached_at is not None
    assert len(caps_reached) == 1 and caps_reached[0]["connector_name"] == "" and caps_reached[0]["cap"] == 5


@pytest.mark.usefixtures("connector")
def test_raising_the_cap_lets_sends_through_again(api, settings):
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 2}
    assert send_many(api, 3) == [202, 202, 503]
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 4}
    assert send_many(api, 3, first=10) == [202, 202, 503]
    assert len(django_sms_verify.outbox) == 4


@pytest.mark.usefixtures("connector")
def test_the_cap_is_per_day(api, settings):
    """Yesterday's spent cap does not stop today's sends."""
    yesterday = timezone.localdate() - timedelta(days=1)
    DailySendCount.objects.create(day=yesterday, connector_name="", sent=3, cap_reached_at=timezone.now())
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 3}
    assert send_many(api, 4) == [202] * 3 + [503]
    assert spend_status(yesterday)[0].sent == 3
    assert spend_status()[0].sent == 3


def test_a_connector_past_its_cap_hands_over_to_the_next(api, make_connector, settings, caps_reached):
    make_connector("cheap", priority=1)
    make_connector("backup", priority=2)
    settings.SMS_VERIFY = {**OPEN_LIMITS, "CONNECTOR_DAILY_SEND_CAPS": {"cheap": 2, "backup": 1}}
    assert send_many(api, 4) == [202, 202, 202, 503]
    assert [m.connector for m in django_sms_verify.outbox] == ["cheap", "cheap", "backup"]
    last = Message.objects.get(to="+8613800130003")
    assert [a["error_code"] for a in last.attempts] == ["spend_cap", "spend_cap"]
    statuses = {s.connector_name: (s.sent, s.cap, s.exhausted) for s in spend_status()}
    # no overall cap here, so no overall count is kept (uncapped sends cost no query)
    assert statuses == {"": (0, None, False), "backup": (1, 1, True), "cheap": (2, 2, True)}
    assert sorted(c["connector_name"] for c in caps_reached) == ["backup", "cheap"]


def test_test_sends_and_notifications_count_too(make_connector, settings):
    connector = make_connector(
        templates={
            "Generic": {"content": "Order <<order>> has shipped"},
            "SignIn": {"content": "Sign-in code <<code>>"},
        }
    )
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 2}
    services.send_notification("+8613800138000", "Generic", context={"order": "A-17"})
    assert services.send_test_message(connector, "+8613800138001", "SignIn").status == MessageStatus.SENT
    refused = services.send_test_message(connector, "+8613800138002", "SignIn")
    assert (refused.status, refused.error_code) == (MessageStatus.FAILED, "spend_cap")
    with pytest.raises(DeliveryFailed):
        services.send_notification("+8613800138003", "Generic", context={"order": "A-18"})
    assert len(django_sms_verify.outbox) == 2


@pytest.mark.usefixtures("connector")
def test_the_admin_shows_the_counts_and_a_notice_when_a_cap_is_reached(api, settings):
    settings.SMS_VERIFY = {**OPEN_LIMITS, "DAILY_SEND_CAP": 1}
    send_many(api, 2)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_login(admin)
    page = client.get("/admin/sms_verify/dailysendcount/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Daily send cap reached for all connectors: 1 of 1; sends are stopped." in html
    assert "All connectors" in html


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrency needs PostgreSQL (DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_stop_exactly_at_the_caps(make_connector, settings, caps_reached):
    """20 requests at once, a connector cap of 7 and an overall cap of 10: exactly 7
    codes through the first connector, 3 through the second, 10 answers 503."""
    make_connector("first", priority=1)
    make_connector("second", priority=2)
    settings.SMS_VERIFY = {
        **OPEN_LIMITS,
        "DAILY_SEND_CAP": 10,
        "CONNECTOR_DAILY_SEND_CAPS": {"first": 7},
    }
    phones = cn_numbers("+861380013", 20)
    start = threading.Barrier(len(phones))
    answers: list[int] = []

    def one(n: int, phone: str) -> None:
        try:
            client = APIClient()
            start.wait(timeout=10)
            answers.append(request_code(client, phone, ip=rotating_ip(n)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(n, p)) for n, p in enumerate(phones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [202] * 10 + [503] * 10
    sent_by = [m.connector for m in django_sms_verify.outbox]
    assert sorted(sent_by) == ["first"] * 7 + ["second"] * 3
    counts = {s.connector_name: s.sent for s in spend_status()}
    assert counts == {"": 10, "first": 7}  # "second" has no cap of its own: not counted
    assert sorted(c["connector_name"] for c in caps_reached) == ["", "first"]
