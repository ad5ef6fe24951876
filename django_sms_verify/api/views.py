"""Thin REST views: serializer -> one service call -> response."""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from django_sms_verify import services
from django_sms_verify.abuse.throttling import client_ip
from django_sms_verify.api.errors import exception_handler, to_api_error
from django_sms_verify.api.idempotency import IdempotencyMixin
from django_sms_verify.api.parsers import StrictJSONParser
from django_sms_verify.api.security import SecurityEventsMixin
from django_sms_verify.api.serializers import (
    CheckResponseSerializer,
    ErrorSerializer,
    VerificationCheckSerializer,
    VerificationProgressSerializer,
    VerificationRequestSerializer,
    VerificationSerializer,
    format_datetime,
    verification_body,
)
from django_sms_verify.exceptions import SmsVerifyError, VerificationNotFound
from django_sms_verify.sending.sync import set_request_origin

try:
    from drf_spectacular.utils import extend_schema
except ImportError:  # the schema is optional

    def extend_schema(*args, **kwargs):
        return lambda view: view


class SmsVerifyAPIView(SecurityEventsMixin, APIView):
    """Our own parsing, rendering and error shapes, whatever the host's DRF defaults."""

    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []  # our limits live in the service layer
    http_method_names = ["post", "options"]

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Worked out only if a send needs it (a Twilio status callback without PUBLIC_BASE_URL).
        set_request_origin(lambda: f"{request.scheme}://{request.get_host()}")

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            set_request_origin(None)  # never leak one request's origin into later sends

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


def validated(serializer_class, data) -> dict:
    """``serializer_class``'s validated data, or the 400 its errors make."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


ERRORS = {400: ErrorSerializer, 415: ErrorSerializer, 429: ErrorSerializer}


class VerificationRequestView(IdempotencyMixin, SmsVerifyAPIView):
    @extend_schema(
        request=VerificationRequestSerializer,
        responses={202: VerificationSerializer, **ERRORS, 503: ErrorSerializer},
        summary="Send a verification code",
    )
    def post(self, request):
        data = VerificationRequestSerializer.validate_quickly(request.data) or validated(
            VerificationRequestSerializer, request.data
        )
        request.sms_verify_phone = data["phone"]  # for the security log: parsed once
        try:
            verification = services.request_verification(
                data["phone"],
                data["usage_type"],
                channel=data["channel"],
                client_ip=client_ip(request.META),
            )
        except SmsVerifyError as exc:
            raise to_api_error(exc) from exc
        return Response(verification_body(verification), status=status.HTTP_202_ACCEPTED)


class VerificationCheckView(SmsVerifyAPIView):
    @extend_schema(
        request=VerificationCheckSerializer,
        responses={200: CheckResponseSerializer, **ERRORS},
        summary="Check a verification code",
    )
    def post(self, request):
        data = VerificationCheckSerializer.validate_quickly(request.data) or validated(
            VerificationCheckSerializer, request.data
        )
        request.sms_verify_phone = data["phone"]
        try:
            result = services.check_verification(data["phone"], data["usage_type"], data["code"])
        except SmsVerifyError as exc:
            raise to_api_error(exc) from exc
        return Response({"status": "approved", "verification_token": result.token})


class VerificationStatusView(SmsVerifyAPIView):
    """The verification's status and its latest delivery status, for a page that waits
    for the code (in tasks mode the request answers before the provider is called)."""

    http_method_names = ["get", "options"]

    @extend_schema(
        responses={200: VerificationProgressSerializer, 404: ErrorSerializer},
        summary="Status of a verification and of its latest message",
    )
    def get(self, request, verification_id: str):
        try:
            progress = services.verification_progress(verification_id)
        except VerificationNotFound as exc:
            raise exceptions.NotFound(str(exc.message), code=exc.code) from exc
        verification, delivery = progress.verification, progress.delivery
        body = {
            **verification_body(verification),
            "status": progress.status,
            "delivery": None
            if delivery is None
            else {
                "status": delivery.status,
                "channel": delivery.channel,
                "error_code": delivery.error_code,
                "updated_at": format_datetime(delivery.updated_at),
            },
        }
        return Response(body)
