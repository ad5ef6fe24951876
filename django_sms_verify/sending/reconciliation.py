"""Reconciliation: ask providers about messages whose delivery report never came.

Messages still ``sent`` after a while are looked up with their connector's provider
(when it implements :class:`~.providers.status.StatusQueryable`, e.g. Aliyun's
``QuerySendDetails``) and moved forward with :func:`~.delivery.record_status`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from django_sms_verify.exceptions import ProviderError
from django_sms_verify.models import Connector, Message, MessageStatus
from django_sms_verify.providers.status import StatusQuery, StatusQueryable
from django_sms_verify.sending.sync import provider_for, record_status

logger = logging.getLogger("django_sms_verify")


@dataclass
class ReconcileResult:
    checked: int = 0
    updated: dict[str, int] = field(default_factory=dict)  # new status -> count
    pending: int = 0  # the provider has no final answer yet
    errors: list[str] = field(default_factory=list)  # "<connector>: <code>" per failed query

    @property
    def failed_queries(self) -> int:
        return len(self.errors)


def reconcile_statuses(*, older_than: timedelta, limit: int | None = None) -> ReconcileResult:
    """Query the providers about messages ``sent`` more than ``older_than`` ago (and
    recent enough for the provider to still know them); record the final statuses."""
    result = ReconcileResult()
    now = timezone.now()
    for connector in Connector.objects.order_by("priority", "name"):
        try:
            provider = provider_for(connector)
        except (ImportError, KeyError):
            continue
        if not isinstance(provider, StatusQueryable):
            continue
        messages = Message.objects.filter(
            connector=connector,
            status=MessageStatus.SENT,
            sent_at__lte=now - older_than,
            sent_at__gte=now - provider.status_query_window,
        ).exclude(provider_message_id="")
        remaining = None if limit is None else limit - result.checked - result.failed_queries
        if remaining is not None and remaining <= 0:
            break
        for message in messages.order_by("sent_at")[:remaining]:
            _reconcile_one(provider, connector, message, result)
    return result


def _reconcile_one(
    provider: StatusQueryable, connector: Connector, message: Message, result: ReconcileResult
) -> None:
    query = StatusQuery(
        to=message.to,
        provider_message_id=message.provider_message_id,
        message_id=str(message.pk),
        sent_at=message.sent_at,
    )
    try:
        report = provider.query_status(query)
    except ProviderError as exc:
        result.errors.append(f"{connector.name}: {exc.provider_code or exc.reason}")
        logger.warning("status query via %s failed (%s)", connector.name, exc.provider_code or exc.reason)
        return
    result.checked += 1
    if report is None:
        result.pending += 1
        return
    if record_status(
        message,
        report.status,
        error_code=report.error_code,
        error_message=report.error_message,
        at=report.at,
    ):
        result.updated[report.status] = result.updated.get(report.status, 0) + 1
