"""Acceptance 6: the security log after a full abuse run has every event, masked, with
no code, token or secret, and no line an attacker could forge."""

from __future__ import annotations

import json
import logging
import re

import pytest

import django_sms_verify
from django_sms_verify.abuse.security_log import security_event
from tests.abuse_support import SECURITY_LOGGER, check_code, cn_numbers, request_code, rotating_ip
from tests.conftest import REQUEST_URL

SECRET = "auth-token-4be1d6c08f2a9e37"
MASKED_PHONE = re.compile(r"\+\d{1,11}\*{4}\d{4}")
E164_ANYWHERE = re.compile(r"\+\d{9,15}")


def security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SECURITY_LOGGER]


@pytest.mark.urls("tests.abuse_urls")
def test_a_full_abuse_run_is_in_the_security_log(api, make_connector, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.SMS_VERIFY = {"IP_RATE": "3/h", "PREFIX_RATE": "2/h", "CONVERSION_MIN_SENDS": 4}
    connector = make_connector(secrets={"authToken": SECRET})
    make_connector("refuses-gb", regions=["GB"], config={"fail": "permanent"}, priority=1)
    tokens, codes = [], []

    # A user asks for a code, mistypes it, then enters it: request, failed check, approval.
    user = "+8613800138000"
    assert request_code(api, user, ip="198.51.100.7").status_code == 202
    codes.append(re.search(r"code (\d+)", django_sms_verify.outbox[-1].text).group(1))
    assert check_code(api, user, "000000", ip="198.51.100.7").status_code == 400
    approved = check_code(api, user, codes[-1], ip="198.51.100.7")
    tokens.append(approved.json()["verification_token"])

    # One IP sprays numbers: its limit; then, from rotating IPs, one block's limit.
    spray = ["+12015550123", "+13125550123", "+16175550123", "+17135550123"]
    assert [request_code(api, p, ip="198.51.100.66").status_code for p in spray] == [202] * 3 + [429]
    block = [
        request_code(api, p, ip=rotating_ip(n)).status_code for n, p in enumerate(cn_numbers("+861370013", 3))
    ]
    assert block == [202, 202, 429]
    # Pumping: unanswered codes to CN (6 sends, 1 approval: under 20 %) suspend the region.
    pumping = ["+8613500135000", "+8613600136000", "+8613300133000", "+8613100131000"]
    answers = [request_code(api, p, ip=rotating_ip(100 + n)).status_code for n, p in enumerate(pumping)]
    assert answers == [202, 202, 202, 429]
    codes.extend(re.search(r"code (\d+)", m.text).group(1) for m in django_sms_verify.outbox)
    # A landline, a provider refusal, a reused idempotency key, a spent daily cap.
    request_code(api, "+442079460000", ip="198.51.100.8")
    request_code(api, "+447400123456", ip="198.51.100.8")
    for body in (
        {"phone": "+14155552671", "usage_type": "SignIn"},
        {"phone": "+14155552671", "usage_type": "SignIn"},  # replayed
        {"phone": "+14155552672", "usage_type": "SignIn"},  # another body: 422
    ):
        api.post(
            REQUEST_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="idem-key-1", REMOTE_ADDR="198.51.100.9"
        )
    settings.SMS_VERIFY = {**settings.SMS_VERIFY, "DAILY_SEND_CAP": 1}  # counted from now on
    assert request_code(api, "+33612345679", ip="198.51.100.11").status_code == 202
    assert request_code(api, "+33612345678", ip="198.51.100.10").status_code == 503
    # Forged and unknown webhooks.
    assert (
        api.post("/hooks/locmem/locmem-main/report/?token=guess", {}, REMOTE_ADDR="192.0.2.66").status_code
        == 403
    )
    assert api.post("/hooks/locmem/nobody/report/", {}, REMOTE_ADDR="192.0.2.66").status_code == 404
    # Log injection through every field the attacker controls.
    api.post(
        REQUEST_URL,
        {"phone": '+86138\n{"event": "forged"}', "usage_type": "SignIn\r\n\x1b[31mADMIN\u202e"},
        format="json",
        REMOTE_ADDR="198.51.100.11",
    )

    lines = security_lines(caplog)
    events = [json.loads(line) for line in lines]
    by_event: dict[str, list[dict]] = {}
    for event in events:
        by_event.setdefault(event["event"], []).append(event)

    assert set(by_event) == {
        "verification_requested",
        "check_failed",
        "verification_approved",
        "throttled",
        "region_suspended",
        "request_refused",
        "idempotency_conflict",
        "idempotency_replayed",
        "spend_cap_reached",
        "webhook_rejected",
    }
    assert {e["reason"] for e in by_event["throttled"]} == {"ip", "prefix", "region_suspended"}
    assert by_event["check_failed"][0]["reason"] == "invalid_code"
    assert {e["reason"] for e in by_event["request_refused"]} >= {
        "unsupported_number_type",
        "recipient_rejected:invalid_number",
        "delivery_failed",
        "invalid_phone",
    }
    assert by_event["region_suspended"][0] == {
        "event": "region_suspended",
        "region": "CN",
        "sends": 6,
        "approvals": 1,
        "cooldown": 3600,
    }
    assert by_event["idempotency_conflict"][0]["reason"] == "mismatch"
    assert by_event["spend_cap_reached"][0]["connector"] == "*"
    assert {(e["connector"], e["reason"], e["ip"]) for e in by_event["webhook_rejected"]} == {
        ("locmem-main", "not_authenticated", "192.0.2.66"),
        ("nobody", "unknown_connector", "192.0.2.66"),
    }

    # Every request line names the client's IP and a masked phone; no full number anywhere.
    for event in events:
        if "endpoint" in event:
            assert event["ip"].startswith(("198.51.100.", "203.0.")), event
        if event.get("phone") and event.get("reason") != "invalid_phone":
            assert MASKED_PHONE.fullmatch(event["phone"]), event
    assert by_event["verification_approved"][0]["phone"] == "+86138****8000"
    for line in lines:
        assert not E164_ANYWHERE.search(line), line

    # One line per event, nothing forged, nothing invisible.
    for line in lines:
        assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u202e" not in line
    assert "forged" not in by_event
    injected = by_event["request_refused"][-1]
    assert injected["usage_type"] == "SignIn\r\n\x1b[31mADMIN\u202e"  # kept, but escaped in the line
    assert "\\u001b[31mADMIN\\u202e" in lines[-1]

    # No code, token or secret in any log of the run (the app's, Django's, everyone's).
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert len(codes) >= 5
    for secret in [*codes, *tokens, SECRET, connector.webhook_token, "idem-key-1"]:
        assert secret not in everything, secret


def test_fields_that_could_hold_a_secret_are_redacted(caplog):
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    security_event("check_failed", phone="+8613800138000", code="123456", token="tok", reason="x" * 500)
    (line,) = security_lines(caplog)
    assert json.loads(line) == {
        "event": "check_failed",
        "phone": "+86138****8000",
        "code": "[redacted]",
        "token": "[redacted]",
        "reason": "x" * 200,
    }
    assert caplog.records[0].security_fields["phone"] == "+86138****8000"


def test_event_names_are_checked():
    with pytest.raises(ValueError):
        security_event("Bad Name\n")
