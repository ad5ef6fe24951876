"""The floor: the least an endpoint taking a phone number can do on this stack (DRF,
JSON in and out, phonenumbers, one INSERT). Our endpoints are measured against it."""

import phonenumbers
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import FloorRow


class FloorView(APIView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        try:
            number = phonenumbers.parse(str(request.data.get("phone", "")), None)
        except phonenumbers.NumberParseException:
            return Response({"detail": "invalid phone"}, status=400)
        if not phonenumbers.is_valid_number(number):
            return Response({"detail": "invalid phone"}, status=400)
        row = FloorRow.objects.create(
            phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        )
        return Response({"id": row.pk, "phone": row.phone}, status=202)
