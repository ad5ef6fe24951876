"""Verifications, the delivery log, opt-outs and the overview in the admin."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from django.urls import reverse
from django.utils import timezone

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.models import (
    Connector,
    Message,
    MessageStatus,
    OptOut,
    Verification,
    VerificationStatus,
)
from tests.conftest import PHONE_CN, PHONE_US, last_code

VERIFICATIONS = "/admin/sms_verify/verification/"
MESSAGES = "/admin/sms_verify/message/"
OPT_OUTS = "/admin/sms_verify/optout/"
OVERVIEW = "/admin/sms_verify/message/overview/"


# --- verifications: read-only, never a code ------------------------------------------------


def test_verification_pages_never_show_the_code(admin_client, connector):
    verification = services.request_verification(PHONE_CN, "SignIn")
    code = last_code()
    verification.refresh_from_db()
    listing = admin_client.get(VERIFICATIONS)
    detail = admin_client.get(reverse("admin:sms_verify_verification_change", args=[verification.pk]))
    assert listing.status_code == detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert PHONE_CN in page
        assert code not in page
        assert verification.code_digest not in page
        assert verification.code_encrypted[:20] not in page
    assert "1 in the delivery log" in detail.content.decode()


def test_verifications_are_read_only(admin_client, connector):
    verification = services.request_verification(PHONE_CN, "SignIn")
    assert admin_client.get(VERIFICATIONS + "add/").status_code == 403
    url = reverse("admin:sms_verify_verification_change", args=[verification.pk])
    admin_client.post(url, {"status": "approved", "phone": PHONE_US})
    verification.refresh_from_db()
    assert (verification.status, verification.phone) == ("pending", PHONE_CN)
    assert admin_client.get(url + "delete/").status_code == 403
    assert 'name="_save"' not in admin_client.get(url).content.decode()


def test_verification_filters_and_phone_search(admin_client, connector):
    services.request_verification(PHONE_CN, "SignIn")
    services.request_verification(PHONE_US, "Register")
    Verification.objects.filter(phone=PHONE_US).update(
        status=VerificationStatus.APPROVED, created_at=timezone.now() - timedelta(days=3)
    )

    def listed(**params) -> set[str]:
        page = admin_client.get(VERIFICATIONS, params).content.decode()
        return {p for p in (PHONE_CN, PHONE_US) if p in page}

    assert listed() == {PHONE_CN, PHONE_US}
    assert listed(status__exact="approved") == {PHONE_US}
    assert listed(usage_type__exact="SignIn") == {PHONE_CN}
    # the date filter's own "Today" link
    page = admin_client.get(VERIFICATIONS).content.decode()
    today_link = re.search(r'href="\?(created_at__gte=[^"]+)"', page).group(1)
    assert admin_client.get(VERIFICATIONS + "?" + html.unescape(today_link)).status_code == 200
    assert listed(**dict(parse_qsl(html.unescape(today_link)))) == {PHONE_CN}
    assert listed(q="13800138000") == {PHONE_CN}
    assert listed(q="+86 138-0013-8000") == {PHONE_CN}  # typed with spaces and dashes
    assert listed(q="+1 415 555 2671") == {PHONE_US}


# --- the delivery log ----------------------------------------------------------------------


def test_message_log_shows_attempts_errors_and_masks_codes(admin_client, make_connector):
    make_connector("down", config={"fail": "transient"}, priority=1)
    make_connector("up", priority=2)
    services.request_verification(PHONE_CN, "SignIn")
    code = last_code()
    message = Message.objects.get()
    assert message.connector_name == "up"

    listing = admin_client.get(MESSAGES).content.decode()
    assert PHONE_CN in listing and message.provider_message_id in listing
    detail = admin_client.get(reverse("admin:sms_verify_message_change", args=[message.pk])).content.decode()
    assert code not in detail and code not in listing
    assert "SignIn code ******, valid 10 min" in detail
    assert "simulated outage" in detail and "transient" in detail  # the failed attempt via "down"
    assert reverse("admin:sms_verify_connector_change", args=[message.connector_id]) in detail
    assert reverse("admin:sms_verify_verification_change", args=[message.verification_id]) in detail


def test_message_log_filters_by_status_and_connector(admin_client, make_connector):
    make_connector("alpha", priority=1, regions=["CN"])
    make_connector("beta", priority=1, regions=["US"], config={"fail": "permanent"})
    services.request_verification(PHONE_CN, "SignIn")
    with pytest.raises(Exception):  # noqa: B017  (the permanent failure; its record is what matters)
        services.request_verification(PHONE_US, "SignIn")

    def listed(**params) -> set[str]:
        page = admin_client.get(MESSAGES, params).content.decode()
        return {p for p in (PHONE_CN, PHONE_US) if p in page}

    assert listed(status__exact="sent") == {PHONE_CN}
    assert listed(status__exact="failed") == {PHONE_US}
    assert listed(connector_name="alpha") == {PHONE_CN}
    assert listed(connector_name="beta") == {PHONE_US}
    page = admin_client.get(MESSAGES, {"status__exact": "failed"}).content.decode()
    assert "invalid_number" in page
    verification = Verification.objects.get(phone=PHONE_CN)
    assert listed(verification__id__exact=str(verification.pk)) == {PHONE_CN}


def test_message_log_is_read_only(admin_client, connector):
    message = services.send_test_message(connector, PHONE_CN, "Generic")
    url = reverse("admin:sms_verify_message_change", args=[message.pk])
    admin_client.post(url, {"status": "delivered"})
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert admin_client.get(MESSAGES + "add/").status_code == 403
    assert admin_client.get(url + "delete/").status_code == 403


# --- opt-outs -------------------------------------------------------------------------------


def test_opt_outs_list_search_and_delete_lifts_them(admin_client, db):
    services.record_opt_out(PHONE_CN, connector_name="aliyun-cn", keyword="TD")
    services.record_opt_out(PHONE_US, connector_name="twilio-us", keyword="STOP")
    page = admin_client.get(OPT_OUTS).content.decode()
    assert PHONE_CN in page and PHONE_US in page and "STOP" in page
    page = admin_client.get(OPT_OUTS, {"q": "+1 415-555-2671"}).content.decode()
    assert PHONE_US in page and PHONE_CN not in page

    opt_out = OptOut.objects.get(phone=PHONE_US)
    response = admin_client.post(
        reverse("admin:sms_verify_optout_delete", args=[opt_out.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not services.is_opted_out(PHONE_US) and services.is_opted_out(PHONE_CN)

    opt_out = OptOut.objects.get(phone=PHONE_CN)
    response = admin_client.post(
        OPT_OUTS, {"action": "delete_selected", "_selected_action": [opt_out.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not OptOut.objects.exists()


# --- the overview ---------------------------------------------------------------------------


def _age(queryset, days: int, field: str = "created_at") -> None:
    queryset.update(**{field: timezone.now() - timedelta(days=days)})


def test_overview_counts_per_day_and_connector(admin_client, make_connector, django_assert_max_num_queries):
    make_connector("alpha", priority=1)
    make_connector("beta", priority=2)
    # three codes today, two approved; one of them a day old
    for phone in (PHONE_CN, PHONE_US, "+8613900139000"):
        services.request_verification(phone, "SignIn")
    for phone in (PHONE_CN, PHONE_US):
        code = [m.text for m in django_sms_verify.outbox if m.to == phone][-1].split()[2].rstrip(",")
        services.check_verification(phone, "SignIn", code)
    _age(Verification.objects.filter(phone=PHONE_US), 1)
    _age(Verification.objects.filter(phone=PHONE_US), 1, "approved_at")
    _age(Message.objects.filter(to=PHONE_US), 1)
    Message.objects.filter(to="+8613900139000").update(status=MessageStatus.DELIVERED)
    # a test send through beta three days ago, and old traffic outside the window
    services.send_test_message(Connector.objects.get(name="beta"), PHONE_CN, "Generic")
    _age(Message.objects.filter(connector_name="beta"), 3)
    services.send_test_message(Connector.objects.get(name="alpha"), PHONE_CN, "Generic")
    _age(Message.objects.filter(kind="test", connector_name="alpha"), 20)

    with django_assert_max_num_queries(8):  # session, user, three aggregates
        response = admin_client.get(OVERVIEW)
    assert response.status_code == 200
    overview = response.context["overview"]
    assert len(overview.days) == 14
    today, yesterday, three_ago = overview.days[-1], overview.days[-2], overview.days[-4]
    assert (today.sent, today.delivered, today.requested, today.approved) == (2, 1, 2, 1)
    assert (yesterday.sent, yesterday.requested, yesterday.approved) == (1, 1, 1)
    assert three_ago.sent == 1
    assert (overview.totals.sent, overview.requested, overview.approved) == (4, 3, 2)
    assert overview.conversion_percent == pytest.approx(200 / 3)
    by_name = {c.name: c for c in overview.connectors}
    assert by_name["alpha"].sent == 3 and by_name["beta"].sent == 1
    assert by_name["beta"].daily_sent[-4] == 1

    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert page.count("<rect") >= 14 * 3
    assert '<span class="figure" id="figure-conversion">66.7%</span>' in page
    assert "<script" not in page.split('id="content-main"')[1]  # no chart library


def test_overview_is_linked_from_the_app_index_and_needs_view_permission(admin_client, db):
    page = admin_client.get("/admin/sms_verify/").content.decode()
    assert f'href="{OVERVIEW}"' in page
    empty = admin_client.get(OVERVIEW)
    assert empty.status_code == 200 and b"No messages in this period." in empty.content

    from tests.admin_support import staff_client

    outsider = staff_client("outsider", "view_connector")
    assert outsider.get(OVERVIEW).status_code == 403
    assert f'href="{OVERVIEW}"' not in outsider.get("/admin/sms_verify/").content.decode()
