"""Notifications in bulk: one message and one task per recipient, off the request path."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from django_sms_verify.exceptions import ChannelUnavailable, InvalidPhoneNumber
from django_sms_verify.models import Channel, Message, MessageKind, OptOut, UsageType
from django_sms_verify.phones import Phone, parse_phone
from django_sms_verify.sending import worker
from django_sms_verify.sending.sync import ensure_channel

CHUNK = 500


@dataclass
class BulkResult:
    queued: int = 0
    skipped_opted_out: int = 0
    duplicates: int = 0  # numbers given more than once (each is sent once)
    invalid: list[str] = field(default_factory=list)  # inputs that are not a number we can reach
    message_ids: list[str] = field(default_factory=list)


def send_notifications(
    phones: Iterable[str | Phone],
    usage_type: str,
    context: Mapping[str, Any] | None = None,
    *,
    channel: str = "sms",
) -> BulkResult:
    """Queue one notification per recipient, rendered from ``usage_type``'s template with
    ``context``; numbers that unsubscribed are skipped.

    Each message is sent by a Django Tasks worker, whatever ``DELIVERY`` says (with
    Django's default ``ImmediateBackend`` that is at once, one after another). Raises
    ``ValueError`` for an unknown usage type or channel or a context that is not JSON.
    """
    if usage_type not in UsageType.values:
        raise ValueError(f"unknown usage type {usage_type!r}; use one of {UsageType.values}")
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}; use one of {Channel.values}")
    context = dict(context or {})
    try:
        json.dumps(context)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the context must be JSON: {exc}") from exc

    worker.require_tasks()
    result = BulkResult()
    numbers: dict[str, Phone] = {}
    for raw in phones:
        try:
            number = raw if isinstance(raw, Phone) else parse_phone(raw)
            ensure_channel(number.region, channel)
        except (InvalidPhoneNumber, ChannelUnavailable):
            result.invalid.append(str(raw))
            continue
        if number.e164 in numbers:
            result.duplicates += 1
        numbers[number.e164] = number

    recipients = list(numbers)
    opted_out: set[str] = set()
    for start in range(0, len(recipients), CHUNK):
        chunk = recipients[start : start + CHUNK]
        opted_out.update(OptOut.objects.filter(phone__in=chunk).values_list("phone", flat=True))
    result.skipped_opted_out = len(opted_out)

    messages = [
        Message(
            kind=MessageKind.NOTIFICATION,
            to=e164,
            usage_type=usage_type,
            channel=channel,
            context=context,
        )
        for e164 in recipients
        if e164 not in opted_out
    ]
    with transaction.atomic():
        Message.objects.bulk_create(messages, batch_size=CHUNK)
        worker.send_later(m.pk for m in messages)
    result.queued = len(messages)
    result.message_ids = [str(m.pk) for m in messages]
    return result
