"""One pending code per phone and usage type, taken or renewed by one statement.

The request endpoint inserts a new verification or counts a resend of the pending one
with one ``INSERT ... ON CONFLICT`` on a partial unique constraint (``fastsql``). These
tests cover what that changed: concurrent first requests (which could create two pending
codes before), the ORM path other databases take, host receivers on our models, and the
migration that closes duplicates left by the old code.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models.signals import post_save
from django.utils import timezone
from rest_framework.test import APIClient

from django_sms_verify import crypto
from django_sms_verify.models import Message, Verification
from django_sms_verify.verification import statements
from tests.conftest import PHONE_CN
from tests.helpers import check_code, request_code, sent_codes

ON_POSTGRES = connection.vendor == "postgresql"
LOOSE = {"RESEND_INTERVAL": 0, "MAX_SENDS": 100, "PHONE_RATE": "1000/h", "IP_RATE": "1000/h"}


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrency needs PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["fastsql", "orm"])
def test_concurrent_first_requests_create_one_pending_code(connector, settings, monkeypatch, path):
    settings.SMS_VERIFY = LOOSE
    if path == "orm":
        monkeypatch.setattr(statements, "VENDORS", frozenset())
    threads_count = 20
    barrier = threading.Barrier(threads_count)
    answers: list = [None] * threads_count

    def ask(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = request_code(APIClient())
            answers[index] = (response.status_code, response.json().get("id"))
        except BaseException as exc:  # reported by the main thread
            answers[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(a, tuple) for a in answers), answers
    assert {status for status, _ in answers} == {202}
    assert len({pk for _, pk in answers}) == 1  # everybody got the same verification
    pending = Verification.objects.get(phone=PHONE_CN, status="pending")
    assert pending.send_count == threads_count
    assert len(set(sent_codes())) == 1  # and the same code, 20 times


@pytest.fixture
def orm_only(monkeypatch):
    """The path a database without the hand-written statements takes (MySQL, Oracle...)."""
    monkeypatch.setattr(statements, "VENDORS", frozenset())


@pytest.mark.django_db
@pytest.mark.usefixtures("orm_only")
def test_the_orm_path_keeps_every_verification_rule(connector, settings):
    settings.SMS_VERIFY = {**LOOSE, "MAX_SENDS": 3}
    api = APIClient()
    first = request_code(api).json()
    resent = request_code(api).json()
    assert resent["id"] == first["id"]
    assert len(set(sent_codes())) == 1 and len(sent_codes()) == 2  # the same code again
    assert request_code(api).status_code == 202
    assert request_code(api).status_code == 429  # MAX_SENDS

    Verification.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    renewed = request_code(api).json()
    assert renewed["id"] != first["id"]
    assert Verification.objects.get(pk=first["id"]).status == "expired"
    response = check_code(api, sent_codes()[-1])
    assert response.status_code == 200, response.json()
    assert Verification.objects.get(pk=renewed["id"]).status == "approved"


@pytest.mark.django_db
def test_host_receivers_on_our_models_still_run(connector, settings):
    settings.SMS_VERIFY = {"DELIVERY": "tasks"}
    saved = []

    def receiver(sender, instance, created, **kwargs):
        saved.append((instance.to, created))

    post_save.connect(receiver, sender=Message)
    try:
        assert request_code(APIClient()).status_code == 202
    finally:
        post_save.disconnect(receiver, sender=Message)
    assert saved == [(PHONE_CN, True)]
    assert Message.objects.filter(to=PHONE_CN, status="queued").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_closes_duplicate_pending_codes():
    call_command("migrate", "sms_verify", "0003", verbosity=0)
    try:
        now = timezone.now()
        rows = [
            Verification(
                phone=PHONE_CN,
                usage_type="SignIn",
                expires_at=now + timedelta(minutes=5),
                code_digest="x",
                created_at=now,
            )
            for _ in range(3)
        ]
        for offset, row in enumerate(rows):  # created_at is auto_now_add: set it after
            row.save()
            Verification.objects.filter(pk=row.pk).update(created_at=now - timedelta(seconds=offset))
        other = Verification.objects.create(
            phone=PHONE_CN, usage_type="Register", expires_at=now + timedelta(minutes=5), code_digest="x"
        )
    finally:
        call_command("migrate", "sms_verify", verbosity=0)
    statuses = dict(Verification.objects.values_list("pk", "status"))
    assert statuses[rows[0].pk] == "pending"  # the newest stays
    assert statuses[rows[1].pk] == statuses[rows[2].pk] == "expired"
    assert statuses[other.pk] == "pending"


@pytest.mark.django_db(transaction=True)
def test_the_migration_closes_a_pending_code_behind_a_newer_one():
    """The check approves the pending row by the constraint's index: it must be the latest."""
    call_command("migrate", "sms_verify", "0004", verbosity=0)
    try:
        now = timezone.now()
        stale = Verification.objects.create(
            phone=PHONE_CN, usage_type="SignIn", expires_at=now + timedelta(minutes=5), code_digest="x"
        )
        newer = Verification.objects.create(
            phone=PHONE_CN, usage_type="SignIn", expires_at=now + timedelta(minutes=5), status="locked"
        )
        failed = Verification.objects.create(
            phone=PHONE_CN, usage_type="Register", expires_at=now + timedelta(minutes=5), status="failed"
        )
        behind_failed = Verification.objects.create(
            phone=PHONE_CN, usage_type="Register", expires_at=now + timedelta(minutes=5), code_digest="x"
        )
        for offset, row in enumerate([newer, stale, failed, behind_failed]):
            Verification.objects.filter(pk=row.pk).update(created_at=now - timedelta(seconds=offset))
    finally:
        call_command("migrate", "sms_verify", verbosity=0)
    statuses = dict(Verification.objects.values_list("pk", "status"))
    assert statuses[stale.pk] == "expired"
    assert statuses[newer.pk] == "locked"
    assert statuses[behind_failed.pk] == "pending"  # a failed send supersedes nothing


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["fastsql", "orm"])
def test_a_code_stored_before_the_upgrade_still_checks(connector, monkeypatch, path):
    """Codes pending at the upgrade carry the old digest (bound to the row's id)."""
    if path == "orm":
        monkeypatch.setattr(statements, "VENDORS", frozenset())
    now = timezone.now()
    old = Verification(
        phone=PHONE_CN, usage_type="SignIn", expires_at=now + timedelta(minutes=5), send_count=1
    )
    old.code_digest = crypto.legacy_code_digest(old.pk, "246810")
    old.save()
    api = APIClient()
    assert check_code(api, "135791").json()["code"] == "invalid_code"
    response = check_code(api, "246810")
    assert response.status_code == 200, response.json()
    assert Verification.objects.get(pk=old.pk).status == "approved"
