"""The few statements of the request and check endpoints, as SQL built once per database.

The ORM compiles every query anew on each call; on these two endpoints that cost more
than the database's own work (on the benchmark machine ~0.2 ms to build a statement,
~0.02 ms to run it on SQLite; ``bench/RESULTS.md``). The statements here take table and
column names from the models and prepare every value with the model's own field
(``get_db_prep_save``), so they follow the schema; rows read back go through the
database's converters, as the ORM's do.

PostgreSQL and SQLite (3.35+: ``RETURNING``) run them; any other database gets the
equivalent ORM calls. A model with ``pre_save``/``post_save`` receivers is saved by the
ORM, so a host's receivers still run.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save

from django_sms_verify.models import Verification, VerificationStatus

# Databases these statements were written and tested for (the others use the ORM).
VENDORS = frozenset({"postgresql", "sqlite"})

_sql_cache: dict[tuple[str, str], Any] = {}


def _prepared(key: str, vendor: str, build: Callable[[], Any]) -> Any:
    found = _sql_cache.get((key, vendor))
    if found is None:
        found = _sql_cache[(key, vendor)] = build()
    return found


def _fast(alias: str) -> bool:
    connection = connections[alias]
    # RETURNING: SQLite 3.35+ (Django 5.2 runs on 3.31+, which then takes the ORM path).
    return connection.vendor in VENDORS and connection.features.can_return_columns_from_insert


def _names(model: type[models.Model], alias: str) -> tuple[Callable[[str], str], str]:
    """A function naming ``model``'s columns, and its table's name, quoted for ``alias``."""
    quote = connections[alias].ops.quote_name
    meta = model._meta
    return (lambda field: quote(meta.get_field(field).column)), quote(meta.db_table)


def _from_db(row: Sequence[Any], fields: Sequence[models.Field], alias: str) -> list[Any]:
    """Column values as the ORM would have handed them over (UUIDs, aware datetimes...)."""
    connection = connections[alias]
    converters = _converters(tuple(fields), connection.vendor, alias)
    values = []
    for (column, convert), value in zip(converters, row, strict=True):
        for converter in convert:
            value = converter(value, column, connection)
        values.append(value)
    return values


@functools.lru_cache(maxsize=32)
def _converters(fields: tuple[models.Field, ...], vendor: str, alias: str) -> list[tuple[Any, list]]:
    connection = connections[alias]
    found = []
    for field in fields:
        column = field.get_col(field.model._meta.db_table)
        convert = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        found.append((column, convert))
    return found


# --- INSERT ----------------------------------------------------------------------------


def insert(obj: models.Model) -> None:
    """Save the new ``obj`` (as ``obj.save(force_insert=True)``), in one prepared INSERT."""
    model = type(obj)
    alias = router.db_for_write(model, instance=obj)
    if not _fast(alias) or pre_save.has_listeners(model) or post_save.has_listeners(model):
        obj.save(force_insert=True, using=alias)
        return
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(insert_statement(model, alias), insert_params(obj, alias))
    obj._state.adding, obj._state.db = False, alias


def insert_statement(model: type[models.Model], alias: str) -> str:
    """``INSERT INTO`` every concrete column of ``model``, with one placeholder each."""
    connection = connections[alias]

    def build() -> str:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        columns = ", ".join(quote(f.column) for f in fields)
        values = ", ".join(["%s"] * len(fields))
        return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"

    return _prepared(f"insert:{model._meta.label}", connection.vendor, build)


def insert_params(obj: models.Model, alias: str) -> list[Any]:
    """The values of :func:`insert_statement` for ``obj``, prepared by its fields (defaults
    and ``auto_now_add`` applied, as ``save()`` would)."""
    connection = connections[alias]
    return [
        field.get_db_prep_save(field.pre_save(obj, True), connection) for field in obj._meta.concrete_fields
    ]


# --- the pending verification of a request ---------------------------------------------


def take_pending(new: Verification, now: datetime, max_sends: int) -> tuple[Verification, bool] | None:
    """Take the pending verification of ``new.phone`` and ``new.usage_type`` for one more
    send, or insert ``new`` if there is none: ``(verification, resent)``; ``None`` when the
    pending one has had ``max_sends`` sends.

    Two statements on every path (a first send, a resend, an expired code): a pending
    code past its time is closed, then one ``INSERT ... ON CONFLICT DO UPDATE`` on the
    one-pending-per-phone constraint either inserts ``new`` or counts the resend. The same
    work whatever the number's history, so the time taken tells nothing about it; and two
    concurrent requests can never both create a pending code.
    """
    alias = router.db_for_write(Verification)
    if not _fast(alias):
        return _take_pending_orm(new, now, max_sends, alias)
    connection = connections[alias]
    meta = Verification._meta
    fields = meta.concrete_fields
    returned = [
        meta.get_field(name) for name in ("id", "send_count", "code_encrypted", "code_digest", "created_at")
    ]

    def build() -> tuple[str, str]:
        col, table = _names(Verification, alias)
        quote = connection.ops.quote_name
        pending = f"'{VerificationStatus.PENDING.value}'"
        expire = (
            f"UPDATE {table} SET {col('status')} = '{VerificationStatus.EXPIRED.value}', "
            f"{col('code_encrypted')} = '' "
            f"WHERE {col('phone')} = %s AND {col('usage_type')} = %s AND {col('status')} = {pending} "
            f"AND ({col('expires_at')} <= %s OR {col('code_encrypted')} = '')"
        )
        upsert = (
            f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({col('phone')}, {col('usage_type')}) WHERE {col('status')} = {pending} "
            f"DO UPDATE SET {col('send_count')} = {table}.{col('send_count')} + 1, "
            f"{col('last_sent_at')} = EXCLUDED.{col('last_sent_at')}, "
            f"{col('channel')} = EXCLUDED.{col('channel')}, "
            f"{col('expires_at')} = EXCLUDED.{col('expires_at')} "
            f"WHERE {table}.{col('send_count')} < %s "
            f"RETURNING {', '.join(quote(f.column) for f in returned)}"
        )
        return expire, upsert

    expire, upsert = _prepared("take_pending", connection.vendor, build)
    at = meta.get_field("expires_at").get_db_prep_save(now, connection)
    params = [field.get_db_prep_save(field.pre_save(new, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(expire, [new.phone, new.usage_type, at])
        cursor.execute(upsert, [*params, max_sends])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, send_count, code_encrypted, code_digest, created_at = _from_db(row, returned, alias)
    resent = pk != new.pk
    if resent:
        new.pk, new.send_count = pk, send_count
        new.code_encrypted, new.code_digest = code_encrypted, code_digest
    new.created_at = created_at
    new._state.adding, new._state.db = False, alias
    return new, resent


def _take_pending_orm(
    new: Verification, now: datetime, max_sends: int, alias: str
) -> tuple[Verification, bool] | None:
    pending = Verification.objects.using(alias).filter(
        phone=new.phone, usage_type=new.usage_type, status=VerificationStatus.PENDING
    )
    pending.filter(models.Q(expires_at__lte=now) | models.Q(code_encrypted="")).update(
        status=VerificationStatus.EXPIRED, code_encrypted=""
    )
    current = pending.select_for_update().first()
    if current is None:
        try:
            with transaction.atomic(using=alias):
                new.save(force_insert=True, using=alias)
            return new, False
        except IntegrityError:  # a concurrent request inserted one first (the constraint)
            current = pending.select_for_update().first()
            if current is None:
                raise
    counted = pending.filter(pk=current.pk, send_count__lt=max_sends).update(
        send_count=F("send_count") + 1,
        last_sent_at=new.last_sent_at,
        channel=new.channel,
        expires_at=new.expires_at,
    )
    if not counted:
        return None
    current.send_count += 1
    current.last_sent_at, current.channel, current.expires_at = new.last_sent_at, new.channel, new.expires_at
    return current, True


# --- the check -------------------------------------------------------------------------


def latest_verification(phone: str, usage_type: str, *, lock: bool = False) -> Verification | None:
    """The latest verification of ``phone`` and ``usage_type`` that was sent (not failed);
    with ``lock``, row-locked until the transaction ends where the database can."""
    alias = router.db_for_write(Verification) if lock else router.db_for_read(Verification)
    if not _fast(alias):
        latest = Verification.objects.using(alias).filter(phone=phone, usage_type=usage_type)
        latest = latest.select_for_update() if lock else latest
        return latest.exclude(status=VerificationStatus.FAILED).order_by("-created_at").first()
    connection = connections[alias]
    lock_clause = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    fields = Verification._meta.concrete_fields

    def build() -> str:
        col, table = _names(Verification, alias)
        quote = connection.ops.quote_name
        return (
            f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {table} "
            f"WHERE {col('phone')} = %s AND {col('usage_type')} = %s "
            f"AND {col('status')} <> '{VerificationStatus.FAILED.value}' "
            f"ORDER BY {col('created_at')} DESC LIMIT 1{lock_clause}"
        )

    with connection.cursor() as cursor:
        cursor.execute(_prepared(f"latest{lock_clause}", connection.vendor, build), [phone, usage_type])
        row = cursor.fetchone()
    if row is None:
        return None
    return Verification.from_db(alias, [f.attname for f in fields], _from_db(row, fields, alias))


def approve_latest(
    phone: str, usage_type: str, code_digest: str, now: datetime, max_check_attempts: int
) -> Verification | None:
    """Approve the latest verification of ``phone`` and ``usage_type`` if ``code_digest`` is
    its code's and it is still pending, live and not locked; the approved verification,
    else ``None`` (and nothing changed). One statement for a right code.

    The pending verification is found by the one-pending constraint's index: it is the
    latest one sent, as no verification is created while one is pending (migration 0005
    closed older rows the code before 0004 could leave pending)."""
    alias = router.db_for_write(Verification)
    if not _fast(alias):
        return None  # other databases take the step-by-step path
    connection = connections[alias]
    fields = Verification._meta.concrete_fields

    def build() -> str:
        col, table = _names(Verification, alias)
        quote = connection.ops.quote_name
        pending = f"'{VerificationStatus.PENDING.value}'"
        return (
            f"UPDATE {table} SET {col('status')} = '{VerificationStatus.APPROVED.value}', "
            f"{col('approved_at')} = %s, {col('code_encrypted')} = '' "
            f"WHERE {col('phone')} = %s AND {col('usage_type')} = %s "
            f"AND {col('status')} = {pending} AND {col('check_attempts')} < %s "
            f"AND {col('expires_at')} > %s AND {col('code_digest')} = %s "
            f"RETURNING {', '.join(quote(f.column) for f in fields)}"
        )

    at = Verification._meta.get_field("approved_at").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            _prepared("approve_latest", connection.vendor, build),
            [at, phone, usage_type, max_check_attempts, at, code_digest],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Verification.from_db(alias, [f.attname for f in fields], _from_db(row, fields, alias))


def approve(pk: uuid.UUID, now: datetime, max_check_attempts: int) -> bool:
    """Approve the verification ``pk`` if it is still pending, live and not locked: one
    conditional UPDATE, so of concurrent checks with the right code exactly one wins."""
    alias = router.db_for_write(Verification)
    still_open = {
        "pk": pk,
        "status": VerificationStatus.PENDING,
        "check_attempts__lt": max_check_attempts,
        "expires_at__gt": now,
    }
    if not _fast(alias):
        return bool(
            Verification.objects.using(alias)
            .filter(**still_open)
            .update(status=VerificationStatus.APPROVED, approved_at=now, code_encrypted="")
        )
    connection = connections[alias]

    def build() -> str:
        col, table = _names(Verification, alias)
        return (
            f"UPDATE {table} SET {col('status')} = '{VerificationStatus.APPROVED.value}', "
            f"{col('approved_at')} = %s, {col('code_encrypted')} = '' "
            f"WHERE {col('id')} = %s AND {col('status')} = '{VerificationStatus.PENDING.value}' "
            f"AND {col('check_attempts')} < %s AND {col('expires_at')} > %s"
        )

    meta = Verification._meta
    at = meta.get_field("approved_at").get_db_prep_save(now, connection)
    key = meta.pk.get_db_prep_save(pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(_prepared("approve", connection.vendor, build), [at, key, max_check_attempts, at])
        return cursor.rowcount == 1
