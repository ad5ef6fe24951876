"""GET verifications/<id>/: a verification's status and its latest delivery status."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from django_sms_verify.models import Message, Verification
from tests.conftest import PHONE_CN, REQUEST_URL


@pytest.fixture
def sent(api, connector):
    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def test_sync_mode_shows_the_sent_message(api, sent):
    response = api.get(f"{REQUEST_URL}{sent['id']}/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["id"] == sent["id"]
    assert body["phone"] == PHONE_CN
    assert body["status"] == "pending"
    assert body["channel"] == "sms"
    assert body["expires_at"] == sent["expires_at"]
    assert 0 < body["resend_after"] <= 60
    assert body["delivery"]["status"] == "sent"
    assert body["delivery"]["channel"] == "sms"
    assert body["delivery"]["error_code"] == ""
    assert "code" not in body and "connector" not in str(body)


def test_latest_message_counts(api, sent, connector):
    message = Message.objects.get(verification_id=sent["id"])
    later = Message.objects.create(
        kind=message.kind, verification_id=sent["id"], to=PHONE_CN, usage_type="SignIn", channel="voice"
    )
    Message.objects.filter(pk=later.pk).update(created_at=message.created_at + timedelta(seconds=1))
    delivery = api.get(f"{REQUEST_URL}{sent['id']}/").json()["delivery"]
    assert delivery["channel"] == "voice"
    assert delivery["status"] == "queued"


def test_a_lapsed_pending_verification_reads_expired(api, sent):
    Verification.objects.filter(pk=sent["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get(f"{REQUEST_URL}{sent['id']}/").json()["status"] == "expired"


@pytest.mark.django_db
@pytest.mark.parametrize("verification_id", [str(uuid.uuid4()), "not-a-uuid", "1234"])
def test_unknown_ids_are_404_in_json(api, verification_id):
    response = api.get(f"{REQUEST_URL}{verification_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"]


def test_only_get(api, sent):
    url = f"{REQUEST_URL}{sent['id']}/"
    for method in (api.post, api.put, api.delete):
        response = method(url, {}, format="json")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
    assert api.options(url).status_code == 200
