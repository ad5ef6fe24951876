"""Asking a provider what became of a sent message, for reports that never came.

A provider that can answer implements :class:`StatusQueryable`; ``sms_verify_reconcile``
(through :mod:`django_sms_verify.sending.reconciliation`) calls it for messages still ``sent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class StatusQuery:
    """What a provider needs to find one message it accepted."""

    to: str  # E.164
    provider_message_id: str
    message_id: str  # ours (Aliyun's OutId)
    sent_at: datetime


@dataclass(frozen=True)
class StatusReport:
    """A final answer: ``status`` is ``delivered``, ``failed`` or ``undelivered``."""

    status: str
    error_code: str = ""
    error_message: str = ""
    at: datetime | None = None


@runtime_checkable
class StatusQueryable(Protocol):
    # How far back the provider keeps records it can be asked about.
    status_query_window: ClassVar[timedelta]

    def query_status(self, query: StatusQuery) -> StatusReport | None:
        """The message's final status, or None while the provider has no final answer.

        Raises :class:`~django_sms_verify.exceptions.ProviderError` when it cannot ask.
        """
        ...
