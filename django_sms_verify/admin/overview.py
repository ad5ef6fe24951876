"""Figures for the admin overview: sends, deliveries and approvals per day and connector.

Three aggregate queries whatever the volume: messages grouped by (day, connector),
verifications grouped by the day they were requested, and by the day they were approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from django_sms_verify.models import Message, MessageStatus, Verification, VerificationStatus

DEFAULT_DAYS = 14
FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


@dataclass
class Counts:
    # sent: accepted by a provider (it gave a message ID); delivered: confirmed by a report
    # or by the provider's answer; failed: refused, undeliverable or no connector took it.
    messages: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0

    @property
    def delivery_percent(self) -> float | None:
        return 100 * self.delivered / self.sent if self.sent else None

    def add(self, other: Counts) -> None:
        self.messages += other.messages
        self.sent += other.sent
        self.delivered += other.delivered
        self.failed += other.failed


@dataclass
class DayFigures(Counts):
    day: date = date.min
    requested: int = 0
    approved: int = 0


@dataclass
class ConnectorFigures(Counts):
    name: str = ""
    daily_sent: list[int] = field(default_factory=list)


@dataclass
class Overview:
    days: list[DayFigures]
    connectors: list[ConnectorFigures]
    totals: Counts
    requested: int  # verifications requested in the period
    approved_of_requested: int  # ... of which approved (at any time since)

    @property
    def conversion_percent(self) -> float | None:
        """Approved / requested, for the verifications requested in the period."""
        return 100 * self.approved_of_requested / self.requested if self.requested else None

    @property
    def approved(self) -> int:
        return sum(d.approved for d in self.days)


def build_overview(days: int = DEFAULT_DAYS, *, today: date | None = None) -> Overview:
    """The last ``days`` days up to ``today`` (in the current time zone), oldest first."""
    tz = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min), tz)
    by_day = {first + timedelta(days=i): DayFigures(day=first + timedelta(days=i)) for i in range(days)}

    message_rows = (
        Message.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "connector_name")
        .annotate(
            messages=Count("pk"),
            sent=Count("pk", filter=~Q(provider_message_id="")),
            delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
            failed=Count("pk", filter=Q(status__in=FAILED_STATUSES)),
        )
        .order_by()
    )
    connectors: dict[str, ConnectorFigures] = {}
    totals = Counts()
    for row in message_rows:
        if row["day"] not in by_day:
            continue  # created "tomorrow" by a clock ahead of ours
        counts = Counts(row["messages"], row["sent"], row["delivered"], row["failed"])
        by_day[row["day"]].add(counts)
        totals.add(counts)
        figures = connectors.setdefault(
            row["connector_name"], ConnectorFigures(name=row["connector_name"], daily_sent=[0] * days)
        )
        figures.add(counts)
        figures.daily_sent[(row["day"] - first).days] += counts.sent

    requested_rows = (
        Verification.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(
            requested=Count("pk"),
            approved=Count("pk", filter=Q(status=VerificationStatus.APPROVED)),
        )
        .order_by()
    )
    requested = approved_of_requested = 0
    for row in requested_rows:
        if row["day"] in by_day:
            by_day[row["day"]].requested += row["requested"]
            requested += row["requested"]
            approved_of_requested += row["approved"]

    approved_rows = (
        Verification.objects.filter(approved_at__gte=since)
        .annotate(day=TruncDate("approved_at", tzinfo=tz))
        .values("day")
        .annotate(approved=Count("pk"))
        .order_by()
    )
    for row in approved_rows:
        if row["day"] in by_day:
            by_day[row["day"]].approved += row["approved"]

    return Overview(
        days=list(by_day.values()),
        connectors=sorted(connectors.values(), key=lambda c: (-c.messages, c.name)),
        totals=totals,
        requested=requested,
        approved_of_requested=approved_of_requested,
    )
