"""The floors: the least an endpoint taking a phone number can do on this stack (DRF,
JSON in and out, phonenumbers, one INSERT), and the least an endpoint can do that writes
what a request in tasks mode must (a verification, its message and its task, committed
together): by plain ORM calls in one transaction, and by the fewest statements the
database allows. Our endpoints are measured against all three."""

from datetime import timedelta

import phonenumbers
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from django_sms_verify.models import Message, Verification
from django_sms_verify.sending.worker import enqueue
from django_sms_verify.verification import statements as fastsql

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


class LeanWritesFloorView(FloorView):
    """The same three rows with the least SQL: on PostgreSQL one statement (three INSERTs
    in a WITH, atomic in autocommit: one round trip, one commit), elsewhere three INSERTs
    in one transaction; statements built once, values prepared by the models' fields."""

    def post(self, request):
        from django_tasks_db.models import DBTaskResult, get_date_max

        e164 = parsed_e164(request.data)
        if e164 is None:
            return Response({"detail": "invalid phone"}, status=400)
        now = timezone.now()
        verification = Verification(
            phone=e164,
            usage_type="SignIn",
            send_count=1,
            last_sent_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        message = Message(kind="verification", verification=verification, to=e164, usage_type="SignIn")
        task = DBTaskResult(
            args_kwargs={"args": [str(message.pk)], "kwargs": {}},
            task_path="django_sms_verify.sending.tasks.send_message",
            backend_name="default",
            run_after=get_date_max(),
        )
        rows = (verification, message, task)
        statements = _lean_statements(rows)
        params = [fastsql.insert_params(row, connection.alias) for row in rows]
        with connection.cursor() as cursor:
            if len(statements) == 1:
                cursor.execute(statements[0], [value for values in params for value in values])
            else:
                with transaction.atomic():
                    for statement, values in zip(statements, params, strict=True):
                        cursor.execute(statement, values)
        return Response({"id": verification.pk, "phone": e164}, status=202)


_LEAN_SQL: dict[str, list[str]] = {}


def _lean_statements(rows) -> list[str]:
    found = _LEAN_SQL.get(connection.vendor)
    if found is None:
        inserts = [fastsql.insert_statement(type(row), connection.alias) for row in rows]
        if connection.vendor == "postgresql":
            parts = [f"w{n} AS ({sql})" for n, sql in enumerate(inserts[:-1])]
            inserts = [f"WITH {', '.join(parts)} {inserts[-1]}"]
        found = _LEAN_SQL[connection.vendor] = inserts
    return found


def parsed_e164(data) -> str | None:
    try:
        number = phonenumbers.parse(str(data.get("phone", "")), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
