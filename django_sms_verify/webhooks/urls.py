"""Provider webhooks, one module per provider (``webhooks/<provider>.py``)."""

from django.urls import path

from django_sms_verify.webhooks import aliyun
from django_sms_verify.webhooks.twilio import TwilioInboundView, TwilioStatusView

urlpatterns = [
    # Twilio: delivery status callbacks and inbound SMS (opt-outs), signed X-Twilio-Signature
    path("twilio/<str:connector_name>/status/", TwilioStatusView.as_view(), name="twilio-status"),
    path("twilio/<str:connector_name>/inbound/", TwilioInboundView.as_view(), name="twilio-inbound"),
    # Alibaba Cloud SMS: delivery reports and replies (?token=<connector webhook token>)
    path("aliyun/<str:connector_name>/report/", aliyun.AliyunReportView.as_view(), name="aliyun-report"),
    path("aliyun/<str:connector_name>/inbound/", aliyun.AliyunInboundView.as_view(), name="aliyun-inbound"),
]
