"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright).

``./run tests`` installs chromium when it is missing; these tests skip only when it cannot
be found. Screenshots go to ``test-artifacts/`` (kept by CI, ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

import django_sms_verify
from django_sms_verify.models import Connector, Message
from tests.conftest import PHONE_CN
from tests.fakes.twilio import FakeTwilioAPI

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


# Outside CI a machine without chromium skips these; CI must show them (./run tests installs it).
pytestmark = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="chromium not found (./run tests installs it)",
)


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:  # only reached under CI (see pytestmark): fail, do not skip
        pytest.fail("chromium not found: ./run tests should have installed it")
    # Playwright's sync API keeps an event loop on this thread; Django would take our own
    # ORM calls in the test body for async code. They are not: allow them.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def browser_locale() -> str:
    return "en-US"


@pytest.fixture
def page(browser, live_server, settings, browser_locale):
    settings.ROOT_URLCONF = "tests.browser_urls"
    context = browser.new_context(locale=browser_locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@dataclass(frozen=True)
class ConnectorRecipe:
    """What the browser types to create a connector. To run the flow against another
    provider (e.g. Twilio and its fake server in ``tests/fakes/``), give its key, its
    credential fields (``cfg_<JSON key>``: value) and the prefix of its message IDs."""

    provider: str
    name: str
    credentials: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    message_id: re.Pattern = re.compile(r"^locmem-[0-9a-f]{16}$")


def twilio_recipe(fake: FakeTwilioAPI) -> ConnectorRecipe:
    return ConnectorRecipe(
        provider="twilio",
        name="browser-twilio",
        credentials={
            "cfg_accountSID": fake.account_sid,
            "cfg_authToken": fake.auth_token,
            "cfg_fromMessagingServiceSID": "MG" + "0" * 32,
        },
        base_url=fake.base_url,
        message_id=re.compile(r"^SM[0-9a-f]{32}$"),
    )


def login(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


@pytest.fixture
def fake_twilio():
    with FakeTwilioAPI() as fake:
        yield fake


def test_operator_creates_a_connector_and_sends_a_test_sms(page, live_server, admin_user, fake_twilio):
    recipe = twilio_recipe(fake_twilio)
    base = live_server.url
    login(page, base)

    # step one: the provider; step two: its fields and the templates
    page.goto(f"{base}/admin/sms_verify/connector/add/")
    page.check(f"input[name=provider][value={recipe.provider}]")
    page.click("input[type=submit]")
    page.fill("#id_name", recipe.name)
    page.fill("#id_priority", "5")
    page.fill("#id_regions", "cn, us")
    for name, value in recipe.credentials.items():
        page.fill(f"#id_{name}", value)
    if recipe.base_url:
        page.locator("summary", has_text="Advanced").click()  # the collapsed fieldset
        page.fill("#id_base_url", recipe.base_url)
    signin_row = "#id_templates-1-content"  # rows come preset: Register, SignIn, ...
    expect(page.locator("#id_templates-1-usage_type")).to_have_value("SignIn")
    page.fill(signin_row, "Your code is <<cod>>")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist").first).to_contain_text("Unknown placeholder <<cod>>")
    page.fill(signin_row, "Your sign-in code is <<code>>, valid <<ttl_minutes>> minutes")
    for name, value in recipe.credentials.items():  # password inputs never echo a value back
        if not page.input_value(f"#id_{name}"):
            page.fill(f"#id_{name}", value)
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    screenshot(page, "connector-change-page")

    # Send test SMS from the change page
    page.click("#send-test-sms")
    page.fill("#id_phone", PHONE_CN)
    page.select_option("#id_usage_type", "SignIn")
    page.click("input[name=_send]")
    message_id = page.locator("#provider-message-id")
    expect(message_id).to_have_text(recipe.message_id)
    screenshot(page, "test-send-result")
    provider_id = message_id.inner_text()
    assert Message.objects.get().provider_message_id == provider_id
    # the fake Twilio API received it, with the connector's credentials (it checks Basic auth)
    (sent,) = fake_twilio.messages
    assert sent["To"] == PHONE_CN and sent["MessagingServiceSid"] == "MG" + "0" * 32
    assert re.fullmatch(r"Your sign-in code is \d{6}, valid 10 minutes", sent["Body"])
    assert Connector.objects.get(name=recipe.name).regions == ["CN", "US"]

    # the link leads to that message in the delivery log
    page.click("#test-send-log-link")
    expect(page.locator("div.field-provider_message_id")).to_contain_text(provider_id)
    expect(page.locator("div.field-body")).to_contain_text("Your sign-in code is ******")

    page.goto(f"{base}/admin/sms_verify/")
    page.click("#sms-verify-reports a")
    expect(page.locator("#figure-sent")).to_have_text("1")
    expect(page.locator("svg.sms-verify-chart")).to_be_visible()
    screenshot(page, "overview-chart")


def test_visitor_signs_in_with_a_code_on_the_testproject_page(page, live_server, make_connector):
    make_connector("locmem-main")
    page.goto(f"{live_server.url}/")
    page.fill("#phone", PHONE_CN)
    page.select_option("#usage_type", "SignIn")
    page.click("#send")
    expect(page.locator("#status")).to_contain_text("Code sent")
    code = re.search(r"code (\d+)", django_sms_verify.outbox[-1].text).group(1)

    page.fill("#code", code)
    page.click("#verify")
    token = page.locator("#token")
    expect(token).to_be_visible()
    screenshot(page, "signin-verified")
    assert django_sms_verify.consume_verification_token(token.inner_text(), usage_type="SignIn") == PHONE_CN


DEMO_LOCALE = Path(__file__).resolve().parent.parent / "testproject" / "demo" / "locale"


@pytest.mark.parametrize("browser_locale", ["zh-CN"])
def test_the_testproject_page_speaks_chinese_to_a_chinese_browser(
    page, live_server, make_connector, settings
):
    # The tests do not install the demo app; its catalog joins through LOCALE_PATHS.
    settings.LOCALE_PATHS = [DEMO_LOCALE]
    make_connector("locmem-main")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_title("手机号登录")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#usage_type option[value=SignIn]")).to_have_text("登录")
    page.fill("#phone", PHONE_CN)
    page.click("#send")
    expect(page.locator("#status")).to_contain_text("验证码已发送，")  # noqa: RUF001
    expect(page.locator("#status")).to_contain_text("前有效。")
    code = re.search(r"code (\d+)", django_sms_verify.outbox[-1].text).group(1)

    page.fill("#code", "0" * len(code) if code != "0" * len(code) else "1" * len(code))
    page.click("#verify")
    # the API's message and the page's own wording, in Chinese word order
    expect(page.locator("#status")).to_have_text(re.compile(r"^验证码不正确。（还可尝试 \d+ 次）$"))  # noqa: RUF001
    screenshot(page, "signin-wrong-code-zh")

    page.fill("#code", code)
    page.click("#verify")
    expect(page.locator("#status")).to_contain_text("验证通过。令牌：")  # noqa: RUF001
    token = page.locator("#token")
    expect(token).to_be_visible()
    assert django_sms_verify.consume_verification_token(token.inner_text(), usage_type="SignIn") == PHONE_CN
