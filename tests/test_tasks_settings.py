"""System checks for DELIVERY and the tasks-mode settings."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks


def check_ids(settings, **sms_verify) -> set[str]:
    settings.SMS_VERIFY = sms_verify
    return {m.id for m in run_checks() if m.id.startswith("sms_verify.")}


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"DELIVERY": "celery"}, "sms_verify.E013"),
        ({"RETRY_ATTEMPTS": -1}, "sms_verify.E002"),
        ({"RETRY_ATTEMPTS": True}, "sms_verify.E002"),
        ({"RETRY_BASE_DELAY": 0}, "sms_verify.E015"),
        ({"RETRY_MAX_DELAY": "1m"}, "sms_verify.E015"),
        ({"RETRY_BASE_DELAY": 10, "RETRY_MAX_DELAY": 5}, "sms_verify.E015"),
        ({"STALE_AFTER": 0}, "sms_verify.E016"),
        ({"STALE_AFTER": 15, "PROVIDER_TIMEOUT": 10}, "sms_verify.E016"),
        ({"DELIVERY": "tasks", "TASKS_BACKEND": "nowhere"}, "sms_verify.E014"),
        ({"DELIVERY": "tasks", "TASKS_QUEUE": "sms"}, "sms_verify.E014"),
        ({"TASKS_QUEUE": 3}, "sms_verify.E014"),
    ],
)
def test_bad_values_are_named(settings, values, check_id):
    assert check_id in check_ids(settings, **values)


def test_good_values_pass(settings):
    assert not check_ids(
        settings,
        DELIVERY="tasks",
        RETRY_ATTEMPTS=0,
        RETRY_BASE_DELAY=0.5,
        RETRY_MAX_DELAY=30,
        STALE_AFTER=20,
        PROVIDER_TIMEOUT=10,
    )
    assert not check_ids(settings)


def test_queue_names_are_checked_against_the_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "sms"]}}
    assert not check_ids(settings, DELIVERY="tasks", TASKS_QUEUE="sms")
