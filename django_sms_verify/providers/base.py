"""The provider interface every connector implements.

A provider turns one :class:`OutgoingMessage` into one API call and answers a
:class:`SendResult`, or raises a :class:`~django_sms_verify.exceptions.ProviderError`
that says whether the failure is permanent (about the recipient) or transient (worth
failing over). Providers know nothing of models, routing or templates' storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError

SMS = "sms"
VOICE = "voice"


@dataclass(frozen=True)
class ConfigField:
    """One credential or option of a provider, as it is named in connector JSON."""

    name: str
    label: Any
    secret: bool = False
    required: bool = True
    help_text: Any = ""


@dataclass(frozen=True)
class OutgoingMessage:
    """A fully rendered message, ready for one provider call."""

    to: str  # E.164
    text: str  # the rendered template content (also the voice script)
    channel: str = SMS
    template_id: str = ""  # provider template (Aliyun TemplateCode, Ronglian templateId)
    params: Any = None  # rendered provider params (a dict for Aliyun, a list for Ronglian)
    language: str = ""  # template language, e.g. "en" or "zh-CN" (voice)
    message_id: str = ""  # our Message id: echo it where the provider allows (Aliyun OutId)
    usage_type: str = ""
    region: str = ""  # ISO code of the recipient's number
    # Our site's public origin ("https://example.com"), for status callback URLs;
    # empty when unknown (no PUBLIC_BASE_URL and no request).
    public_origin: str = ""
    # The verification code inside ``text`` (empty for notifications): what a voice call
    # spells digit by digit. Never logged, like ``text``.
    code: str = field(default="", repr=False)


@dataclass
class SendResult:
    provider_message_id: str
    status: str = "sent"  # our status the provider's answer corresponds to
    raw: Mapping[str, Any] = field(default_factory=dict)


class Provider(ABC):
    key: ClassVar[str]
    verbose_name: ClassVar[Any]
    fields: ClassVar[tuple[ConfigField, ...]] = ()
    supports_voice: ClassVar[bool] = False
    # Template-ID providers send a registered template and params, not free text.
    uses_template_ids: ClassVar[bool] = False
    default_params: ClassVar[Any] = None

    def __init__(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        base_url: str = "",
        timeout: float = 10,
    ) -> None:
        self.name = name
        self.config = dict(config)
        self.secrets = dict(secrets)
        self.base_url = (base_url or "").rstrip("/")
        self.timeout = timeout

    # --- sending ---------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.channel == VOICE:
            return self.place_call(message)
        return self.send_sms(message)

    @abstractmethod
    def send_sms(self, message: OutgoingMessage) -> SendResult: ...

    def place_call(self, message: OutgoingMessage) -> SendResult:
        raise PermanentProviderError(
            _("This provider cannot place voice calls."), provider=self.key, reason="no_voice"
        )

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release pooled connections (called when the connector changes)."""

    # --- configuration ---------------------------------------------------------------

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.fields if f.secret)

    @classmethod
    def validate_config(cls, values: Mapping[str, Any]) -> dict[str, str]:
        """Errors by field name for missing or malformed credentials; empty when valid."""
        errors: dict[str, str] = {}
        for f in cls.fields:
            value = values.get(f.name)
            if f.required and (value is None or (isinstance(value, str) and not value.strip())):
                errors[f.name] = str(_("%(field)s is required.") % {"field": f.name})
        return errors

    @classmethod
    def validate_template(cls, usage_type: str, template_id: str, params: Any) -> dict[str, str]:
        """Provider-specific template checks (e.g. a template ID is required)."""
        if cls.uses_template_ids and not (template_id or "").strip():
            return {"template_id": str(_("This provider needs a template ID."))}
        return {}
