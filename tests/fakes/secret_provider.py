"""A locmem provider with credentials: a required account name and a secret API key.

The core providers (console, locmem) have no secrets; this one lets tests follow a secret from a
connector file through encryption, sends and exports. ``register(monkeypatch)`` adds it to the
provider registry under a key of its own for one test.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError
from django_sms_verify.providers import PROVIDER_CLASSES
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, SendResult
from django_sms_verify.providers.locmem import LocmemProvider

KEY = "secretmem"


class SecretLocmemProvider(LocmemProvider):
    key = KEY
    verbose_name = _("Outbox with credentials (tests)")
    fields = (
        *LocmemProvider.fields,
        ConfigField("account", _("Account")),
        ConfigField("apiKey", _("API key"), secret=True),
    )

    def _deliver(self, message: OutgoingMessage) -> SendResult:
        # Like a real API: no send without the decrypted secret.
        if not self.secrets.get("apiKey"):
            raise PermanentProviderError("missing credentials", provider=self.key, reason="unauthorized")
        return super()._deliver(message)


def register(monkeypatch) -> str:
    """Make ``"secretmem"`` a provider key until ``monkeypatch`` undoes it; answer the key."""
    from django_sms_verify import providers

    monkeypatch.setitem(PROVIDER_CLASSES, KEY, f"{__name__}.SecretLocmemProvider")
    monkeypatch.setitem(providers._loaded, KEY, SecretLocmemProvider)
    return KEY
