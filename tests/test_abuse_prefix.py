"""Acceptance 1: a velocity limit per number block (the number without its last 4 digits)."""

from __future__ import annotations

import pytest

import django_sms_verify
from tests.abuse_support import cn_numbers, request_code, rotating_ip


@pytest.mark.usefixtures("connector")
def test_consecutive_numbers_from_rotating_ips_trip_the_prefix_limit(api):
    """100 numbers of one block, each from its own IP: the default PREFIX_RATE (20/h) lets
    20 codes out, every other request gets the ordinary 429."""
    answers = [
        request_code(api, phone, ip=rotating_ip(n)).status_code
        for n, phone in enumerate(cn_numbers("+861380013", 100))
    ]
    assert len(django_sms_verify.outbox) == 20
    assert answers == [202] * 20 + [429] * 80


@pytest.mark.usefixtures("connector")
def test_the_limit_is_a_setting_and_other_blocks_keep_working(api, settings):
    settings.SMS_VERIFY = {"PREFIX_RATE": "3/h"}
    block_a = cn_numbers("+861380013", 10)
    block_b = cn_numbers("+861380014", 3)
    answers_a = [request_code(api, p, ip=rotating_ip(n)).status_code for n, p in enumerate(block_a)]
    answers_b = [request_code(api, p, ip=rotating_ip(100 + n)).status_code for n, p in enumerate(block_b)]
    assert answers_a == [202] * 3 + [429] * 7
    assert answers_b == [202] * 3
    assert sorted(m.to for m in django_sms_verify.outbox) == sorted(block_a[:3] + block_b)


@pytest.mark.usefixtures("connector")
def test_refused_requests_do_not_eat_the_block(api, settings):
    """A request refused by another limit (here the number's own) does not count against
    the block, so hammering one number cannot lock its 9 999 neighbours out."""
    settings.SMS_VERIFY = {"PREFIX_RATE": "2/h", "RESEND_INTERVAL": 0, "PHONE_RATE": "1/h"}
    target, neighbour = cn_numbers("+861380013", 2)
    answers = [request_code(api, target, ip=rotating_ip(n)).status_code for n in range(10)]
    assert answers == [202] + [429] * 9
    assert request_code(api, neighbour, ip=rotating_ip(50)).status_code == 202
