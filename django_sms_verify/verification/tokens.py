"""Verification tokens: opaque, signed, time-limited, single-use."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.utils import timezone

from django_sms_verify.conf import app_settings
from django_sms_verify.exceptions import InvalidToken
from django_sms_verify.models import Verification, VerificationStatus

SALT = "django_sms_verify.verification_token"


def make_token(verification: Verification) -> str:
    return signing.dumps({"v": verification.pk.hex, "u": verification.usage_type}, salt=SALT)


def consume_verification_token(token: str, *, usage_type: str) -> str:
    """Return the verified E.164 phone of ``token`` and mark the token used.

    Raises :class:`~django_sms_verify.exceptions.InvalidToken` if the token is forged,
    expired, for another usage type, or already consumed.
    """
    if not isinstance(token, str) or len(token) > 512:
        raise InvalidToken()
    try:
        data = signing.loads(token, salt=SALT, max_age=app_settings.TOKEN_TTL)
    except signing.BadSignature as exc:
        raise InvalidToken() from exc
    if not isinstance(data, dict) or data.get("u") != usage_type:
        raise InvalidToken()
    now = timezone.now()
    used = Verification.objects.filter(
        pk=data.get("v"),
        status=VerificationStatus.APPROVED,
        token_used_at__isnull=True,
        approved_at__gte=now - timedelta(seconds=app_settings.TOKEN_TTL),
    ).update(token_used_at=now)
    if used != 1:
        raise InvalidToken()
    return Verification.objects.values_list("phone", flat=True).get(pk=data["v"])
