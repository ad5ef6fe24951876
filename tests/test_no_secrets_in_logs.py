"""No code, token or secret in clear in the logs or the database after a full cycle.

The cycle: a connector with a secret imported by the command, a code requested, a wrong check,
the right check, the token consumed, a test send and a notification. Everything logged (at DEBUG,
from the root logger, SQL included) and every value of every table is then searched.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.management import call_command
from django.db import connection

import django_sms_verify
from django_sms_verify import consume_verification_token, services
from django_sms_verify.models import Connector
from tests.conftest import PHONE_CN
from tests.fakes import outbox_providers
from tests.helpers import check_code, latest_code, request_code, wrong_code

SECRET = "sk_test_9f3c1e7a55d04b2c8e6f0a1b2c3d4e5f"
ACCOUNT = "acme-sms-account"


@pytest.fixture
def secret_provider(monkeypatch) -> str:
    """A provider key whose connectors hold an ``apiKey`` secret (see tests/fakes)."""
    return outbox_providers.register(monkeypatch)


@pytest.fixture
def all_logs():
    """Everything any logger emits during the test, SQL queries included, as one text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = {
        name: logging.getLogger(name).level for name in ("django", "django.db.backends", "django_sms_verify")
    }
    for name in quiet:
        logging.getLogger(name).setLevel(logging.DEBUG)
    connection.force_debug_cursor = True  # log every SQL query with its parameters
    try:
        yield stream
    finally:
        connection.force_debug_cursor = False
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
        root.removeHandler(handler)
        root.setLevel(old_level)


def database_text() -> str:
    """Every value of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608  (introspected name)
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    chunks.append(f"{table}: {value}")
    return "\n".join(chunks)


def test_full_cycle_leaves_no_code_token_or_secret_in_logs_or_database(
    api, db, secret_provider, tmp_path, settings, all_logs
):
    # Ten digits: a chance match inside a timestamp, digest or phone number cannot happen.
    settings.SMS_VERIFY = {"CODE_LENGTH": 10}
    connector_file = tmp_path / "connector.json"
    connector_file.write_text(
        json.dumps(
            {
                "name": "secret-main",
                "provider": secret_provider,
                "account": ACCOUNT,
                "apiKey": SECRET,
                "templates": [
                    {"usageType": "SignIn", "content": "SignIn code {{code}}, valid <<ttl_minutes>> min"},
                    {"usageType": "Generic", "content": "Hello <<name>>, order <<order>> has shipped"},
                ],
            }
        )
    )
    call_command("sms_verify_connector", "import", str(connector_file), stdout=io.StringIO())
    exported = io.StringIO()
    call_command("sms_verify_connector", "export", "secret-main", stdout=exported)

    assert request_code(api).status_code == 202
    code = latest_code()
    assert len(code) == 10
    pending_snapshot = database_text()  # while the code is pending (kept encrypted for resends)
    assert check_code(api, wrong_code(code)).status_code == 400
    response = check_code(api, code)
    assert response.status_code == 200
    token = response.json()["verification_token"]
    assert consume_verification_token(token, usage_type="SignIn") == PHONE_CN
    test_message = services.send_test_message(Connector.objects.get(), PHONE_CN, "SignIn")
    test_code = django_sms_verify.outbox[-1].text.split("code ")[1].split(",")[0]
    services.send_notification(PHONE_CN, "Generic", context={"name": "Ann", "order": "A-17"})

    # The cycle really happened, through the connector holding the secret.
    assert test_message.status == "sent"
    assert [m.connector for m in django_sms_verify.outbox] == ["secret-main"] * 3
    assert django_sms_verify.outbox[-1].text == "Hello Ann, order A-17 has shipped"

    logs = all_logs.getvalue()
    tables = database_text()
    # The searches can find things: the logs hold SQL and our events, the tables the connector and phone.
    assert "sms_verify_verification" in logs
    assert "approved" in logs
    assert "secret-main" in tables and PHONE_CN in tables and ACCOUNT in tables
    assert "Hello Ann, order A-17 has shipped" in tables  # notifications are not secret

    for label, text in (("logs", logs), ("tables", tables), ("tables while pending", pending_snapshot)):
        assert code not in text, f"the verification code is in the {label}"
        assert test_code not in text, f"the test send's code is in the {label}"
        assert token not in text, f"the verification token is in the {label}"
        assert SECRET not in text, f"the connector secret is in the {label}"
    assert SECRET not in exported.getvalue()
