"""A fake Alibaba Cloud SMS (Dysmsapi 2017-05-25) on 127.0.0.1, for the test suite.

It checks requests the way the service does: the common RPC parameters, the timestamp,
the nonce, and the signature, which it recomputes with the secret it knows for the
AccessKeyId (its own implementation, not the app's). Then it answers ``SendSms`` and
``QuerySendDetails`` in the service's shapes. Switches: ``fail(code)`` for business
errors, ``http_status`` for 5xx answers, ``delay`` for slow answers.

    with FakeAliyunSms() as fake:
        connector.base_url = fake.url
        ...
        fake.sends[-1].params["TemplateParam"]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import KeepAliveHandler, LoopbackFake

CHINA_TIME = timezone(timedelta(hours=8))
API_VERSION = "2017-05-25"
COMMON_REQUIRED = (
    "Action",
    "Version",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
)
TIMESTAMP_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TIMESTAMP_TOLERANCE = timedelta(minutes=15)
MAINLAND_NUMBER = re.compile(r"^(?:\+86|0086|86)?(1\d{10})$")
INTERNATIONAL_NUMBER = re.compile(r"^[1-9]\d{6,15}$")

WAITING, FAILED, DELIVERED = 1, 2, 3

ERROR_MESSAGES = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发分钟级流控Permits:1",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.SMS_TEMPLATE_ILLEGAL": "模板不合法(不存在或被拉黑)",
    "isv.SMS_SIGNATURE_ILLEGAL": "签名不合法(不存在或被拉黑)",
    "isv.BLACK_KEY_CONTROL_LIMIT": "黑名单管控",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.DAY_LIMIT_CONTROL": "触发日发送限额",
    "isp.SYSTEM_ERROR": "系统错误",
    "Throttling.User": "Request was denied due to user flow control.",
}

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def rfc3986(text: str) -> str:
    """Byte by byte, as the service encodes for its string to sign."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def server_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{rfc3986(k)}={rfc3986(params[k])}" for k in sorted(params) if k != "Signature")
    return f"{method}&{rfc3986('/')}&{rfc3986(canonical)}"


