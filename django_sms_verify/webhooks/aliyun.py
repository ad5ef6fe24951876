"""Alibaba Cloud SMS pushes (HTTP batch push mode): SmsReport and SmsUp.

Alibaba Cloud does not sign its pushes, so each URL carries the connector's secret
``webhook_token`` as ``?token=...``. Both pushes are JSON arrays, possibly batched and
repeated; both want ``{"code": 0, "msg": ...}`` with HTTP 200, and push again after
1, 5 and 10 minutes otherwise, so a failure to store answers 5xx on purpose.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator

from django_sms_verify import services
from django_sms_verify.models import Connector, Message, MessageStatus
from django_sms_verify.providers.aliyun import e164_from_api, parse_api_datetime
from django_sms_verify.sending.sync import record_status
from django_sms_verify.webhooks.base import WebhookView

logger = logging.getLogger("django_sms_verify.webhooks")

OPT_OUT_KEYWORDS = frozenset({"TD", "退订", "STOP"})


class MalformedPush(ValueError):
    """The body is not the JSON array of objects Alibaba Cloud documents."""


def accepted() -> JsonResponse:
    return JsonResponse({"code": 0, "msg": "成功"}, json_dumps_params={"ensure_ascii": False})


def refused(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"code": status, "msg": reason}, status=status)


# Each report is its own atomic UPDATE (record_status), even under ATOMIC_REQUESTS: after a
# failure, what was applied stays applied and its signal is not sent again on the re-push.
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class AliyunWebhookView(WebhookView):
    provider = "aliyun"

    def validate_request(self, request: HttpRequest, connector: Connector) -> None:
        token = request.GET.get("token", "")
        if not (token and connector.webhook_token and constant_time_compare(token, connector.webhook_token)):
            raise PermissionDenied

    def handle(self, request: HttpRequest, connector: Connector) -> HttpResponse:
        try:
            items = self.parse(request.body)
        except MalformedPush as exc:
            logger.warning("malformed aliyun push for %s: %s", connector.name, exc)
            return refused(400, str(exc))
        try:
            self.store(items, connector)
        except Exception:
            # Alibaba Cloud pushes again after a non-200 answer; what was stored before
            # the failure is not undone, and reapplying it changes nothing.
            logger.exception("storing an aliyun push for %s failed", connector.name)
            return refused(500, "not stored")
        return accepted()

    def parse(self, body: bytes) -> list[Any]:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedPush("the body is not JSON") from exc
        if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
            raise MalformedPush("expected a JSON array of objects")
        return [self.parse_item(item) for item in data]

    def parse_item(self, item: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def store(self, items: list[Any], connector: Connector) -> None:
        raise NotImplementedError


# --- SmsReport: delivery reports ------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    out_id: str
    biz_id: str
    success: bool
    err_code: str
    err_msg: str
    report_time: str


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedPush("success must be true or false")


class AliyunReportView(AliyunWebhookView):
    """``POST webhooks/aliyun/<connector>/report/?token=...``: SmsReport pushes."""

    def parse_item(self, item: Mapping[str, Any]) -> DeliveryReport:
        out_id, biz_id = str(item.get("out_id") or ""), str(item.get("biz_id") or "")
        if not (out_id or biz_id):
            raise MalformedPush("a report has neither out_id nor biz_id")
        return DeliveryReport(
            out_id=out_id,
            biz_id=biz_id,
            success=_flag(item.get("success")),
            err_code=str(item.get("err_code") or ""),
            err_msg=str(item.get("err_msg") or ""),
            report_time=str(item.get("report_time") or ""),
        )

    def store(self, items: list[DeliveryReport], connector: Connector) -> None:
        for report in items:
            message = self.find_message(report, connector)
            if message is None:
                logger.info("aliyun report for an unknown message (%s) on %s", report.biz_id, connector.name)
                continue
            if report.success:
                moved = record_status(
                    message, MessageStatus.DELIVERED, at=parse_api_datetime(report.report_time)
                )
            else:
                moved = record_status(
                    message,
                    MessageStatus.FAILED,
                    error_code=report.err_code or "failed",
                    error_message=report.err_msg,
                )
            logger.debug("aliyun report for message %s: %s", message.pk, "applied" if moved else "no change")

    @staticmethod
    def find_message(report: DeliveryReport, connector: Connector) -> Message | None:
        """Our message by ``out_id`` (our id, echoed) or else ``biz_id`` (Aliyun's id);
        only among this connector's messages, so one connector's token touches no other's."""
        messages = Message.objects.filter(connector=connector)
        if report.out_id:
            try:
                found = messages.filter(pk=uuid.UUID(report.out_id)).first()
            except ValueError:
                found = None
            if found is not None:
                return found
        if report.biz_id:
            return messages.filter(provider_message_id=report.biz_id).order_by("-created_at").first()
        return None


# --- SmsUp: replies -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    phone_number: str
    content: str


class AliyunInboundView(AliyunWebhookView):
    """``POST webhooks/aliyun/<connector>/inbound/?token=...``: SmsUp pushes.

    A reply of ``TD``, ``退订`` or ``STOP`` (any case, surrounding spaces ignored)
    records an opt-out of notifications for the number.
    """

    def parse_item(self, item: Mapping[str, Any]) -> Reply:
        if not item.get("phone_number") or not isinstance(item.get("content"), str):
            raise MalformedPush("a reply needs phone_number and content")
        return Reply(phone_number=str(item["phone_number"]), content=item["content"])

    def store(self, items: list[Reply], connector: Connector) -> None:
        for reply in items:
            keyword = reply.content.strip()
            if keyword.upper() not in OPT_OUT_KEYWORDS:
                continue
            phone = e164_from_api(reply.phone_number)
            if phone is None:
                logger.warning("aliyun reply from an unreadable number on %s", connector.name)
                continue
            services.record_opt_out(phone, connector_name=connector.name, keyword=keyword)
