"""The active connectors and their templates, kept in process between sends.

Every send needs them; reading them costs two queries per request. They change rarely
(an operator edits a connector), so each process keeps a copy and checks a version
number in the shared Django cache (``CACHE_ALIAS``) on every use:

- saving or deleting a connector or a template bumps the version, so every process
  sharing the cache reloads at once (the one that saved it even without a shared cache);
- a version missing from the cache (cleared, evicted, a fresh cache) counts as a change,
  so a cleared cache (as between tests) never serves connectors of an earlier state;
- a copy is never older than ``MAX_AGE`` seconds, which bounds staleness where the cache
  is per process (local memory) or a change bypassed the model signals
  (``QuerySet.update()``).
"""

from __future__ import annotations

import threading
import time
import uuid

from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from django_sms_verify.conf import app_settings
from django_sms_verify.models import Connector, Template

VERSION_KEY = "sms_verify:connectors:version"
MAX_AGE = 10.0

_lock = threading.Lock()
_copy: tuple[str, float, list[Connector]] | None = None  # (version, loaded at, connectors)


def _cache():
    return caches[app_settings.CACHE_ALIAS]


def _current_version() -> str:
    cache = _cache()
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY) or ""
    return version


def active_connectors() -> list[Connector]:
    """Active connectors with their templates prefetched, by priority (a shared list:
    do not change it or its connectors)."""
    global _copy
    version = _current_version()
    copy = _copy
    now = time.monotonic()
    if copy is not None and copy[0] == version and now - copy[1] < MAX_AGE:
        return copy[2]
    connectors = list(Connector.objects.filter(is_active=True).prefetch_related("templates"))
    with _lock:
        _copy = (version, now, connectors)
    return connectors


def invalidate() -> None:
    """Forget the copy here and tell other processes sharing the cache to reload theirs."""
    global _copy
    with _lock:
        _copy = None
    _cache().set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


@receiver(post_save, sender=Connector, dispatch_uid="sms_verify_connector_saved")
@receiver(post_delete, sender=Connector, dispatch_uid="sms_verify_connector_deleted")
@receiver(post_save, sender=Template, dispatch_uid="sms_verify_template_saved")
@receiver(post_delete, sender=Template, dispatch_uid="sms_verify_template_deleted")
def _connectors_changed(**kwargs) -> None:
    invalidate()
    # Again once the change is committed: a process that reloaded in between read the
    # old rows under the new version.
    transaction.on_commit(invalidate, using=kwargs.get("using"))
