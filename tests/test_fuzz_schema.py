"""Generated requests against every operation of the OpenAPI schema: none may answer 5xx."""

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from schemathesis.checks import not_a_server_error

# Rate limits relaxed so throttling (429) doesn't hide the paths behind it.
RELAXED = {
    "PHONE_RATE": "100000/s",
    "IP_RATE": "100000/s",
    "PHONE_CHECK_RATE": "100000/s",
    "PREFIX_RATE": "100000/s",
    "CONVERSION_MIN_SENDS": 0,
    "RESEND_INTERVAL": 0,
}

with override_settings(ROOT_URLCONF="tests.fuzz_urls"):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.fixture(autouse=True)
def _fuzz_settings(settings, connector):
    # A locmem connector, so generated requests reach the send and check paths.
    settings.ROOT_URLCONF = "tests.fuzz_urls"
    settings.SMS_VERIFY = RELAXED


@schema.parametrize()
@hypothesis.settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
