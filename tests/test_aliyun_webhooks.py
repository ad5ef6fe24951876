"""SmsReport (delivery reports) and SmsUp (replies) pushes to the aliyun webhook URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import OperationalError, connection
from django.test import Client

from django_sms_verify import services
from django_sms_verify.exceptions import OptedOut
from django_sms_verify.models import Message, MessageStatus, OptOut
from django_sms_verify.signals import message_status_changed
from tests.conftest import PHONE_CN
from tests.fakes.aliyun import make_aliyun_connector

OK = {"code": 0, "msg": "成功"}


@pytest.fixture
def client():
    # Alibaba Cloud sends no CSRF token: the views must not need one.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def sent(aliyun, aliyun_fake) -> Message:
    """A verification code sent through the fake, waiting for its report."""
    services.request_verification(PHONE_CN, "SignIn")
    return Message.objects.get(usage_type="SignIn")


@pytest.fixture
def changes():
    """Every message_status_changed signal, as (message id, old, new)."""
    seen: list[tuple[str, str, str]] = []

    def receiver(sender, message, old_status, new_status, **kwargs):
        seen.append((str(message.pk), old_status, new_status))

    message_status_changed.connect(receiver)
    yield seen
    message_status_changed.disconnect(receiver)


def url(connector, kind="report", token=None) -> str:
    token = connector.webhook_token if token is None else token
    return f"/api/sms-verify/webhooks/aliyun/{connector.name}/{kind}/?token={token}"


def push(client, target: str, payload) -> object:
    body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return client.post(target, data=body, content_type="application/json")


def report(message: Message, *, success=True, out_id=True, biz_id=True, **fields) -> dict:
    item = {
        "phone_number": "13800138000",
        "send_time": "2024-03-01 10:00:00",
        "report_time": "2024-03-01 10:00:05",
        "success": success,
        "err_code": "DELIVERED" if success is True else "MOBILE_NOT_ON_SERVICE",
        "err_msg": "用户接收成功" if success is True else "停机",
        "sms_size": "1",
        "biz_id": message.provider_message_id if biz_id else "",
        "out_id": str(message.pk) if out_id else "",
    }
    item.update(fields)
    return item


def status_of(message: Message) -> str:
    return Message.objects.get(pk=message.pk).status


# --- acceptance 3: reports update the log -------------------------------------------------


def test_a_delivered_report_updates_the_message(client, aliyun, sent, changes):
    response = push(client, url(aliyun), [report(sent)])

    assert response.status_code == 200
    assert response.json() == OK
    message = Message.objects.get(pk=sent.pk)
    assert message.status == MessageStatus.DELIVERED
    # report_time is China time (UTC+8)
    assert message.delivered_at == datetime(2024, 3, 1, 2, 0, 5, tzinfo=UTC)
    assert changes == [(str(sent.pk), "sent", "delivered")]


def test_a_failed_report_records_the_error_code(client, aliyun, sent, changes):
    response = push(client, url(aliyun), [report(sent, success=False)])

    assert response.json() == OK
    message = Message.objects.get(pk=sent.pk)
    assert message.status == MessageStatus.FAILED
    assert (message.error_code, message.error_message) == ("MOBILE_NOT_ON_SERVICE", "停机")
    assert changes == [(str(sent.pk), "sent", "failed")]


def test_a_report_is_matched_by_biz_id_without_out_id(client, aliyun, sent):
    push(client, url(aliyun), [report(sent, out_id=False)])

    assert status_of(sent) == MessageStatus.DELIVERED


def test_a_report_is_matched_by_out_id_without_biz_id(client, aliyun, sent):
    push(client, url(aliyun), [report(sent, biz_id=False)])

    assert status_of(sent) == MessageStatus.DELIVERED


@pytest.mark.parametrize(("flag", "status"), [("true", "delivered"), ("false", "failed")])
def test_success_may_come_as_a_string(client, aliyun, sent, flag, status):
    push(client, url(aliyun), [report(sent, success=flag)])

    assert status_of(sent) == status


def test_a_repeated_push_changes_nothing_and_signals_once(client, aliyun, sent, changes):
    payload = [report(sent)]

    first = push(client, url(aliyun), payload)
    second = push(client, url(aliyun), payload)

    assert first.json() == second.json() == OK
    assert status_of(sent) == MessageStatus.DELIVERED
    assert changes == [(str(sent.pk), "sent", "delivered")]


def test_a_late_failure_report_never_undoes_delivered(client, aliyun, sent, changes):
    push(client, url(aliyun), [report(sent)])
    push(client, url(aliyun), [report(sent, success=False)])

    message = Message.objects.get(pk=sent.pk)
    assert message.status == MessageStatus.DELIVERED
    assert message.error_code == ""
    assert changes == [(str(sent.pk), "sent", "delivered")]


def test_out_of_order_reports_in_one_batch(client, aliyun, aliyun_fake, sent, changes):
    services.request_verification(PHONE_CN, "Register")
    other = Message.objects.get(usage_type="Register")
    changes.clear()

    batch = [report(other), report(sent), report(other, success=False), report(sent)]
    response = push(client, url(aliyun), batch)

    assert response.json() == OK
    assert (status_of(sent), status_of(other)) == ("delivered", "delivered")
    assert changes == [(str(other.pk), "sent", "delivered"), (str(sent.pk), "sent", "delivered")]


def test_a_batch_updates_each_message(client, aliyun, sent):
    services.request_verification(PHONE_CN, "Register")
    other = Message.objects.get(usage_type="Register")

    push(client, url(aliyun), [report(sent, success=False), report(other)])

    assert (status_of(sent), status_of(other)) == ("failed", "delivered")


def test_reports_for_unknown_messages_are_acknowledged(client, aliyun, sent):
    unknown = {**report(sent), "out_id": "00000000-0000-0000-0000-000000000000", "biz_id": "123^0"}
    not_ours = {**report(sent), "out_id": "order-17", "biz_id": ""}

    response = push(client, url(aliyun), [unknown, not_ours, report(sent, out_id=False)])

    assert response.json() == OK  # an error would only make Alibaba Cloud push them again
    assert status_of(sent) == MessageStatus.DELIVERED


def test_a_connector_token_cannot_touch_another_connectors_messages(
    client, make_connector, aliyun_fake, sent
):
    other = make_aliyun_connector(make_connector, aliyun_fake, name="aliyun-other", priority=30)

    response = push(client, url(other), [report(sent)])

    assert response.json() == OK
    assert status_of(sent) == MessageStatus.SENT


# --- authentication and bad requests ---------------------------------------------------------


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_a_wrong_token_gets_403(client, aliyun, sent, token):
    response = push(client, url(aliyun, token=token), [report(sent)])

    assert response.status_code == 403
    assert status_of(sent) == MessageStatus.SENT


def test_a_missing_token_gets_403(client, aliyun, sent):
    response = push(client, f"/api/sms-verify/webhooks/aliyun/{aliyun.name}/report/", [report(sent)])

    assert response.status_code == 403


def test_another_connectors_token_gets_403(client, make_connector, aliyun_fake, aliyun, sent):
    other = make_aliyun_connector(make_connector, aliyun_fake, name="aliyun-other", priority=30)

    response = push(client, url(aliyun, token=other.webhook_token), [report(sent)])

    assert response.status_code == 403
    assert status_of(sent) == MessageStatus.SENT


def test_an_unknown_or_non_aliyun_connector_gets_404(client, make_connector, aliyun, sent):
    locmem = make_connector(name="locmem-main")

    assert push(client, url(locmem, token=locmem.webhook_token), [report(sent)]).status_code == 404
    target = f"/api/sms-verify/webhooks/aliyun/nobody/report/?token={aliyun.webhook_token}"
    assert push(client, target, [report(sent)]).status_code == 404


def test_only_post_is_allowed(client, aliyun):
    assert client.get(url(aliyun)).status_code == 405


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "",
        {"out_id": "x", "success": True},  # an object, not an array
        [1, 2],
        [{"out_id": "x"}],  # no success
        [{"success": True}],  # no ids
        [{"out_id": "x", "success": "yes"}],
    ],
)
def test_malformed_bodies_get_400(client, aliyun, sent, payload):
    response = push(client, url(aliyun), payload)

    assert response.status_code == 400
    assert status_of(sent) == MessageStatus.SENT


def test_a_malformed_item_rejects_the_whole_push(client, aliyun, sent):
    response = push(client, url(aliyun), [report(sent), {"biz_id": "1^0"}])

    assert response.status_code == 400
    assert status_of(sent) == MessageStatus.SENT  # validated first, nothing stored


@pytest.mark.django_db(
    transaction=True
)  # autocommit, as in production: a failed UPDATE breaks no test transaction
def test_a_storage_failure_answers_5xx_so_the_push_is_repeated(client, aliyun, sent, changes):
    def fail_updates(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE"):
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_updates):
        failed = push(client, url(aliyun), [report(sent)])
    repeated = push(client, url(aliyun), [report(sent)])

    assert failed.status_code == 500
    assert failed.json()["code"] != 0
    assert repeated.json() == OK
    assert status_of(sent) == MessageStatus.DELIVERED
    assert changes == [(str(sent.pk), "sent", "delivered")]


# --- SmsUp: replies ------------------------------------------------------------------------


def reply(content: str, phone: str = "13800138000") -> dict:
    return {
        "phone_number": phone,
        "content": content,
        "send_time": "2024-03-01 10:05:00",
        "dest_code": "1234",
        "sequence_id": 1234567,
    }


@pytest.mark.parametrize("content", ["TD", " td ", "退订", "Stop", "STOP\n", "\u3000退订\u3000"])
def test_an_unsubscribe_reply_records_an_opt_out(client, aliyun, content):
    response = push(client, url(aliyun, "inbound"), [reply(content)])

    assert response.status_code == 200
    assert response.json() == OK
    opt_out = OptOut.objects.get()
    assert (opt_out.phone, opt_out.connector_name, opt_out.keyword) == (
        PHONE_CN,
        "aliyun-cn",
        content.strip(),
    )
    with pytest.raises(OptedOut):
        services.send_notification(PHONE_CN, "Generic", context={"code": "1"})


@pytest.mark.parametrize("content", ["你好", "TD please", "STOPP", ""])
def test_other_replies_record_nothing(client, aliyun, content):
    response = push(client, url(aliyun, "inbound"), [reply(content)])

    assert response.json() == OK
    assert not OptOut.objects.exists()


@pytest.mark.parametrize("phone", ["13800138000", "+8613800138000", "8613800138000", "008613800138000"])
def test_reply_numbers_are_read_in_any_form(client, aliyun, phone):
    push(client, url(aliyun, "inbound"), [reply("TD", phone=phone)])

    assert OptOut.objects.get().phone == PHONE_CN


def test_a_batch_of_replies(client, aliyun):
    batch = [reply("TD"), reply("hello", phone="13900139000"), reply("退订", phone="13700137000")]

    push(client, url(aliyun, "inbound"), batch)

    assert set(OptOut.objects.values_list("phone", flat=True)) == {PHONE_CN, "+8613700137000"}


def test_replies_need_the_token(client, aliyun):
    response = push(client, url(aliyun, "inbound", token="wrong"), [reply("TD")])

    assert response.status_code == 403
    assert not OptOut.objects.exists()


@pytest.mark.parametrize("payload", ["{", [{"content": "TD"}], [{"phone_number": "13800138000"}]])
def test_malformed_replies_get_400(client, aliyun, payload):
    assert push(client, url(aliyun, "inbound"), payload).status_code == 400
    assert not OptOut.objects.exists()
