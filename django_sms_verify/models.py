"""Connectors and their templates (configuration), verifications and messages (records)."""

from __future__ import annotations

import secrets as pysecrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from django_sms_verify import crypto
from django_sms_verify.exceptions import TemplateError
from django_sms_verify.phones import mask_phone
from django_sms_verify.providers import Provider, provider_class
from django_sms_verify.sending.templating import check_verification_template, check_wellformed


class UsageType(models.TextChoices):
    REGISTER = "Register", _("Register")
    SIGN_IN = "SignIn", _("Sign in")
    FORGOT_PASSWORD = "ForgotPassword", _("Forgot password")
    GENERIC = "Generic", _("Generic")


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")


PROVIDER_CHOICES = [
    ("twilio", "Twilio"),
    ("aliyun", _("Alibaba Cloud SMS")),
    ("ronglian", _("Ronglian")),
    ("console", _("Console (development)")),
    ("locmem", _("In-memory outbox (tests)")),
]

connector_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    _("Use letters, digits, '.', '_' and '-' (it appears in webhook URLs)."),
)


def new_webhook_token() -> str:
    return pysecrets.token_urlsafe(24)


class Connector(models.Model):
    """One configured provider account."""

    name = models.CharField(_("name"), max_length=64, unique=True, validators=[connector_name_validator])
    provider = models.CharField(_("provider"), max_length=32, choices=PROVIDER_CHOICES)
    is_active = models.BooleanField(_("active"), default=True)
    priority = models.PositiveIntegerField(_("priority"), default=100, help_text=_("Lower is tried first."))
    regions = models.JSONField(
        _("regions"),
        default=list,
        blank=True,
        help_text=_("ISO 3166 alpha-2 codes this connector serves; empty serves all."),
    )
    base_url = models.CharField(
        _("base URL"),
        max_length=255,
        blank=True,
        help_text=_("Overrides the provider's API endpoint (private gateways, tests)."),
    )
    config = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted = models.TextField(_("encrypted secrets"), blank=True, editable=False)
    webhook_token = models.CharField(
        _("webhook token"), max_length=64, default=new_webhook_token, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_class(self) -> type[Provider]:
        return provider_class(self.provider)

    def get_secrets(self) -> dict[str, Any]:
        return crypto.decrypt_json(self.secrets_encrypted)

    def set_secrets(self, values: dict[str, Any]) -> None:
        self.secrets_encrypted = crypto.encrypt_json({k: v for k, v in values.items() if v})

    def credentials(self) -> dict[str, Any]:
        """Config and secrets together, as the provider's fields name them."""
        return {**self.config, **self.get_secrets()}

    def serves_region(self, region: str) -> bool:
        return not self.regions or region in self.regions


class Template(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="templates")
    usage_type = models.CharField(_("usage type"), max_length=32, choices=UsageType.choices)
    content = models.TextField(
        _("content"),
        blank=True,
        help_text=_("Message text with placeholders such as <<code>> and <<ttl_minutes>>."),
    )
    template_id = models.CharField(
        _("provider template ID"),
        max_length=64,
        blank=True,
        help_text=_("Aliyun TemplateCode or Ronglian templateId."),
    )
    params = models.JSONField(_("provider params"), null=True, blank=True)
    language = models.CharField(
        _("language"), max_length=16, blank=True, help_text=_('e.g. "en" or "zh-CN" (voice calls).')
    )

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "usage_type"], name="sms_verify_template_unique_usage"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connector_id}:{self.usage_type}"

    def effective_params(self) -> Any:
        if self.params is not None:
            return self.params
        return self.connector.provider_class.default_params if self.connector_id else None

    def clean(self) -> None:
        errors = template_errors(
            self.connector.provider if self.connector_id else None,
            self.usage_type,
            self.content,
            self.template_id,
            self.effective_params(),
        )
        if errors:
            raise ValidationError(errors)


def template_errors(
    provider: str | None, usage_type: str, content: str, template_id: str, params: Any
) -> dict[str, str]:
    """Validation errors of one template, by field name."""
    errors: dict[str, str] = {}
    cls = provider_class(provider) if provider else None
    if cls is not None:
        errors.update(cls.validate_template(usage_type, template_id, params))
    if cls is not None and not cls.uses_template_ids and not (content or "").strip():
        errors["content"] = str(_("Enter the message text."))
    try:
        if usage_type == UsageType.GENERIC:
            # Generic also serves notifications, whose placeholders are the caller's own.
            check_wellformed([content, params])
        else:
            check_verification_template(content or "", params if cls and cls.uses_template_ids else None)
    except TemplateError as exc:
        errors.setdefault("content", str(exc.message))
    return errors


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    EXPIRED = "expired", _("Expired")
    LOCKED = "max_attempts_reached", _("Max attempts reached")
    FAILED = "failed", _("Delivery failed")


