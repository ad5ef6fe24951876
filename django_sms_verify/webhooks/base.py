"""Webhook views: find the connector, validate the request, then parse it.

Subclasses set ``provider`` and implement :meth:`validate_request` (raise
``PermissionDenied`` to answer 403) and :meth:`handle`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from django_sms_verify.abuse.security_log import security_event
from django_sms_verify.abuse.throttling import client_ip
from django_sms_verify.models import Connector

logger = logging.getLogger("django_sms_verify.webhooks")


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class WebhookView(View):
    provider: str = ""
    http_method_names = ["post"]

    def post(self, request: HttpRequest, connector_name: str) -> HttpResponse:
        connector = Connector.objects.filter(name=connector_name, provider=self.provider).first()
        if connector is None:
            self.log_rejection(request, connector_name, "unknown_connector")
            raise Http404()
        try:
            self.validate_request(request, connector)
        except PermissionDenied:
            self.log_rejection(request, connector.name, "not_authenticated")
            raise
        return self.handle(request, connector)

    def log_rejection(self, request: HttpRequest, connector_name: str, reason: str) -> None:
        security_event(
            "webhook_rejected",
            provider=self.provider,
            connector=connector_name,
            ip=client_ip(request.META),
            reason=reason,
        )

    def validate_request(self, request: HttpRequest, connector: Connector) -> None:
        raise PermissionDenied

    def handle(self, request: HttpRequest, connector: Connector) -> HttpResponse:
        raise NotImplementedError
