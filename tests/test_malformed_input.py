# ruff: noqa: RUF001  (look-alike digits are the point of these cases)
"""A table of malformed inputs to both endpoints: each one a 4xx with a clear JSON body, never a 5xx.

Each case is a raw request body (bytes). Field cases start from a valid body and replace one field,
so that the only thing wrong with the request is the field under test.
"""

from __future__ import annotations

import json

import pytest

import django_sms_verify
from django_sms_verify.models import Verification
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL
from tests.helpers import request_code

VALID_REQUEST = {"phone": PHONE_CN, "usage_type": "SignIn"}
VALID_CHECK = {**VALID_REQUEST, "code": "123456"}
HUGE = 100_000


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


# Whole bodies that are not a valid JSON object.
RAW_BODIES = {
    "empty body": b"",
    "only whitespace": b"   \n\t ",
    "truncated object": b'{"phone": ',
    "not json": b"phone=+8613800138000",
    "single quotes": b"{'phone': '+8613800138000', 'usage_type': 'SignIn'}",
    "trailing comma": b'{"phone": "+8613800138000", "usage_type": "SignIn",}',
    "json null": b"null",
    "json list": b"[]",
    "json list of the object": b'[{"phone": "+8613800138000", "usage_type": "SignIn"}]',
    "json string": b'"+8613800138000"',
    "json number": b"8613800138000",
    "json true": b"true",
    "invalid utf-8": b'{"phone": "\xff\xfe", "usage_type": "SignIn"}',
    "utf-16 bytes": json.dumps(VALID_REQUEST).encode("utf-16"),
    "nul byte between tokens": b'{"phone": "+8613800138000",\x00 "usage_type": "SignIn"}',
    "NaN": b'{"phone": NaN, "usage_type": "SignIn"}',
    "Infinity": b'{"phone": Infinity, "usage_type": "SignIn"}',
    "number overflowing float": b'{"phone": 1e999, "usage_type": "SignIn"}',
    "huge integer": b'{"phone": ' + b"9" * 5000 + b', "usage_type": "SignIn"}',
    "array nested 100 000 deep": deep_array(HUGE),
    "object nested 100 000 deep": deep_object(HUGE),
    "phone nested 5 000 deep": b'{"phone": ' + deep_array(5000) + b', "usage_type": "SignIn"}',
    "empty object": b"{}",
    "3 MB body": b'{"phone": "' + b"1" * 3_000_000 + b'", "usage_type": "SignIn"}',
}

# One field replaced in an otherwise valid body (both endpoints).
FIELD_VALUES = {
    "phone null": ("phone", None),
    "phone integer": ("phone", 8613800138000),
    "phone float": ("phone", 1.5),
    "phone boolean": ("phone", True),
    "phone list": ("phone", [PHONE_CN]),
    "phone object": ("phone", {"e164": PHONE_CN}),
    "phone operator object": ("phone", {"$ne": None}),
    "phone empty": ("phone", ""),
    "phone blank": ("phone", "   "),
    "phone 100 000 letters": ("phone", "a" * HUGE),
    "phone 100 000 digits": ("phone", "+" + "1" * HUGE),
    "phone fullwidth digits": ("phone", "+８６１３８００１３８０００"),
    "phone arabic-indic digits": ("phone", "+٨٦١٣٨٠٠١٣٨٠٠٠"),
    "phone devanagari digits": ("phone", "+८६१३८००१३८०००"),
    "phone nul byte": ("phone", "+86138\x0000138000"),
    "phone newline inside": ("phone", "+86138\n00138000"),
    "phone bell character": ("phone", "+8613800138000\x07"),
    "phone right-to-left override": ("phone", "+86\u202e13800138000"),
    "phone zero-width space": ("phone", "+86\u200b13800138000"),
    "phone lone surrogate": ("phone", "+86\ud80013800138000"),
    "phone emoji": ("phone", "+86📱13800138000"),
    "phone letters inside": ("phone", "+86 138 ABCD 8000"),
    "phone tel uri": ("phone", "tel:+8613800138000"),
    "phone sql": ("phone", "+86'; DROP TABLE sms_verify_verification;--"),
    "phone impossible all zeros": ("phone", "+8600000000000"),
    "phone unassigned country code": ("phone", "+999123456789"),
    "phone one digit short": ("phone", "+861380013800"),
    "phone far too long": ("phone", "+86138001380001380013800"),
    "phone only plus": ("phone", "+"),
    "phone national without default region": ("phone", "13800138000"),
    "usage type lower case": ("usage_type", "signin"),
    "usage type unknown": ("usage_type", "Login"),
    "usage type with space": ("usage_type", " SignIn"),
    "usage type null": ("usage_type", None),
    "usage type integer": ("usage_type", 1),
    "usage type list": ("usage_type", ["SignIn"]),
    "usage type empty": ("usage_type", ""),
    "usage type nul byte": ("usage_type", "SignIn\x00"),
    "usage type 100 000 characters": ("usage_type", "S" * HUGE),
    "usage type lone surrogate": ("usage_type", "\ud800"),
    "usage type control characters": ("usage_type", "Sign\x1b[31mIn"),
}

REQUEST_ONLY = {
    "channel unknown": ("channel", "fax"),
    "channel capitalised": ("channel", "Voice"),
    "channel null": ("channel", None),
    "channel integer": ("channel", 0),
    "channel lone surrogate": ("channel", "\udfff"),
    "channel 100 000 characters": ("channel", "v" * HUGE),
}