class Verification(models.Model):
    """One code sent to one phone for one usage type. The code itself is never stored in
    clear: a keyed hash for checks, and an encrypted copy (while pending) for resends."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(_("phone"), max_length=20)
    usage_type = models.CharField(_("usage type"), max_length=32, choices=UsageType.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.SMS)
    status = models.CharField(
        _("status"), max_length=24, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    code_digest = models.CharField(max_length=64, editable=False)
    code_encrypted = models.TextField(blank=True, editable=False)
    send_count = models.PositiveSmallIntegerField(_("sends"), default=0)
    check_attempts = models.PositiveSmallIntegerField(_("wrong checks"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(_("expires"))
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    token_used_at = models.DateTimeField(_("token used"), null=True, blank=True)

    class Meta:
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        indexes = [models.Index(fields=["phone", "usage_type", "-created_at"], name="sms_verify_v_lookup")]
        constraints = [
            # One pending code per phone and usage type: a resend is then one INSERT ... ON
            # CONFLICT (the same statement as a first send), and two concurrent first
            # requests cannot both create one. Enforced where the database has partial
            # unique indexes (PostgreSQL, SQLite).
            models.UniqueConstraint(
                fields=["phone", "usage_type"],
                condition=models.Q(status="pending"),
                name="sms_verify_v_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_usage_type_display()} → {mask_phone(self.phone)} ({self.get_status_display()})"


class MessageKind(models.TextChoices):
    VERIFICATION = "verification", _("Verification code")
    NOTIFICATION = "notification", _("Notification")
    TEST = "test", _("Test message")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")


# A status only ever moves to a higher rank (late or repeated reports never undo one).
STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.DELIVERED: 4,
}


class Message(models.Model):
    """The delivery log: one row per message, whichever connectors it took."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=MessageKind.choices)
    verification = models.ForeignKey(
        Verification, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    connector_name = models.CharField(_("connector"), max_length=64, blank=True)
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    to = models.CharField(_("to"), max_length=20)
    usage_type = models.CharField(_("usage type"), max_length=32, choices=UsageType.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.SMS)
    body = models.TextField(_("body"), blank=True, help_text=_("Verification codes are masked."))
    status = models.CharField(
        _("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    provider_message_id = models.CharField(_("provider message ID"), max_length=128, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    attempts = models.JSONField(_("attempts"), default=list, blank=True)
    # A notification's placeholder values, kept for the worker that renders it (tasks mode).
    # Never a verification code: the worker reads that from the verification.
    context = models.JSONField(_("context"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["provider", "provider_message_id"], name="sms_verify_m_provider_id")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {mask_phone(self.to)} ({self.get_status_display()})"


class OptOut(models.Model):
    """A number that asked (STOP, 退订, TD...) to receive no more notifications."""

    phone = models.CharField(_("phone"), max_length=20, unique=True)
    connector_name = models.CharField(_("connector"), max_length=64, blank=True)
    keyword = models.CharField(_("keyword"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")

    def __str__(self) -> str:
        return self.phone


class DailySendCount(models.Model):
    """Sends handed to providers on one day, overall (``connector_name`` empty) and per
    connector: the counters behind the daily spend caps, and the operator's notice once a
    cap was reached (``cap_reached_at``, ``refused``)."""

    day = models.DateField(_("day"))
    connector_name = models.CharField(
        _("connector"), max_length=64, blank=True, help_text=_("Empty: all connectors together.")
    )
    sent = models.PositiveIntegerField(pgettext_lazy("number of messages", "sent"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0, help_text=_("Sends stopped by the cap."))
    cap_reached_at = models.DateTimeField(_("cap reached"), null=True, blank=True)

    class Meta:
        verbose_name = _("daily send count")
        verbose_name_plural = _("daily send counts")
        ordering = ["-day", "connector_name"]
        constraints = [
            models.UniqueConstraint(fields=["day", "connector_name"], name="sms_verify_daily_send_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.connector_name or '*'}: {self.sent}"
