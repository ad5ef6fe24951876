"""Routing and failover: which connectors may carry a message, and trying them in turn.

Connectors serving the number's region (and able to use the channel) are tried by
priority. A transient failure moves on to the next connector; a permanent failure about
the recipient stops at once. Every attempt is recorded on the :class:`Message`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import DisallowedHost
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_sms_verify.abuse import spend_caps
from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import (
    ChannelUnavailable,
    DeliveryFailed,
    ProviderError,
    RecipientRejected,
    TemplateError,
)
from django_sms_verify.models import (
    STATUS_RANK,
    Connector,
    Message,
    MessageKind,
    MessageStatus,
    Template,
    UsageType,
)
from django_sms_verify.providers import VOICE, OutgoingMessage, Provider
from django_sms_verify.sending.connector_cache import active_connectors
from django_sms_verify.sending.templating import render
from django_sms_verify.signals import message_status_changed

logger = logging.getLogger("django_sms_verify")

CODE_MASK = "******"

_providers: dict[tuple[int, str], Provider] = {}
_providers_lock = threading.Lock()


def provider_for(connector: Connector) -> Provider:
    """A provider instance for ``connector``, reused while the connector is unchanged
    (so HTTP connections are pooled between sends)."""
    key = (connector.pk, connector.updated_at.isoformat() if connector.updated_at else "")
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            for old_key in [k for k in _providers if k[0] == connector.pk]:
                _providers.pop(old_key).close()
            provider = connector.provider_class(
                name=connector.name,
                config=connector.config,
                secrets=connector.get_secrets(),
                base_url=connector.base_url,
                timeout=app_settings.PROVIDER_TIMEOUT,
            )
            _providers[key] = provider
    return provider


def candidate_connectors(region: str, channel: str) -> list[Connector]:
    """Active connectors serving ``region`` that can use ``channel``, by priority."""
    found = []
    for connector in active_connectors():
        if not connector.serves_region(region):
            continue
        try:
            cls = connector.provider_class
        except (ImportError, KeyError):
            continue
        if channel == VOICE and not cls.supports_voice:
            continue
        found.append(connector)
    return found


def ensure_channel(region: str, channel: str) -> list[Connector]:
    connectors = candidate_connectors(region, channel)
    if channel == VOICE and not connectors:
        raise ChannelUnavailable()
    return connectors


def log_provider_failure(connector: Connector, exc: ProviderError) -> None:
    """One warning per failed provider call (sync mode and the worker alike): the
    provider's code and our reason, never the message text."""
    logger.warning(
        "send via %s failed (%s, %s): %s",
        connector.name,
        "permanent" if exc.permanent else "transient",
        exc.provider_code,
        exc.reason,
    )


def template_for(connector: Connector, usage_type: str) -> Template | None:
    """The connector's template for ``usage_type``, else its Generic one."""
    by_type = {t.usage_type: t for t in connector.templates.all()}
    return by_type.get(usage_type) or by_type.get(UsageType.GENERIC)


def render_message(
    connector: Connector, template: Template, message: Message, context: Mapping[str, Any], region: str
) -> OutgoingMessage:
    return OutgoingMessage(
        to=message.to,
        text=render(template.content, context) if template.content else "",
        channel=message.channel,
        template_id=template.template_id,
        params=render(template.effective_params(), context),
        language=template.language,
        message_id=str(message.pk),
        usage_type=message.usage_type,
        region=region,
        public_origin=public_origin(),
        code=str(context.get("code", "")) if message.kind != MessageKind.NOTIFICATION else "",
    )


def deliver(
    message: Message,
    connectors: Iterable[Connector],
    context: Mapping[str, Any],
    *,
    region: str,
    redact: Mapping[str, str] | None = None,
) -> Message:
    """Send ``message`` through the first connector that takes it.

    ``redact`` replaces context values in the stored body (the code is never logged).
    Raises :class:`RecipientRejected` on a permanent failure and :class:`DeliveryFailed`
    when every connector failed; the message records why either way.
    """
    safe_context = {**context, **(redact or {})}
    tried: Connector | None = None
    for connector in connectors:
        tried = connector
        template = template_for(connector, message.usage_type)
        try:
            if template is None:
                raise TemplateError(_("Connector has no template for this usage type or Generic."))
            outgoing = render_message(connector, template, message, context, region)
            message.body = render(template.content, safe_context) if template.content else ""
            spend_caps.reserve(connector)  # daily spend caps; past one, like a failed connector
            result = provider_for(connector).send(outgoing)
        except TemplateError as exc:
            _record_attempt(message, connector, "template_error", str(exc.message), permanent=False)
            logger.warning(
                "connector %s cannot render %s: %s", connector.name, message.usage_type, exc.message
            )
            continue
        except ProviderError as exc:
            _record_attempt(
                message, connector, exc.provider_code or exc.reason, str(exc.message), exc.permanent
            )
            log_provider_failure(connector, exc)
            if exc.permanent:
                _finish(message, connector, MessageStatus.FAILED, error=exc)
                raise RecipientRejected(exc.message, reason=exc.reason, message_record=message) from exc
            continue
        except Exception as exc:  # a provider bug must not stop failover; keep the type only
            _record_attempt(message, connector, "exception", type(exc).__name__, permanent=False)
            logger.exception("send via %s raised %s", connector.name, type(exc).__name__)
            continue
        message.provider_message_id = result.provider_message_id
        message.sent_at = timezone.now()
        status = result.status if result.status in STATUS_RANK else MessageStatus.SENT
        if status == MessageStatus.DELIVERED:
            message.delivered_at = message.sent_at
        _finish(message, connector, status)
        return message
    if not message.attempts:
        _record_attempt(
            message, None, "no_connector", str(_("No active connector serves this number.")), False
        )
    last = message.attempts[-1]
    message.error_code, message.error_message = last["error_code"], last["error_message"]
    # The log names the last connector tried, so failed sends show under its filter.
    _finish(message, tried, MessageStatus.FAILED)
    raise DeliveryFailed(message_record=message)