CHECK_ONLY = {
    "code one digit short": ("code", "12345"),
    "code one digit long": ("code", "1234567"),
    "code with a letter": ("code", "12345a"),
    "code arabic-indic digits": ("code", "١٢٣٤٥٦"),
    "code fullwidth digits": ("code", "１２３４５６"),
    "code superscript digits": ("code", "¹²³⁴⁵⁶"),
    "code integer": ("code", 123456),
    "code float": ("code", 123456.0),
    "code null": ("code", None),
    "code empty": ("code", ""),
    "code list": ("code", ["123456"]),
    "code nul byte": ("code", "12345\x00"),
    "code space inside": ("code", "123 456"),
    "code negative": ("code", "-12345"),
    "code exponent": ("code", "1e5000"),
    "code 100 000 digits": ("code", "1" * HUGE),
    "code lone surrogates": ("code", "\ud800" * 6),
    "code missing": ("code", ...),
}


def with_field(base: dict, field: str, value) -> bytes:
    body = dict(base)
    if value is ...:
        del body[field]
    else:
        body[field] = value
    return json.dumps(body).encode()


def cases():
    for name, raw in RAW_BODIES.items():
        yield pytest.param(REQUEST_URL, raw, id=f"request: {name}")
        yield pytest.param(CHECK_URL, raw, id=f"check: {name}")
    for name, (field, value) in FIELD_VALUES.items():
        yield pytest.param(REQUEST_URL, with_field(VALID_REQUEST, field, value), id=f"request: {name}")
        yield pytest.param(CHECK_URL, with_field(VALID_CHECK, field, value), id=f"check: {name}")
    for name, (field, value) in REQUEST_ONLY.items():
        yield pytest.param(REQUEST_URL, with_field(VALID_REQUEST, field, value), id=f"request: {name}")
    for name, (field, value) in CHECK_ONLY.items():
        yield pytest.param(CHECK_URL, with_field(VALID_CHECK, field, value), id=f"check: {name}")


def test_the_table_has_at_least_forty_inputs_per_endpoint():
    ids = [case.id for case in cases()]
    assert sum(i.startswith("request: ") for i in ids) >= 40
    assert sum(i.startswith("check: ") for i in ids) >= 40


@pytest.fixture
def pending(api, connector):
    """A pending verification for the phone every check case names, to show nothing is counted."""
    assert request_code(api).status_code == 202
    django_sms_verify.outbox.clear()
    return Verification.objects.get()


@pytest.mark.parametrize(("url", "body"), list(cases()))
def test_malformed_input_gets_a_clear_4xx(api, pending, url, body):
    api.raise_request_exception = False  # a server error must show as its status, not a traceback
    response = api.generic("POST", url, body, content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert isinstance(data, dict)
    assert isinstance(data.get("detail"), str) and data["detail"].strip()
    assert isinstance(data.get("code"), str) and data["code"]
    # Clear and short: the body does not echo 100 000 characters back.
    assert len(response.content) < 2000
    # Nothing happened: no message, no new verification, no check counted.
    assert django_sms_verify.outbox == []
    assert Verification.objects.get().pk == pending.pk
    pending.refresh_from_db()
    assert pending.check_attempts == 0
    assert pending.status == "pending"


MALFORMED_CONTENT_TYPES = {
    "json declared as utf-16": ("application/json; charset=utf-16", 400),
    "json api media type": ("application/vnd.api+json", 415),
    "no content type": ("", 415),
    "text/json": ("text/json", 415),
    "jsonp": ("application/javascript", 415),
    "form with a json body": ("application/x-www-form-urlencoded", 415),
}


@pytest.mark.parametrize(
    ("content_type", "status"), list(MALFORMED_CONTENT_TYPES.values()), ids=list(MALFORMED_CONTENT_TYPES)
)
@pytest.mark.parametrize("url", [REQUEST_URL, CHECK_URL])
def test_malformed_content_type_gets_a_clear_4xx(api, pending, url, content_type, status):
    api.raise_request_exception = False
    body = json.dumps(VALID_CHECK).encode()
    response = api.generic("POST", url, body, content_type=content_type)
    assert response.status_code == status, response.content[:300]
    data = response.json()
    assert data["detail"] and data["code"]
    assert django_sms_verify.outbox == []
    pending.refresh_from_db()
    assert pending.check_attempts == 0


def test_the_quick_validation_accepts_only_what_the_serializer_accepts_alike():
    """The endpoints validate well-formed bodies without building a serializer; for every
    body in the table, and valid ones with spaces and look-alikes, the quick path either
    steps aside (None) or gives exactly the serializer's validated data."""
    from django_sms_verify.api.serializers import VerificationCheckSerializer, VerificationRequestSerializer

    serializers = {REQUEST_URL: VerificationRequestSerializer, CHECK_URL: VerificationCheckSerializer}
    bodies = [(case.values[0], json.loads(case.values[1])) for case in cases() if _parses(case.values[1])]
    for url, valid in ((REQUEST_URL, VALID_REQUEST), (CHECK_URL, VALID_CHECK)):
        bodies += [
            (url, valid),
            (url, {**valid, "phone": " +86 138-0013-8000 "}),
            (url, {**valid, "channel": "voice"}),
            (url, {**valid, "code": " 123456 "}),
            (url, {**valid, "extra": "ignored"}),
        ]
    quick_answers = 0
    for url, body in bodies:
        serializer = serializers[url](data=body)
        quick = serializers[url].validate_quickly(body)
        if quick is not None:
            quick_answers += 1
            assert serializer.is_valid(), (body, serializer.errors)
            assert quick == dict(serializer.validated_data), body
    assert quick_answers >= 10  # the quick path is really taken


def _parses(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True
