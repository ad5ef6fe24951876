"""Admin forms: a connector form per provider, template rows, the test-send form."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import phonenumbers
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import InvalidPhoneNumber
from django_sms_verify.models import Connector, Template, UsageType, template_errors
from django_sms_verify.phones import parse_phone
from django_sms_verify.providers import ConfigField, Provider, available_providers, provider_class

FIELD_PREFIX = "cfg_"  # form field names of provider credentials: cfg_<JSON key>


def config_field_name(key: str) -> str:
    return f"{FIELD_PREFIX}{key}"


def provider_class_or_none(key: str | None) -> type[Provider] | None:
    """The provider class for ``key``, or None when the key or its module is unknown."""
    if not key:
        return None
    try:
        return provider_class(key)
    except (ImportError, KeyError):
        return None


class RegionsField(forms.CharField):
    """ISO 3166 alpha-2 codes typed as ``US, CA``; cleaned into ``["US", "CA"]``."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return list(value)
        text = super().to_python(value) or ""
        codes: list[str] = []
        for code in (c.upper() for c in re.split(r"[\s,;]+", text) if c):
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValidationError(
                    _("%(code)s is not an ISO 3166 alpha-2 region code (e.g. CN, US)."),
                    code="invalid_region",
                    params={"code": code},
                )
            if code not in codes:
                codes.append(code)
        return codes


