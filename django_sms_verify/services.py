"""The door to the app: every view, admin page and command goes through these functions.

>>> from django_sms_verify import services
>>> v = services.request_verification("+8613800138000", "SignIn", client_ip="1.2.3.4")
>>> r = services.check_verification("+8613800138000", "SignIn", "123456")
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_sms_verify import crypto
from django_sms_verify.abuse import guards, throttling
from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import (
    CodeExpired,
    DeliveryFailed,
    InvalidCode,
    MaxAttemptsReached,
    OptedOut,
    RateLimited,
    RecipientRejected,
    SmsVerifyError,
    TemplateError,
    VerificationNotFound,
)
from django_sms_verify.models import (
    Channel,
    Connector,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    UsageType,
    Verification,
    VerificationStatus,
)
from django_sms_verify.phones import Phone, mask_phone, parse_phone
from django_sms_verify.sending import worker
from django_sms_verify.sending.bulk import BulkResult, send_notifications
from django_sms_verify.sending.sync import CODE_MASK, deliver, ensure_channel
from django_sms_verify.signals import verification_approved, verification_requested
from django_sms_verify.verification import statements
from django_sms_verify.verification.progress import VerificationProgress, verification_progress
from django_sms_verify.verification.tokens import consume_verification_token, make_token

logger = logging.getLogger("django_sms_verify")

__all__ = [
    "BulkResult",
    "CheckResult",
    "VerificationProgress",
    "check_verification",
    "consume_verification_token",
    "is_opted_out",
    "lift_opt_out",
    "record_opt_out",
    "request_verification",
    "send_notification",
    "send_notifications",
    "send_test_message",
    "verification_progress",
]


def _usage_type(value: str) -> str:
    if value not in UsageType.values:
        raise ValueError(f"unknown usage type {value!r}; use one of {UsageType.values}")
    return value


def _channel(value: str) -> str:
    if value not in Channel.values:
        raise ValueError(f"unknown channel {value!r}; use one of {Channel.values}")
    return value


def _context(code: str) -> dict[str, Any]:
    return {"code": code, "ttl_minutes": max(1, math.ceil(app_settings.CODE_TTL / 60))}


# --- request ---------------------------------------------------------------------------


def request_verification(
    phone: str | Phone, usage_type: str, *, channel: str = "sms", client_ip: str | None = None
) -> Verification:
    """Send a code to ``phone`` for ``usage_type`` (or the pending code again).

    Raises :class:`~.exceptions.InvalidPhoneNumber`, :class:`~.exceptions.ChannelUnavailable`,
    :class:`~.exceptions.RateLimited`, :class:`~.exceptions.RecipientRejected` or
    :class:`~.exceptions.DeliveryFailed`.
    """
    number = phone if isinstance(phone, Phone) else parse_phone(phone)
    usage_type, channel = _usage_type(usage_type), _channel(channel)
    guards.check_number(number, channel)
    # Before any limit is counted: a request no connector can carry is a plain 400.
    connectors = ensure_channel(number.region, channel)
    scope_key = f"{number.e164}|{usage_type}"
    # IP, resend interval, phone, number block, region: one answer whichever refuses.
    guards.admit(
        number,
        resend_scope=scope_key,
        client_ip=client_ip,
        resend_free=lambda: worker.last_send_failed(number.e164, usage_type),
    )

    now = timezone.now()
    background = worker.tasks_mode()
    # The verification, its message and (tasks mode, the queue in the database) its task
    # are committed together: one commit, and none without the others.
    with transaction.atomic():
        verification, code, resent = _pending_or_new(
            number.e164, usage_type, channel, now, with_code=not background
        )
        message = Message(
            kind=MessageKind.VERIFICATION,
            verification=verification,
            to=number.e164,
            usage_type=usage_type,
            channel=channel,
        )
        statements.insert(message)
        if background:
            # A worker sends it; GET verifications/<id>/ tells how it went.
            worker.send_later([message.pk])
    if background:
        return verification
    try:
        deliver(message, connectors, _context(code), region=number.region, redact={"code": CODE_MASK})
    except (DeliveryFailed, RecipientRejected):
        if not resent:
            # Not left pending: nobody received this code.
            Verification.objects.filter(pk=verification.pk).update(
                status=VerificationStatus.FAILED, code_encrypted=""
            )
            verification.status = VerificationStatus.FAILED
        throttling.release_interval("resend", scope_key)
        logger.info("verification %s to %s failed to send", verification.pk, mask_phone(number.e164))
        raise
    logger.info(
        "verification %s %s to %s via %s",
        verification.pk,
        "resent" if resent else "sent",
        mask_phone(number.e164),
        message.connector_name,
    )
    verification_requested.send(
        sender=Verification, verification=verification, message=message, resent=resent
    )
    return verification


def _pending_or_new(
    phone: str, usage_type: str, channel: str, now, *, with_code: bool
) -> tuple[Verification, str, bool]:
    """The pending verification to resend (same code), or a new one: ``(verification,
    code, resent)``. The same statements and crypto on either path (equal timing)."""
    # A resent code lives CODE_TTL from now, as its message says.
    verification = Verification(
        phone=phone,
        usage_type=usage_type,
        channel=channel,
        send_count=1,
        last_sent_at=now,
        expires_at=now + timedelta(seconds=app_settings.CODE_TTL),
    )
    code = crypto.generate_code(app_settings.CODE_LENGTH)
    verification.code_digest = crypto.code_digest(phone, usage_type, code)
    verification.code_encrypted = crypto.encrypt(code)
    taken = statements.take_pending(verification, now, app_settings.MAX_SENDS)
    if taken is None:
        raise RateLimited(app_settings.CODE_TTL, reason="max_sends")
    verification, resent = taken
    # The code to send is read back from the row on either path (same work); tasks mode
    # leaves that to the worker.
    code = crypto.decrypt(verification.code_encrypted) if with_code else ""
    return verification, code, resent


def resend_after(verification: Verification) -> int:
    """Seconds until ``verification``'s phone and usage type may be sent again."""
    if not verification.last_sent_at:
        return 0
    ready = verification.last_sent_at + timedelta(seconds=app_settings.RESEND_INTERVAL)
    return max(0, math.ceil((ready - timezone.now()).total_seconds()))


