"""Settings for worker processes started by the tests (``manage.py db_worker``,
``sms_verify_requeue``): the test suite's settings, pointed at the test database the
running tests use, with the cache and ``SMS_VERIFY`` they chose."""

import json
import os

import tests.fakes.http_sms  # noqa: F401  (registers the fakehttp provider)
from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["SMS_VERIFY_TEST_DB"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["SMS_VERIFY_TEST_CACHE_DIR"],
    }
}
SMS_VERIFY = json.loads(os.environ.get("SMS_VERIFY_JSON") or "{}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_sms_verify": {"handlers": ["console"], "level": "INFO"}},
}
