"""Daily spend caps: how many sends may reach providers per day, overall and per connector.

Every provider call under a cap first takes one unit of today's budget (:func:`reserve`, called by
``delivery.deliver``): a conditional ``UPDATE ... SET sent = sent + 1 WHERE sent < cap``
on a counter row per day and scope, so concurrent requests on any number of servers
never pass the cap (PostgreSQL re-checks the condition on the locked row). A connector
past its cap is skipped like a failing one (the next connector is tried); past the
overall cap every send stops. Units are not given back when a provider then fails: a
timed-out send may still have been delivered and billed.

``SMS_VERIFY["DAILY_SEND_CAP"]`` (overall) and ``["CONNECTOR_DAILY_SEND_CAPS"]`` (by
connector name) set the caps; the day is the site's local day (``TIME_ZONE``).
:func:`spend_status` gives today's figures for the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_sms_verify.abuse.security_log import security_event
from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import SpendCapReached
from django_sms_verify.models import Connector, DailySendCount
from django_sms_verify.signals import spend_cap_reached

ALL = ""  # connector_name of the overall counter


class _CapSpent(Exception):
    def __init__(self, connector_name: str, cap: int) -> None:
        self.connector_name, self.cap = connector_name, cap


def connector_cap(name: str) -> int | None:
    return (app_settings.CONNECTOR_DAILY_SEND_CAPS or {}).get(name)


def reserve(connector: Connector) -> None:
    """Count one send through ``connector`` today; raise :class:`SpendCapReached` if the
    connector's or the overall cap is spent (then nothing is counted)."""
    scopes = [(connector.name, connector_cap(connector.name)), (ALL, app_settings.DAILY_SEND_CAP)]
    scopes = [(name, cap) for name, cap in scopes if cap is not None]
    if not scopes:
        return  # no cap applies: sends cost no query here
    day = timezone.localdate()
    try:
        # Connector row first, then the overall one: the same lock order everywhere.
        with transaction.atomic():
            for name, cap in scopes:
                if not _take(day, name, cap):
                    raise _CapSpent(name, cap)
    except _CapSpent as spent:
        _note_refusal(day, spent.connector_name, spent.cap)
        if spent.connector_name:
            text = _("Daily send cap of connector %(name)s reached (%(cap)s).") % {
                "name": spent.connector_name,
                "cap": spent.cap,
            }
        else:
            text = _("Daily send cap of all connectors reached (%(cap)s).") % {"cap": spent.cap}
        raise SpendCapReached(
            text, provider=connector.provider, provider_code="spend_cap", reason="spend_cap"
        ) from None


def _take(day: date, name: str, cap: int | None) -> bool:
    rows = DailySendCount.objects.filter(day=day, connector_name=name)
    if cap is not None:
        rows = rows.filter(sent__lt=cap)
    if rows.update(sent=F("sent") + 1):
        return True
    # The cap is spent, or today's row is not there yet (or not committed yet). Make sure
    # it is (the insert waits for a concurrent inserter to finish), then decide on it.
    DailySendCount.objects.bulk_create([DailySendCount(day=day, connector_name=name)], ignore_conflicts=True)
    return bool(rows.update(sent=F("sent") + 1))


def _note_refusal(day: date, name: str, cap: int) -> None:
    rows = DailySendCount.objects.filter(day=day, connector_name=name)
    rows.update(refused=F("refused") + 1)
    first = rows.filter(cap_reached_at__isnull=True).update(cap_reached_at=timezone.now())
    if first:  # one notice per cap and day, however many requests hit it at once
        security_event("spend_cap_reached", connector=name or "*", cap=cap, day=day.isoformat())
        spend_cap_reached.send(sender=DailySendCount, day=day, connector_name=name, cap=cap)


@dataclass(frozen=True)
class SpendStatus:
    """One day's sends against one cap; ``connector_name`` "" is the overall cap."""

    day: date
    connector_name: str
    sent: int
    cap: int | None
    refused: int = 0
    cap_reached_at: datetime | None = None

    @property
    def exhausted(self) -> bool:
        return self.cap is not None and self.sent >= self.cap

    @property
    def remaining(self) -> int | None:
        return None if self.cap is None else max(0, self.cap - self.sent)


def spend_status(day: date | None = None) -> list[SpendStatus]:
    """Today's (or ``day``'s) sends per cap: the overall figure first, then each connector
    that sent or has a cap. Exhausted caps are what the admin should show as a notice."""
    day = day or timezone.localdate()
    rows = {row.connector_name: row for row in DailySendCount.objects.filter(day=day)}
    names = sorted((set(rows) | set(app_settings.CONNECTOR_DAILY_SEND_CAPS or {})) - {ALL})
    statuses = []
    for name in [ALL, *names]:
        row = rows.get(name)
        statuses.append(
            SpendStatus(
                day=day,
                connector_name=name,
                sent=row.sent if row else 0,
                cap=app_settings.DAILY_SEND_CAP if name == ALL else connector_cap(name),
                refused=row.refused if row else 0,
                cap_reached_at=row.cap_reached_at if row else None,
            )
        )
    return statuses
