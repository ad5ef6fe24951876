"""Provider webhooks, one module per provider (``webhooks/<provider>.py``)."""

urlpatterns: list = []

# --- Twilio: delivery status callbacks and inbound SMS (opt-outs) --------------------------
from django.urls import path  # noqa: E402

from .twilio import TwilioInboundView, TwilioStatusView  # noqa: E402

urlpatterns += [
    path("twilio/<str:connector_name>/status/", TwilioStatusView.as_view(), name="twilio-status"),
    path("twilio/<str:connector_name>/inbound/", TwilioInboundView.as_view(), name="twilio-inbound"),
]
# --- end Twilio ----------------------------------------------------------------------------
