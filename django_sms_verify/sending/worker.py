"""Sending off the request path (``SMS_VERIFY["DELIVERY"] = "tasks"``).

The request commits a :class:`Message` (``queued``) and enqueues :func:`tasks.send_message`
(in the same transaction when the queue is in this database, else once it commits). A
worker then runs :func:`process_message`:

- it claims the message with a compare-and-set on ``(status, updated_at)``, so two tasks
  for one message (a requeue, a duplicate delivery by the queue) never both send it;
- before each provider call it records the attempt as ``interrupted`` (status
  ``sending``); the attempt's outcome replaces that entry, so a worker that dies mid-call
  leaves a trace and a message that :func:`requeue_stale` finds;
- a transient failure is retried on the same connector after a growing, jittered delay
  (a deferred task: the worker is not blocked), then the next connector is tried; a
  permanent failure (about the recipient) is final;
- the provider's message id and ``sent`` are written in one UPDATE the moment the
  provider accepts, and a message with a provider id is never sent again.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.cache import caches
from django.db import router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_sms_verify import crypto
from django_sms_verify.abuse import throttling
from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import ProviderError, TemplateError
from django_sms_verify.models import (
    STATUS_RANK,
    Connector,
    Message,
    MessageKind,
    MessageStatus,
    Verification,
    VerificationStatus,
)
from django_sms_verify.sending.sync import (
    CODE_MASK,
    attempt_entry,
    candidate_connectors,
    log_provider_failure,
    provider_for,
    render_message,
    template_for,
)
from django_sms_verify.sending.templating import render
from django_sms_verify.signals import message_status_changed, verification_requested

logger = logging.getLogger("django_sms_verify")

INTERRUPTED = "interrupted"
NO_RETRY_CODES = frozenset({"template_error"})  # retrying the same connector cannot help
# Stale messages older than this are not revived: a code or notice that late is no use.
RECOVERY_WINDOW = timedelta(days=1)
RECOVERY_BATCH = 500
RECOVERY_LOCK_KEY = "sms_verify:recovery"


def tasks_mode() -> bool:
    return app_settings.DELIVERY == "tasks"


# --- enqueueing ------------------------------------------------------------------------


def require_tasks() -> None:
    """Raise :class:`~.exceptions.ConfigurationError` unless a Tasks framework is installed."""
    from django_sms_verify.sending import tasks  # noqa: F401


def _backend():
    from django_sms_verify.sending.tasks import task_backends

    return task_backends[app_settings.TASKS_BACKEND]


def _task(delay: float = 0):
    if delay > 0:
        return _configured_task(app_settings.TASKS_BACKEND, app_settings.TASKS_QUEUE, _backend()).using(
            run_after=timezone.now() + timedelta(seconds=delay)
        )
    return _configured_task(app_settings.TASKS_BACKEND, app_settings.TASKS_QUEUE, _backend())


@functools.lru_cache(maxsize=8)
def _configured_task(backend_alias: str, queue: str, backend: object):
    # Configured once per backend (``using`` validates, which costs on every request);
    # keyed on the backend object too, which is a new one when the TASKS setting changes.
    from django_sms_verify.sending.tasks import send_message

    return send_message.using(backend=backend_alias, queue_name=queue)


def backend_can_defer() -> bool:
    return bool(getattr(_backend(), "supports_defer", False))


def enqueue(message_id: object, *, delay: float = 0) -> None:
    """Queue the send of ``message_id`` now (or after ``delay`` seconds)."""
    _task(delay).enqueue(str(message_id))


def queue_in_this_database() -> bool:
    """Whether the Tasks backend keeps its queue in the database our messages are in
    (django-tasks-db's DatabaseBackend): then a task is written in the same transaction
    as its message, and neither can exist without the other."""
    return _queue_in_database(_backend(), tuple(map(str, settings.DATABASE_ROUTERS)))


@functools.lru_cache(maxsize=8)
def _queue_in_database(backend: object, routers: tuple[str, ...]) -> bool:
    from django.apps import apps

    if not apps.is_installed("django_tasks_db"):
        return False
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    return isinstance(backend, DatabaseBackend) and router.db_for_write(DBTaskResult) == router.db_for_write(
        Message
    )


def send_later(message_ids: Iterable[object]) -> None:
    """Queue the sends of ``message_ids``, written in the current transaction.

    A queue in this database gets the tasks in the same transaction (one commit). Any
    other queue gets them once the transaction commits (at once in autocommit), so a
    worker never looks for a message not committed yet; a queue that is down then does
    not fail the request: the message stays ``queued`` and :func:`requeue_stale` queues
    it again later.
    """
    ids = [str(pk) for pk in message_ids]
    if queue_in_this_database():
        for pk in ids:
            enqueue(pk)
        return

    def send_off() -> None:
        for pk in ids:
            enqueue(pk)

    transaction.on_commit(send_off, robust=True)


# --- the worker ------------------------------------------------------------------------


class _Lost(Exception):
    """Another worker (or a requeue) changed the message under us: leave it to them."""


def process_message(message_id: str) -> str:
    """Send one queued message: the body of :func:`tasks.send_message`. Answers the
    message's status afterwards (or ``"missing"``/``"retrying"``)."""
    recover_stale_if_due()
    message = Message.objects.select_related("verification").filter(pk=message_id).first()
    if message is None:
        return "missing"
    if message.status != MessageStatus.QUEUED or message.provider_message_id:
        return message.status  # done, or being sent by another worker: never send twice
    try:
        return _Send(message).run()
    except _Lost:
        logger.info("message %s was taken over by another worker", message.pk)
        return "taken"


class _Send:
    """One task run over one message: attempts until sent, failed, or deferred."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.tried: Connector | None = None
        # Retries wait in the queue (a deferred task); a backend that cannot defer fails
        # over at once, as sync mode does.
        self.tries_per_connector = 1 + app_settings.RETRY_ATTEMPTS if backend_can_defer() else 1

    def run(self) -> str:
        message = self.message
        context, redact = _context_for(message)
        if context is None:
            self._finish_failed(
                "verification_closed", _("The verification was no longer pending when its turn came.")
            )
            return MessageStatus.FAILED
        region = _region(message.to)
        connectors = candidate_connectors(region, message.channel)
        while True:
            connector = _next_connector(message.attempts, connectors, self.tries_per_connector)
            if connector is None:
                return self._give_up()
            self.tried = connector
            self._claim(connector)
            outcome = self._attempt(connector, context, redact, region)
            if outcome is not None:
                return outcome

    # Each write below is a compare-and-set on the values this run last wrote, so a run
    # that was presumed dead (and requeued) cannot overwrite its successor.
    def _cas(self, **changes: Any) -> None:
        now = timezone.now()
        changes["updated_at"] = now
        won = Message.objects.filter(
            pk=self.message.pk, status=self.message.status, updated_at=self.message.updated_at
        ).update(**changes)
        if not won:
            raise _Lost()
        for field, value in changes.items():
            setattr(self.message, field, value)

    def _claim(self, connector: Connector) -> None:
        marker = attempt_entry(
            connector, INTERRUPTED, _("The worker stopped during this attempt."), permanent=False
        )
        self._cas(status=MessageStatus.SENDING, attempts=[*self.message.attempts, marker])

    def _attempt(self, connector: Connector, context, redact, region: str) -> str | None:
        """One provider call. Answers the final status, or None to try the next connector."""
        message = self.message
        template = template_for(connector, message.usage_type)
        try:
            if template is None:
                raise TemplateError(_("Connector has no template for this usage type or Generic."))
            outgoing = render_message(connector, template, message, context, region)
            body = render(template.content, {**context, **redact}) if template.content else ""
            result = provider_for(connector).send(outgoing)
        except TemplateError as exc:
            return self._failed_attempt(connector, "template_error", str(exc.message), permanent=False)
        except ProviderError as exc:
            log_provider_failure(connector, exc)
            return self._failed_attempt(
                connector, exc.provider_code or exc.reason, str(exc.message), exc.permanent
            )
        except Exception as exc:  # a provider bug must not stop failover; keep the type only
            logger.exception("send via %s raised %s", connector.name, type(exc).__name__)
            return self._failed_attempt(connector, "exception", type(exc).__name__, permanent=False)
        return self._sent(connector, result, body)

    def _sent(self, connector: Connector, result, body: str) -> str:
        message = self.message
        now = timezone.now()
        status = result.status if result.status in STATUS_RANK else MessageStatus.SENT
        changes: dict[str, Any] = {
            "status": status,
            "provider_message_id": result.provider_message_id,
            "sent_at": now,
            "updated_at": now,
            "connector": connector,
            "connector_name": connector.name,
            "provider": connector.provider,
            "body": body,
            "attempts": message.attempts[:-1],  # the attempt succeeded: drop its marker
            "error_code": "",
            "error_message": "",
        }
        if status == MessageStatus.DELIVERED:
            changes["delivered_at"] = now
        # Not a compare-and-set: the provider has accepted, its id must be kept whatever
        # happened meanwhile. Only a second acceptance (a duplicate) is not recorded.
        if not Message.objects.filter(pk=message.pk, provider_message_id="").update(**changes):
            logger.warning("message %s was accepted twice (a requeue raced a slow worker)", message.pk)
            return status
        for field, value in changes.items():
            setattr(message, field, value)
        logger.info("message %s sent via %s", message.pk, connector.name)
        message_status_changed.send(
            sender=Message, message=message, old_status=MessageStatus.QUEUED, new_status=status
        )
        verification = message.verification
        if verification is not None:
            verification_requested.send(
                sender=Verification,
                verification=verification,
                message=message,
                resent=verification.send_count > 1,
            )
        return status

    def _failed_attempt(self, connector: Connector, code: str, text: str, permanent: bool) -> str | None:
        message = self.message
        entry = attempt_entry(connector, code, text, permanent)
        attempts = [*message.attempts[:-1], entry]
        if permanent:
            self._finish_failed(entry["error_code"], entry["error_message"], attempts=attempts)
            return MessageStatus.FAILED
        tries = _tries(attempts, connector)
        if code not in NO_RETRY_CODES and tries < self.tries_per_connector:
            delay = retry_delay(tries)
            self._cas(status=MessageStatus.QUEUED, attempts=attempts)
            enqueue(message.pk, delay=delay)
            logger.info("message %s: retry %s via %s in %.1fs", message.pk, tries, connector.name, delay)
            return "retrying"
        self._cas(attempts=attempts)  # fail over at once
        return None

    def _give_up(self) -> str:
        message = self.message
        if not message.attempts:
            self.message.attempts = [
                attempt_entry(None, "no_connector", _("No active connector serves this number."), False)
            ]
        last = message.attempts[-1]
        self._finish_failed(last["error_code"], last["error_message"], attempts=message.attempts)
        return MessageStatus.FAILED

    def _finish_failed(self, code: str, text: str, attempts: list | None = None) -> None:
        message = self.message
        old_status = MessageStatus.QUEUED
        changes: dict[str, Any] = {
            "status": MessageStatus.FAILED,
            "error_code": str(code)[:64],
            "error_message": str(text)[:500],
        }
        if attempts is not None:
            changes["attempts"] = attempts
        if self.tried is not None:
            # The log names the last connector tried, so failed sends show under its filter.
            changes.update(connector=self.tried, connector_name=self.tried.name, provider=self.tried.provider)
        self._cas(**changes)
        logger.info("message %s failed (%s)", message.pk, code)
        message_status_changed.send(
            sender=Message, message=message, old_status=old_status, new_status=MessageStatus.FAILED
        )
        if code != "verification_closed":
            _verification_not_sent(message)


def _context_for(message: Message) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The placeholder values to render ``message`` with, and what to mask in its stored
    body; ``(None, {})`` for a code whose verification is no longer pending."""
    if message.kind != MessageKind.VERIFICATION:
        return dict(message.context or {}), {}
    verification = message.verification
    if (
        verification is None
        or verification.status != VerificationStatus.PENDING
        or not verification.code_encrypted
        or verification.expires_at <= timezone.now()
    ):
        return None, {}
    code = crypto.decrypt(verification.code_encrypted)
    ttl_minutes = max(1, math.ceil(app_settings.CODE_TTL / 60))
    return {"code": code, "ttl_minutes": ttl_minutes}, {"code": CODE_MASK}


def _verification_not_sent(message: Message) -> None:
    """As in sync mode: a first send that failed leaves no pending code behind, and the
    phone may ask again at once (by voice, say)."""
    verification = message.verification
    if verification is None:
        return
    if verification.send_count <= 1:
        Verification.objects.filter(pk=verification.pk, status=VerificationStatus.PENDING).update(
            status=VerificationStatus.FAILED, code_encrypted=""
        )
    throttling.release_interval("resend", f"{verification.phone}|{verification.usage_type}")


def last_send_failed(phone: str, usage_type: str) -> bool:
    """Whether the latest verification of ``phone`` and ``usage_type`` could not be sent."""
    latest = (
        Verification.objects.filter(phone=phone, usage_type=usage_type)
        .order_by("-created_at")
        .values_list("status", flat=True)
        .first()
    )
    return latest == VerificationStatus.FAILED


def _region(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _tries(attempts: list[Mapping[str, Any]], connector: Connector) -> int:
    return sum(1 for a in attempts if a.get("connector") == connector.name)


def _next_connector(
    attempts: list[Mapping[str, Any]], connectors: list[Connector], tries_per_connector: int
) -> Connector | None:
    """The first connector, by priority, with tries left (derived from the attempts, so a
    requeued message picks up where its dead worker stopped)."""
    for connector in connectors:
        own = [a for a in attempts if a.get("connector") == connector.name]
        if any(a.get("error_code") in NO_RETRY_CODES for a in own):
            continue
        if len(own) < tries_per_connector:
            return connector
    return None


def retry_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (1, 2, ...): exponential, capped, and
    jittered to 75-100 % so that a burst of failures does not come back at once."""
    ceiling = min(app_settings.RETRY_MAX_DELAY, app_settings.RETRY_BASE_DELAY * 2 ** (retry - 1))
    return ceiling * random.uniform(0.75, 1.0)


# --- recovery --------------------------------------------------------------------------


def requeue_stale(older_than: float | None = None, *, limit: int = RECOVERY_BATCH) -> list[str]:
    """Queue again the messages whose worker died: ``queued`` or ``sending`` with no step
    for ``older_than`` seconds (default ``STALE_AFTER``). Answers their ids.

    Messages the provider accepted (a provider id) are never queued again; each requeue
    is a compare-and-set, so concurrent recoveries queue a message once.
    """
    now = timezone.now()
    seconds = app_settings.STALE_AFTER if older_than is None else older_than
    stale = (
        Message.objects.filter(
            created_at__gte=now - RECOVERY_WINDOW,
            status__in=[MessageStatus.QUEUED, MessageStatus.SENDING],
            updated_at__lte=now - timedelta(seconds=seconds),
            provider_message_id="",
        )
        .exclude(kind=MessageKind.TEST)
        .values_list("pk", "status", "updated_at")[:limit]
    )
    requeued = []
    for pk, status, updated_at in stale:
        if Message.objects.filter(pk=pk, status=status, updated_at=updated_at).update(
            status=MessageStatus.QUEUED, updated_at=now
        ):
            requeued.append(str(pk))
    for pk in requeued:
        try:
            enqueue(pk)
        except Exception:  # the queue is down: the next recovery tries again
            logger.exception("cannot requeue message %s", pk)
    if requeued:
        logger.warning("requeued %s stale message(s)", len(requeued))
    return requeued


def recover_stale_if_due() -> None:
    """Workers recover for each other: at most one recovery per STALE_AFTER/2 among the
    processes sharing the cache."""
    try:
        due = caches[app_settings.CACHE_ALIAS].add(
            RECOVERY_LOCK_KEY, 1, timeout=max(1, app_settings.STALE_AFTER // 2)
        )
        if due:
            requeue_stale()
    except Exception:  # recovery must never stop the send at hand
        logger.exception("stale message recovery failed")
