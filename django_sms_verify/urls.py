from django.urls import include, path

from django_sms_verify.api.views import VerificationCheckView, VerificationRequestView, VerificationStatusView

app_name = "sms_verify"

urlpatterns = [
    path("verifications/", VerificationRequestView.as_view(), name="verification-request"),
    path("verifications/check/", VerificationCheckView.as_view(), name="verification-check"),
    path(
        "verifications/<str:verification_id>/",
        VerificationStatusView.as_view(),
        name="verification-status",
    ),
    path("webhooks/", include("django_sms_verify.webhooks.urls")),
]
