"""Where a verification stands: its own status and its latest message's delivery status,
for a sign-in page that waits for the code (and offers a voice call when the SMS failed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from django_sms_verify.exceptions import VerificationNotFound
from django_sms_verify.models import Message, Verification, VerificationStatus


@dataclass(frozen=True)
class VerificationProgress:
    verification: Verification
    status: str  # the verification's status; a pending one past its expiry reads "expired"
    delivery: Message | None  # the latest message sent for it (None before the first)


def verification_progress(verification_id: object) -> VerificationProgress:
    """The status of verification ``verification_id`` and of its latest message.

    Raises :class:`~.exceptions.VerificationNotFound` for an unknown or malformed id.
    """
    try:
        pk = verification_id if isinstance(verification_id, uuid.UUID) else uuid.UUID(str(verification_id))
    except ValueError as exc:
        raise VerificationNotFound() from exc
    verification = Verification.objects.filter(pk=pk).first()
    if verification is None:
        raise VerificationNotFound()
    delivery = (
        Message.objects.filter(verification_id=pk)
        .only("id", "status", "channel", "error_code", "updated_at", "created_at")
        .order_by("-created_at")
        .first()
    )
    status = verification.status
    if status == VerificationStatus.PENDING and verification.expires_at <= timezone.now():
        status = VerificationStatus.EXPIRED
    return VerificationProgress(verification=verification, status=status, delivery=delivery)
