"""HTTP hygiene on every endpoint: no caching, 405 for other methods, 415 for non-JSON."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL

ENDPOINTS = {
    REQUEST_URL: {"phone": PHONE_CN, "usage_type": "SignIn"},
    CHECK_URL: {"phone": PHONE_CN, "usage_type": "SignIn", "code": "123456"},
}
WEBHOOK_URL = "/hooks/locmem/locmem-main/report/"


@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head"])
def test_other_methods_are_405(api, url, method):
    response = getattr(api, method)(url)
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response["Cache-Control"] == "no-store"
    if method != "head":
        assert response.json()["code"] == "method_not_allowed"


@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "phone=%2B8613800138000&usage_type=SignIn"),
        (
            "multipart/form-data; boundary=xx",
            "--xx\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xx--",
        ),
        ("text/plain", '{"phone": "+8613800138000"}'),
        ("application/xml", "<phone>+8613800138000</phone>"),
    ],
)
def test_bodies_that_are_not_json_are_415(api, url, content_type, body):
    response = api.generic("POST", url, body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("url", ENDPOINTS)
def test_broken_json_is_400_and_not_cached(api, url):
    response = api.generic("POST", url, '{"phone": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("url", ENDPOINTS)
def test_json_with_a_charset_is_json(api, url):
    body = json.dumps(ENDPOINTS[url])
    response = api.generic("POST", url, body, content_type="application/json; charset=utf-8")
    assert response.status_code in (202, 400)
    assert response.json()["code" if response.status_code == 400 else "status"] in ("not_found", "pending")


@pytest.mark.usefixtures("connector")
def test_every_answer_of_the_api_says_no_store(api, settings):
    settings.SMS_VERIFY = {"PHONE_RATE": "1/h", "RESEND_INTERVAL": 0}
    answers = [
        api.post(REQUEST_URL, ENDPOINTS[REQUEST_URL], format="json"),  # 202
        api.post(REQUEST_URL, ENDPOINTS[REQUEST_URL], format="json"),  # 429
        api.post(REQUEST_URL, {"phone": "nope", "usage_type": "SignIn"}, format="json"),  # 400
        api.post(CHECK_URL, ENDPOINTS[CHECK_URL], format="json"),  # 400 invalid_code
        api.options(REQUEST_URL),
        api.options(CHECK_URL),
    ]
    assert [a.status_code for a in answers] == [202, 429, 400, 400, 200, 200]
    assert {a["Cache-Control"] for a in answers} == {"no-store"}


@pytest.mark.urls("tests.abuse_urls")
@pytest.mark.usefixtures("connector")
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_webhooks_take_post_only(api, method):
    assert getattr(api, method)(WEBHOOK_URL).status_code == 405


@pytest.mark.urls("tests.abuse_urls")
def test_webhook_answers_are_not_cached(api, connector):
    accepted = api.post(f"{WEBHOOK_URL}?token={connector.webhook_token}", {})
    refused = api.post(f"{WEBHOOK_URL}?token=wrong", {})
    assert (accepted.status_code, refused.status_code) == (200, 403)
    assert "no-store" in accepted["Cache-Control"]
    assert "no-store" in api.get(WEBHOOK_URL)["Cache-Control"]  # the 405 too
