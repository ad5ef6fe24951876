from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from demo.views import signin_page

urlpatterns = [
    path("", signin_page, name="signin"),
    path("admin/", admin.site.urls),
    path("api/sms-verify/", include("django_sms_verify.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]

if "benchfloor" in settings.INSTALLED_APPS:
    urlpatterns.append(path("bench/", include("benchfloor.urls")))
