"""URLs for tests/test_fuzz_schema.py: the app's API plus its OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("api/sms-verify/", include("django_sms_verify.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
