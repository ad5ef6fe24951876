"""Signals for host projects.

``verification_requested(sender=Verification, verification, message, resent)``
    A code was sent (``resent`` is True when a pending code was sent again).
``verification_approved(sender=Verification, verification)``
    A correct code was checked; the verification is now approved.
``message_status_changed(sender=Message, message, old_status, new_status)``
    A message's delivery status moved forward (sent, delivered, failed...).
``fraud_suspected(sender=Verification, region, sends, approvals, until)``
    The conversion monitor suspended verification sends to ``region`` (ISO code) until
    ``until`` (an aware datetime): ``sends`` codes went there within the window and only
    ``approvals`` were approved. Fires once per suspension.
``spend_cap_reached(sender=DailySendCount, day, connector_name, cap)``
    A daily send cap was reached (``connector_name`` is "" for the overall cap); further
    sends are refused until the next day or until the cap is raised. Fires once per cap and day.
"""

from django.dispatch import Signal

verification_requested = Signal()
verification_approved = Signal()
message_status_changed = Signal()
fraud_suspected = Signal()
spend_cap_reached = Signal()
