"""manage.py sms_verify_requeue: stuck messages are queued again, nothing else is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_sms_verify.models import Message, MessageKind, MessageStatus
from tests.conftest import PHONE_CN


@pytest.fixture(autouse=True)
def _tasks_mode(settings):
    settings.SMS_VERIFY = {"DELIVERY": "tasks", "STALE_AFTER": 60}


def message(status, *, idle=0, age=None, provider_message_id="", kind=MessageKind.NOTIFICATION) -> Message:
    created = Message.objects.create(
        kind=kind, to=PHONE_CN, usage_type="Generic", status=status, provider_message_id=provider_message_id
    )
    now = timezone.now()
    Message.objects.filter(pk=created.pk).update(
        updated_at=now - timedelta(seconds=idle), created_at=now - timedelta(seconds=age or idle)
    )
    return created


def queued_tasks() -> list[str]:
    from django_tasks_db.models import DBTaskResult

    return sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(status="READY"))


@pytest.mark.django_db
def test_stuck_messages_are_queued_again_once(capsys):
    stuck_sending = message(MessageStatus.SENDING, idle=61)
    stuck_queued = message(MessageStatus.QUEUED, idle=300)
    message(MessageStatus.SENDING, idle=5)  # a live worker is on it
    message(MessageStatus.QUEUED, idle=5)
    message(MessageStatus.SENT, idle=600)
    message(MessageStatus.FAILED, idle=600)
    message(MessageStatus.SENDING, idle=600, provider_message_id="SM123")  # the provider accepted it
    message(MessageStatus.QUEUED, idle=600, kind=MessageKind.TEST)  # test sends are never queued
    message(MessageStatus.QUEUED, idle=600, age=3 * 86400)  # too old to be of use

    call_command("sms_verify_requeue")
    assert "Requeued 2 message(s) stuck for more than 60s." in capsys.readouterr().out
    assert queued_tasks() == sorted([str(stuck_sending.pk), str(stuck_queued.pk)])
    stuck_sending.refresh_from_db()
    assert stuck_sending.status == MessageStatus.QUEUED
    assert timezone.now() - stuck_sending.updated_at < timedelta(seconds=5)

    # A second run right after finds nothing: each requeue also restarts the clock.
    call_command("sms_verify_requeue")
    assert "Requeued 0" in capsys.readouterr().out
    assert len(queued_tasks()) == 2


@pytest.mark.django_db
def test_older_than(capsys):
    message(MessageStatus.SENDING, idle=5)
    call_command("sms_verify_requeue", "--older-than", "1")
    assert "Requeued 1 message(s) stuck for more than 1s." in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("sms_verify_requeue", "--older-than", "-1")
