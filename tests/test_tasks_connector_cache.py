"""The connectors and templates kept in process: every change through the models reaches
the next send, in this process and in a worker process sharing the cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

import django_sms_verify
from django_sms_verify import services
from django_sms_verify.exceptions import DeliveryFailed
from django_sms_verify.models import Connector, Message, MessageStatus, Template
from tests.conftest import PHONE_CN, PHONE_US
from tests.fakes.http_sms import KEY, fake_sms_server
from tests.fakes.worker import tasks_settings, wait_until

NOTICE = {"Generic": {"content": "Notice <<code>>"}}


@pytest.mark.django_db
def test_saved_changes_reach_the_next_send(make_connector, django_assert_num_queries):
    first = make_connector("first", priority=10, templates=NOTICE)
    services.send_notification(PHONE_CN, "Generic", context={"code": "1"})
    assert django_sms_verify.outbox[-1].connector == "first"

    # Kept: the next send reads no connector or template.
    with django_assert_num_queries(3):  # the opt-out lookup, the message written, then updated
        services.send_notification(PHONE_CN, "Generic", context={"code": "1"})

    make_connector("second", priority=20, templates={"Generic": {"content": "Second says <<code>>"}})
    first.is_active = False
    first.save()
    services.send_notification(PHONE_US, "Generic", context={"code": "2"})
    assert django_sms_verify.outbox[-1].connector == "second"
    assert django_sms_verify.outbox[-1].text == "Second says 2"

    template = Template.objects.get(connector__name="second", usage_type="Generic")
    template.content = "Edited <<code>>"
    template.save()
    services.send_notification(PHONE_US, "Generic", context={"code": "3"})
    assert django_sms_verify.outbox[-1].text == "Edited 3"

    Connector.objects.get(name="second").delete()
    with pytest.raises(DeliveryFailed):
        services.send_notification(PHONE_US, "Generic", context={"code": "4"})


@pytest.mark.django_db
def test_a_cleared_cache_means_a_fresh_read(make_connector):
    make_connector("only", templates=NOTICE)
    services.send_notification(PHONE_CN, "Generic", context={"code": "1"})
    # A bulk UPDATE sends no signal: the copy in process is still used...
    Connector.objects.update(is_active=False)
    services.send_notification(PHONE_CN, "Generic", context={"code": "1"})
    assert len(django_sms_verify.outbox) == 2
    # ...until the version it was read under leaves the shared cache (or MAX_AGE passes).
    cache.clear()
    with pytest.raises(DeliveryFailed):
        services.send_notification(PHONE_CN, "Generic", context={"code": "1"})


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_sees_a_connector_changed_elsewhere(make_connector, settings, tmp_path):
    workers = tasks_settings(settings, tmp_path)
    try:
        with fake_sms_server() as old, fake_sms_server() as new:
            connector = make_connector(
                KEY, KEY, base_url=old.url, secrets={"token": old.token}, templates=NOTICE
            )
            workers.start_worker()
            services.send_notifications([PHONE_CN], "Generic", {"code": "1"})
            assert len(old.wait_for(1)) == 1

            connector.base_url = new.url  # as an operator would in the admin
            connector.set_secrets({"token": new.token})
            connector.save()
            services.send_notifications([PHONE_US], "Generic", {"code": "2"})
            [received] = new.wait_for(1)
            assert received.to == PHONE_US
            assert len(old.received) == 1
            wait_until(lambda: not Message.objects.exclude(status=MessageStatus.SENT).exists())
    finally:
        workers.stop_all()
