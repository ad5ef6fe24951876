# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""The zh-Hans catalogs are complete and compiled, and the API answers in Chinese.

The ``.po`` files are read with a small parser of our own (standard library only). A second
check runs ``makemessages`` on a copy of the package, so a new string in the code that nobody
translated fails here rather than showing up in English on a Chinese site.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

import django_sms_verify
from django_sms_verify import exceptions
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL, last_code

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(django_sms_verify.__file__).resolve().parent
DEMO_APP = ROOT / "testproject" / "demo"
CATALOGS = {
    "package": PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
    "demo": DEMO_APP / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
}
# %(name)s, {length} and <<code>> must come through a translation unchanged.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{\w+\}|<<\w+>>")


@dataclass
class Entry:
    msgid: str = ""
    context: str | None = None
    plural: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> str:
        """The key GNU gettext uses in a .mo file."""
        return self.msgid if self.context is None else f"{self.context}\x04{self.msgid}"


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file, the header (msgid "") included; obsolete (#~) entries left out."""
    entries: list[Entry] = []
    entry, part = Entry(), None
    seen_keyword = False

    def finish() -> None:
        nonlocal entry, part, seen_keyword
        if seen_keyword:
            entries.append(entry)
        entry, part, seen_keyword = Entry(), None, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            finish()
            continue
        if line.startswith("#,"):
            if seen_keyword:
                finish()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            if seen_keyword:
                finish()
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            text = ast.literal_eval(line)
        else:
            if keyword in ("msgctxt", "msgid") and part not in (None, "msgctxt"):
                finish()  # a new entry without a blank line in between
            if not seen_keyword:
                entry.line = number
            seen_keyword = True
            part, text = keyword, ast.literal_eval(rest)
            if part.startswith("msgstr"):
                entry.msgstrs.append("")
        if part == "msgctxt":
            entry.context = (entry.context or "") + text
        elif part == "msgid":
            entry.msgid += text
        elif part == "msgid_plural":
            entry.plural = (entry.plural or "") + text
        elif part and part.startswith("msgstr"):
            entry.msgstrs[-1] += text
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    return entries


def messages(path: Path) -> list[Entry]:
    return [entry for entry in parse_po(path) if entry.msgid]


def test_the_parser_reads_contexts_continuations_flags_and_plurals(tmp_path):
    po = tmp_path / "sample.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#: a.py\n#, fuzzy, python-format\n#| msgid "old"\nmsgid ""\n"Hello "\n"%(name)s"\n'
        'msgstr "你好 %(name)s"\n\n'
        'msgctxt "count"\nmsgid "sent"\nmsgstr ""\n\n'
        'msgid "one"\nmsgid_plural "many"\nmsgstr[0] "\\"多\\""\n\n'
        '#~ msgid "gone"\n#~ msgstr "旧"\n',
        encoding="utf-8",
    )
    header, hello, sent, plural = parse_po(po)
    assert header.msgid == "" and header.msgstrs == ["Language: zh_Hans\n"]
    assert hello.msgid == "Hello %(name)s" and hello.flags == {"fuzzy", "python-format"}
    assert sent.key == "count\x04sent" and sent.msgstrs == [""]
    assert plural.plural == "many" and plural.msgstrs == ['"多"'] and not plural.flags


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_string_is_translated_and_none_is_fuzzy(catalog):
    path = CATALOGS[catalog]
    entries = parse_po(path)
    header = entries[0]
    assert header.msgid == "" and "fuzzy" not in header.flags, "the header is still marked fuzzy"
    assert "Language: zh_Hans" in header.msgstrs[0]
    found = messages(path)
    assert len(found) > (200 if catalog == "package" else 10)
    untranslated = [f"line {e.line}: {e.msgid!r}" for e in found if not all(s.strip() for s in e.msgstrs)]
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in found if "fuzzy" in e.flags]
    assert not untranslated, f"{path}: untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, f"{path}: fuzzy:\n" + "\n".join(fuzzy)
    for entry in found:
        for msgstr in entry.msgstrs:
            assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(entry.msgid)), (
                f"line {entry.line}: placeholders differ between {entry.msgid!r} and {msgstr!r}"
            )


