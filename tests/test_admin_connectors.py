"""Connector admin: choose a provider, its fields, masked secrets, templates, webhook URL."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_sms_verify.models import Connector, Template, UsageType
from tests.admin_support import VAULT_TOKEN, StampProvider, VaultProvider, register_provider

ADD_URL = "/admin/sms_verify/connector/add/"


@pytest.fixture(autouse=True)
def _stand_in_providers(monkeypatch):
    register_provider(monkeypatch, VaultProvider)
    register_provider(monkeypatch, StampProvider)
    VaultProvider.sent.clear()


def change_url(connector: Connector) -> str:
    return reverse("admin:sms_verify_connector_change", args=[connector.pk])


def form_data(**overrides) -> dict:
    """A complete add/change POST for a connector with an empty template inline."""
    data = {
        "name": "vault-main",
        "is_active": "on",
        "priority": "10",
        "regions": "",
        "base_url": "",
        "templates-TOTAL_FORMS": "0",
        "templates-INITIAL_FORMS": "0",
        "templates-MIN_NUM_FORMS": "0",
        "templates-MAX_NUM_FORMS": "4",
    }
    data.update(overrides)
    return data


def preset_rows(**by_usage: dict) -> list[dict]:
    """The four preset template rows of a new connector, some filled in."""
    return [{"usage_type": usage, **by_usage.get(usage, {})} for usage in UsageType.values]


def with_templates(data: dict, rows: list[dict], initial: int = 0) -> dict:
    data = dict(data)
    data["templates-TOTAL_FORMS"] = str(len(rows))
    data["templates-INITIAL_FORMS"] = str(initial)
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"templates-{index}-{key}"] = value
    return data


@pytest.fixture
def vault_connector(make_connector) -> Connector:
    return make_connector(
        "vault-main",
        "vault",
        config={"accountSID": "AC123"},
        secrets={"authToken": VAULT_TOKEN},
    )


# --- adding: the provider first, then its fields -------------------------------------------


def test_add_asks_for_the_provider_first(admin_client):
    response = admin_client.get(ADD_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="provider"' in page and 'value="vault"' in page and 'value="locmem"' in page
    assert 'name="name"' not in page  # the connector form comes in step two

    response = admin_client.get(ADD_URL, {"provider": "no-such-provider"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content


def test_add_form_shows_only_the_chosen_providers_fields(admin_client):
    vault = admin_client.get(ADD_URL, {"provider": "vault"}).content.decode()
    assert 'name="cfg_accountSID"' in vault
    assert '<input type="password" name="cfg_authToken"' in vault
    assert "cfg_accessKeyId" not in vault
    # one template row preset per usage type; a sender without template IDs has no ID column
    for usage in ("Register", "SignIn", "ForgotPassword", "Generic"):
        assert f'<option value="{usage}" selected>' in vault
    assert "templates-0-template_id" not in vault

    stamp = admin_client.get(ADD_URL, {"provider": "stamp"}).content.decode()
    assert 'name="cfg_accessKeyId"' in stamp and "cfg_accountSID" not in stamp
    assert "templates-0-template_id" in stamp and "templates-0-params" in stamp
    assert "{&quot;code&quot;: &quot;&lt;&lt;code&gt;&gt;&quot;}" in stamp  # the default params hint


def test_add_connector_stores_config_secret_encrypted_and_templates(admin_client):
    data = with_templates(
        form_data(cfg_accountSID="AC123", cfg_authToken=VAULT_TOKEN, regions="us, ca"),
        preset_rows(SignIn={"content": "Code <<code>>"}),
    )
    response = admin_client.post(f"{ADD_URL}?provider=vault", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    connector = Connector.objects.get(name="vault-main")
    assert connector.provider == "vault"
    assert connector.config == {"accountSID": "AC123"}
    assert connector.get_secrets() == {"authToken": VAULT_TOKEN}
    assert VAULT_TOKEN not in connector.secrets_encrypted
    assert connector.regions == ["US", "CA"]
    # the untouched rows were not saved
    assert list(connector.templates.values_list("usage_type", "content")) == [("SignIn", "Code <<code>>")]


def test_required_credentials_are_asked_for(admin_client):
    response = admin_client.post(f"{ADD_URL}?provider=vault", form_data())
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"cfg_accountSID", "cfg_authToken"}
    assert not Connector.objects.exists()


def test_bad_regions_and_base_url_are_refused(admin_client):
    data = form_data(cfg_accountSID="AC1", cfg_authToken="t", regions="US, XX", base_url="ftp://x")
    response = admin_client.post(f"{ADD_URL}?provider=vault", data)
    errors = response.context["adminform"].form.errors
    assert "XX is not an ISO 3166 alpha-2 region code" in errors["regions"][0]
    assert "base_url" in errors
    assert not Connector.objects.exists()


# --- secrets: masked, blank keeps, a new value replaces --------------------------------------


def test_change_page_never_renders_the_stored_secret(admin_client, vault_connector):
    page = admin_client.get(change_url(vault_connector)).content.decode()
    assert VAULT_TOKEN not in page
    assert '<input type="password" name="cfg_authToken"' in page
    assert "A value is stored (hidden). Leave blank to keep it." in page
    assert 'value="AC123"' in page  # plain settings are shown


def test_blank_secret_keeps_the_stored_value(admin_client, vault_connector):
    data = form_data(cfg_accountSID="AC999", cfg_authToken="", priority="5")
    response = admin_client.post(change_url(vault_connector), data)
    assert response.status_code == 302
    vault_connector.refresh_from_db()
    assert vault_connector.get_secrets() == {"authToken": VAULT_TOKEN}
    assert vault_connector.config == {"accountSID": "AC999"}
    assert vault_connector.priority == 5


def test_new_secret_replaces_the_stored_one(admin_client, vault_connector):
    response = admin_client.post(
        change_url(vault_connector), form_data(cfg_accountSID="AC123", cfg_authToken="new")
    )
    assert response.status_code == 302
    vault_connector.refresh_from_db()
    assert vault_connector.get_secrets() == {"authToken": "new"}


def test_a_rejected_form_does_not_echo_a_typed_secret(admin_client, vault_connector):
    typed = "typed-secret-4321-abcd"
    data = form_data(name="bad name!", cfg_accountSID="AC123", cfg_authToken=typed)
    response = admin_client.post(change_url(vault_connector), data)
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert typed not in response.content.decode()
    vault_connector.refresh_from_db()
    assert vault_connector.get_secrets() == {"authToken": VAULT_TOKEN}


# --- templates: placeholders checked at save -------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "content", "expected"),
    [
        ("SignIn", "Your code is <<cod>>", "Unknown placeholder &lt;&lt;cod&gt;&gt;"),
        ("SignIn", "Your code is ready", "must contain &lt;&lt;code&gt;&gt;"),
        ("Register", "Code <<co de>>", "Malformed placeholder &lt;&lt;co de&gt;&gt;"),
        ("ForgotPassword", "", "Enter the message text."),  # a row touched (language) but empty
    ],
)
def test_bad_template_is_caught_at_save(admin_client, usage, content, expected):
    row = {"content": content, "language": "en"}
    data = with_templates(form_data(cfg_accountSID="AC1", cfg_authToken="t"), preset_rows(**{usage: row}))
    response = admin_client.post(f"{ADD_URL}?provider=vault", data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    row = UsageType.values.index(usage)
    messages = [str(m) for m in formset.forms[row].errors.get("content", [])]
    assert len(messages) == 1, messages  # each problem said once
    assert expected in response.content.decode()
    assert not Connector.objects.exists()


def test_template_error_on_an_existing_connector_changes_nothing(admin_client, vault_connector):
    template = vault_connector.templates.get(usage_type="SignIn")
    old_content = template.content
    data = with_templates(
        form_data(cfg_accountSID="AC123"),
        [
            {
                "id": str(template.pk),
                "connector": str(vault_connector.pk),
                "usage_type": "SignIn",
                "content": "Code <<cod>>",
                "language": "",
            }
        ],
        initial=1,
    )
    response = admin_client.post(change_url(vault_connector), data)
    assert response.status_code == 200
    assert "Unknown placeholder &lt;&lt;cod&gt;&gt;" in response.content.decode()
    template.refresh_from_db()
    assert template.content == old_content


def test_template_id_provider_needs_an_id_and_checks_params(admin_client):
    data = with_templates(
        form_data(name="stamp-cn", cfg_accessKeyId="LTAI", cfg_accessKeySecret="s3cr3t"),
        preset_rows(SignIn={"template_id": "", "params": '{"code": "<<cod>>"}', "content": ""}),
    )
    response = admin_client.post(f"{ADD_URL}?provider=stamp", data)
    errors = response.context["inline_admin_formsets"][0].formset.forms[1].errors
    assert "template_id" in errors
    assert any("<<cod>>" in str(m) for m in errors["content"])

    data = with_templates(
        form_data(name="stamp-cn", cfg_accessKeyId="LTAI", cfg_accessKeySecret="s3cr3t"),
        preset_rows(SignIn={"template_id": "SMS_123", "params": "", "content": "验证码<<code>>"}),
    )
    assert admin_client.post(f"{ADD_URL}?provider=stamp", data).status_code == 302
    template = Template.objects.get(connector__name="stamp-cn")
    assert (template.template_id, template.params) == ("SMS_123", None)  # None: the default applies


def test_missing_usage_types_get_preset_rows(admin_client, make_connector):
    connector = make_connector("console", "console", templates={"SignIn": {"content": "<<code>>"}})
    page = admin_client.get(change_url(connector)).content.decode()
    for usage in ("Register", "ForgotPassword", "Generic"):
        assert f'<option value="{usage}" selected>' in page
    assert 'name="templates-TOTAL_FORMS" value="4"' in page


# --- list and webhook URL ------------------------------------------------------------------


def test_connector_list_shows_provider_priority_and_regions(admin_client, make_connector):
    make_connector("cn-main", "locmem", priority=5, regions=["CN", "HK"])
    make_connector("fallback", "console", priority=90)
    page = admin_client.get("/admin/sms_verify/connector/").content.decode()
    assert "cn-main" in page and "CN, HK" in page
    assert "fallback" in page and "Console (development)" in page
    assert page.index("cn-main") < page.index("fallback")  # by priority


def test_aliyun_connector_shows_its_report_webhook_url(admin_client, make_connector):
    # Works whether or not the aliyun provider module is installed in this checkout.
    connector = make_connector("aliyun-cn", "aliyun", templates={})
    response = admin_client.get(change_url(connector))
    assert response.status_code == 200
    url = (
        f"http://testserver/api/sms-verify/webhooks/aliyun/aliyun-cn/report/?token={connector.webhook_token}"
    )
    assert url in response.content.decode()


def test_webhook_url_uses_the_public_base_url(admin_client, make_connector, settings):
    settings.SMS_VERIFY = {"PUBLIC_BASE_URL": "https://sms.example.com/"}
    connector = make_connector("aliyun-cn", "aliyun", templates={})
    page = admin_client.get(change_url(connector)).content.decode()
    assert "https://sms.example.com/api/sms-verify/webhooks/aliyun/aliyun-cn/report/?token=" in page
