"""The Django task that sends one message (``SMS_VERIFY["DELIVERY"] = "tasks"``).

Django's Tasks framework: ``django.tasks`` on Django 6, the ``django-tasks`` backport on
Django 5.2 (``pip install "django-sms-verify[tasks]"``). Any Tasks backend runs it; the
task only carries the message id, everything else is read from the database.
"""

from __future__ import annotations

from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import ConfigurationError

try:
    from django.tasks import task, task_backends
except ImportError:  # Django < 6
    try:
        from django_tasks import task, task_backends
    except ImportError as exc:
        raise ConfigurationError(
            'SMS_VERIFY["DELIVERY"] = "tasks" needs Django 6 or the django-tasks backport: '
            'pip install "django-sms-verify[tasks]"'
        ) from exc

__all__ = ["send_message", "task_backends"]


@task(backend=app_settings.TASKS_BACKEND, queue_name=app_settings.TASKS_QUEUE)
def send_message(message_id: str) -> str:
    """Send the message ``message_id`` (routing, failover, retries); answers its status."""
    from django_sms_verify.sending.worker import process_message

    return process_message(message_id)
