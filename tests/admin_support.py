"""Stand-in providers and helpers for the admin tests.

The admin builds its forms from ``Provider.fields`` alone, so these small providers (one
with a secret, one sending registered templates) exercise it whichever real provider
modules are installed. ``register_provider`` adds one to the registry for one test.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_sms_verify import providers
from django_sms_verify.exceptions import TransientProviderError
from django_sms_verify.providers import ConfigField, OutgoingMessage, Provider, SendResult

VAULT_TOKEN = "vault-token-7f3a9c1e5b2d4680"  # the stored secret no page may show


class VaultProvider(Provider):
    """Sends only with the right auth token, like an account-based API (Twilio)."""

    key = "vault"
    verbose_name = "Vault (test stand-in)"
    fields = (
        ConfigField("accountSID", "Account SID"),
        ConfigField("authToken", "Auth token", secret=True),
        ConfigField("fromNumber", "From number", required=False),
    )
    sent: list[OutgoingMessage] = []

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        if self.secrets.get("authToken") != VAULT_TOKEN:
            # the answer names the problem but never echoes the secret
            raise TransientProviderError(
                "Authentication failed", provider=self.key, provider_code="20003", status=401
            )
        VaultProvider.sent.append(message)
        return SendResult(provider_message_id=f"VA{uuid.uuid4().hex[:24]}", status="sent")


class StampProvider(Provider):
    """Sends registered templates with params, like Aliyun or Ronglian."""

    key = "stamp"
    verbose_name = "Stamp (test stand-in)"
    uses_template_ids = True
    default_params: Any = {"code": "<<code>>"}
    fields = (
        ConfigField("accessKeyId", "Access key ID"),
        ConfigField("accessKeySecret", "Access key secret", secret=True),
    )

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_message_id=f"ST{uuid.uuid4().hex[:12]}")


def register_provider(monkeypatch: pytest.MonkeyPatch, cls: type[Provider]) -> None:
    monkeypatch.setitem(providers.PROVIDER_CLASSES, cls.key, f"{cls.__module__}.{cls.__qualname__}")
    monkeypatch.setitem(providers._loaded, cls.key, cls)


def staff_client(username: str, *codenames: str) -> Client:
    """A logged-in staff user holding only the given ``sms_verify`` permissions."""
    user = User.objects.create_user(username, password="pw-not-used", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="sms_verify", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client
