"""URLs for the browser tests: the test URLs plus the testproject's sign-in page at ``/``.

The page is rendered from ``testproject/demo/templates`` as it is, so the browser test
exercises the very page a developer sees with ``./run demo``.
"""

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.template.backends.django import DjangoTemplates
from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

from tests.urls import urlpatterns as test_urlpatterns

DEMO_TEMPLATES = Path(__file__).resolve().parent.parent / "testproject" / "demo" / "templates"
_templates = DjangoTemplates({"NAME": "demo", "DIRS": [DEMO_TEMPLATES], "APP_DIRS": False, "OPTIONS": {}})


@ensure_csrf_cookie
def signin_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_templates.get_template("demo/signin.html").render({}, request))


urlpatterns = [path("", signin_page, name="signin"), *test_urlpatterns]
