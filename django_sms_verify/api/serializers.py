"""Request and response shapes of the REST API. Phone numbers are parsed here, once."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..conf import app_settings
from ..exceptions import InvalidPhoneNumber
from ..models import Channel, UsageType
from ..phones import Phone, parse_phone


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and other non-strings instead of
    quietly turning them into text."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class PhoneField(StrictCharField):
    default_error_messages = {"invalid_phone": _("Enter a valid phone number.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
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


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            # Echo a short prefix only: never a 100 000-character answer.
            self.fail("invalid_choice", input=str(data)[:32])
        return super().to_internal_value(data)


class VerificationRequestSerializer(serializers.Serializer):
    phone = PhoneField()
    usage_type = StrictChoiceField(choices=UsageType.choices)
    channel = StrictChoiceField(choices=Channel.choices, default=Channel.SMS)


class CodeField(StrictCharField):
    default_error_messages = {"invalid_format": _("Enter the {length}-digit code.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty) -> str:
        text = super().run_validation(data)
        length = app_settings.CODE_LENGTH
        if not re.fullmatch(rf"[0-9]{{{length}}}", text):
            self.fail("invalid_format", length=length)
        return text


class VerificationCheckSerializer(serializers.Serializer):
    phone = PhoneField()
    usage_type = StrictChoiceField(choices=UsageType.choices)
    code = CodeField()


class VerificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    usage_type = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    resend_after = serializers.IntegerField(help_text=_("Seconds until the next send is allowed."))


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
