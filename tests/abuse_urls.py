"""The test URLs plus one webhook, built on the app's WebhookView, for the abuse tests."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path
from django.utils.crypto import constant_time_compare

from django_sms_verify.webhooks.base import WebhookView
from tests.urls import urlpatterns as base_urlpatterns


class TokenWebhook(WebhookView):
    """A locmem delivery report authenticated by the connector's webhook token."""

    provider = "locmem"

    def validate_request(self, request, connector) -> None:
        if not constant_time_compare(request.GET.get("token", ""), connector.webhook_token):
            raise PermissionDenied

    def handle(self, request, connector) -> HttpResponse:
        return HttpResponse("ok")


urlpatterns = [
    *base_urlpatterns,
    path("hooks/locmem/<str:connector_name>/report/", TokenWebhook.as_view(), name="locmem-report"),
]
