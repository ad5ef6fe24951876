"""Daily send counts against the spend caps, read-only, with a notice for caps reached today."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from django_sms_verify.abuse.spend_caps import connector_cap, spend_status
from django_sms_verify.admin.logs import ReadOnlyAdmin
from django_sms_verify.conf import app_settings
from django_sms_verify.models import DailySendCount


@admin.register(DailySendCount)
class DailySendCountAdmin(ReadOnlyAdmin):
    list_display = ("day", "scope", "sent", "cap", "refused", "cap_reached_at")
    list_filter = ("day",)
    date_hierarchy = "day"

    @admin.display(description=_("connector"), ordering="connector_name")
    def scope(self, obj: DailySendCount) -> str:
        return obj.connector_name or gettext("All connectors")

    @admin.display(description=_("cap (now)"))
    def cap(self, obj: DailySendCount) -> str:
        cap = connector_cap(obj.connector_name) if obj.connector_name else app_settings.DAILY_SEND_CAP
        return "—" if cap is None else str(cap)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        for status in spend_status():
            if status.exhausted:
                self.message_user(
                    request,
                    gettext("Daily send cap reached for %(scope)s: %(sent)s of %(cap)s; sends are stopped.")
                    % {
                        "scope": status.connector_name or gettext("all connectors"),
                        "sent": status.sent,
                        "cap": status.cap,
                    },
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)
