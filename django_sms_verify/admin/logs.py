"""Read-only records: verifications, the delivery log with its overview, opt-outs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets, quote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from django_sms_verify import services
from django_sms_verify.admin.charts import Series, bar_chart, sparkline
from django_sms_verify.admin.overview import DEFAULT_DAYS, build_overview
from django_sms_verify.exceptions import InvalidPhoneNumber
from django_sms_verify.models import Message, OptOut, Verification
from django_sms_verify.phones import parse_phone

COLORS = {"sent": "#417690", "delivered": "#2e8540", "failed": "#ba2121", "approved": "#e08e0b"}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the app, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PhoneSearchMixin:
    """Search by phone as typed: ``+86 138-0013-8000`` also finds ``+8613800138000``."""

    phone_field = "phone"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            e164 = parse_phone(search_term.strip()).e164
        except InvalidPhoneNumber:
            return results, may_have_duplicates
        return results | queryset.filter(**{self.phone_field: e164}), may_have_duplicates


def admin_link(site_name: str, obj: Any, text: Any) -> str:
    opts = obj._meta
    try:
        url = reverse(f"{site_name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
    except NoReverseMatch:
        return str(text)
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(Verification)
class VerificationAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    # Never the code: its digest and encrypted copy are left out everywhere.
    exclude = ("code_digest", "code_encrypted")
    fields = (
        "id",
        "phone",
        "usage_type",
        "channel",
        "status",
        "send_count",
        "check_attempts",
        "created_at",
        "expires_at",
        "last_sent_at",
        "approved_at",
        "token_used_at",
        "message_log",
    )
    readonly_fields = fields
    list_display = (
        "phone",
        "usage_type",
        "channel",
        "status",
        "send_count",
        "check_attempts",
        "created_at",
        "approved_at",
    )
    list_filter = ("status", "usage_type", "channel", ("created_at", admin.DateFieldListFilter))
    search_fields = ("phone",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    @admin.display(description=_("messages"))
    def message_log(self, obj: Verification) -> str:
        try:
            url = reverse(f"{self.admin_site.name}:sms_verify_message_changelist")
        except NoReverseMatch:
            return "-"
        count = obj.messages.count()
        return format_html(
            '<a href="{}?verification__id__exact={}">{}</a>',
            url,
            obj.pk,
            gettext("%(count)s in the delivery log") % {"count": count},
        )


@admin.register(Message)
class MessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_field = "to"
    list_display = (
        "created_at",
        "to",
        "kind",
        "usage_type",
        "channel",
        "connector_name",
        "status",
        "provider_message_id",
        "error_code",
    )
    list_filter = (
        "status",
        "connector_name",
        "kind",
        "usage_type",
        "channel",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("to", "provider_message_id")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "kind",
                    "status",
                    "to",
                    "usage_type",
                    "channel",
                    "connector_link",
                    "provider",
                    "provider_message_id",
                    "verification_link",
                )
            },
        ),
        (_("Error"), {"fields": ("error_code", "error_message", "attempts_table")}),
        (_("Content"), {"fields": ("body",)}),
        (_("Times"), {"fields": ("created_at", "sent_at", "delivered_at", "updated_at")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)  # the log is read-only: every field shown
    change_list_template = "admin/sms_verify/message/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("connector")

    @admin.display(description=_("connector"))
    def connector_link(self, obj: Message) -> str:
        if obj.connector is not None:
            return admin_link(self.admin_site.name, obj.connector, obj.connector_name or obj.connector)
        return obj.connector_name or "-"

    @admin.display(description=_("verification"))
    def verification_link(self, obj: Message) -> str:
        if obj.verification_id is None:
            return "-"
        return admin_link(self.admin_site.name, obj.verification, obj.verification_id)

    @admin.display(description=_("attempts"))
    def attempts_table(self, obj: Message) -> str:
        """Each connector tried, and why it failed (a successful send adds no row)."""
        if not obj.attempts:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    attempt.get("at", ""),
                    attempt.get("connector") or "-",
                    attempt.get("error_code", ""),
                    attempt.get("error_message", ""),
                    gettext("permanent") if attempt.get("permanent") else gettext("transient"),
                )
                for attempt in obj.attempts
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            gettext("time"),
            gettext("connector"),
            gettext("error code"),
            gettext("error"),
            gettext("kind of failure"),
            rows,
        )

    # --- the overview ------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="sms_verify_overview",
            ),
            *super().get_urls(),
        ]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        overview = build_overview(DEFAULT_DAYS)
        labels = [date_format(d.day, "m-d") for d in overview.days]
        chart = bar_chart(
            labels,
            [
                Series(_("Sent"), [d.sent for d in overview.days], COLORS["sent"]),
                Series(_("Delivered"), [d.delivered for d in overview.days], COLORS["delivered"]),
                Series(_("Approved"), [d.approved for d in overview.days], COLORS["approved"]),
            ],
            title=_("Sent, delivered and approved per day, last %(days)s days") % {"days": DEFAULT_DAYS},
        )
        connectors = [
            (
                figures,
                sparkline(
                    figures.daily_sent,
                    color=COLORS["sent"],
                    label=_("Sent per day through %(name)s") % {"name": figures.name or "-"},
                ),
            )
            for figures in overview.connectors
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Delivery overview"),
            "subtitle": _("Last %(days)s days") % {"days": DEFAULT_DAYS},
            "overview": overview,
            "chart": chart,
            "connectors": connectors,
            "days": list(reversed(overview.days)),
        }
        return TemplateResponse(request, "admin/sms_verify/overview.html", context)


@admin.register(OptOut)
class OptOutAdmin(PhoneSearchMixin, admin.ModelAdmin):
    """Numbers that unsubscribed from notifications; deleting one lifts the opt-out."""

    list_display = ("phone", "keyword", "connector_name", "created_at")
    search_fields = ("phone",)
    list_filter = ("connector_name",)
    readonly_fields = ("phone", "keyword", "connector_name", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: OptOut) -> None:
        services.lift_opt_out(obj.phone)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OptOut]) -> None:
        for phone in queryset.values_list("phone", flat=True):
            services.lift_opt_out(phone)


__all__ = ["MessageAdmin", "OptOutAdmin", "VerificationAdmin"]