def server_signature(method: str, params: dict[str, str], secret: str) -> str:
    mac = hmac.new(f"{secret}&".encode(), server_string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    client_port: int
    http_status: int = 0
    code: str = ""


@dataclass
class FakeSms:
    biz_id: str
    phone: str  # as sent, normalized to what the service stores (mainland: 11 digits)
    sign_name: str
    template_code: str
    template_param: dict[str, str]
    out_id: str
    sent_at: datetime
    send_status: int = WAITING
    err_code: str = ""
    receive_at: datetime | None = None


@dataclass
class _Failure:
    code: str
    http_status: int = 200
    message: str = ""


class _Handler(KeepAliveHandler):
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8")
            params.update(parse_qsl(body, keep_blank_values=True))
        status, answer = self.server.fake._answer(method, url.path, params, self.client_address[1])
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeAliyunSms(LoopbackFake):
    handler = _Handler

    def __init__(self, access_key_id: str = "LTAI-test-id", access_key_secret: str = "test-secret") -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, FakeSms] = {}
        self.approved_signs: set[str] | None = None  # None: every SignName is approved
        self.approved_templates: set[str] | None = None
        self.http_status: int | None = None  # e.g. 500: every request answers that
        self.delay: float = 0.0  # seconds before answering
        self._failures: dict[str, _Failure] = {}
        self._nonces: set[str] = set()
        self._biz_ids = itertools.count(900619746936498440)

    # --- switches --------------------------------------------------------------------

    def fail(self, code: str, *, action: str = "SendSms", http_status: int = 200, message: str = "") -> None:
        """Answer every ``action`` with this error code until :meth:`recover`."""
        self._failures[action] = _Failure(code, http_status, message or ERROR_MESSAGES.get(code, code))

    def recover(self, action: str | None = None) -> None:
        if action is None:
            self._failures.clear()
            self.http_status = None
        else:
            self._failures.pop(action, None)

    def set_receipt(self, biz_id: str, status: int, err_code: str = "", at: datetime | None = None) -> None:
        """What the carrier reported for a sent message (QuerySendDetails shows it)."""
        sms = self.messages[biz_id]
        sms.send_status = status
        sms.err_code = err_code or ("DELIVERED" if status == DELIVERED else "")
        sms.receive_at = at or datetime.now(UTC)

    def backdate(self, biz_id: str, delta: timedelta) -> None:
        self.messages[biz_id].sent_at -= delta

    # --- what it saw -----------------------------------------------------------------

    @property
    def sends(self) -> list[RecordedRequest]:
        """Accepted SendSms requests."""
        return [r for r in self.requests if r.params.get("Action") == "SendSms" and r.code == "OK"]

    def requests_for(self, action: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.params.get("Action") == action]

    # --- the service -----------------------------------------------------------------

    def _answer(self, method: str, path: str, params: dict[str, str], port: int) -> tuple[int, dict]:
        record = RecordedRequest(method, path, dict(params), port)
        with self._lock:
            self.requests.append(record)
        if self.delay:
            self._stopping.wait(self.delay)
        status, answer = self._gateway(method, params)
        record.http_status, record.code = status, str(answer.get("Code", ""))
        return status, answer

    def _gateway(self, method: str, params: dict[str, str]) -> tuple[int, dict]:
        request_id = str(uuid.uuid4()).upper()
        for name in COMMON_REQUIRED:
            if not params.get(name):
                return 400, _error(request_id, f"Missing{name}", f"{name} is mandatory for this action.")
        if params["Version"] != API_VERSION:
            return 400, _error(request_id, "InvalidVersion", "Specified parameter Version is not valid.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return 400, _error(
                request_id, "InvalidSignatureMethod", "Specified signature method is not valid."
            )
        if params.get("Format", "XML").upper() != "JSON":
            return 400, _error(request_id, "InvalidParameter", "This fake only answers Format=JSON.")
        if not TIMESTAMP_FORMAT.match(params["Timestamp"]):
            return 400, _error(request_id, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        sent = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - sent) > TIMESTAMP_TOLERANCE:
            return 400, _error(request_id, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        if params["AccessKeyId"] != self.access_key_id:
            return 404, _error(
                request_id, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        expected = server_signature(method, params, self.access_key_secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            # The real gateway echoes its string to sign, parameters included.
            text = (
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{server_string_to_sign(method, params)}"
            )
            return 400, _error(request_id, "SignatureDoesNotMatch", text)
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return 400, _error(
                    request_id, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces.add(params["SignatureNonce"])
        if self.http_status:
            return self.http_status, _error(request_id, "InternalError", "The request processing has failed.")
        action = params["Action"]
        failure = self._failures.get(action)
        if failure is not None:
            return failure.http_status, {
                "RequestId": request_id,
                "Code": failure.code,
                "Message": failure.message,
            }
        if action == "SendSms":
            return self._send_sms(request_id, params)
        if action == "QuerySendDetails":
            return self._query_send_details(request_id, params)
        return 404, _error(request_id, "InvalidAction.NotFound", "Specified api is not found.")

    def _send_sms(self, request_id: str, params: dict[str, str]) -> tuple[int, dict]:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return 400, _error(request_id, f"Missing{name}", f"{name} is mandatory for this action.")
        phone = _stored_number(params["PhoneNumbers"])
        if phone is None:
            return 200, _business(request_id, "isv.MOBILE_NUMBER_ILLEGAL")
        if self.approved_signs is not None and params["SignName"] not in self.approved_signs:
            return 200, _business(request_id, "isv.SMS_SIGNATURE_ILLEGAL")
        if self.approved_templates is not None and params["TemplateCode"] not in self.approved_templates:
            return 200, _business(request_id, "isv.SMS_TEMPLATE_ILLEGAL")
        template_param: dict[str, str] = {}
        if params.get("TemplateParam"):
            try:
                template_param = json.loads(params["TemplateParam"])
            except ValueError:
                return 200, _business(request_id, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not isinstance(template_param, dict) or not all(
                isinstance(v, str) for v in template_param.values()
            ):
                return 200, _business(request_id, "isv.INVALID_JSON_PARAM", "JSON参数不合法 只接受字符串值")
        biz_id = f"{next(self._biz_ids)}^0"
        with self._lock:
            self.messages[biz_id] = FakeSms(
                biz_id=biz_id,
                phone=phone,
                sign_name=params["SignName"],
                template_code=params["TemplateCode"],
                template_param=template_param,
                out_id=params.get("OutId", ""),
                sent_at=datetime.now(UTC),
            )
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id}

    def _query_send_details(self, request_id: str, params: dict[str, str]) -> tuple[int, dict]:
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                return 400, _error(request_id, f"Missing{name}", f"{name} is mandatory for this action.")
        phone = _stored_number(params["PhoneNumber"])
        if phone is None:
            return 200, _business(request_id, "isv.MOBILE_NUMBER_ILLEGAL")
        try:
            day = datetime.strptime(params["SendDate"], "%Y%m%d").date()
            page_size, page = int(params["PageSize"]), int(params["CurrentPage"])
        except ValueError:
            return 200, _business(request_id, "isv.INVALID_PARAMETERS", "参数异常")
        today = datetime.now(CHINA_TIME).date()
        if not 1 <= page_size <= 50 or page < 1 or not timedelta(0) <= today - day <= timedelta(days=30):
            return 200, _business(request_id, "isv.INVALID_PARAMETERS", "参数异常")
        with self._lock:
            found = [
                sms
                for sms in self.messages.values()
                if sms.phone == phone
                and sms.sent_at.astimezone(CHINA_TIME).date() == day
                and (not params.get("BizId") or sms.biz_id == params["BizId"])
            ]
        shown = found[(page - 1) * page_size : page * page_size]
        return 200, {
            "RequestId": request_id,
            "Code": "OK",
            "Message": "OK",
            "TotalCount": str(len(found)),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [_detail(sms) for sms in shown]},
        }


def _stored_number(raw: str) -> str | None:
    """The number the service files a send under; None when it is malformed."""
    mainland = MAINLAND_NUMBER.match(raw)
    if mainland:
        return mainland.group(1)
    if INTERNATIONAL_NUMBER.match(raw):
        return raw
    return None


def _china(at: datetime | None) -> str:
    return at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _detail(sms: FakeSms) -> dict[str, Any]:
    return {
        "PhoneNum": sms.phone,
        "SendStatus": sms.send_status,
        "ErrCode": sms.err_code,
        "TemplateCode": sms.template_code,
        "Content": f"【{sms.sign_name}】{json.dumps(sms.template_param, ensure_ascii=False)}",
        "SendDate": _china(sms.sent_at),
        "ReceiveDate": _china(sms.receive_at),
        "OutId": sms.out_id,
    }


def _error(request_id: str, code: str, message: str) -> dict[str, str]:
    return {
        "RequestId": request_id,
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": "https://api.aliyun.com/troubleshoot",
    }


def _business(request_id: str, code: str, message: str = "") -> dict[str, str]:
    return {"RequestId": request_id, "Code": code, "Message": message or ERROR_MESSAGES.get(code, code)}


# --- connectors pointing at the fake ---------------------------------------------------

VERIFICATION_TEXT = "您的验证码为<<code>> 有效期<<ttl_minutes>>分钟"


def aliyun_templates(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One template per usage type, TemplateCodes SMS_1001..., params ``{"code": "<<code>>"}``."""
    templates = {
        usage: {
            "template_id": f"SMS_{1001 + i}",
            "content": VERIFICATION_TEXT,
            "params": {"code": "<<code>>"},
        }
        for i, usage in enumerate(("Register", "SignIn", "ForgotPassword", "Generic"))
    }
    templates.update(overrides)
    return templates


def make_aliyun_connector(make_connector, fake: FakeAliyunSms, **kwargs: Any):
    """An aliyun connector whose base URL is the fake (``secret=`` to use a wrong one)."""
    secret = kwargs.pop("secret", fake.access_key_secret)
    kwargs.setdefault("name", "aliyun-cn")
    kwargs.setdefault("priority", 10)
    kwargs.setdefault("templates", aliyun_templates())
    return make_connector(
        provider="aliyun",
        base_url=fake.url,
        config={"accessKeyId": fake.access_key_id, "signName": "阿里云短信测试"},
        secrets={"accessKeySecret": secret},
        **kwargs,
    )
