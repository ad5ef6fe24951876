"""Provider webhooks, one module per provider (``webhooks/<provider>.py``)."""

urlpatterns: list = []

# --- Alibaba Cloud SMS: delivery reports and replies (?token=<connector webhook token>) ---
from django.urls import path  # noqa: E402

from . import aliyun  # noqa: E402

urlpatterns += [
    path("aliyun/<str:connector_name>/report/", aliyun.AliyunReportView.as_view(), name="aliyun-report"),
    path("aliyun/<str:connector_name>/inbound/", aliyun.AliyunInboundView.as_view(), name="aliyun-inbound"),
]
