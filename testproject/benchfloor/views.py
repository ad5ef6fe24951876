"""The floors: the least an endpoint taking a phone number can do on this stack (DRF,
JSON in and out, phonenumbers, one INSERT), and the least an endpoint can do that writes
what a request in tasks mode must (a verification, its message and its task, in one
transaction, by plain ORM calls). Our endpoints are measured against both."""

from datetime import timedelta

import phonenumbers
from django.db import transaction
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from django_sms_verify.dispatch import enqueue
from django_sms_verify.models import Message, Verification

from .models import FloorRow


class FloorView(APIView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        e164 = parsed_e164(request.data)
        if e164 is None:
            return Response({"detail": "invalid phone"}, status=400)
        row = FloorRow.objects.create(phone=e164)
        return Response({"id": row.pk, "phone": row.phone}, status=202)


class SameWritesFloorView(FloorView):
    def post(self, request):
        e164 = parsed_e164(request.data)
        if e164 is None:
            return Response({"detail": "invalid phone"}, status=400)
        now = timezone.now()
        with transaction.atomic():
            verification = Verification.objects.create(
                phone=e164,
                usage_type="SignIn",
                send_count=1,
                last_sent_at=now,
                expires_at=now + timedelta(minutes=5),
            )
            message = Message.objects.create(
                kind="verification", verification=verification, to=e164, usage_type="SignIn"
            )
            enqueue(message.pk)
        return Response({"id": verification.pk, "phone": e164}, status=202)


def parsed_e164(data) -> str | None:
    try:
        number = phonenumbers.parse(str(data.get("phone", "")), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
