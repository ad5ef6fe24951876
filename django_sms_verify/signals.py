"""Signals for host projects.

``verification_requested(sender=Verification, verification, message, resent)``
    A code was sent (``resent`` is True when a pending code was sent again).
``verification_approved(sender=Verification, verification)``
    A correct code was checked; the verification is now approved.
``message_status_changed(sender=Message, message, old_status, new_status)``
    A message's delivery status moved forward (sent, delivered, failed...).
"""

from django.dispatch import Signal

verification_requested = Signal()
verification_approved = Signal()
message_status_changed = Signal()
