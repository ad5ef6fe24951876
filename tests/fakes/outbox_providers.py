"""Variants of the locmem provider for behaviours the core providers cannot show.

- ``SecretLocmemProvider`` ("secretmem") has credentials, a required account name and a secret API
  key: tests follow a secret from a connector file through encryption, sends and exports. It
  records what each send was given (timeout, public origin).
- ``SmsOnlyLocmemProvider`` ("smsonly") cannot place calls, like Aliyun and Ronglian.

``register(monkeypatch)`` / ``register_sms_only(monkeypatch)`` add them to the provider registry
for one test.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError
from django_sms_verify.providers import PROVIDER_CLASSES
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, SendResult
from django_sms_verify.providers.locmem import LocmemProvider

KEY = "secretmem"

# What each send was given besides the message: (timeout, public_origin), newest last.
seen_by_sends: list[tuple[float, str]] = []


class SecretLocmemProvider(LocmemProvider):
    key = KEY
    verbose_name = _("Outbox with credentials (tests)")
    fields = (
        *LocmemProvider.fields,
        ConfigField("account", _("Account")),
        ConfigField("apiKey", _("API key"), secret=True),
    )

    def _deliver(self, message: OutgoingMessage) -> SendResult:
        seen_by_sends.append((self.timeout, message.public_origin))
        # Like a real API: no send without the decrypted secret.
        if not self.secrets.get("apiKey"):
            raise PermanentProviderError("missing credentials", provider=self.key, reason="unauthorized")
        return super()._deliver(message)


def register(monkeypatch) -> str:
    """Make ``"secretmem"`` a provider key until ``monkeypatch`` undoes it; answer the key."""
    from django_sms_verify import providers

    monkeypatch.setitem(PROVIDER_CLASSES, KEY, f"{__name__}.SecretLocmemProvider")
    monkeypatch.setitem(providers._loaded, KEY, SecretLocmemProvider)
    seen_by_sends.clear()
    return KEY


SMS_ONLY_KEY = "smsonly"


class SmsOnlyLocmemProvider(LocmemProvider):
    key = SMS_ONLY_KEY
    verbose_name = _("Outbox without voice (tests)")
    supports_voice = False


def register_sms_only(monkeypatch) -> str:
    from django_sms_verify import providers

    monkeypatch.setitem(PROVIDER_CLASSES, SMS_ONLY_KEY, f"{__name__}.SmsOnlyLocmemProvider")
    monkeypatch.setitem(providers._loaded, SMS_ONLY_KEY, SmsOnlyLocmemProvider)
    return SMS_ONLY_KEY
