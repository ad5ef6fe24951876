"""Request and response shapes of the REST API. Phone numbers are parsed here, once."""

from __future__ import annotations

import copy
import re

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import InvalidPhoneNumber
from django_sms_verify.models import Channel, UsageType
from django_sms_verify.phones import Phone, parse_phone


class LeanSerializer(serializers.Serializer):
    """DRF deep-copies every declared field for each serializer instance, re-running each
    field's ``__init__``: most of the cost of validating a three-field body. Our fields keep
    no state that validation changes, so a shallow copy (which ``bind`` then names) does."""

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and other non-strings instead of
    quietly turning them into text."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class PhoneField(StrictCharField):
    MAX_LENGTH = 64
    default_error_messages = {"invalid_phone": _("Enter a valid phone number.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", self.MAX_LENGTH)
        kwargs.setdefault("help_text", _("E.164, e.g. +8613800138000"))
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty) -> Phone:  # type: ignore[override]
        text = super().run_validation(data)  # type, length and null checks first
        try:
            return parse_phone(text)
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(str(exc.message), code=exc.code) from exc

    def to_representation(self, value) -> str:
        return str(value)


_USAGE_TYPES = frozenset(UsageType.values)
_CHANNELS = frozenset(Channel.values)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            # Echo a short prefix only: never a 100 000-character answer.
            self.fail("invalid_choice", input=str(data)[:32])
        return super().to_internal_value(data)


def _is_one_of(value: object, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices


def _quick_phone(data: dict) -> Phone | None:
    raw = data.get("phone")
    if not isinstance(raw, str) or len(raw) > PhoneField.MAX_LENGTH:
        return None
    try:
        return parse_phone(raw)
    except InvalidPhoneNumber:
        return None


class VerificationRequestSerializer(LeanSerializer):
    phone = PhoneField()
    usage_type = StrictChoiceField(choices=UsageType.choices)
    channel = StrictChoiceField(choices=Channel.choices, default=Channel.SMS)

    @staticmethod
    def validate_quickly(data: object) -> dict | None:
        """``validated_data`` of a well-formed body without building the serializer (the
        common case, on the hot path); ``None`` for anything else, which the serializer
        then validates to word the errors."""
        if not isinstance(data, dict):
            return None
        usage_type, channel = data.get("usage_type"), data.get("channel", Channel.SMS)
        if not (_is_one_of(usage_type, _USAGE_TYPES) and _is_one_of(channel, _CHANNELS)):
            return None
        phone = _quick_phone(data)
        return None if phone is None else {"phone": phone, "usage_type": usage_type, "channel": channel}


class CodeField(StrictCharField):
    MAX_LENGTH = 10
    default_error_messages = {"invalid_format": _("Enter the {length}-digit code.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", self.MAX_LENGTH)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty) -> str:
        text = super().run_validation(data)
        length = app_settings.CODE_LENGTH
        if not re.fullmatch(rf"[0-9]{{{length}}}", text):
            self.fail("invalid_format", length=length)
        return text


class VerificationCheckSerializer(LeanSerializer):
    phone = PhoneField()
    usage_type = StrictChoiceField(choices=UsageType.choices)
    code = CodeField()

    @staticmethod
    def validate_quickly(data: object) -> dict | None:
        """As :meth:`VerificationRequestSerializer.validate_quickly`."""
        if not isinstance(data, dict) or not _is_one_of(data.get("usage_type"), _USAGE_TYPES):
            return None
        code = data.get("code")
        if not isinstance(code, str) or len(code) > CodeField.MAX_LENGTH:
            return None
        code = code.strip()  # as CharField's trim_whitespace
        if len(code) != app_settings.CODE_LENGTH or not code.isascii() or not code.isdigit():
            return None
        phone = _quick_phone(data)
        return None if phone is None else {"phone": phone, "usage_type": data["usage_type"], "code": code}


class VerificationSerializer(LeanSerializer):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    usage_type = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    resend_after = serializers.IntegerField(help_text=_("Seconds until the next send is allowed."))


_DATETIME = serializers.DateTimeField()


def format_datetime(value) -> str | None:
    """A datetime as the serializers below write it (ISO 8601, the current time zone)."""
    return _DATETIME.to_representation(value) if value is not None else None


def verification_body(verification) -> dict:
    """A verification as :class:`VerificationSerializer` describes it, written directly
    (a serializer instance per response costs more than the fields it writes)."""
    from django_sms_verify.services import resend_after

    return {
        "id": str(verification.pk),
        "phone": verification.phone,
        "usage_type": verification.usage_type,
        "channel": verification.channel,
        "status": verification.status,
        "expires_at": format_datetime(verification.expires_at),
        "resend_after": resend_after(verification),
    }


class CheckResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    verification_token = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class DeliverySerializer(serializers.Serializer):
    status = serializers.CharField(help_text=_("queued, sending, sent, delivered, undelivered or failed"))
    channel = serializers.CharField()
    error_code = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class VerificationProgressSerializer(VerificationSerializer):
    delivery = DeliverySerializer(
        allow_null=True, help_text=_("The latest message sent for this verification.")
    )