# --- check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    verification: Verification
    token: str

    @property
    def phone(self) -> str:
        return self.verification.phone


def check_verification(phone: str | Phone, usage_type: str, code: str) -> CheckResult:
    """Check ``code`` against the latest verification of ``phone`` and ``usage_type``.

    Returns a :class:`CheckResult` with a single-use ``token``; raises
    :class:`~.exceptions.InvalidCode` (with ``attempts_left``), :class:`~.exceptions.CodeExpired`,
    :class:`~.exceptions.MaxAttemptsReached`, :class:`~.exceptions.VerificationNotFound` or
    :class:`~.exceptions.RateLimited`.
    """
    number = phone if isinstance(phone, Phone) else parse_phone(phone)
    usage_type = _usage_type(usage_type)
    check_rate = app_settings.rate("PHONE_CHECK_RATE")
    scope_key = f"{number.e164}|{usage_type}"
    throttling.ensure_available("check", scope_key, check_rate)
    code = str(code)
    digest = crypto.code_digest(number.e164, usage_type, code)
    now = timezone.now()
    # The right code, in time, within the attempts: approved by one conditional UPDATE (of
    # concurrent checks with the right code, one wins). Anything else is worked out below.
    approved = statements.approve_latest(
        number.e164, usage_type, digest, now, app_settings.MAX_CHECK_ATTEMPTS
    )
    if approved is not None:
        return _approved(approved)

    with transaction.atomic():
        # Locked where the database has row locks: concurrent wrong checks are counted one
        # after the other and never evaluate more than MAX_CHECK_ATTEMPTS.
        latest = statements.latest_verification(number.e164, usage_type, lock=True)
        refusal = _judge(latest, code, digest, now)
    if refusal is None:  # the right code with a digest of before migration 0004
        return _approve(latest, now)
    if isinstance(refusal, InvalidCode):
        throttling.count_event("check", scope_key, check_rate)
    raise refusal


def _judge(latest: Verification | None, code: str, digest: str, now) -> SmsVerifyError | None:
    """What a check of ``code`` against ``latest`` answers (``None``: the code is right),
    counting a wrong code. Runs inside the caller's transaction, which holds the row."""
    if latest is None or latest.status == VerificationStatus.APPROVED:
        return VerificationNotFound()
    if latest.status == VerificationStatus.LOCKED:
        return MaxAttemptsReached()
    if latest.status == VerificationStatus.EXPIRED or latest.expires_at <= now:
        if latest.status == VerificationStatus.PENDING:
            Verification.objects.filter(pk=latest.pk, status=VerificationStatus.PENDING).update(
                status=VerificationStatus.EXPIRED, code_encrypted=""
            )
        return CodeExpired()
    # Both digests are computed and compared, whichever the row holds (constant time).
    correct = crypto.digests_match(digest, latest.code_digest) | crypto.digests_match(
        crypto.legacy_code_digest(latest.pk, code), latest.code_digest
    )
    return None if correct else _count_wrong_check(latest)


def _approve(verification: Verification, now) -> CheckResult:
    # One conditional UPDATE: of concurrent checks with the right code, one wins.
    if not statements.approve(verification.pk, now, app_settings.MAX_CHECK_ATTEMPTS):
        verification.refresh_from_db()
        if verification.status == VerificationStatus.LOCKED:
            raise MaxAttemptsReached()
        if verification.status == VerificationStatus.APPROVED:
            raise VerificationNotFound()
        raise CodeExpired()
    verification.status, verification.approved_at, verification.code_encrypted = (
        VerificationStatus.APPROVED,
        now,
        "",
    )
    return _approved(verification)


