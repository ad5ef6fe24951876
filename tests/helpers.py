"""Small helpers shared by the behaviour tests: talk to the REST API, read the locmem outbox."""

from __future__ import annotations

import re

import django_sms_verify
from django_sms_verify.api.errors import PUBLIC_REJECTION_REASONS
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL

# make_connector's default templates read "<usage> code <<code>>, valid <<ttl_minutes>> min".
CODE_IN_TEXT = re.compile(r"code (\S+), valid")


def request_code(api, phone: str = PHONE_CN, usage_type: str = "SignIn", **fields_and_extra):
    """POST verifications/; extra keyword arguments starting with HTTP_/REMOTE_ go to the request."""
    extra = {k: v for k, v in fields_and_extra.items() if k.isupper()}
    body = {"phone": phone, "usage_type": usage_type}
    body.update({k: v for k, v in fields_and_extra.items() if not k.isupper()})
    return api.post(REQUEST_URL, body, format="json", **extra)


def check_code(api, code: str, phone: str = PHONE_CN, usage_type: str = "SignIn"):
    return api.post(CHECK_URL, {"phone": phone, "usage_type": usage_type, "code": code}, format="json")


def sent_codes() -> list[str]:
    """The codes of every message in the outbox, oldest first."""
    return [CODE_IN_TEXT.search(m.text).group(1) for m in django_sms_verify.outbox]


def latest_code() -> str:
    return sent_codes()[-1]


def wrong_code(code: str) -> str:
    """A code of the same length that is surely not ``code``."""
    return "".join("1" if c != "1" else "2" for c in code)


def assert_error(response, status: int, code: str) -> dict:
    """The response has ``status`` and a JSON error body with ``detail`` and this ``code``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert body.get("code") == code, body
    return body


def public_reason(reason: str) -> str:
    """The ``reason`` the API answers for a provider's permanent refusal: causes about the
    number itself are shown, anything that would reveal history with the site is "rejected"."""
    return reason if reason in PUBLIC_REJECTION_REASONS else "rejected"