class ConnectorForm(forms.ModelForm):
    """The fields every connector has; :func:`connector_form_for` adds the provider's own.

    Secret fields are password inputs that never render the stored value; left blank,
    they keep it.
    """

    provider_key: ClassVar[str] = ""
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()

    regions = RegionsField(
        label=capfirst(_("regions")),
        required=False,
        help_text=_("ISO 3166 alpha-2 codes this connector serves, e.g. “CN, HK”; empty serves all."),
    )

    class Meta:
        model = Connector
        fields = ("name", "is_active", "priority", "regions", "base_url")
        widgets = {"base_url": forms.URLInput(attrs={"size": 60, "placeholder": "https://"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.provider:
            self.instance.provider = self.provider_key
        self._stored_secrets = self.instance.get_secrets() if self.instance.pk else {}
        for field in self.config_fields:
            form_field = self.fields[config_field_name(field.name)]
            if field.secret:
                stored = bool(self._stored_secrets.get(field.name))
                form_field.required = field.required and not stored
                if stored:
                    form_field.help_text = _("A value is stored (hidden). Leave blank to keep it.")
            elif self.instance.pk and field.name in self.instance.config:
                form_field.initial = self.instance.config[field.name]

    def clean_base_url(self) -> str:
        value = (self.cleaned_data.get("base_url") or "").strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValidationError(_("Enter an http:// or https:// URL."), code="invalid")
        return value.rstrip("/")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        config: dict[str, Any] = {}
        secrets = {k: v for k, v in self._stored_secrets.items() if k in {f.name for f in self.config_fields}}
        for field in self.config_fields:
            value = (cleaned.get(config_field_name(field.name)) or "").strip()
            if value:
                (secrets if field.secret else config)[field.name] = value
        cls = provider_class_or_none(self.provider_key)
        if cls is not None:
            for key, message in cls.validate_config({**config, **secrets}).items():
                name = config_field_name(key)
                target = name if name in self.fields else None
                if target is None or target not in self.errors:
                    self.add_error(target, message)
        self._new_config, self._new_secrets = config, secrets
        return cleaned

    def save(self, commit: bool = True) -> Connector:
        if self.config_fields or self.provider_key:
            declared = {f.name for f in self.config_fields}
            # keep keys this form does not manage (e.g. imported options of a newer provider)
            kept = {k: v for k, v in (self.instance.config or {}).items() if k not in declared}
            self.instance.config = {**kept, **self._new_config}
            if provider_class_or_none(self.provider_key) is not None:
                self.instance.set_secrets(self._new_secrets)
        return super().save(commit)


def _config_form_field(field: ConfigField) -> forms.Field:
    if field.secret:
        return forms.CharField(
            label=field.label,
            required=field.required,
            help_text=field.help_text,
            # render_value=False: the stored secret never reaches the page
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
    return forms.CharField(
        label=field.label,
        required=field.required,
        help_text=field.help_text,
        widget=forms.TextInput(attrs={"size": 50, "autocomplete": "off"}),
    )


def connector_form_for(provider_key: str) -> type[ConnectorForm]:
    """A :class:`ConnectorForm` with the credential fields ``provider_key`` declares."""
    cls = provider_class_or_none(provider_key)
    config_fields = tuple(cls.fields) if cls else ()
    attrs: dict[str, Any] = {
        "provider_key": provider_key,
        "config_fields": config_fields,
        "__module__": __name__,
    }
    for field in config_fields:
        attrs[config_field_name(field.name)] = _config_form_field(field)
    return type(f"ConnectorForm_{provider_key}", (ConnectorForm,), attrs)


class ProviderChoiceForm(forms.Form):
    """Step one of adding a connector: which provider it is an account of."""

    provider = forms.ChoiceField(label=_("Provider"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [
            (key, cls.verbose_name) for key, cls in available_providers().items()
        ]


class ParamsJSONField(forms.JSONField):
    """Shows nothing (not ``null``) when no params are set, so the default applies."""

    def prepare_value(self, value: Any) -> Any:
        if value is None:
            return ""
        return super().prepare_value(value)


class TemplateForm(forms.ModelForm):
    """One template row; placeholders are checked for the connector's provider."""

    provider_key: ClassVar[str] = ""

    class Meta:
        model = Template
        fields = ("usage_type", "content", "template_id", "params", "language")
        widgets = {
            "content": forms.Textarea(attrs={"rows": 2, "cols": 50}),
            "template_id": forms.TextInput(attrs={"size": 14}),
            "language": forms.TextInput(attrs={"size": 6}),
        }
        field_classes = {"params": ParamsJSONField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = provider_class_or_none(self.provider_key)
        if "params" in self.fields:
            self.fields["params"].widget = forms.Textarea(attrs={"rows": 2, "cols": 30})
            if cls is not None and cls.default_params is not None:
                default = json.dumps(cls.default_params, ensure_ascii=False)
                self.fields["params"].widget.attrs["placeholder"] = default
                self.fields["params"].help_text = _("Empty uses the default: %(default)s") % {
                    "default": default
                }

    def _post_clean(self) -> None:
        # The model cannot see an unsaved connector's provider, so its check may say less
        # (or other words) than the same check with the provider: that one wins per field.
        # Computed first, as the model's errors drop the values they are about.
        errors = self._provider_template_errors()
        super()._post_clean()
        for name, message in errors.items():
            target = name if name in self.fields else NON_FIELD_ERRORS
            self._errors.pop(target, None)
            self.add_error(None if target == NON_FIELD_ERRORS else target, message)

    def _provider_template_errors(self) -> dict[str, str]:
        data = self.cleaned_data
        cls = provider_class_or_none(self.provider_key)
        if "usage_type" not in data or cls is None:
            return {}
        params = data.get("params")
        return template_errors(
            self.provider_key,
            data["usage_type"],
            data.get("content") or "",
            data.get("template_id") or "",
            params if params is not None else cls.default_params,
        )


def template_form_for(provider_key: str) -> type[TemplateForm]:
    return type(
        f"TemplateForm_{provider_key}",
        (TemplateForm,),
        {"provider_key": provider_key, "__module__": __name__},
    )


class SendTestForm(forms.Form):
    """Where to send a test message, and which template to use."""

    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        help_text=_("In international format, e.g. +8613800138000."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "size": 22}),
    )
    usage_type = forms.ChoiceField(
        label=_("Usage type"),
        choices=UsageType.choices,
        initial=UsageType.SIGN_IN,
        help_text=_("The connector's template for this usage type is sent, with a sample code."),
    )

    def clean_phone(self) -> str:
        try:
            return parse_phone(self.cleaned_data["phone"]).e164
        except InvalidPhoneNumber as exc:
            raise ValidationError(str(exc.message), code=exc.code) from exc
