"""Acceptance: no admin page ever carries a connector's stored secret.

Runs for the stand-in provider and for every installed provider that declares a secret
(twilio, aliyun, ronglian once present), each connector pointing at a closed local port so
that a test send fails fast without leaving the machine.
"""

from __future__ import annotations

import logging
import socket
import uuid

import pytest
from django.urls import reverse

from django_sms_verify.models import Connector, Message, Template, UsageType
from django_sms_verify.providers import available_providers
from tests.admin_support import VaultProvider, register_provider
from tests.conftest import PHONE_CN


def _providers_with_secrets() -> list[str]:
    """The stand-in, and every installed provider with a secret (at collection time)."""
    return ["vault", *(k for k, cls in available_providers().items() if cls.secret_field_names())]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _stand_in(monkeypatch):
    register_provider(monkeypatch, VaultProvider)


@pytest.fixture
def secret_connector(request, db) -> tuple[Connector, list[str]]:
    cls = available_providers()[request.param]
    secrets = {f.name: f"S3CRET-{f.name}-{uuid.uuid4().hex}" for f in cls.fields if f.secret}
    config = {f.name: f"value-{f.name}" for f in cls.fields if not f.secret}
    connector = Connector(
        name=f"{request.param}-main",
        provider=request.param,
        config=config,
        base_url=f"http://127.0.0.1:{_closed_port()}",
    )
    connector.set_secrets(secrets)
    connector.save()
    for usage in UsageType.values:
        Template.objects.create(
            connector=connector,
            usage_type=usage,
            content=f"{usage} <<code>>",
            template_id="T1" if cls.uses_template_ids else "",
        )
    return connector, list(secrets.values())


@pytest.mark.parametrize("secret_connector", _providers_with_secrets(), indirect=True)
def test_no_admin_page_shows_a_stored_secret(admin_client, secret_connector, caplog):
    caplog.set_level(logging.DEBUG)
    connector, secrets = secret_connector
    assert secrets, "the provider declares a secret"
    pk = connector.pk
    change = reverse("admin:sms_verify_connector_change", args=[pk])
    test_send = reverse("admin:sms_verify_connector_test_send", args=[pk])
    changelist = reverse("admin:sms_verify_connector_changelist")
    form = {
        "name": connector.name,
        "priority": "3",
        "regions": "",
        "base_url": connector.base_url,
        "templates-TOTAL_FORMS": "0",
        "templates-INITIAL_FORMS": "0",
        **{f"cfg_{k}": v for k, v in connector.config.items()},  # secrets left blank: kept
    }
    responses = [
        admin_client.get("/admin/"),
        admin_client.get("/admin/sms_verify/"),
        admin_client.get(changelist),
        admin_client.get(changelist, {"q": connector.name}),
        admin_client.get(reverse("admin:sms_verify_connector_add")),
        admin_client.get(reverse("admin:sms_verify_connector_add"), {"provider": connector.provider}),
        admin_client.get(change),
        admin_client.get(reverse("admin:sms_verify_connector_history", args=[pk])),
        admin_client.get(reverse("admin:sms_verify_connector_delete", args=[pk])),
        admin_client.get(test_send),
        admin_client.post(test_send, {"phone": PHONE_CN, "usage_type": "SignIn"}),
        admin_client.post(
            changelist, {"action": "send_test_sms_action", "_selected_action": [pk], "index": "0"}
        ),
        admin_client.post(
            changelist,
            {
                "action": "send_test_sms_action",
                "_selected_action": [pk],
                "phone": PHONE_CN,
                "usage_type": "Generic",
                "send_test": "1",
            },
            follow=True,
        ),
        admin_client.post(change, {**form, "name": "not a valid name!"}),  # re-rendered with errors
        admin_client.post(change, form, follow=True),  # saved, back on the list with a message
        admin_client.get(reverse("admin:sms_verify_connector_history", args=[pk])),  # the change log
        admin_client.get(reverse("admin:sms_verify_message_changelist")),
        admin_client.get(reverse("admin:sms_verify_overview")),
    ]
    for message in Message.objects.all():
        responses.append(admin_client.get(reverse("admin:sms_verify_message_change", args=[message.pk])))
    assert Message.objects.count() == 2  # both test sends were recorded

    for response in responses:
        assert response.status_code in (200, 302), (response.request["PATH_INFO"], response.status_code)
        body = response.content.decode()
        headers = str(response.headers)
        for secret in secrets:
            assert secret not in body, response.request["PATH_INFO"]
            assert secret not in headers
    connector.refresh_from_db()
    assert sorted(connector.get_secrets().values()) == sorted(secrets)  # blank kept them
    for secret in secrets:
        assert secret not in caplog.text
