"""Send test SMS: the page, the action, and who may use them."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

import django_sms_verify
from django_sms_verify.models import Message, MessageKind, MessageStatus
from tests.admin_support import VAULT_TOKEN, VaultProvider, register_provider, staff_client
from tests.conftest import PHONE_CN, PHONE_US


@pytest.fixture(autouse=True)
def _stand_in_provider(monkeypatch):
    register_provider(monkeypatch, VaultProvider)
    VaultProvider.sent.clear()


def test_send_url(connector) -> str:
    return reverse("admin:sms_verify_connector_test_send", args=[connector.pk])


test_send_url.__test__ = False  # a helper, not a test


def change_url(connector) -> str:
    return reverse("admin:sms_verify_connector_change", args=[connector.pk])


def test_change_page_has_the_button(admin_client, connector):
    page = admin_client.get(change_url(connector)).content.decode()
    assert f'href="{test_send_url(connector)}"' in page
    assert "Send test SMS" in page


def test_send_through_this_connector_only_shows_the_message_id(admin_client, make_connector):
    first = make_connector("first", priority=1)
    second = make_connector("second", priority=2)
    response = admin_client.get(test_send_url(second))
    assert response.status_code == 200 and b'name="phone"' in response.content

    response = admin_client.post(test_send_url(second), {"phone": PHONE_CN, "usage_type": "SignIn"})
    assert response.status_code == 200
    [sent] = django_sms_verify.outbox
    assert sent.connector == "second" and sent.to == PHONE_CN  # not the higher-priority "first"
    message = Message.objects.get()
    assert (message.kind, message.connector, message.status) == (MessageKind.TEST, second, MessageStatus.SENT)
    page = response.content.decode()
    assert f'<code id="provider-message-id">{sent.provider_message_id}</code>' in page
    log_url = reverse("admin:sms_verify_message_change", args=[message.pk])
    assert f'href="{log_url}"' in page
    assert "SignIn code ******" in page  # the stored body, code masked
    assert sent.text.split()[2].rstrip(",") not in page  # the sample code itself is not shown
    assert first.messages.count() == 0


def test_failure_shows_the_providers_error_code_and_text(admin_client, make_connector):
    connector = make_connector(
        "vault-bad", "vault", config={"accountSID": "AC1"}, secrets={"authToken": "wrong"}
    )
    response = admin_client.post(test_send_url(connector), {"phone": PHONE_US, "usage_type": "Register"})
    page = response.content.decode()
    assert '<code id="provider-error-code">20003</code>' in page
    assert "Authentication failed" in page
    assert Message.objects.get().status == MessageStatus.FAILED


def test_permanent_failure_is_shown_too(admin_client, make_connector):
    connector = make_connector("locmem-bad", config={"fail": "permanent"})
    page = admin_client.post(
        test_send_url(connector), {"phone": PHONE_CN, "usage_type": "SignIn"}
    ).content.decode()
    assert '<code id="provider-error-code">invalid_number</code>' in page
    assert "simulated invalid number" in page


def test_invalid_phone_is_a_form_error_and_sends_nothing(admin_client, connector):
    response = admin_client.post(test_send_url(connector), {"phone": "12345", "usage_type": "SignIn"})
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Message.objects.exists() and not django_sms_verify.outbox


def test_unknown_connector_is_404(admin_client, db):
    assert admin_client.get("/admin/sms_verify/connector/9999/test-send/").status_code == 404


# --- who may ------------------------------------------------------------------------------


def test_staff_without_change_permission_gets_403_and_no_button(connector):
    client = staff_client("viewer", "view_connector")
    page = client.get(change_url(connector))
    assert page.status_code == 200  # may look at the connector...
    assert test_send_url(connector) not in page.content.decode()
    assert "Send test SMS" not in page.content.decode()
    # ...but not send, whatever the URL or method
    assert client.get(test_send_url(connector)).status_code == 403
    assert (
        client.post(test_send_url(connector), {"phone": PHONE_CN, "usage_type": "SignIn"}).status_code == 403
    )
    assert not Message.objects.exists()
    # nor through the action
    listing = client.get("/admin/sms_verify/connector/").content.decode()
    assert "send_test_sms_action" not in listing
    response = client.post(
        "/admin/sms_verify/connector/",
        {
            "action": "send_test_sms_action",
            "_selected_action": [connector.pk],
            "phone": PHONE_CN,
            "usage_type": "SignIn",
            "send_test": "1",
        },
    )
    assert not Message.objects.exists(), response.status_code


def test_staff_with_change_permission_may_send(connector):
    client = staff_client("operator", "view_connector", "change_connector")
    assert "Send test SMS" in client.get(change_url(connector)).content.decode()
    response = client.post(test_send_url(connector), {"phone": PHONE_CN, "usage_type": "SignIn"})
    assert response.status_code == 200 and len(django_sms_verify.outbox) == 1


def test_anonymous_is_sent_to_the_login_page(client, connector):
    response = client.get(test_send_url(connector))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- the action ---------------------------------------------------------------------------


def test_action_asks_once_and_sends_through_each_selected_connector(admin_client, make_connector):
    good = make_connector("good", priority=1)
    bad = make_connector("bad", config={"fail": "transient"}, priority=2)
    vault = make_connector("vault", "vault", config={"accountSID": "AC1"}, secrets={"authToken": VAULT_TOKEN})
    make_connector("not-selected", priority=3)
    selected = [good.pk, bad.pk, vault.pk]

    response = admin_client.post(
        "/admin/sms_verify/connector/",
        {"action": "send_test_sms_action", "_selected_action": selected, "index": "0"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="phone"' in page and "good" in page and "not-selected" not in page
    assert not Message.objects.exists()

    response = admin_client.post(
        "/admin/sms_verify/connector/",
        {
            "action": "send_test_sms_action",
            "_selected_action": selected,
            "phone": PHONE_CN,
            "usage_type": "SignIn",
            "send_test": "1",
        },
    )
    assert response.status_code == 302
    # a failed send names the connector in its attempts (the core leaves connector empty)
    by_connector = {m.connector_name or m.attempts[-1]["connector"]: m for m in Message.objects.all()}
    assert set(by_connector) == {"good", "bad", "vault"}
    assert by_connector["good"].status == MessageStatus.SENT
    assert by_connector["bad"].status == MessageStatus.FAILED
    assert by_connector["vault"].provider_message_id.startswith("VA")
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(
        f"good: sent, provider message ID {by_connector['good'].provider_message_id}" in n for n in notes
    )
    assert any("bad: failed — 503: simulated outage" in n for n in notes)


def test_action_form_errors_are_shown_and_nothing_is_sent(admin_client, connector):
    response = admin_client.post(
        "/admin/sms_verify/connector/",
        {
            "action": "send_test_sms_action",
            "_selected_action": [connector.pk],
            "phone": "nope",
            "usage_type": "SignIn",
            "send_test": "1",
        },
    )
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Message.objects.exists()
