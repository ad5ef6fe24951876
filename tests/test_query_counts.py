"""SQL statements per call (issue 7: at most 4 per request, 3 per check), counted with
Django's CaptureQueriesContext; transaction control (BEGIN, SAVEPOINT...) is not counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from django_sms_verify.models import Verification
from django_sms_verify.sending import connector_cache
from tests.conftest import PHONE_CN
from tests.helpers import check_code, latest_code, request_code, wrong_code

CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")

pytestmark = pytest.mark.django_db


def statements(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    sql = [q["sql"] for q in queries.captured_queries]
    return response, [q for q in sql if not q.upper().startswith(CONTROL)]


@pytest.fixture
def api(connector) -> APIClient:
    connector_cache.active_connectors()  # kept in process, as in a running server
    return APIClient()


@pytest.mark.parametrize("delivery", ["tasks", "sync"])
def test_a_request_runs_at_most_four_statements(api, settings, delivery):
    settings.SMS_VERIFY = {"DELIVERY": delivery, "RESEND_INTERVAL": 0}
    connector_cache.active_connectors()
    for _first_or_resend in range(2):
        response, sql = statements(lambda: request_code(api))
        assert response.status_code == 202
        assert len(sql) <= 4, sql


def test_a_check_with_the_right_code_is_one_statement(api):
    request_code(api)
    response, sql = statements(lambda: check_code(api, latest_code()))
    assert response.status_code == 200
    assert len(sql) == 1, sql


def test_every_other_check_runs_at_most_three_statements(api):
    request_code(api)
    code = latest_code()
    response, sql = statements(lambda: check_code(api, wrong_code(code)))
    assert response.json()["code"] == "invalid_code"
    assert len(sql) <= 3, sql

    Verification.objects.filter(phone=PHONE_CN).update(expires_at=timezone.now() - timedelta(seconds=1))
    response, sql = statements(lambda: check_code(api, code))
    assert response.json()["code"] == "expired"
    assert len(sql) <= 3, sql

    response, sql = statements(lambda: check_code(api, code, phone="+8613900139000"))
    assert response.json()["code"] == "not_found"
    assert len(sql) <= 3, sql