@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_compiled_catalog_matches_the_po_file(catalog):
    """A .po edited without compilemessages would leave the site in the old words."""
    path = CATALOGS[catalog]
    with path.with_suffix(".mo").open("rb") as compiled:
        catalog_mo = gettext.GNUTranslations(compiled)
    stale = [
        entry.msgid
        for entry in messages(path)
        if entry.plural is None and catalog_mo._catalog.get(entry.key) != entry.msgstrs[0]
    ]
    assert not stale, f"{path.with_suffix('.mo')} is older than the .po for: {stale}"


def _makemessages_on_a_copy(app_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / app_dir.name
    shutil.copytree(app_dir, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # needs no settings
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--add-location=file"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgmerge")),
    reason="GNU gettext is not installed (./run tests installs it)",
)
@pytest.mark.parametrize("app_dir", [PACKAGE, DEMO_APP], ids=["package", "demo"])
def test_no_string_in_the_code_is_missing_from_the_catalog(app_dir, tmp_path):
    """makemessages on a copy: strings added to the code since the catalog was made show up
    as new untranslated (or fuzzy) entries."""
    fresh = _makemessages_on_a_copy(app_dir, tmp_path)
    committed = {
        entry.key for entry in messages(app_dir / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    }
    found = messages(fresh)
    new = [entry.msgid for entry in found if entry.key not in committed]
    open_entries = [entry.msgid for entry in found if "fuzzy" in entry.flags or not all(entry.msgstrs)]
    assert not new and not open_entries, (
        f"run `django-admin makemessages -l zh_Hans` in {app_dir.name}/ and translate: {new or open_entries}"
    )


def test_core_error_messages_come_out_in_chinese():
    with translation.override("zh-hans"):
        assert (
            str(exceptions.InvalidPhoneNumber().message)
            == "请输入国际格式的有效手机号码，例如 +8613800138000。"
        )
        assert str(exceptions.RateLimited(5).message) == "请求过于频繁，请稍后再试。"
        assert str(exceptions.InvalidCode(attempts_left=2).message) == "验证码不正确。"
        assert str(exceptions.CodeExpired().message) == "验证码已过期，请重新获取。"
        assert str(exceptions.UnsupportedNumberType().message) == "此号码无法接收验证码，请使用手机号码。"
        assert str(exceptions.OptedOut().message) == "此手机号码已退订我们的消息。"
    # the same objects speak English again outside the override: the messages are lazy
    with translation.override("en"):
        assert str(exceptions.InvalidPhoneNumber().message).startswith("Enter a valid phone number")


ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
NOT_INTERNATIONAL = "手机号码请以 + 和国家代码开头，例如 +8613800138000。"


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """LocaleMiddleware activates the request's language in this thread and leaves it there:
    later tests must not inherit Chinese from these requests."""
    yield
    translation.deactivate()


def test_the_api_answers_in_the_language_of_the_request(api, connector):
    response = api.post(REQUEST_URL, {"phone": "12345", "usage_type": "SignIn"}, format="json", **ZH)
    assert response.status_code == 400
    assert response.json()["phone"] == [NOT_INTERNATIONAL]
    assert response["Content-Language"] == "zh-hans"

    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json", **ZH)
    assert response.status_code == 202, response.content
    code = last_code()
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    response = api.post(
        CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": wrong}, format="json", **ZH
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_code" and body["detail"] == "验证码不正确。"

    # the same request without the header is answered in English (LANGUAGE_CODE = "en")
    response = api.post(CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": wrong}, format="json")
    assert response.json()["detail"] == "The code is not correct."


def test_a_provider_refusal_reaches_the_api_in_chinese(api, make_connector):
    make_connector(config={"fail": "permanent:unsubscribed"})
    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json", **ZH)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "此手机号码无法接收消息。"


def test_a_chinese_browser_gets_simplified_chinese(api, connector):
    """Browsers in China send zh-CN; Django maps it to zh-hans."""
    response = api.post(
        REQUEST_URL,
        {"phone": "12345", "usage_type": "SignIn"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8",
    )
    assert response.status_code == 400
    assert response.json()["phone"] == [NOT_INTERNATIONAL]
