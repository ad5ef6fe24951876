"""Connector JSON in Logto's key names: read (validated, all or nothing) and write (masked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from django_sms_verify.exceptions import ConfigurationError
from django_sms_verify.models import Connector, Template, UsageType, connector_name_validator, template_errors
from django_sms_verify.providers import PROVIDER_CLASSES, provider_class
from django_sms_verify.sending.templating import from_logto

SECRET_MASK = "********"  # noqa: S105  (a mask, not a password)


class ConnectorJSONError(ConfigurationError):
    """A connector file is invalid; the message names the connector and the problem."""


def _fail(label: str, message: str) -> None:
    raise ConnectorJSONError(f"{label}: {message}")


def _template_fields(label: str, provider: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        _fail(label, _("each template must be an object"))
    usage_type = raw.get("usageType")
    if usage_type not in UsageType.values:
        _fail(
            label,
            _("unknown usage type %(value)r; use one of %(choices)s")
            % {"value": usage_type, "choices": ", ".join(UsageType.values)},
        )
    template_id = raw.get("templateId", raw.get("templateCode", "")) or ""
    fields = {
        "usage_type": usage_type,
        "content": from_logto(raw.get("content", "") or ""),
        "template_id": str(template_id),
        "params": from_logto(raw["params"]) if raw.get("params") is not None else None,
        "language": raw.get("language", "") or "",
    }
    cls = provider_class(provider)
    params = fields["params"] if fields["params"] is not None else cls.default_params
    errors = template_errors(provider, usage_type, fields["content"], fields["template_id"], params)
    if errors:
        _fail(f"{label} template {usage_type}", "; ".join(f"{k}: {v}" for k, v in errors.items()))
    return fields


def parse_connector(data: Any) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Validate one connector object; answer (connector fields, secrets, templates)."""
    if not isinstance(data, Mapping):
        raise ConnectorJSONError(_("a connector must be a JSON object"))
    name = data.get("name")
    label = f"connector {name!r}"
    if not isinstance(name, str) or not name:
        raise ConnectorJSONError(_('a connector needs a "name"'))
    try:
        connector_name_validator(name)
    except Exception:
        _fail(label, _("the name may only use letters, digits, '.', '_' and '-'"))
    provider = data.get("provider")
    if provider not in PROVIDER_CLASSES:
        _fail(
            label,
            _("unknown provider %(value)r; use one of %(choices)s")
            % {"value": provider, "choices": ", ".join(PROVIDER_CLASSES)},
        )
    try:
        cls = provider_class(provider)
    except ImportError:
        _fail(label, _("provider %(value)r is not available") % {"value": provider})
    regions = data.get("regions", []) or []
    if not isinstance(regions, list) or not all(isinstance(r, str) and len(r) == 2 for r in regions):
        _fail(label, _('"regions" must be a list of ISO 3166 alpha-2 codes'))
    priority = data.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        _fail(label, _('"priority" must be a whole number ≥ 0'))
    base_url = data.get("baseUrl", "") or ""
    if base_url and not (isinstance(base_url, str) and base_url.startswith(("http://", "https://"))):
        _fail(label, _('"baseUrl" must be an http(s) URL'))
    config, secrets = {}, {}
    for field in cls.fields:
        value = data.get(field.name)
        if value in (None, ""):
            continue
        if not isinstance(value, str | int | bool):
            _fail(label, _("%(field)s must be a string") % {"field": field.name})
        (secrets if field.secret else config)[field.name] = value
    templates_raw = data.get("templates", []) or []
    if not isinstance(templates_raw, list):
        _fail(label, _('"templates" must be a list'))
    templates = [_template_fields(label, provider, raw) for raw in templates_raw]
    seen = [t["usage_type"] for t in templates]
    if len(seen) != len(set(seen)):
        _fail(label, _("two templates for the same usage type"))
    fields = {
        "name": name,
        "provider": provider,
        "priority": priority,
        "regions": [r.upper() for r in regions],
        "base_url": base_url,
        "is_active": bool(data.get("isActive", True)),
        "config": config,
    }
    return fields, secrets, templates


def import_connectors(payload: Any) -> list[tuple[Connector, bool]]:
    """Create or update connectors (by name) from one object or a list; all or nothing.

    A secret left out, or given as the export mask, keeps the stored value. Answers
    (connector, created) pairs.
    """
    items = payload if isinstance(payload, list) else [payload]
    parsed = [parse_connector(item) for item in items]
    names = [fields["name"] for fields, _s, _t in parsed]
    if len(names) != len(set(names)):
        raise ConnectorJSONError(_("the file names the same connector twice"))
    results = []
    with transaction.atomic():
        for fields, secrets, templates in parsed:
            results.append(_save(fields, secrets, templates))
    return results


def _save(fields, secrets, templates) -> tuple[Connector, bool]:
    connector = Connector.objects.filter(name=fields["name"]).first()
    created = connector is None
    stored = {} if created or connector.provider != fields["provider"] else connector.get_secrets()
    connector = connector or Connector(name=fields["name"])
    for key, value in fields.items():
        setattr(connector, key, value)
    merged = {**stored, **{k: v for k, v in secrets.items() if v != SECRET_MASK}}
    errors = connector.provider_class.validate_config({**fields["config"], **merged})
    if errors:
        _fail(f"connector {fields['name']!r}", "; ".join(errors.values()))
    connector.set_secrets(merged)
    connector.save()
    for template in templates:
        Template.objects.update_or_create(
            connector=connector,
            usage_type=template["usage_type"],
            defaults={k: v for k, v in template.items() if k != "usage_type"},
        )
    return connector, created


def export_connector(connector: Connector) -> dict[str, Any]:
    """The connector as JSON, every secret replaced by a mask."""
    data: dict[str, Any] = {"name": connector.name, "provider": connector.provider}
    data.update(connector.config)
    for name in connector.provider_class.secret_field_names():
        data[name] = SECRET_MASK
    data.update(
        {"priority": connector.priority, "regions": connector.regions, "isActive": connector.is_active}
    )
    if connector.base_url:
        data["baseUrl"] = connector.base_url
    templates = []
    for template in connector.templates.order_by("usage_type"):
        item: dict[str, Any] = {"usageType": template.usage_type, "content": template.content}
        if template.template_id:
            item["templateCode" if connector.provider == "aliyun" else "templateId"] = template.template_id
        if template.params is not None:
            item["params"] = template.params
        if template.language:
            item["language"] = template.language
        templates.append(item)
    data["templates"] = templates
    return data
