"""Connector admin: a form per provider, templates inline, Send test SMS."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as url_quote

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from django_sms_verify import services
from django_sms_verify.admin.forms import (
    ProviderChoiceForm,
    SendTestForm,
    config_field_name,
    connector_form_for,
    provider_class_or_none,
    template_form_for,
)
from django_sms_verify.conf import app_settings
from django_sms_verify.models import Connector, Message, MessageStatus, Template, UsageType
from django_sms_verify.providers import available_providers
from django_sms_verify.sending.sync import set_request_origin

TEST_SEND_PERMISSION = "sms_verify.change_connector"

# Delivery-report endpoints an operator enters at the provider, relative to the app's URLs
# (SPEC §6), with what to do with them.
WEBHOOKS: dict[str, tuple[str, Any]] = {
    "aliyun": (
        "webhooks/aliyun/{name}/report/?token={token}",
        _(
            "Enter this URL in the Alibaba Cloud SMS console as the HTTP push address for "
            "delivery receipts (SmsReport). Keep it private: the token authenticates the reports."
        ),
    ),
    "twilio": (
        "webhooks/twilio/{name}/status/",
        _("Sent with every message as its status callback; nothing to configure at Twilio."),
    ),
}


def provider_key_for(request: HttpRequest, obj: Connector | None) -> str:
    """The provider of the connector being edited, or the one chosen for a new connector."""
    if obj is not None and obj.provider:
        return obj.provider
    key = request.GET.get("provider", "")
    return key if key in available_providers() else ""


def origin_of(request: HttpRequest) -> str:
    configured = app_settings.PUBLIC_BASE_URL
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.get_host()}"


def can_send_test(request: HttpRequest) -> bool:
    return request.user.has_perm(TEST_SEND_PERMISSION)


class TemplateInline(admin.TabularInline):
    model = Template
    extra = 0
    max_num = len(UsageType.values)
    verbose_name = _("template")
    verbose_name_plural = _("templates (one per usage type; Generic is the fallback)")

    def get_fields(self, request: HttpRequest, obj: Connector | None = None) -> list[str]:
        cls = provider_class_or_none(provider_key_for(request, obj))
        if cls is not None and cls.uses_template_ids:
            return ["usage_type", "template_id", "params", "content", "language"]
        return ["usage_type", "content", "language"]

    def get_formset(self, request: HttpRequest, obj: Connector | None = None, **kwargs: Any):
        kwargs["form"] = template_form_for(provider_key_for(request, obj))
        return super().get_formset(request, obj, **kwargs)

    def get_extra(self, request: HttpRequest, obj: Connector | None = None, **kwargs: Any) -> int:
        return len(missing_usage_types(obj))


def missing_usage_types(connector: Connector | None) -> list[str]:
    """Usage types the connector has no template for yet (all for a new connector)."""
    existing = (
        set(connector.templates.values_list("usage_type", flat=True)) if connector and connector.pk else set()
    )
    return [usage for usage in UsageType.values if usage not in existing]


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ("name", "provider", "is_active", "priority", "regions_display", "updated_at")
    list_display_links = ("name",)
    list_editable = ("is_active", "priority")
    list_filter = ("provider", "is_active")
    search_fields = ("name",)
    readonly_fields = ("provider",)
    inlines = [TemplateInline]
    actions = ["send_test_sms_action"]
    change_form_template = "admin/sms_verify/connector/change_form.html"
    change_list_template = "admin/sms_verify/connector/change_list.html"

    @admin.display(description=_("regions"))
    def regions_display(self, obj: Connector) -> str:
        return ", ".join(obj.regions) if obj.regions else gettext("all")

    # --- the form, per provider ------------------------------------------------------

    def get_form(self, request: HttpRequest, obj: Connector | None = None, change: bool = False, **kwargs):
        kwargs["form"] = connector_form_for(provider_key_for(request, obj))
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Connector | None = None):
        cls = provider_class_or_none(provider_key_for(request, obj))
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (None, {"fields": ("name", "provider", "is_active", "priority", "regions")}),
        ]
        declared = cls.fields if cls else ()
        if declared:
            options: dict[str, Any] = {"fields": [config_field_name(f.name) for f in declared]}
            if any(f.secret for f in declared):
                options["description"] = _("Secrets are stored encrypted and never shown again.")
            fieldsets.append((_("Provider settings"), options))
        fieldsets.append(
            (_("Advanced"), {"fields": ("base_url",), "classes": ("collapse",)}),
        )
        return fieldsets

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, TemplateInline):
            # one row per missing usage type, preset; untouched rows are not saved
            kwargs["initial"] = [{"usage_type": usage} for usage in missing_usage_types(obj)]
        return kwargs

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        if not provider_key_for(request, None):
            return self.choose_provider_view(request)
        return super().add_view(request, form_url, extra_context)

    def choose_provider_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProviderChoiceForm(request.GET if "provider" in request.GET else None)
        if form.is_bound:
            form.is_valid()  # a valid choice never gets here; show why this one is not
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Add connector: choose the provider"),
            "form": form,
            "providers": available_providers(),
        }
        return TemplateResponse(request, "admin/sms_verify/connector/choose_provider.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        connector = context.get("original")
        context.update(
            can_send_test=bool(change and connector is not None and can_send_test(request)),
            webhook_urls=self.webhook_urls(request, connector) if connector is not None else [],
            provider_name=self.provider_name(provider_key_for(request, connector)),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def provider_name(key: str) -> Any:
        cls = provider_class_or_none(key)
        return cls.verbose_name if cls else key

    def webhook_urls(self, request: HttpRequest, connector: Connector) -> list[dict[str, Any]]:
        """The delivery-report URLs of ``connector`` (read-only, for the provider's console)."""
        if connector.provider not in WEBHOOKS:
            return []
        pattern, help_text = WEBHOOKS[connector.provider]
        try:
            api_root = reverse("sms_verify:verification-request").removesuffix("verifications/")
        except NoReverseMatch:
            return [{"url": "", "help": _("Include django_sms_verify.urls in your URLconf to receive them.")}]
        relative = pattern.format(name=url_quote(connector.name), token=url_quote(connector.webhook_token))
        return [{"url": origin_of(request) + api_root + relative, "help": help_text}]

    # --- Send test SMS ---------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/test-send/",
                self.admin_site.admin_view(self.test_send_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_test_send",
            ),
            *super().get_urls(),
        ]

    def test_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        connector = self.get_object(request, unquote(object_id))
        # Checked here, not only by hiding the button.
        if not can_send_test(request) or not self.has_change_permission(request, connector):
            raise PermissionDenied
        if connector is None:
            raise Http404(_("No connector with this ID."))
        form = SendTestForm(request.POST if request.method == "POST" else None)
        sent = None
        if form.is_bound and form.is_valid():
            sent = self._send_test(request, connector, form.cleaned_data)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": connector,
            "title": _("Send test SMS through %(name)s") % {"name": connector.name},
            "form": form,
            "sent": sent,
            "sent_ok": sent is not None and sent.status != MessageStatus.FAILED,
            "sent_url": message_admin_url(sent, self.admin_site.name) if sent else "",
            "provider_name": self.provider_name(connector.provider),
        }
        return TemplateResponse(request, "admin/sms_verify/connector/test_send.html", context)

    def _send_test(self, request: HttpRequest, connector: Connector, data: dict[str, Any]) -> Message:
        set_request_origin(origin_of(request))
        try:
            return services.send_test_message(connector, data["phone"], data["usage_type"])
        finally:
            set_request_origin(None)

    @admin.action(description=_("Send test SMS"), permissions=["change"])
    def send_test_sms_action(self, request: HttpRequest, queryset: QuerySet[Connector]):
        if not can_send_test(request):
            raise PermissionDenied
        form = SendTestForm(request.POST if "send_test" in request.POST else None)
        if form.is_bound and form.is_valid():
            for connector in queryset:
                message = self._send_test(request, connector, form.cleaned_data)
                self.report_test_send(request, connector, message)
            return None  # back to the connector list, where the results are shown
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Send test SMS through the selected connectors"),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "send_test_sms_action",
        }
        return TemplateResponse(request, "admin/sms_verify/connector/test_send_action.html", context)

    def report_test_send(self, request: HttpRequest, connector: Connector, message: Message) -> None:
        url = message_admin_url(message, self.admin_site.name)
        if message.status == MessageStatus.FAILED:
            text = format_html(
                gettext('{connector}: failed — {code}: {error} (<a href="{url}">details</a>)'),
                connector=connector.name,
                code=message.error_code or "-",
                error=message.error_message,
                url=url,
            )
            self.message_user(request, text, messages.ERROR)
        else:
            text = format_html(
                gettext('{connector}: sent, provider message ID {id} (<a href="{url}">details</a>)'),
                connector=connector.name,
                id=message.provider_message_id,
                url=url,
            )
            self.message_user(request, text, messages.SUCCESS)


def message_admin_url(message: Message, site_name: str = "admin") -> str:
    try:
        return reverse(f"{site_name}:sms_verify_message_change", args=[quote(message.pk)])
    except NoReverseMatch:  # the message admin is not on this site
        return ""
