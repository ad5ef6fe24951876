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
from django.views.decorators.csrf import csrf_exempt

from ..models import Connector

logger = logging.getLogger("django_sms_verify.webhooks")


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    provider: str = ""
    http_method_names = ["post"]

    def post(self, request: HttpRequest, connector_name: str) -> HttpResponse:
        connector = Connector.objects.filter(name=connector_name, provider=self.provider).first()
        if connector is None:
            raise Http404()
        try:
            self.validate_request(request, connector)
        except PermissionDenied:
            logger.warning("rejected %s webhook for connector %s", self.provider, connector.name)
            raise
        return self.handle(request, connector)

    def validate_request(self, request: HttpRequest, connector: Connector) -> None:
        raise PermissionDenied

    def handle(self, request: HttpRequest, connector: Connector) -> HttpResponse:
        raise NotImplementedError
