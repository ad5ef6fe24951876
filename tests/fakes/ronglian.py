"""A fake Ronglian (容联云通讯) REST API on 127.0.0.1, for the test suite.

It checks a template SMS the way the platform does, with its own implementation of the
signing (not the app's): the path, the ``Authorization`` header (base64 of
``accountSID:timestamp``), the timestamp's format and freshness (within 5 minutes of now
in China Standard Time), ``sig`` (upper-case MD5 of accountSID + authToken + timestamp,
the same timestamp), the ``Accept``/``Content-Type`` headers and the JSON body. It answers
in the platform's shapes: ``{"statusCode": "000000", "templateSMS": {...}}`` or
``{"statusCode": ..., "statusMsg": ...}`` with the platform's codes for what it rejects
(e.g. ``111109`` for a wrong sig). Switches: :meth:`answer_status` (a given statusCode),
:meth:`answer_http_error` (a 500), :meth:`answer_garbage`, :meth:`delay` (sleep past the
client's timeout). Every request is recorded in :attr:`requests`.

    with FakeRonglian() as fake:
        connector.base_url = fake.url
        ...
        fake.requests[-1].body["datas"]

The :func:`fake_ronglian` fixture gives any test module a running fake once the root
``tests/conftest.py`` imports it (``from tests.fakes.ronglian import fake_ronglian  # noqa:
F401``) or lists this module in ``pytest_plugins``; or wrap :class:`FakeRonglian` in a
fixture of your own, as ``tests/test_ronglian_send.py`` does.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.loopback import KeepAliveHandler, LoopbackFake

ACCOUNT_SID = "8a216da8762f3c9a01764b3f1e2a0b7c"
AUTH_TOKEN = "c0ffee1234567890deadbeefcafe4242"
APP_ID = "8a216da8762f3c9a01764b3f1f4d0b83"

CHINA = ZoneInfo("Asia/Shanghai")
FRESHNESS = timedelta(minutes=5)
PATH = re.compile(r"^/2013-12-26/Accounts/(?P<sid>[^/]+)/SMS/TemplateSMS$")
TIMESTAMP = re.compile(r"^\d{14}$")
MAINLAND = re.compile(r"^1\d{10}$")
INTERNATIONAL = re.compile(r"^00[1-9]\d{6,15}$")
BODY_REQUIRED = {"to", "appId", "templateId", "datas"}
BODY_OPTIONAL = {"reqId", "subAppend"}

# The platform's own texts for the codes the fake answers.
STATUS_MESSAGES = {
    "111101": "【账号】请求包头Authorization参数为空",
    "111102": "【账号】请求包头Authorization参数Base64解码失败",
    "111103": "【账号】请求包头Authorization参数解码后格式有误",
    "111104": "【账号】请求包头Authorization参数解码后账户ID为空",
    "111105": "【账号】请求包头Authorization参数解码后时间戳为空",
    "111106": "【账号】请求包头Authorization参数解码后时间戳过期",
    "111107": "【账号】请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致",
    "111108": "【账号】请求地址Sig参数为空",
    "111109": "【账号】请求地址Sig校验失败",
    "111113": "【账号】请求包头Authorization参数中时间戳格式有误",
    "111141": "【账号】主账户不存在",
    "111142": "【账号】主账户余额不足",
    "111181": "【账号】应用不存在",
    "112310": "【短信】应用未上线, 模板短信接收号码外呼受限",
    "112311": "【短信】短信模板不存在",
    "112317": "【短信】号码在黑名单中",
    "112323": "【短信】短信模板不存在或审核未通过",
    "113302": "【短信】您正在使用云通讯测试模板且短信接收者不是注册的测试号码",
    "160000": "【短信】系统错误",
    "160013": "【短信】号码格式不对, 或者该号码不支持",
    "160014": "【短信】短信通道余额不足",
    "160031": "【短信】参数解析失败",
    "160032": "【短信】短信模板无效",
    "160033": "【短信】短信存在黑词",
    "160034": "【短信】号码黑名单",
    "160038": "【短信】短信验证码发送过频繁",
    "160039": "【短信】发送数量超出同模板同号天发送次数上限",
    "160040": "【短信】验证码超出同模板同号码天发送上限",
    "160041": "【短信】通知超出同模板同号码天发送上限",
    "160042": "【短信】号码格式有误",
    "160043": "【短信】应用与模板id不匹配",
    "160044": "【短信】发送号码为空",
    "160050": "【短信】短信发送失败",
    "160051": "【短信】营销退订号码",
    "160052": "【短信】模板变量格式有误",
    "160057": "【短信】短信模板ID要求为数字",
    "160068": "【短信】平台全部退订号码黑名单",
    "160072": "【短信】关键号码黑名单",
    "160073": "【短信】运营商投诉号码黑名单",
    "160074": "【短信】高危投诉号码黑名单",
}


def expected_sig(account_sid: str, auth_token: str, timestamp: str) -> str:
    digest = hashlib.md5((account_sid + auth_token + timestamp).encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest().upper()


def now_in_china() -> datetime:
    return datetime.now(CHINA)


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    client_port: int
    body: Any = None
    timestamp: str = ""
    # Wire-format violations the fake noticed (empty when the request was well formed).
    problems: list[str] = field(default_factory=list)
    answered: dict[str, Any] | None = None
    http_status: int = 200


class _Handler(KeepAliveHandler):
    wbufsize = 64 * 1024  # headers and body leave in one segment

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def send_body(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeRonglian(LoopbackFake):
    handler = _Handler

    def __init__(
        self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, app_id: str = APP_ID
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.app_id = app_id
        self.requests: list[ReceivedRequest] = []
        super().__init__()
        self.reset()

    # --- switches --------------------------------------------------------------------

    def reset(self) -> None:
        """Answer like a healthy platform."""
        self.forced_status: tuple[str, str] | None = None
        self.http_error: int | None = None
        self.garbage = False
        self.delay_seconds = 0.0

    def answer_status(self, status_code: str, status_msg: str | None = None) -> None:
        """Answer well-formed requests with this statusCode (HTTP 200, as the platform does).

        ``{body}`` in ``status_msg`` is replaced by the request body, for a platform that
        quotes the request back."""
        self.forced_status = (status_code, status_msg or STATUS_MESSAGES.get(status_code, "错误"))

    def answer_http_error(self, status: int = 500) -> None:
        self.http_error = status

    def answer_garbage(self) -> None:
        """HTTP 200 with a body that is not JSON (a captive portal, a proxy page)."""
        self.garbage = True

    def delay(self, seconds: float) -> None:
        """Hold each answer this long (stop() cuts it short)."""
        self.delay_seconds = seconds

    # --- the platform ----------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        received = ReceivedRequest(
            method=handler.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in handler.headers.items()},
            raw_body=raw_body,
            client_port=handler.client_address[1],
        )
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            received.body = json.loads(raw_body.decode("utf-8"))  # recorded even if refused
        with self._lock:
            self.requests.append(received)

        match = PATH.match(parts.path)
        if match is None or handler.command != "POST":
            received.problems.append(f"{handler.command} {parts.path} is not the TemplateSMS resource")
            received.http_status = 404
            handler.send_body(404, b"Not Found", "text/plain")
            return

        refusal = self._check(received, match.group("sid"))
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)
        if refusal is None:
            if self.http_error:
                received.http_status = self.http_error
                handler.send_body(self.http_error, b"<html>Internal Server Error</html>", "text/html")
                return
            if self.garbage:
                handler.send_body(200, b"<html>not json</html>", "text/html")
                return
        answer = self._answer(refusal, raw_body)
        received.answered = answer
        handler.send_body(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"), "application/json")

    def _answer(self, refusal: str | None, raw_body: bytes) -> dict[str, Any]:
        code = refusal or (self.forced_status[0] if self.forced_status else "000000")
        if code != "000000":
            message = STATUS_MESSAGES.get(code, "错误")
            if refusal is None and self.forced_status:
                message = self.forced_status[1].replace("{body}", raw_body.decode("utf-8", "replace"))
            return {"statusCode": code, "statusMsg": message}
        return {
            "statusCode": "000000",
            "templateSMS": {
                "dateCreated": now_in_china().strftime("%Y%m%d%H%M%S"),
                "smsMessageSid": uuid.uuid4().hex,
            },
        }

    def _check(self, received: ReceivedRequest, url_sid: str) -> str | None:
        """The statusCode the platform would refuse this request with, or None."""
        code = self._check_auth(received, url_sid)
        if code is None:
            code = self._check_headers(received)
        if code is None:
            code = self._check_body(received)
        return code

    def _check_auth(self, received: ReceivedRequest, url_sid: str) -> str | None:
        header = received.headers.get("authorization", "")
        if not header:
            received.problems.append("no Authorization header")
            return "111101"
        try:
            decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            received.problems.append("Authorization is not base64")
            return "111102"
        sid, colon, timestamp = decoded.partition(":")
        if not colon:
            received.problems.append("Authorization is not accountSID:timestamp")
            return "111103"
        if not sid:
            return "111104"
        if not timestamp:
            return "111105"
        received.timestamp = timestamp
        if not TIMESTAMP.match(timestamp):
            received.problems.append(f"timestamp {timestamp!r} is not yyyyMMddHHmmss")
            return "111113"
        if sid != url_sid:
            received.problems.append("the Authorization SID differs from the URL's")
            return "111107"
        if url_sid != self.account_sid:
            return "111141"
        try:
            sent_at = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
        except ValueError:
            received.problems.append(f"timestamp {timestamp!r} is not a date")
            return "111113"
        if abs(now_in_china() - sent_at) > FRESHNESS:
            received.problems.append(f"timestamp {timestamp} is not within 5 minutes of now in CST")
            return "111106"
        sigs = received.query.get("sig") or [""]
        if not sigs[0]:
            received.problems.append("no sig parameter")
            return "111108"
        if sigs[0] != expected_sig(self.account_sid, self.auth_token, timestamp):
            # A wrong authToken ends here; not a wire-format problem of the client.
            return "111109"
        return None

    def _check_headers(self, received: ReceivedRequest) -> str | None:
        accept = received.headers.get("accept", "")
        content_type = received.headers.get("content-type", "").replace(" ", "").lower()
        if "application/json" not in accept:
            received.problems.append(f"Accept is {accept!r}, not application/json")
        if content_type != "application/json;charset=utf-8":
            received.problems.append(f"Content-Type is {content_type!r}")
        return "160031" if received.problems else None

    def _check_body(self, received: ReceivedRequest) -> str | None:
        try:
            body = json.loads(received.raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            received.problems.append("the body is not UTF-8 JSON")
            return "160031"
        if not isinstance(body, dict):
            received.problems.append("the body is not a JSON object")
            return "160031"
        missing, unknown = BODY_REQUIRED - set(body), set(body) - BODY_REQUIRED - BODY_OPTIONAL
        if missing or unknown:
            received.problems.append(f"body keys: missing {sorted(missing)}, unknown {sorted(unknown)}")
            return "160031"
        if body["appId"] != self.app_id:
            return "111181"
        template_id = body["templateId"]
        if not isinstance(template_id, str) or not template_id.isdigit():
            received.problems.append(f"templateId {template_id!r} is not a string of digits")
            return "160057"
        datas = body["datas"]
        if not isinstance(datas, list) or not all(isinstance(item, str) for item in datas):
            received.problems.append(f"datas {datas!r} is not a list of strings")
            return "160052"
        to = body["to"]
        if not isinstance(to, str) or not to:
            received.problems.append("to is empty")
            return "160044"
        for number in to.split(","):
            if not (MAINLAND.match(number) or INTERNATIONAL.match(number)):
                received.problems.append(f"to {number!r} is neither 11 mainland digits nor 00+country+number")
                return "160042"
        return None


@pytest.fixture
def fake_ronglian():
    """A running :class:`FakeRonglian` (stopped after the test)."""
    with FakeRonglian() as fake:
        yield fake
