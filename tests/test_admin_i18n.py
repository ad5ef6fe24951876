# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""Acceptance: with ``LANGUAGE_CODE = "zh-hans"`` the operator's pages speak Chinese."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_sms_verify import services
from tests.admin_support import VAULT_TOKEN, VaultProvider, register_provider
from tests.conftest import PHONE_CN


@pytest.fixture(autouse=True)
def _chinese(settings, monkeypatch):
    settings.LANGUAGE_CODE = "zh-hans"
    register_provider(monkeypatch, VaultProvider)


def page_text(client, url, data=None) -> str:
    response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_connector_pages_show_chinese_labels(admin_client, make_connector):
    connector = make_connector(
        "vault-main", "vault", config={"accountSID": "AC1"}, secrets={"authToken": VAULT_TOKEN}
    )
    change = page_text(admin_client, reverse("admin:sms_verify_connector_change", args=[connector.pk]))
    for label in (
        '<html lang="zh-hans"',
        "连接器",  # verbose name
        "服务商",  # provider
        "优先级",  # priority
        "数值越小越优先尝试。",
        "地区",  # regions
        "服务商配置",  # the provider's fieldset
        "已保存一个值（已隐藏）。留空则保留原值。",  # a stored secret
        "密钥加密存储，保存后不再显示。",
        "发送测试短信",  # the button
        "模板（每种用途一个；“通用”为兜底模板）",
        "用途",
        "忘记密码",  # a usage type
        "保存",  # Django's own admin strings too
    ):
        assert label in change, label

    listing = page_text(admin_client, reverse("admin:sms_verify_connector_changelist"))
    assert "全部" in listing and "发送概览" in listing  # regions "all", the overview link
    chooser = page_text(admin_client, reverse("admin:sms_verify_connector_add"))
    assert "此连接器使用哪个服务商的账号？" in chooser and "内存发件箱（测试用）" in chooser


def test_template_errors_are_in_chinese(admin_client):
    data = {
        "name": "vault-cn",
        "priority": "1",
        "cfg_accountSID": "AC1",
        "cfg_authToken": "t",
        "templates-TOTAL_FORMS": "1",
        "templates-INITIAL_FORMS": "0",
        "templates-0-usage_type": "SignIn",
        "templates-0-content": "验证码 <<cod>>",
    }
    page = page_text(admin_client, reverse("admin:sms_verify_connector_add") + "?provider=vault", data)
    assert "未知的占位符 &lt;&lt;cod&gt;&gt;：验证码模板只能使用" in page


def test_test_send_page_shows_chinese_labels(admin_client, make_connector):
    good = make_connector("good")
    bad = make_connector("bad", config={"fail": "permanent"})
    url = reverse("admin:sms_verify_connector_test_send", args=[good.pk])
    form = page_text(admin_client, url)
    for label in (
        "通过 good 发送测试短信",
        "手机号码",
        "请使用国际格式，例如 +8613800138000。",
        "用途",
        "登录",
        "返回连接器",
    ):
        assert label in form, label

    sent = page_text(admin_client, url, {"phone": PHONE_CN, "usage_type": "SignIn"})
    for label in ("已发送", "服务商消息 ID", "在发送日志中查看此消息", "接收号码"):
        assert label in sent, label

    failed = page_text(
        admin_client,
        reverse("admin:sms_verify_connector_test_send", args=[bad.pk]),
        {"phone": PHONE_CN, "usage_type": "SignIn"},
    )
    assert "未发送" in failed and "服务商错误码" in failed and "服务商错误信息" in failed

    invalid = page_text(admin_client, url, {"phone": "13800138000", "usage_type": "SignIn"})
    assert "手机号码请以 + 和国家代码开头" in invalid


def test_records_and_overview_in_chinese(admin_client, connector):
    services.send_test_message(connector, PHONE_CN, "SignIn")
    page = page_text(admin_client, reverse("admin:sms_verify_message_changelist"))
    assert "接收号码" in page and "测试消息" in page and "已发送" in page
    page = page_text(admin_client, reverse("admin:sms_verify_overview"))
    assert "发送概览" in page and "转化率（通过数 / 请求数）" in page and "最近 14 天" in page
    page = page_text(admin_client, "/admin/sms_verify/")
    assert "短信验证" in page and "报表" in page
