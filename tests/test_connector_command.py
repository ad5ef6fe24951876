"""``manage.py sms_verify_connector import|export``: the four providers' JSON shapes (SPEC §4),
Logto's ``{{code}}``, masked exports, kept secrets, and bad files that change nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from django_sms_verify.models import Connector, Template
from tests.fakes import outbox_providers

MASK = "********"
SECRET = "sk_test_5c2d8e1f9a0b4c3d"

# The shapes of SPEC §4, one per provider; real-looking but fake credentials.
PROVIDER_FILES = {
    "twilio": {
        "name": "twilio-main",
        "provider": "twilio",
        "accountSID": "AC0123456789abcdef0123456789abcdef",
        "authToken": "twilio-auth-token-0123456789abcdef",
        "fromMessagingServiceSID": "MG0123456789abcdef0123456789abcdef",
        "fromNumber": "+15005550006",
        "baseUrl": "http://127.0.0.1:9000",
        "priority": 10,
        "regions": ["US", "CA"],
        "templates": [{"usageType": "SignIn", "content": "Your sign-in code is {{code}}"}],
    },
    "aliyun": {
        "name": "aliyun-cn",
        "provider": "aliyun",
        "accessKeyId": "LTAI0123456789abcdef",
        "accessKeySecret": "aliyun-access-key-secret-0123456789",
        "signName": "阿里云短信测试",
        "regions": ["CN"],
        "templates": [
            {
                "usageType": "SignIn",
                "templateCode": "SMS_123",
                "content": "验证码{{code}}",
                "params": {"code": "{{code}}"},
            }
        ],
    },
    "ronglian": {
        "name": "ronglian-cn",
        "provider": "ronglian",
        "accountSID": "8a216da8000000000000000000000000",
        "authToken": "ronglian-auth-token-0123456789ab",
        "appId": "8a216da8000000000000000000000001",
        "templates": [{"usageType": "SignIn", "templateId": "1", "params": ["<<code>>", "<<ttl_minutes>>"]}],
    },
}

CONSOLE_FILE = {
    "name": "console-dev",
    "provider": "console",
    "priority": 100,
    "regions": [],
    "templates": [
        {"usageType": "Register", "content": "Register with {{code}} within <<ttl_minutes>> minutes"},
        {"usageType": "SignIn", "content": "Sign in with {{ code }}"},
        {"usageType": "Generic", "content": "Your code: <<code>>"},
    ],
}


def secret_file(provider: str, **changes) -> dict:
    data = {
        "name": "secret-main",
        "provider": provider,
        "account": "acme",
        "apiKey": SECRET,
        "priority": 20,
        "regions": ["cn", "HK"],
        "templates": [{"usageType": "SignIn", "content": "Code {{code}}"}],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


@pytest.fixture
def secret_provider(monkeypatch) -> str:
    """A provider key whose connectors hold an ``apiKey`` secret (see tests/fakes)."""
    return outbox_providers.register(monkeypatch)


@pytest.fixture
def write_json(tmp_path):
    def write(data, name: str = "connector.json") -> str:
        path = tmp_path / name
        path.write_text(
            data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8"
        )
        return str(path)

    return write


def import_file(path: str) -> str:
    out = io.StringIO()
    call_command("sms_verify_connector", "import", path, stdout=out)
    return out.getvalue()


def export(name: str) -> dict:
    out = io.StringIO()
    call_command("sms_verify_connector", "export", name, stdout=out)
    return json.loads(out.getvalue())


def snapshot() -> list:
    """Everything stored about connectors, to show a failed import changed nothing."""
    return [
        (
            c.name,
            c.provider,
            c.priority,
            c.regions,
            c.is_active,
            c.base_url,
            c.config,
            c.get_secrets(),
            sorted((t.usage_type, t.content, t.template_id, json.dumps(t.params)) for t in c.templates.all()),
        )
        for c in Connector.objects.order_by("name")
    ]


# --- the four providers' shapes -------------------------------------------------------------


def test_console_connector_imports_and_exports(db, write_json):
    output = import_file(write_json(CONSOLE_FILE))
    assert "Created connector console-dev (console)" in output
    connector = Connector.objects.get(name="console-dev")
    assert (connector.provider, connector.priority, connector.regions) == ("console", 100, [])
    contents = dict(connector.templates.values_list("usage_type", "content"))
    assert contents == {
        "Register": "Register with <<code>> within <<ttl_minutes>> minutes",
        "SignIn": "Sign in with <<code>>",
        "Generic": "Your code: <<code>>",
    }
    exported = export("console-dev")
    assert exported["name"] == "console-dev" and exported["provider"] == "console"
    assert {t["usageType"]: t["content"] for t in exported["templates"]} == contents


@pytest.mark.parametrize("provider", sorted(PROVIDER_FILES))
def test_provider_shape_imports_with_secrets_encrypted_and_exports_masked(db, write_json, provider):
    module = pytest.importorskip(f"django_sms_verify.providers.{provider}")
    assert module  # the provider exists in this checkout
    data = PROVIDER_FILES[provider]
    import_file(write_json(data))
    connector = Connector.objects.get(name=data["name"])
    cls = connector.provider_class
    secret_names = cls.secret_field_names()
    assert secret_names, f"{provider} declares no secret field"
    secrets = connector.get_secrets()
    for field in cls.fields:
        if field.name not in data:
            continue
        if field.secret:
            assert secrets[field.name] == data[field.name]
            assert field.name not in connector.config
            assert data[field.name] not in connector.secrets_encrypted
        else:
            assert connector.config[field.name] == data[field.name]
    assert connector.regions == data.get("regions", [])
    assert connector.base_url == data.get("baseUrl", "")
    template = connector.templates.get(usage_type="SignIn")
    assert "{{" not in template.content and "{{" not in json.dumps(template.params)
    if provider == "aliyun":
        assert (template.template_id, template.params) == ("SMS_123", {"code": "<<code>>"})
        assert template.content == "验证码<<code>>"
    if provider == "ronglian":
        assert (template.template_id, template.params) == ("1", ["<<code>>", "<<ttl_minutes>>"])
    if provider == "twilio":
        assert template.content == "Your sign-in code is <<code>>"

    exported = export(data["name"])
    for name in secret_names:
        if name in data:
            assert exported[name] == MASK
            assert data[name] not in json.dumps(exported)
    # The export imports again, keeping the stored secrets.
    exported["priority"] = 42
    import_file(write_json(exported, "again.json"))
    connector.refresh_from_db()
    assert connector.priority == 42
    assert connector.get_secrets() == secrets


@pytest.mark.parametrize("provider", sorted(PROVIDER_FILES))
def test_provider_shape_without_a_required_credential_is_refused(db, write_json, provider):
    pytest.importorskip(f"django_sms_verify.providers.{provider}")
    from django_sms_verify.providers import provider_class

    required = [f.name for f in provider_class(provider).fields if f.required]
    assert required
    for name in required:
        data = {k: v for k, v in PROVIDER_FILES[provider].items() if k != name}
        with pytest.raises(CommandError, match=name):
            import_file(write_json(data))
        assert not Connector.objects.exists()


# --- Logto's placeholders, masks, kept secrets (a provider with a secret) -------------------


def test_logto_placeholders_are_read_as_ours(db, write_json, secret_provider):
    data = secret_file(
        secret_provider,
        templates=[
            {"usageType": "SignIn", "content": "Code {{code}} ({{ ttl_minutes }} min)"},
            {"usageType": "Generic", "content": "Hi {{name}}, your code {{code}}"},
        ],
    )
    import_file(write_json(data))
    contents = dict(Template.objects.values_list("usage_type", "content"))
    assert contents == {
        "SignIn": "Code <<code>> (<<ttl_minutes>> min)",
        "Generic": "Hi <<name>>, your code <<code>>",
    }


def test_export_masks_secrets_and_shows_the_rest(db, write_json, secret_provider):
    import_file(write_json(secret_file(secret_provider, baseUrl="http://127.0.0.1:9999")))
    out = io.StringIO()
    call_command("sms_verify_connector", "export", "secret-main", stdout=out)
    assert SECRET not in out.getvalue()
    exported = json.loads(out.getvalue())
    assert exported["apiKey"] == MASK
    assert exported["account"] == "acme"
    assert exported["provider"] == secret_provider
    assert exported["priority"] == 20
    assert exported["regions"] == ["CN", "HK"]
    assert exported["baseUrl"] == "http://127.0.0.1:9999"
    assert exported["templates"] == [{"usageType": "SignIn", "content": "Code <<code>>"}]


def test_secret_is_stored_encrypted(db, write_json, secret_provider):
    import_file(write_json(secret_file(secret_provider)))
    connector = Connector.objects.get()
    assert SECRET not in connector.secrets_encrypted
    assert SECRET not in json.dumps(connector.config)
    assert connector.get_secrets() == {"apiKey": SECRET}


def test_reimporting_an_export_keeps_the_stored_secret(db, write_json, secret_provider):
    import_file(write_json(secret_file(secret_provider)))
    exported = export("secret-main")
    exported["priority"] = 5
    exported["templates"][0]["content"] = "New text {{code}}"
    output = import_file(write_json(exported, "exported.json"))
    assert "Updated connector secret-main" in output
    connector = Connector.objects.get()
    assert connector.get_secrets() == {"apiKey": SECRET}
    assert connector.priority == 5
    assert connector.templates.get().content == "New text <<code>>"


def test_leaving_a_secret_out_keeps_it_and_giving_one_replaces_it(db, write_json, secret_provider):
    import_file(write_json(secret_file(secret_provider)))
    import_file(write_json(secret_file(secret_provider, apiKey=...)))
    assert Connector.objects.get().get_secrets() == {"apiKey": SECRET}
    import_file(write_json(secret_file(secret_provider, apiKey="sk_new_value")))
    assert Connector.objects.get().get_secrets() == {"apiKey": "sk_new_value"}


def test_imported_connector_sends(db, write_json, secret_provider, api):
    import django_sms_verify
    from tests.conftest import PHONE_CN, REQUEST_URL

    import_file(write_json(secret_file(secret_provider)))
    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202
    assert django_sms_verify.outbox[-1].text.startswith("Code ")


def test_a_list_imports_several_connectors(db, write_json, secret_provider):
    second = dict(CONSOLE_FILE)
    output = import_file(write_json([secret_file(secret_provider), second]))
    assert output.count("Created connector") == 2
    assert set(Connector.objects.values_list("name", flat=True)) == {"secret-main", "console-dev"}


# --- bad files: a message naming the problem, nothing changed --------------------------------


@pytest.fixture
def existing(db, write_json, secret_provider):
    """A stored connector, the target of updates that must not happen."""
    import_file(write_json(secret_file(secret_provider)))
    return snapshot()


BAD_FILES = {
    "invalid JSON": ('{"name": "secret-main", "provider": ', "not valid JSON"),
    "not an object": ('"secret-main"', "must be a JSON object"),
    "unknown provider": (lambda p: secret_file("nexmo"), "unknown provider 'nexmo'"),
    "no provider": (lambda p: secret_file(None), "unknown provider None"),
    "no name": (lambda p: secret_file(p, name=...), '"name"'),
    "bad name": (lambda p: secret_file(p, name="has spaces/and slash"), "name"),
    "missing secret credential": (lambda p: secret_file(p, name="new-one", apiKey=...), "apiKey"),
    "missing plain credential": (lambda p: secret_file(p, name="new-one", account=...), "account"),
    "empty credential": (lambda p: secret_file(p, name="new-one", apiKey=""), "apiKey"),
    "credential of the wrong type": (lambda p: secret_file(p, apiKey={"k": "v"}), "apiKey"),
    "unknown usage type": (
        lambda p: secret_file(p, templates=[{"usageType": "Login", "content": "Code {{code}}"}]),
        "unknown usage type 'Login'",
    ),
    "misspelt placeholder": (
        lambda p: secret_file(p, templates=[{"usageType": "SignIn", "content": "Code <<cod>>"}]),
        "<<cod>>",
    ),
    "misspelt logto placeholder": (
        lambda p: secret_file(p, templates=[{"usageType": "SignIn", "content": "Code {{cod}}"}]),
        "<<cod>>",
    ),
    "malformed placeholder": (
        lambda p: secret_file(p, templates=[{"usageType": "SignIn", "content": "Code <<co de>> <<code>>"}]),
        "<<co de>>",
    ),
    "verification template without the code": (
        lambda p: secret_file(p, templates=[{"usageType": "SignIn", "content": "Welcome back"}]),
        "<<code>>",
    ),
    "empty template text": (
        lambda p: secret_file(p, templates=[{"usageType": "SignIn", "content": ""}]),
        "content",
    ),
    "template not an object": (lambda p: secret_file(p, templates=["Code <<code>>"]), "template"),
    "templates not a list": (lambda p: secret_file(p, templates={"SignIn": "x"}), '"templates"'),
    "two templates for one usage type": (
        lambda p: secret_file(
            p,
            templates=[
                {"usageType": "SignIn", "content": "A <<code>>"},
                {"usageType": "SignIn", "content": "B <<code>>"},
            ],
        ),
        "same usage type",
    ),
    "bad regions": (lambda p: secret_file(p, regions="CN"), '"regions"'),
    "bad priority": (lambda p: secret_file(p, priority=-1), '"priority"'),
    "bad baseUrl": (lambda p: secret_file(p, baseUrl="ftp://example.com"), '"baseUrl"'),
    "one good and one bad connector": (
        lambda p: [secret_file(p, name="good-one", priority=1), secret_file("nexmo", name="bad-one")],
        "unknown provider 'nexmo'",
    ),
    "the same connector twice": (lambda p: [secret_file(p), secret_file(p)], "twice"),
}


@pytest.mark.parametrize(("content", "message"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_is_refused_naming_the_problem_and_changes_nothing(
    existing, write_json, secret_provider, content, message
):
    payload = content(secret_provider) if callable(content) else content
    path = write_json(payload)
    with pytest.raises(CommandError) as caught:
        import_file(path)
    assert message in str(caught.value)
    assert snapshot() == existing


def test_update_with_a_bad_template_leaves_the_connector_as_it_was(existing, write_json, secret_provider):
    changed = secret_file(
        secret_provider,
        priority=1,
        apiKey="sk_other",
        templates=[
            {"usageType": "Generic", "content": "Fine <<code>>"},
            {"usageType": "SignIn", "content": "Broken <<cod>>"},
        ],
    )
    with pytest.raises(CommandError):
        import_file(write_json(changed))
    assert snapshot() == existing
    assert not Template.objects.filter(usage_type="Generic").exists()


def test_missing_file_is_refused(db):
    with pytest.raises(CommandError, match="cannot read"):
        import_file("/nonexistent/connector.json")


def test_exporting_an_unknown_connector_is_refused(db):
    with pytest.raises(CommandError, match="no connector named 'nope'"):
        export("nope")


def test_bad_file_exits_non_zero_from_the_command_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DATABASE_URL", None)
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "django", "sms_verify_connector", "import", str(path)],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "is not valid JSON" in result.stderr
    assert result.stdout == ""