def _record_attempt(
    message: Message, connector: Connector | None, code: str, text: str, permanent: bool
) -> None:
    message.attempts.append(attempt_entry(connector, code, text, permanent))


def attempt_entry(connector: Connector | None, code: str, text: str, permanent: bool) -> dict[str, Any]:
    """One entry of ``Message.attempts``: which connector failed, how, and when (the
    same shape whether sync delivery or a worker made the attempt)."""
    return {
        "connector": connector.name if connector else "",
        "provider": connector.provider if connector else "",
        "error_code": str(code)[:64],
        "error_message": str(text)[:500],
        "permanent": permanent,
        "at": timezone.now().isoformat(),
    }


def _finish(
    message: Message, connector: Connector | None, status: str, error: ProviderError | None = None
) -> None:
    old_status = message.status
    if connector is not None:
        message.connector = connector
        message.connector_name = connector.name
        message.provider = connector.provider
    if error is not None:
        message.error_code = (error.provider_code or error.reason)[:64]
        message.error_message = str(error.message)[:500]
    values = {field: getattr(message, field) for field in FINISH_FIELDS}
    values["updated_at"] = timezone.now()
    # One UPDATE, guarded like record_status: a delivery report that got here first (Aliyun
    # reports carry our id) is never overwritten by the send's own, earlier, status.
    if Message.objects.filter(pk=message.pk, status__in=_ranked_below(status)).update(
        status=status, **values
    ):
        message.status = status
    else:
        Message.objects.filter(pk=message.pk).update(**values)
        message.status = Message.objects.values_list("status", flat=True).get(pk=message.pk)
    if old_status != message.status:
        message_status_changed.send(
            sender=Message, message=message, old_status=old_status, new_status=message.status
        )


# What the end of a send writes besides the status.
FINISH_FIELDS = (
    "connector",
    "connector_name",
    "provider",
    "error_code",
    "error_message",
    "attempts",
    "body",
    "provider_message_id",
    "sent_at",
    "delivered_at",
)


def _ranked_below(status: str) -> list[str]:
    return [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]


def record_status(
    message: Message, status: str, *, error_code: str = "", error_message: str = "", at=None
) -> bool:
    """Move ``message`` forward to ``status`` (from a delivery report); never backwards.

    Atomic against concurrent reports: one conditional UPDATE. Returns True if it moved.
    """
    if status not in STATUS_RANK:
        raise ValueError(f"unknown status {status!r}")
    lower = _ranked_below(status)
    now = at or timezone.now()
    changes: dict[str, Any] = {"status": status, "updated_at": timezone.now()}
    if error_code:
        changes["error_code"] = str(error_code)[:64]
    if error_message:
        changes["error_message"] = str(error_message)[:500]
    if status == MessageStatus.DELIVERED:
        changes["delivered_at"] = now
    moved = Message.objects.filter(pk=message.pk, status__in=lower).update(**changes)
    if not moved:
        return False
    old_status = message.status
    for field, value in changes.items():
        setattr(message, field, value)
    message_status_changed.send(sender=Message, message=message, old_status=old_status, new_status=status)
    return True


# --- public origin for webhook URLs -----------------------------------------------------

_origin = threading.local()


def set_request_origin(origin: str | Callable[[], str] | None) -> None:
    """Remember the current request's origin (views call this) for callback URLs: the
    origin, or a function answering it (only called if a send needs it)."""
    _origin.value = origin or ""


def public_origin() -> str:
    configured = app_settings.PUBLIC_BASE_URL
    if configured:
        return configured.rstrip("/")
    origin = getattr(_origin, "value", "") or ""
    if callable(origin):
        try:
            origin = _origin.value = origin()
        except DisallowedHost:  # no callback URL rather than one on a host we do not serve
            origin = _origin.value = ""
    return origin
