"""Acceptance 2: the send-to-approval monitor suspends a region under SMS pumping."""

from __future__ import annotations

import time

import pytest

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.abuse.pumping import lift_suspension, suspended_for
from django_sms_verify.exceptions import RateLimited
from django_sms_verify.signals import fraud_suspected
from tests.abuse_support import check_code, cn_numbers, request_code, rotating_ip
from tests.conftest import last_code

MONITOR = {"CONVERSION_MIN_SENDS": 10, "CONVERSION_MIN_RATE": 0.2, "PREFIX_RATE": "1000/h"}


@pytest.fixture
def suspicions():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    fraud_suspected.connect(receiver)
    yield received
    fraud_suspected.disconnect(receiver)


def pump(api, phones, first_ip=0):
    return [
        request_code(api, phone, ip=rotating_ip(first_ip + n)).status_code for n, phone in enumerate(phones)
    ]


@pytest.mark.usefixtures("connector")
def test_a_pumping_run_suspends_its_region_and_only_that_region(api, settings, suspicions):
    settings.SMS_VERIFY = MONITOR
    answers = pump(api, cn_numbers("+861380013", 40))
    # Ten codes go out unanswered, the tenth trips the monitor, the rest are refused.
    assert answers == [202] * 10 + [429] * 30
    assert len(django_sms_verify.outbox) == 10
    assert suspended_for("CN") > 0

    # Another region keeps working, and the check of a code still works there.
    assert request_code(api, "+447400123456", ip=rotating_ip(500)).status_code == 202
    assert check_code(api, "+447400123456", last_code()).status_code == 200

    # The suspension answers like any throttle, and the signal fired once.
    refused = request_code(api, "+8613900139000", ip=rotating_ip(600))
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert len(suspicions) == 1
    assert suspicions[0]["region"] == "CN"
    assert suspicions[0]["sends"] == 10 and suspicions[0]["approvals"] == 0
    assert suspicions[0]["until"].timestamp() > time.time()


@pytest.mark.usefixtures("connector")
def test_a_region_whose_users_enter_their_codes_stays_open(api, settings, suspicions):
    settings.SMS_VERIFY = MONITOR
    for n, phone in enumerate(cn_numbers("+861380013", 30)):
        assert request_code(api, phone, ip=rotating_ip(n)).status_code == 202
        if n % 3 == 0:  # a third of them sign in: well above 20 %
            assert check_code(api, phone, last_code(), ip=rotating_ip(n)).status_code == 200
    assert suspicions == []
    assert suspended_for("CN") == 0


@pytest.mark.usefixtures("connector")
def test_the_cool_down_ends_the_suspension_and_the_region_is_judged_afresh(api, settings, suspicions):
    settings.SMS_VERIFY = {**MONITOR, "CONVERSION_COOLDOWN": 1}
    assert pump(api, cn_numbers("+861380013", 11)) == [202] * 10 + [429]
    time.sleep(1.1)
    # The old counts went with the suspension: ten new sends before it may trip again.
    assert pump(api, cn_numbers("+861380014", 11), first_ip=100) == [202] * 10 + [429]
    assert len(suspicions) == 2


@pytest.mark.usefixtures("connector")
def test_an_operator_can_lift_a_suspension(api, settings, suspicions):
    settings.SMS_VERIFY = MONITOR
    pump(api, cn_numbers("+861380013", 10))
    assert request_code(api, "+8613900139000", ip=rotating_ip(700)).status_code == 429
    lift_suspension("CN")
    assert request_code(api, "+8613900139000", ip=rotating_ip(701)).status_code == 202


@pytest.mark.usefixtures("connector")
def test_the_python_api_is_refused_the_same_way(settings, suspicions):
    settings.SMS_VERIFY = MONITOR
    for phone in cn_numbers("+861380013", 10):
        services.request_verification(phone, "SignIn")
    with pytest.raises(RateLimited) as refused:
        services.request_verification("+8613900139000", "SignIn")
    assert refused.value.reason == "region_suspended"
    assert len(suspicions) == 1


@pytest.mark.usefixtures("connector")
def test_zero_minimum_sends_turns_the_monitor_off(api, settings, suspicions):
    settings.SMS_VERIFY = {**MONITOR, "CONVERSION_MIN_SENDS": 0}
    assert pump(api, cn_numbers("+861380013", 30)) == [202] * 30
    assert suspicions == []