def _approved(verification: Verification) -> CheckResult:
    # DEBUG: the API's security log already has one INFO line per check.
    logger.debug("verification %s approved", verification.pk)
    verification_approved.send(sender=Verification, verification=verification)
    return CheckResult(verification=verification, token=make_token(verification))


def _count_wrong_check(verification: Verification) -> SmsVerifyError:
    """Count one wrong code against ``verification`` (read under its row lock); answer the
    error to raise. The UPDATE is guarded by the count read as well (SQLite has no row
    locks: a concurrent check that got there first makes it change nothing)."""
    limit = app_settings.MAX_CHECK_ATTEMPTS
    attempts = verification.check_attempts
    if attempts >= limit:
        return MaxAttemptsReached()
    new_attempts = attempts + 1
    changes: dict[str, Any] = {"check_attempts": new_attempts}
    if new_attempts >= limit:
        changes.update(status=VerificationStatus.LOCKED, code_encrypted="")
    counted = Verification.objects.filter(
        pk=verification.pk, status=VerificationStatus.PENDING, check_attempts=attempts
    ).update(**changes)
    if not counted:
        return MaxAttemptsReached() if new_attempts >= limit else InvalidCode(0)
    logger.info("verification %s wrong code (%s of %s)", verification.pk, new_attempts, limit)
    return InvalidCode(attempts_left=limit - new_attempts)


# --- notifications and test sends -------------------------------------------------------


def send_notification(
    phone: str | Phone, usage_type: str, *, context: Mapping[str, Any] | None = None, channel: str = "sms"
) -> Message:
    """Send a notification rendered from the connector's template with ``context``.

    Raises :class:`~.exceptions.RecipientRejected`, :class:`~.exceptions.DeliveryFailed`, or
    :class:`~.exceptions.TemplateError` when ``context`` cannot fill any connector's template
    (the returned or attached :class:`~.models.Message` records why).
    """
    number = phone if isinstance(phone, Phone) else parse_phone(phone)
    usage_type, channel = _usage_type(usage_type), _channel(channel)
    connectors = ensure_channel(number.region, channel)
    message = Message(kind=MessageKind.NOTIFICATION, to=number.e164, usage_type=usage_type, channel=channel)
    if is_opted_out(number.e164):
        # Verification codes still go (the user asked for them); notifications do not.
        error = OptedOut()
        message.status, message.error_code, message.error_message = (
            MessageStatus.FAILED,
            error.code,
            str(error.message),
        )
        message.save()
        error.message_record = message
        raise error
    message.save()
    try:
        return deliver(message, connectors, dict(context or {}), region=number.region)
    except DeliveryFailed as exc:
        attempts = message.attempts
        if attempts and all(a["error_code"] == "template_error" for a in attempts):
            # The caller's context cannot fill any connector's template: a programming
            # error to name, not an outage to retry.
            error = TemplateError(message.error_message)
            error.message_record = message
            raise error from exc
        raise


# --- opt-outs ------------------------------------------------------------------------------


def record_opt_out(phone: str, *, connector_name: str = "", keyword: str = "") -> None:
    """Remember that ``phone`` (E.164) unsubscribed from notifications."""
    OptOut.objects.update_or_create(
        phone=phone, defaults={"connector_name": connector_name, "keyword": keyword[:32]}
    )
    logger.info("opt-out recorded for %s (%s)", mask_phone(phone), connector_name)


def lift_opt_out(phone: str) -> None:
    """``phone`` subscribed again (START)."""
    OptOut.objects.filter(phone=phone).delete()
    logger.info("opt-out lifted for %s", mask_phone(phone))


def is_opted_out(phone: str) -> bool:
    return OptOut.objects.filter(phone=phone).exists()


def send_test_message(
    connector: Connector, phone: str | Phone, usage_type: str, *, channel: str = "sms"
) -> Message:
    """Send a sample code through ``connector`` only, for operators checking a set-up.

    Never raises for a provider failure: the returned message has ``status == "failed"``
    and the provider's ``error_code`` and ``error_message``.
    """
    number = phone if isinstance(phone, Phone) else parse_phone(phone)
    usage_type, channel = _usage_type(usage_type), _channel(channel)
    message = Message.objects.create(
        kind=MessageKind.TEST, to=number.e164, usage_type=usage_type, channel=channel
    )
    code = crypto.generate_code(app_settings.CODE_LENGTH)
    with contextlib.suppress(DeliveryFailed, RecipientRejected):
        deliver(message, [connector], _context(code), region=number.region, redact={"code": CODE_MASK})
    return message
