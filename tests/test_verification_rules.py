"""Every rule of SPEC §5, shown through the REST API and the service functions."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import django_sms_verify
from django_sms_verify import consume_verification_token, services
from django_sms_verify.exceptions import DeliveryFailed, InvalidToken, RecipientRejected, TemplateError
from django_sms_verify.models import Connector, Message, MessageKind, MessageStatus, Verification
from django_sms_verify.signals import message_status_changed, verification_approved, verification_requested
from tests.conftest import PHONE_CN, PHONE_US
from tests.fakes import outbox_providers
from tests.helpers import assert_error, check_code, latest_code, request_code, sent_codes, wrong_code

PHONE_CN_2 = "+8613900139000"
PHONE_GB = "+447911123456"
# Long codes where a test compares two codes, so that a chance collision cannot happen.
DISTINCT = {"CODE_LENGTH": 10}


@pytest.fixture
def sms_settings(settings):
    """Set ``SMS_VERIFY`` for one test: ``sms_settings(RESEND_INTERVAL=0, ...)``."""

    def apply(**values):
        settings.SMS_VERIFY = values

    return apply


def verification_of(response) -> Verification:
    return Verification.objects.get(pk=response.json()["id"])


# --- CODE_LENGTH ---------------------------------------------------------------------------


def test_code_is_six_ascii_digits_by_default(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=0)
    for usage_type in ("Register", "SignIn", "ForgotPassword", "Generic"):
        assert request_code(api, usage_type=usage_type).status_code == 202
    codes = sent_codes()
    assert len(codes) == 4
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes), codes


@pytest.mark.parametrize("length", [4, 8, 10])
def test_code_length_setting_sets_digits_sent_and_accepted(api, connector, sms_settings, length):
    sms_settings(CODE_LENGTH=length)
    assert request_code(api).status_code == 202
    code = latest_code()
    assert re.fullmatch(rf"[0-9]{{{length}}}", code), code
    # A code of another length is refused as input, before it costs an attempt.
    other = "1" * (length - 1)
    body = assert_error(check_code(api, other), 400, "invalid_format")
    assert "code" in body
    assert verification_of_latest().check_attempts == 0
    assert check_code(api, code).status_code == 200


def verification_of_latest() -> Verification:
    return Verification.objects.order_by("-created_at").first()


# --- CODE_TTL ------------------------------------------------------------------------------


def test_expires_at_is_code_ttl_after_the_request(api, connector, sms_settings):
    sms_settings(CODE_TTL=120)
    before = timezone.now()
    response = request_code(api)
    expires_at = parse_datetime(response.json()["expires_at"])
    assert before + timedelta(seconds=119) <= expires_at <= timezone.now() + timedelta(seconds=121)
    # <<ttl_minutes>> in the template follows the setting.
    assert "valid 2 min" in django_sms_verify.outbox[-1].text


def test_right_code_after_code_ttl_answers_expired(api, connector):
    response = request_code(api)
    code = latest_code()
    Verification.objects.filter(pk=response.json()["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(check_code(api, code), 400, "expired")
    assert verification_of(response).status == "expired"
    # and keeps answering expired, never approving
    assert_error(check_code(api, code), 400, "expired")


def test_request_after_expiry_sends_a_new_code(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=0, **DISTINCT)
    first = request_code(api)
    old_code = latest_code()
    Verification.objects.filter(pk=first.json()["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    second = request_code(api)
    assert second.status_code == 202
    assert second.json()["id"] != first.json()["id"]
    new_code = latest_code()
    assert new_code != old_code
    assert_error(check_code(api, old_code), 400, "invalid_code")
    assert check_code(api, new_code).status_code == 200


# --- MAX_CHECK_ATTEMPTS --------------------------------------------------------------------


def test_attempts_left_counts_down_to_zero_then_every_check_is_max_attempts_reached(
    api, connector, sms_settings
):
    sms_settings(MAX_CHECK_ATTEMPTS=3)
    response = request_code(api)
    code = latest_code()
    lefts = [
        assert_error(check_code(api, wrong_code(code)), 400, "invalid_code")["attempts_left"] for _ in "abc"
    ]
    assert lefts == [2, 1, 0]
    assert_error(check_code(api, wrong_code(code)), 400, "max_attempts_reached")
    assert_error(check_code(api, code), 400, "max_attempts_reached")
    assert_error(check_code(api, code), 400, "max_attempts_reached")
    verification = verification_of(response)
    assert verification.status == "max_attempts_reached"
    assert verification.check_attempts == 3


def test_default_max_check_attempts_is_five(api, connector):
    request_code(api)
    code = latest_code()
    lefts = [check_code(api, wrong_code(code)).json().get("attempts_left") for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    assert_error(check_code(api, code), 400, "max_attempts_reached")


def test_right_code_before_the_cap_approves(api, connector, sms_settings):
    sms_settings(MAX_CHECK_ATTEMPTS=3)
    request_code(api)
    code = latest_code()
    assert check_code(api, wrong_code(code)).status_code == 400
    assert check_code(api, wrong_code(code)).status_code == 400
    assert check_code(api, code).status_code == 200


def test_a_locked_verification_can_be_replaced_by_requesting_again(api, connector, sms_settings):
    sms_settings(MAX_CHECK_ATTEMPTS=1, RESEND_INTERVAL=0, **DISTINCT)
    request_code(api)
    first_code = latest_code()
    assert_error(check_code(api, wrong_code(first_code)), 400, "invalid_code")
    assert request_code(api).status_code == 202
    new_code = latest_code()
    assert new_code != first_code
    assert check_code(api, new_code).status_code == 200


# --- MAX_SENDS, RESEND_INTERVAL, same code on resend ---------------------------------------


def test_resend_while_pending_sends_the_same_code_and_counts(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=0)
    first = request_code(api)
    second = request_code(api)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    codes = sent_codes()
    assert len(codes) == 2 and codes[0] == codes[1]
    assert verification_of(first).send_count == 2
    assert Message.objects.filter(verification_id=first.json()["id"]).count() == 2
    assert check_code(api, codes[0]).status_code == 200


def test_sends_of_one_verification_are_capped_by_max_sends(api, connector, sms_settings):
    sms_settings(MAX_SENDS=3, RESEND_INTERVAL=0, PHONE_RATE="100/h")
    statuses = [request_code(api).status_code for _ in range(3)]
    assert statuses == [202, 202, 202]
    response = request_code(api)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert len(django_sms_verify.outbox) == 3
    assert len(set(sent_codes())) == 1
    assert verification_of_latest().send_count == 3
    # The code that was sent still works.
    assert check_code(api, latest_code()).status_code == 200


def test_resend_within_resend_interval_is_429_with_retry_after(api, connector):
    first = request_code(api)
    assert first.status_code == 202
    assert first.json()["resend_after"] == 60
    response = request_code(api)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert len(django_sms_verify.outbox) == 1
    assert verification_of(first).send_count == 1


def test_resend_interval_is_per_phone_and_usage_type(api, connector):
    assert request_code(api, usage_type="SignIn").status_code == 202
    assert request_code(api, usage_type="Register").status_code == 202
    assert request_code(api, phone=PHONE_CN_2, usage_type="SignIn").status_code == 202
    assert request_code(api, usage_type="SignIn").status_code == 429


def test_resend_allowed_again_once_the_interval_has_passed(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=1)
    first = request_code(api)
    assert first.json()["resend_after"] == 1
    assert request_code(api).status_code == 429
    time.sleep(1.1)
    second = request_code(api)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]


def test_resend_after_in_the_body_follows_resend_interval(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=0)
    assert request_code(api).json()["resend_after"] == 0
    sms_settings(RESEND_INTERVAL=90)
    assert request_code(api, usage_type="Register").json()["resend_after"] == 90


# --- PHONE_RATE, IP_RATE, NUM_PROXIES ------------------------------------------------------


def test_phone_rate_caps_sends_to_one_number_across_usage_types(api, connector, sms_settings):
    sms_settings(PHONE_RATE="3/h", RESEND_INTERVAL=0)
    usages = ["SignIn", "Register", "ForgotPassword", "SignIn", "Generic"]
    statuses = [request_code(api, usage_type=u).status_code for u in usages]
    assert statuses == [202, 202, 202, 429, 429]
    response = request_code(api, usage_type="Register")
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert len(django_sms_verify.outbox) == 3
    # Another number is not affected.
    assert request_code(api, phone=PHONE_CN_2).status_code == 202


def test_ip_rate_caps_requests_from_one_client_ip(api, connector, sms_settings):
    sms_settings(IP_RATE="2/h")
    phones = ["+8613800138001", "+8613800138002", "+8613800138003"]
    statuses = [request_code(api, phone=p, REMOTE_ADDR="198.51.100.7").status_code for p in phones]
    assert statuses == [202, 202, 429]
    assert 1 <= int(request_code(api, phone=PHONE_US, REMOTE_ADDR="198.51.100.7")["Retry-After"]) <= 3600
    assert request_code(api, phone="+8613800138004", REMOTE_ADDR="198.51.100.8").status_code == 202


def test_x_forwarded_for_is_ignored_without_num_proxies(api, connector, sms_settings):
    sms_settings(IP_RATE="2/h", NUM_PROXIES=0)
    statuses = [
        request_code(
            api, phone=f"+861380013800{i}", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        ).status_code
        for i in range(1, 4)
    ]
    assert statuses == [202, 202, 429]


def test_x_forwarded_for_names_the_client_behind_num_proxies(api, connector, sms_settings):
    sms_settings(IP_RATE="2/h", NUM_PROXIES=1)
    # Distinct clients behind the one proxy: each has its own budget.
    for i in range(1, 4):
        response = request_code(
            api, phone=f"+861380013800{i}", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        )
        assert response.status_code == 202
    # One client who prepends made-up hops: the proxy's own hop is what counts.
    statuses = [
        request_code(
            api,
            phone=f"+861390013900{i}",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.50",
        ).status_code
        for i in range(1, 4)
    ]
    assert statuses == [202, 202, 429]


def test_ip_rate_applies_to_the_service_function(connector, sms_settings):
    sms_settings(IP_RATE="1/h")
    services.request_verification(PHONE_CN, "SignIn", client_ip="198.51.100.9")
    with pytest.raises(django_sms_verify.exceptions.RateLimited):
        services.request_verification(PHONE_CN_2, "SignIn", client_ip="198.51.100.9")


# --- PHONE_CHECK_RATE ----------------------------------------------------------------------


def test_phone_check_rate_spans_verifications_and_a_new_code_does_not_reset_it(api, connector, sms_settings):
    sms_settings(PHONE_CHECK_RATE="4/h", MAX_CHECK_ATTEMPTS=3, RESEND_INTERVAL=0, **DISTINCT)
    request_code(api)
    first = latest_code()
    for _ in range(3):
        assert_error(check_code(api, wrong_code(first)), 400, "invalid_code")
    request_code(api)  # a new code after the lock
    second = latest_code()
    assert second != first
    assert_error(check_code(api, wrong_code(second)), 400, "invalid_code")  # the 4th wrong check
    response = check_code(api, second)  # budget spent: even the right code is refused
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 3600
    # The budget is per phone + usage type.
    request_code(api, usage_type="Register")
    assert check_code(api, latest_code(), usage_type="Register").status_code == 200
    request_code(api, phone=PHONE_CN_2)
    assert check_code(api, latest_code(), phone=PHONE_CN_2).status_code == 200


def test_right_checks_do_not_spend_the_phone_check_rate(api, connector, sms_settings):
    sms_settings(PHONE_CHECK_RATE="1/h", RESEND_INTERVAL=0)
    for _ in range(3):
        request_code(api)
        assert check_code(api, latest_code()).status_code == 200


# --- tokens --------------------------------------------------------------------------------


def approved_token(api, phone: str = PHONE_CN, usage_type: str = "SignIn") -> str:
    assert request_code(api, phone=phone, usage_type=usage_type).status_code == 202
    response = check_code(api, latest_code(), phone=phone, usage_type=usage_type)
    assert response.status_code == 200, response.content
    return response.json()["verification_token"]


def test_token_is_consumed_once(api, connector):
    token = approved_token(api)
    assert consume_verification_token(token, usage_type="SignIn") == PHONE_CN
    with pytest.raises(InvalidToken):
        consume_verification_token(token, usage_type="SignIn")


def test_token_for_another_usage_type_is_refused(api, connector):
    token = approved_token(api, usage_type="SignIn")
    with pytest.raises(InvalidToken):
        consume_verification_token(token, usage_type="Register")


def test_forged_tokens_are_refused(api, connector):
    token = approved_token(api)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    forged = [flipped, "x" * 40, "", "a:b:c", token + "x", token.replace(":", "."), "x" * 10_000]
    for candidate in forged:
        with pytest.raises(InvalidToken):
            consume_verification_token(candidate, usage_type="SignIn")
    # None of those attempts used up the genuine token.
    assert consume_verification_token(token, usage_type="SignIn") == PHONE_CN


def test_token_signed_with_another_key_is_refused(api, connector, settings):
    token = approved_token(api)
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789-abcdefghijklmnop"
    with pytest.raises(InvalidToken):
        consume_verification_token(token, usage_type="SignIn")


def test_token_expires_after_token_ttl(api, connector, sms_settings):
    sms_settings(TOKEN_TTL=60)
    token = approved_token(api)
    Verification.objects.update(approved_at=timezone.now() - timedelta(seconds=61))
    with pytest.raises(InvalidToken):
        consume_verification_token(token, usage_type="SignIn")


def test_token_within_token_ttl_is_accepted(api, connector, sms_settings):
    sms_settings(TOKEN_TTL=60)
    token = approved_token(api)
    Verification.objects.update(approved_at=timezone.now() - timedelta(seconds=50))
    assert consume_verification_token(token, usage_type="SignIn") == PHONE_CN


def test_token_does_not_show_the_phone(api, connector):
    token = approved_token(api)
    assert "13800138000" not in token


# --- isolation: usage type and phone -------------------------------------------------------


def test_a_sign_in_code_does_not_approve_register(api, connector, sms_settings):
    sms_settings(RESEND_INTERVAL=0, **DISTINCT)
    request_code(api, usage_type="SignIn")
    sign_in_code = latest_code()
    # No Register verification at all: nothing to approve.
    assert_error(check_code(api, sign_in_code, usage_type="Register"), 400, "not_found")
    request_code(api, usage_type="Register")
    register_code = latest_code()
    assert_error(check_code(api, sign_in_code, usage_type="Register"), 400, "invalid_code")
    assert check_code(api, register_code, usage_type="Register").status_code == 200
    assert check_code(api, sign_in_code, usage_type="SignIn").status_code == 200


def test_a_code_approves_only_its_own_phone(api, connector, sms_settings):
    sms_settings(**DISTINCT)
    request_code(api, phone=PHONE_CN)
    code_a = latest_code()
    request_code(api, phone=PHONE_CN_2)
    code_b = latest_code()
    assert_error(check_code(api, code_a, phone=PHONE_CN_2), 400, "invalid_code")
    assert_error(check_code(api, code_a, phone=PHONE_US), 400, "not_found")
    assert check_code(api, code_b, phone=PHONE_CN_2).status_code == 200
    assert check_code(api, code_a, phone=PHONE_CN).status_code == 200


def test_a_code_approves_once(api, connector):
    request_code(api)
    code = latest_code()
    assert check_code(api, code).status_code == 200
    assert_error(check_code(api, code), 400, "not_found")


def test_a_phone_written_differently_is_the_same_phone(api, connector):
    request_code(api, phone="+86 138-0013-8000")
    assert check_code(api, latest_code(), phone="+8613800138000").status_code == 200


# --- ALLOWED_REGIONS, DEFAULT_REGION -------------------------------------------------------


def test_allowed_regions_refuse_numbers_from_elsewhere(api, connector, sms_settings):
    sms_settings(ALLOWED_REGIONS=["CN"])
    body = assert_error(request_code(api, phone=PHONE_US), 400, "region_not_allowed")
    assert body["phone"]
    assert request_code(api, phone=PHONE_CN).status_code == 202
    assert_error(check_code(api, "123456", phone=PHONE_US), 400, "region_not_allowed")
    assert len(django_sms_verify.outbox) == 1


def test_all_regions_allowed_by_default(api, connector):
    for phone in (PHONE_CN, PHONE_US, PHONE_GB):
        assert request_code(api, phone=phone).status_code == 202


def test_default_region_reads_numbers_without_plus(api, connector, sms_settings):
    sms_settings(DEFAULT_REGION="CN")
    response = request_code(api, phone="13800138000")
    assert response.status_code == 202
    assert response.json()["phone"] == PHONE_CN
    assert django_sms_verify.outbox[-1].to == PHONE_CN
    assert check_code(api, latest_code(), phone="138 0013 8000").status_code == 200


def test_numbers_without_plus_are_refused_without_default_region(api, connector):
    body = assert_error(request_code(api, phone="13800138000"), 400, "invalid_phone")
    assert body["phone"]


# --- templates: Generic fallback -----------------------------------------------------------


def test_usage_type_without_template_falls_back_to_generic(api, make_connector):
    make_connector(templates={"Generic": {"content": "Generic code <<code>>, valid <<ttl_minutes>> min"}})
    assert request_code(api, usage_type="Register").status_code == 202
    assert django_sms_verify.outbox[-1].text.startswith("Generic code ")
    assert check_code(api, latest_code(), usage_type="Register").status_code == 200


def test_own_template_wins_over_generic(api, make_connector):
    make_connector(
        templates={
            "Generic": {"content": "Generic code <<code>>, valid <<ttl_minutes>> min"},
            "SignIn": {"content": "SignIn code <<code>>, valid <<ttl_minutes>> min"},
        }
    )
    request_code(api, usage_type="SignIn")
    assert django_sms_verify.outbox[-1].text.startswith("SignIn code ")


def test_no_template_and_no_generic_fails_with_a_recorded_reason(api, make_connector):
    make_connector(templates={"SignIn": {"content": "SignIn code <<code>>, valid <<ttl_minutes>> min"}})
    assert_error(request_code(api, usage_type="Register"), 503, "delivery_failed")
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "template_error"


# --- routing, priority, failover -----------------------------------------------------------


def test_region_routing_picks_the_connector_serving_the_number(api, make_connector, sms_settings):
    make_connector("cn", regions=["CN"], priority=10)
    make_connector("us", regions=["US", "CA"], priority=10)
    make_connector("rest", priority=50)
    for phone, expected in ((PHONE_CN, "cn"), (PHONE_US, "us"), (PHONE_GB, "rest")):
        assert request_code(api, phone=phone).status_code == 202
        assert django_sms_verify.outbox[-1].connector == expected
        assert Message.objects.filter(to=phone).get().connector_name == expected


def test_lower_priority_number_is_tried_first(api, make_connector):
    make_connector("second", priority=20)
    make_connector("first", priority=10)
    make_connector("off", priority=1, is_active=False)
    request_code(api)
    assert [m.connector for m in django_sms_verify.outbox] == ["first"]


def test_transient_failure_fails_over_to_the_next_connector(api, make_connector):
    make_connector("flaky", priority=10, config={"fail": "transient"})
    make_connector("backup", priority=20)
    response = request_code(api)
    assert response.status_code == 202
    assert [m.connector for m in django_sms_verify.outbox] == ["backup"]
    message = Message.objects.get()
    assert message.status == MessageStatus.SENT
    assert message.connector_name == "backup"
    assert [a["connector"] for a in message.attempts] == ["flaky"]
    assert message.attempts[0]["permanent"] is False
    assert check_code(api, latest_code()).status_code == 200


def test_permanent_failure_is_400_with_reason_and_no_failover(api, make_connector):
    make_connector("strict", priority=10, config={"fail": "permanent"})
    make_connector("backup", priority=20)
    response = request_code(api)
    body = assert_error(response, 400, "recipient_rejected")
    assert body["reason"] == "invalid_number"
    assert django_sms_verify.outbox == []
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.connector_name == "strict"
    assert message.error_code == "invalid_number"
    assert message.error_message
    assert Verification.objects.get().status == "failed"
    assert_error(check_code(api, "123456"), 400, "not_found")


def test_all_connectors_failing_is_503_and_nothing_left_pending(api, make_connector):
    make_connector("a", priority=10, config={"fail": "transient"})
    make_connector("b", priority=20, config={"fail": "transient"})
    response = request_code(api)
    assert_error(response, 503, "delivery_failed")
    assert Verification.objects.get().status == "failed"
    assert not Verification.objects.filter(status="pending").exists()
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert [a["connector"] for a in message.attempts] == ["a", "b"]
    assert message.error_code == "503"
    assert message.error_message
    assert_error(check_code(api, "123456"), 400, "not_found")


def test_after_a_failed_send_the_user_may_ask_again_at_once(api, make_connector):
    broken = make_connector("a", config={"fail": "transient"})
    assert request_code(api).status_code == 503
    broken.config = {}
    broken.save()
    response = request_code(api)
    assert response.status_code == 202
    assert check_code(api, latest_code()).status_code == 200


def test_no_connector_for_the_region_is_503_with_a_recorded_reason(api, make_connector):
    make_connector("us-only", regions=["US"])
    assert_error(request_code(api, phone=PHONE_CN), 503, "delivery_failed")
    assert Message.objects.get().error_code == "no_connector"


def test_voice_channel_goes_to_a_connector_that_can_call(api, connector):
    response = request_code(api, channel="voice")
    assert response.status_code == 202
    assert response.json()["channel"] == "voice"
    assert django_sms_verify.outbox[-1].channel == "voice"
    assert check_code(api, latest_code()).status_code == 200


# --- signals -------------------------------------------------------------------------------


@pytest.fixture
def received():
    """Every signal our app sends during the test, as (signal name, kwargs)."""
    calls: list[tuple[str, dict]] = []
    receivers = {}
    for name, signal in (
        ("verification_requested", verification_requested),
        ("verification_approved", verification_approved),
        ("message_status_changed", message_status_changed),
    ):

        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal")
            calls.append((_name, {"sender": sender, **kwargs}))

        receivers[name] = receiver
        signal.connect(receiver, weak=False)
    yield calls
    verification_requested.disconnect(receivers["verification_requested"])
    verification_approved.disconnect(receivers["verification_approved"])
    message_status_changed.disconnect(receivers["message_status_changed"])


def test_signals_fire_once_each_with_their_documented_arguments(api, connector, received):
    response = request_code(api)
    verification = verification_of(response)
    names = [name for name, _ in received]
    assert names == ["message_status_changed", "verification_requested"]
    status_args = received[0][1]
    assert status_args["sender"] is Message
    assert status_args["message"].verification_id == verification.pk
    assert (status_args["old_status"], status_args["new_status"]) == ("queued", "sent")
    requested = received[1][1]
    assert requested["sender"] is Verification
    assert requested["verification"].pk == verification.pk
    assert requested["message"].pk == status_args["message"].pk
    assert requested["resent"] is False

    received.clear()
    check_code(api, latest_code())
    assert [name for name, _ in received] == ["verification_approved"]
    approved = received[0][1]
    assert approved["sender"] is Verification
    assert approved["verification"].pk == verification.pk
    assert approved["verification"].status == "approved"


def test_resend_signal_says_resent(api, connector, received, sms_settings):
    sms_settings(RESEND_INTERVAL=0)
    request_code(api)
    request_code(api)
    requested = [kwargs for name, kwargs in received if name == "verification_requested"]
    assert [r["resent"] for r in requested] == [False, True]


def test_failed_send_signals_the_failure_and_no_request(api, make_connector, received):
    make_connector(config={"fail": "transient"})
    request_code(api)
    assert [name for name, _ in received] == ["message_status_changed"]
    assert received[0][1]["new_status"] == "failed"


def test_wrong_code_fires_no_approval(api, connector, received):
    request_code(api)
    received.clear()
    check_code(api, wrong_code(latest_code()))
    assert received == []


# --- notifications and test sends ----------------------------------------------------------


def test_send_notification_fills_the_template_from_context(make_connector):
    make_connector(templates={"Generic": {"content": "Order <<order>> ships on <<day>>"}})
    message = services.send_notification(PHONE_CN, "Generic", context={"order": "A-17", "day": "Monday"})
    assert [m.text for m in django_sms_verify.outbox] == ["Order A-17 ships on Monday"]
    assert message.kind == MessageKind.NOTIFICATION
    assert message.status == MessageStatus.SENT
    assert message.to == PHONE_CN
    stored = Message.objects.get(pk=message.pk)
    assert stored.body == "Order A-17 ships on Monday"
    assert stored.provider_message_id == django_sms_verify.outbox[-1].provider_message_id


def test_send_notification_with_unfillable_placeholder_is_a_clear_error(make_connector):
    make_connector(templates={"Generic": {"content": "Order <<order>> ships on <<day>>"}})
    with pytest.raises(TemplateError) as caught:
        services.send_notification(PHONE_CN, "Generic", context={"order": "A-17"})
    assert "day" in str(caught.value)
    assert django_sms_verify.outbox == []
    message = Message.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "template_error"
    assert "day" in message.error_message


def test_send_notification_fails_over_like_a_verification(make_connector):
    make_connector(
        "a", priority=10, config={"fail": "transient"}, templates={"Generic": {"content": "Hi <<n>>"}}
    )
    make_connector("b", priority=20, templates={"Generic": {"content": "Hi <<n>>"}})
    services.send_notification(PHONE_CN, "Generic", context={"n": "Ann"})
    assert [(m.connector, m.text) for m in django_sms_verify.outbox] == [("b", "Hi Ann")]


def test_send_notification_to_a_rejected_number_raises_recipient_rejected(make_connector):
    make_connector(config={"fail": "permanent"}, templates={"Generic": {"content": "Hi"}})
    with pytest.raises(RecipientRejected) as caught:
        services.send_notification(PHONE_CN, "Generic")
    assert caught.value.reason == "invalid_number"
    assert caught.value.message_record.status == MessageStatus.FAILED


def test_send_notification_when_all_fail_raises_delivery_failed(make_connector):
    make_connector(config={"fail": "transient"}, templates={"Generic": {"content": "Hi"}})
    with pytest.raises(DeliveryFailed) as caught:
        services.send_notification(PHONE_CN, "Generic")
    assert Message.objects.get(pk=caught.value.message_record.pk).status == MessageStatus.FAILED


def test_send_test_message_uses_only_the_given_connector(make_connector):
    make_connector("preferred", priority=1)
    chosen = make_connector("chosen", priority=50)
    message = services.send_test_message(chosen, PHONE_CN, "SignIn")
    assert [m.connector for m in django_sms_verify.outbox] == ["chosen"]
    assert message.kind == MessageKind.TEST
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id.startswith("locmem-")
    assert message.provider_message_id == django_sms_verify.outbox[0].provider_message_id
    # The sample code is not kept readable in the log.
    stored = Message.objects.get(pk=message.pk)
    assert "******" in stored.body
    assert latest_code() not in stored.body
    assert not Verification.objects.exists()


@pytest.mark.parametrize(("failure", "error_code"), [("permanent", "invalid_number"), ("transient", "503")])
def test_send_test_message_reports_the_provider_error_without_raising(make_connector, failure, error_code):
    broken = make_connector("broken", priority=10, config={"fail": failure})
    make_connector("fine", priority=20)
    message = services.send_test_message(broken, PHONE_CN, "SignIn")
    assert django_sms_verify.outbox == []
    assert message.status == MessageStatus.FAILED
    assert message.error_code == error_code
    assert message.error_message
    assert Message.objects.get(pk=message.pk).status == MessageStatus.FAILED


# --- PROVIDER_TIMEOUT, PUBLIC_BASE_URL, CACHE_ALIAS, ENCRYPTION_KEYS -------------------------


@pytest.fixture
def secret_connector(make_connector, monkeypatch):
    """A connector of the credentialed test provider, which records what each send was given."""
    key = outbox_providers.register(monkeypatch)
    return make_connector("creds", provider=key, config={"account": "acme"}, secrets={"apiKey": "k"})


@pytest.mark.parametrize("timeout", [3, 10])
def test_provider_timeout_reaches_the_provider(api, secret_connector, sms_settings, timeout):
    sms_settings(PROVIDER_TIMEOUT=timeout)
    assert request_code(api).status_code == 202
    assert outbox_providers.seen_by_sends[-1][0] == timeout


def test_public_base_url_is_the_origin_given_to_providers(api, secret_connector, sms_settings):
    sms_settings(PUBLIC_BASE_URL="https://sms.example.com/")
    request_code(api)
    assert outbox_providers.seen_by_sends[-1][1] == "https://sms.example.com"


def test_without_public_base_url_the_request_origin_is_used_and_forgotten_after(api, secret_connector):
    request_code(api, HTTP_HOST="shop.example.org")
    assert outbox_providers.seen_by_sends[-1][1] == "http://shop.example.org"
    # A send outside any request must not reuse the last request's host.
    services.send_test_message(secret_connector, PHONE_CN, "SignIn")
    assert outbox_providers.seen_by_sends[-1][1] == ""


def test_cache_alias_holds_the_rate_limit_counters(api, connector, settings):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
        "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limits"},
    }
    settings.SMS_VERIFY = {"CACHE_ALIAS": "limits", "PHONE_RATE": "1/h", "RESEND_INTERVAL": 0}
    assert request_code(api).status_code == 202
    caches["default"].clear()  # the counters are not there...
    assert request_code(api).status_code == 429
    caches["limits"].clear()  # ...but here
    assert request_code(api).status_code == 202


def test_encryption_keys_rotate_without_losing_secrets_or_pending_codes(api, make_connector, settings):
    from cryptography.fernet import Fernet

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SMS_VERIFY = {"ENCRYPTION_KEYS": [old_key], "RESEND_INTERVAL": 0}
    connector = make_connector()
    connector.set_secrets({"token": "kept"})
    connector.save()
    request_code(api)
    code = latest_code()
    settings.SMS_VERIFY = {"ENCRYPTION_KEYS": [new_key, old_key], "RESEND_INTERVAL": 0}
    assert Connector.objects.get().get_secrets() == {"token": "kept"}
    request_code(api)  # the resend decrypts the pending code with the old key
    assert sent_codes() == [code, code]
    settings.SMS_VERIFY = {"ENCRYPTION_KEYS": [new_key]}
    with pytest.raises(ValueError, match="encryption keys"):
        Connector.objects.get().get_secrets()


# --- channels ------------------------------------------------------------------------------


def test_voice_without_a_connector_that_can_call_is_400_channel_unavailable(api, make_connector, monkeypatch):
    make_connector("sms-only", provider=outbox_providers.register_sms_only(monkeypatch))
    body = assert_error(request_code(api, channel="voice"), 400, "channel_unavailable")
    assert body["channel"]
    assert django_sms_verify.outbox == []
    assert not Verification.objects.exists()
    assert request_code(api, channel="sms").status_code == 202


def test_voice_skips_connectors_that_cannot_call(api, make_connector, monkeypatch):
    make_connector("sms-only", priority=1, provider=outbox_providers.register_sms_only(monkeypatch))
    make_connector("caller", priority=50)
    request_code(api, channel="voice")
    assert [(m.connector, m.channel) for m in django_sms_verify.outbox] == [("caller", "voice")]
