"""The testproject: uses django-sms-verify the way a host project would.

SQLite and the console connector by default. Environment:
- ``DATABASE_URL`` (e.g. postgres://postgres@127.0.0.1:5432/test), ``SQLITE_PATH`` (the SQLite file
  otherwise), ``REDIS_URL`` (cache) and ``REDIS_KEY_PREFIX``; ``DATABASE_PREPARED_STATEMENTS=1``
  binds parameters on the PostgreSQL server and prepares repeated statements;
- ``SMS_VERIFY_<SETTING>`` overrides that SMS_VERIFY setting (lists comma-separated);
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG`` (default on), ``DJANGO_ALLOWED_HOSTS``, ``LANGUAGE_CODE``;
- ``SMS_VERIFY_DELIVERY=tasks`` sends from a worker: ``python manage.py db_worker``;
- ``BENCH_FLOOR=1`` adds what ``bench/run.py`` measures against (see ``benchfloor``).
"""

import os
from importlib.util import find_spec
from pathlib import Path

from django_sms_verify.conf import DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "testproject-insecure-development-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_sms_verify",
    "demo",
]
# Tasks mode (SMS_VERIFY_DELIVERY=tasks): the database queue and its worker, when installed
# (pip install "django-sms-verify[tasks]"); Django 6 has django.tasks built in.
if find_spec("django_tasks_db"):
    INSTALLED_APPS += [*([] if find_spec("django.tasks") else ["django_tasks"]), "django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
if os.environ.get("BENCH_FLOOR") == "1":
    INSTALLED_APPS.append("benchfloor")
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "testproject.urls"
WSGI_APPLICATION = "testproject.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if (
        DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        and os.environ.get("DATABASE_PREPARED_STATEMENTS") == "1"
    ):
        # psycopg 3 binds parameters on the server and prepares a statement the fifth time
        # it runs on a connection: the app's few hot statements are then planned once per
        # connection, not on every request (README, "Quickstart for a host project").
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Readers do not wait for a writer (the web server and a worker share the file).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # Separates sites (or test runs) sharing one Redis.
            "KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX", ""),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {"TITLE": "django-sms-verify", "VERSION": "0.1.0"}


def _setting_from_env(name: str, raw: str):
    """Read ``SMS_VERIFY_<NAME>`` as the type of the setting's default."""
    default = DEFAULTS[name]
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if name in ("ALLOWED_REGIONS", "ENCRYPTION_KEYS") or isinstance(default, list):
        return items
    if isinstance(default, dict):  # "twilio-main=500,aliyun-cn=200"
        return {key.strip(): int(value) for key, value in (item.split("=", 1) for item in items)}
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, int) and not isinstance(default, bool):
        return float(raw) if "." in raw else int(raw)
    if default is None and raw.isdigit():  # a count that is off by default (DAILY_SEND_CAP)
        return int(raw)
    return raw or None


SMS_VERIFY = {
    name: _setting_from_env(name, os.environ[f"SMS_VERIFY_{name}"])
    for name in DEFAULTS
    if f"SMS_VERIFY_{name}" in os.environ
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_sms_verify": {"handlers": ["console"], "level": "INFO"}},
}
