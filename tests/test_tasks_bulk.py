"""services.send_notifications: one queued message and task per recipient; opted-out
numbers skipped; delivered by a real worker."""

from __future__ import annotations

import pytest

from django_sms_verify import services
from django_sms_verify.models import Message, MessageStatus
from tests.conftest import PHONE_CN, PHONE_US
from tests.fakes.http_sms import KEY, fake_sms_server
from tests.fakes.worker import tasks_settings, wait_until

NOTICE = {"Generic": {"content": "Order <<order>> has shipped."}}


def phones(count: int) -> list[str]:
    return [f"+86138{i:08d}" for i in range(count)]


@pytest.mark.django_db
def test_summary_and_queued_messages(make_connector, settings, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    settings.SMS_VERIFY = {"DELIVERY": "tasks"}
    make_connector(templates=NOTICE)
    services.record_opt_out(PHONE_US)
    recipients = [PHONE_CN, "+86 138 0013 8000", PHONE_US, "not a number", "+1555", *phones(3)]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_notifications(recipients, "Generic", {"order": "A-17"})

    assert result.queued == 4
    assert result.skipped_opted_out == 1
    assert result.duplicates == 1
    assert result.invalid == ["not a number", "+1555"]
    messages = Message.objects.filter(pk__in=result.message_ids)
    assert sorted(m.to for m in messages) == sorted([PHONE_CN, *phones(3)])
    assert {m.status for m in messages} == {MessageStatus.QUEUED}
    assert {m.kind for m in messages} == {"notification"}
    assert all(m.context == {"order": "A-17"} for m in messages)
    assert not Message.objects.filter(to=PHONE_US).exists()
    tasks = DBTaskResult.objects.all()
    assert sorted(t.args_kwargs["args"][0] for t in tasks) == sorted(result.message_ids)


@pytest.mark.django_db
def test_bad_arguments(connector):
    with pytest.raises(ValueError, match="usage type"):
        services.send_notifications([PHONE_CN], "Marketing")
    with pytest.raises(ValueError, match="channel"):
        services.send_notifications([PHONE_CN], "Generic", channel="fax")
    with pytest.raises(ValueError, match="JSON"):
        services.send_notifications([PHONE_CN], "Generic", {"when": object()})
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_them_all(make_connector, settings, tmp_path):
    workers = tasks_settings(settings, tmp_path)
    try:
        with fake_sms_server() as fake:
            make_connector(KEY, KEY, base_url=fake.url, secrets={"token": fake.token}, templates=NOTICE)
            result = services.send_notifications(phones(25), "Generic", {"order": "B-2"})
            assert result.queued == 25
            workers.start_worker()
            received = fake.wait_for(25)
            assert sorted(r.to for r in received) == phones(25)
            assert {r.text for r in received} == {"Order B-2 has shipped."}
            wait_until(lambda: not Message.objects.exclude(status=MessageStatus.SENT).exists())
            assert len(fake.received) == 25
    finally:
        workers.stop_all()
