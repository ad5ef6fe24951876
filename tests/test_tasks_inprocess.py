"""Tasks mode in one process: what the request writes and queues, the query budget of the
request path, and a Tasks backend that runs tasks at once (no deferral)."""

from __future__ import annotations

from importlib.util import find_spec

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.models import Connector, Message, MessageStatus, Verification
from tests.conftest import CHECK_URL, PHONE_CN, PHONE_US, REQUEST_URL, last_code

TASKS_PACKAGE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"
DUMMY = f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"


@pytest.fixture
def tasks_mode(settings):
    settings.SMS_VERIFY = {"DELIVERY": "tasks"}


@pytest.fixture
def immediate(settings, tasks_mode):
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}


def test_with_the_queue_in_the_database_the_task_is_written_with_the_message(
    api, connector, tasks_mode, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    message = Message.objects.get(verification_id=response.json()["id"])
    assert message.status == MessageStatus.QUEUED
    [task] = DBTaskResult.objects.all()
    assert task.args_kwargs["args"] == [str(message.pk)]
    assert task.task_path == "django_sms_verify.sending.tasks.send_message"
    assert callbacks == []
    assert django_sms_verify.outbox == []


def test_another_queue_gets_the_task_after_commit(
    api, connector, tasks_mode, settings, django_capture_on_commit_callbacks
):
    from django_sms_verify.sending.tasks import task_backends

    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    backend = task_backends["default"]
    assert backend.results == []  # nothing a worker could look for before the commit
    [send_off] = callbacks
    send_off()
    [result] = backend.results
    message = Message.objects.get(verification_id=response.json()["id"])
    assert result.args == [str(message.pk)]


def statements(queries) -> list[str]:
    """The SQL sent, less transaction control (BEGIN, SAVEPOINT...), which PostgreSQL's
    driver sends without Django logging it and SQLite's runs in process."""
    control = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "COMMIT")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(control)]


def test_query_budget(api, connector, tasks_mode, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    # Warm: the connectors and templates are read once per process, then kept.
    api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")
    # The pending lookup, the verification, the message, the task (the queue is the database).
    with CaptureQueriesContext(connection) as queries:
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    assert len(statements(queries)) == 4, statements(queries)
    assert DBTaskResult.objects.count() == 2
    with CaptureQueriesContext(connection) as queries:
        api.get(f"{REQUEST_URL}{response.json()['id']}/")
    assert len(statements(queries)) == 2


def test_check_query_budget(api, connector, django_assert_max_num_queries):
    api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    with django_assert_max_num_queries(3):
        response = api.post(
            CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": last_code()}, format="json"
        )
    assert response.status_code == 200


def test_sync_request_query_budget(api, connector):
    api.post(REQUEST_URL, {"phone": PHONE_US, "usage_type": "SignIn"}, format="json")
    with CaptureQueriesContext(connection) as queries:
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    assert len(statements(queries)) == 4, statements(queries)


def test_a_backend_that_runs_tasks_at_once(api, connector, immediate, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    message = Message.objects.get(verification_id=response.json()["id"])
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == django_sms_verify.outbox[0].provider_message_id
    response = api.post(
        CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": last_code()}, format="json"
    )
    assert response.status_code == 200


def test_without_deferral_transient_failures_fail_over_at_once(
    make_connector, immediate, django_capture_on_commit_callbacks
):
    make_connector("down", priority=10, config={"fail": "transient"})
    make_connector("up", priority=20)
    with django_capture_on_commit_callbacks(execute=True):
        verification = services.request_verification(PHONE_CN, "SignIn")
    message = Message.objects.get(verification=verification)
    assert message.status == MessageStatus.SENT
    assert message.connector_name == "up"
    assert [a["connector"] for a in message.attempts] == ["down"]


def test_every_connector_failing_fails_the_verification(
    make_connector, immediate, django_capture_on_commit_callbacks
):
    make_connector("down", config={"fail": "transient"})
    with django_capture_on_commit_callbacks(execute=True):
        verification = services.request_verification(PHONE_CN, "SignIn")
    message = Message.objects.get(verification=verification)
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "503"
    assert message.connector_name == "down"
    assert Verification.objects.get(pk=verification.pk).status == "failed"
    # The phone may ask again at once.
    with django_capture_on_commit_callbacks(execute=True):
        services.request_verification(PHONE_CN, "SignIn", channel="voice")


def test_no_connector_at_all(db, immediate, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        verification = services.request_verification(PHONE_CN, "SignIn")
    message = Message.objects.get(verification=verification)
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "no_connector"


def test_a_closed_verification_is_not_sent(
    api, connector, tasks_mode, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        verification = services.request_verification(PHONE_CN, "SignIn")
    # The code was checked (the user had it from an earlier message) before the worker ran.
    Verification.objects.filter(pk=verification.pk).update(status="approved", code_encrypted="")
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    callbacks[0]()  # the send goes off now, to a backend that runs it at once
    message = Message.objects.get(verification=verification)
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "verification_closed"
    assert django_sms_verify.outbox == []
    assert Verification.objects.get(pk=verification.pk).status == "approved"


def test_notifications_through_a_backend_that_runs_at_once(
    make_connector, immediate, django_capture_on_commit_callbacks
):
    make_connector(templates={"Generic": {"content": "Order <<order>> has shipped."}})
    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_notifications([PHONE_CN, PHONE_US], "Generic", {"order": "A-17"})
    assert result.queued == 2
    assert sorted(m.to for m in django_sms_verify.outbox) == sorted([PHONE_CN, PHONE_US])
    assert {m.text for m in django_sms_verify.outbox} == {"Order A-17 has shipped."}
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_a_failed_first_send_lets_the_phone_ask_again_without_a_shared_cache(
    api, make_connector, tasks_mode, settings, django_capture_on_commit_callbacks
):
    make_connector("refuses", config={"fail": "permanent"})
    shared = settings.CACHES
    settings.TASKS = {"default": {"BACKEND": DUMMY}}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    # The worker runs in another process whose cache this one does not see.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "w"}
    }
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    callbacks[0]()
    settings.CACHES = shared
    assert Verification.objects.get(pk=response.json()["id"]).status == "failed"

    Connector.objects.filter(name="refuses").delete()
    make_connector("works")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "channel": "voice"}, format="json"
        )
    assert response.status_code == 202, response.content
    assert django_sms_verify.outbox[-1].channel == "voice"
    # That one was sent: the interval holds again.
    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 429
