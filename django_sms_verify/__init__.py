"""django-sms-verify: one-time codes and notifications by SMS and voice for Django."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Messages sent through the ``locmem`` provider, like ``django.core.mail.outbox``.
# Clear it between tests: ``django_sms_verify.outbox.clear()``.
outbox: list[Any] = []


def consume_verification_token(token: str, *, usage_type: str) -> str:
    """Return the verified E.164 phone number of a ``verification_token`` and use it up.

    Raises :class:`django_sms_verify.exceptions.InvalidToken` if it is forged, expired,
    for another usage type or already consumed.
    """
    from django_sms_verify.verification.tokens import consume_verification_token as consume

    return consume(token, usage_type=usage_type)


__all__ = ["consume_verification_token", "outbox"]
