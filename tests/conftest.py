"""Shared fixtures: connectors, the locmem outbox, an API client, a clean cache."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

import django_sms_verify
from django_sms_verify.models import Connector, Template, UsageType
from tests.fakes.aliyun import FakeAliyunSms, make_aliyun_connector

PHONE_CN = "+8613800138000"
PHONE_US = "+14155552671"

REQUEST_URL = "/api/sms-verify/verifications/"
CHECK_URL = "/api/sms-verify/verifications/check/"


def clear_test_cache() -> None:
    """Empty this run's cache. On a shared Redis only this run's keys go, so parallel runs
    (other checkouts) keep theirs."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        backend.clear()


@pytest.fixture(autouse=True)
def _clean_state():
    clear_test_cache()
    django_sms_verify.outbox.clear()
    yield
    django_sms_verify.outbox.clear()


@pytest.fixture
def make_connector(db):
    def make(
        name="locmem-main",
        provider="locmem",
        *,
        priority=100,
        regions=(),
        config=None,
        secrets=None,
        templates=None,
        base_url="",
        is_active=True,
    ) -> Connector:
        connector = Connector(
            name=name,
            provider=provider,
            priority=priority,
            regions=list(regions),
            config=config or {},
            base_url=base_url,
            is_active=is_active,
        )
        connector.set_secrets(secrets or {})
        connector.save()
        if templates is None:
            templates = {
                usage: {"content": f"{usage} code <<code>>, valid <<ttl_minutes>> min"}
                for usage in UsageType.values
            }
        for usage, fields in templates.items():
            Template.objects.create(connector=connector, usage_type=usage, **fields)
        return connector

    return make


@pytest.fixture
def aliyun_fake():
    """The fake Alibaba Cloud SMS API on loopback (tests/fakes/aliyun.py)."""
    with FakeAliyunSms() as server:
        yield server


@pytest.fixture
def aliyun(make_connector, aliyun_fake) -> Connector:
    """An active ``aliyun`` connector pointed at :func:`aliyun_fake`."""
    return make_aliyun_connector(make_connector, aliyun_fake)


@pytest.fixture
def connector(make_connector) -> Connector:
    return make_connector()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def last_code() -> str:
    """The code in the newest locmem message."""
    import re

    text = django_sms_verify.outbox[-1].text
    return re.search(r"code (\d+)", text).group(1)
