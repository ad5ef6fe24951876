"""``manage.py sms_verify_reconcile`` asking the fake's QuerySendDetails about lost reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_sms_verify import services
from django_sms_verify.models import Message, MessageStatus
from django_sms_verify.signals import message_status_changed
from tests.conftest import PHONE_CN
from tests.fakes.aliyun import DELIVERED, FAILED, FakeAliyunSms, server_signature


def send(usage_type: str = "SignIn", phone: str = PHONE_CN) -> Message:
    services.request_verification(phone, usage_type)
    return Message.objects.get(usage_type=usage_type, to=phone)


def sent_ago(message: Message, aliyun_fake: FakeAliyunSms, delta: timedelta) -> Message:
    """Pretend the message went ``delta`` ago, on both sides."""
    Message.objects.filter(pk=message.pk).update(sent_at=message.sent_at - delta)
    aliyun_fake.backdate(message.provider_message_id, delta)
    return Message.objects.get(pk=message.pk)


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("sms_verify_reconcile", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def queries(aliyun_fake: FakeAliyunSms):
    return aliyun_fake.requests_for("QuerySendDetails")


# --- acceptance 4 ----------------------------------------------------------------------------


def test_a_message_without_report_becomes_delivered(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    receipt_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=14)
    aliyun_fake.set_receipt(message.provider_message_id, DELIVERED, at=receipt_at)

    output = reconcile()

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at == receipt_at
    assert "Checked 1 message(s): 1 delivered" in output
    [query] = queries(aliyun_fake)
    assert query.code == "OK"
    params = query.params
    assert params["Signature"] == server_signature("POST", params, aliyun_fake.access_key_secret)
    assert params["PhoneNumber"] == "13800138000"
    assert params["BizId"] == message.provider_message_id
    assert params["SendDate"] == message.sent_at.astimezone(timezone.get_fixed_timezone(480)).strftime(
        "%Y%m%d"
    )
    assert (params["PageSize"], params["CurrentPage"]) == ("10", "1")


def test_a_message_without_report_becomes_failed_with_the_carrier_code(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    aliyun_fake.set_receipt(message.provider_message_id, FAILED, err_code="MOBILE_NOT_ON_SERVICE")

    output = reconcile()

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "MOBILE_NOT_ON_SERVICE"
    assert "1 failed" in output


def test_a_message_still_waiting_for_its_receipt_stays_sent(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))

    output = reconcile()

    assert len(queries(aliyun_fake)) == 1
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert "1 still without a final status" in output


def test_the_send_date_is_the_china_date(aliyun, aliyun_fake):
    # 17:30 UTC is 01:30 the next day in China: asking with the UTC date finds nothing.
    message = send()
    two_days_ago = (timezone.now() - timedelta(days=2)).replace(hour=17, minute=30)
    Message.objects.filter(pk=message.pk).update(sent_at=two_days_ago)
    aliyun_fake.messages[message.provider_message_id].sent_at = two_days_ago
    aliyun_fake.set_receipt(message.provider_message_id, DELIVERED)

    reconcile()

    assert queries(aliyun_fake)[0].params["SendDate"] == (two_days_ago + timedelta(days=1)).strftime("%Y%m%d")
    assert Message.objects.get(pk=message.pk).status == MessageStatus.DELIVERED


def test_reconciling_signals_the_change_once(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    aliyun_fake.set_receipt(message.provider_message_id, DELIVERED)
    seen = []

    def receiver(sender, message, old_status, new_status, **kwargs):
        seen.append((old_status, new_status))

    message_status_changed.connect(receiver)
    try:
        reconcile()
        reconcile()  # already final: not asked again
    finally:
        message_status_changed.disconnect(receiver)

    assert seen == [("sent", "delivered")]
    assert len(queries(aliyun_fake)) == 1


# --- which messages are asked about --------------------------------------------------------


def test_recent_messages_are_not_asked_about(aliyun, aliyun_fake):
    sent_ago(send(), aliyun_fake, timedelta(minutes=5))

    reconcile()

    assert queries(aliyun_fake) == []


def test_older_than_sets_the_age(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=5))
    aliyun_fake.set_receipt(message.provider_message_id, DELIVERED)

    reconcile("--older-than", "3")

    assert Message.objects.get(pk=message.pk).status == MessageStatus.DELIVERED


def test_messages_older_than_the_providers_30_days_are_left_alone(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(days=31))

    reconcile()

    assert queries(aliyun_fake) == []
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_messages_with_a_final_status_are_not_asked_about(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)

    reconcile()

    assert queries(aliyun_fake) == []


def test_messages_of_providers_without_status_queries_are_skipped(aliyun, aliyun_fake, make_connector):
    make_connector(name="locmem-main", priority=1)
    message = send()  # goes through locmem (priority 1)
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - timedelta(hours=1))

    output = reconcile()

    assert queries(aliyun_fake) == []
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert "Checked 0 message(s)" in output


def test_limit_caps_the_queries(aliyun, aliyun_fake):
    for usage_type in ("SignIn", "Register", "ForgotPassword"):
        sent_ago(send(usage_type), aliyun_fake, timedelta(minutes=15))

    reconcile("--limit", "2")

    assert len(queries(aliyun_fake)) == 2


# --- failures ----------------------------------------------------------------------------------


def test_when_every_query_fails_the_command_fails(aliyun, aliyun_fake):
    message = sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    aliyun_fake.http_status = 500

    with pytest.raises(CommandError, match="Every status query failed"):
        reconcile()

    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_a_failed_query_does_not_stop_the_others(aliyun, aliyun_fake):
    first = sent_ago(send("SignIn"), aliyun_fake, timedelta(minutes=20))
    second = sent_ago(send("Register"), aliyun_fake, timedelta(minutes=15))
    aliyun_fake.set_receipt(second.provider_message_id, DELIVERED)
    Message.objects.filter(pk=first.pk).update(to="+123")  # the fake refuses to look it up
    stderr = StringIO()

    out = StringIO()
    call_command("sms_verify_reconcile", stdout=out, stderr=stderr)

    assert [q.code for q in queries(aliyun_fake)] == ["isv.MOBILE_NUMBER_ILLEGAL", "OK"]
    assert "1 query(ies) failed: aliyun-cn: isv.MOBILE_NUMBER_ILLEGAL" in stderr.getvalue()
    assert Message.objects.get(pk=first.pk).status == MessageStatus.SENT
    assert Message.objects.get(pk=second.pk).status == MessageStatus.DELIVERED
    assert "Checked 1 message(s): 1 delivered" in out.getvalue()


def test_a_business_error_on_query_is_reported(aliyun, aliyun_fake):
    sent_ago(send(), aliyun_fake, timedelta(minutes=15))
    aliyun_fake.fail("isv.BUSINESS_LIMIT_CONTROL", action="QuerySendDetails")
    stderr = StringIO()

    with pytest.raises(CommandError):
        call_command("sms_verify_reconcile", stdout=StringIO(), stderr=stderr)

    assert "isv.BUSINESS_LIMIT_CONTROL" in stderr.getvalue()


@pytest.mark.parametrize("args", [("--older-than", "-1"), ("--limit", "0")])
def test_bad_options_are_refused(db, args):
    with pytest.raises(CommandError):
        reconcile(*args)
