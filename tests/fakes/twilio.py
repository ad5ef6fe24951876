"""A fake Twilio REST API on 127.0.0.1 that checks what the real one checks.

It speaks the wire format of ``api.twilio.com/2010-04-01``: HTTP Basic auth
``AccountSid:AuthToken``, form-encoded ``Messages.json`` and ``Calls.json`` with the
parameters Twilio documents, ``201`` answers with the real JSON shape, and Twilio's error
JSON (``{"code", "message", "more_info", "status"}``). It is stricter than Twilio in one
way: unknown parameters are refused, so a typo in our code cannot pass unnoticed.

Failures are switchable: :meth:`answer_500`, :meth:`answer_error` (a given Twilio code),
:meth:`answer_slowly` (sleep past the client's timeout). Every request is recorded.

    with FakeTwilioAPI() as fake:
        connector.base_url = fake.base_url
        ...
        assert fake.messages[0]["To"] == "+14155552671"
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import KeepAliveHandler, LoopbackFake

API_VERSION = "2010-04-01"
PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC[0-9a-fA-F]{{32}})/(?P<kind>Messages|Calls)\.json$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MG_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
AP_SID = re.compile(r"^AP[0-9a-fA-F]{32}$")

MESSAGE_PARAMS = frozenset({"To", "From", "MessagingServiceSid", "Body", "StatusCallback"})
CALL_PARAMS = frozenset(
    {
        "To",
        "From",
        "Url",
        "Twiml",
        "ApplicationSid",
        "Method",
        "StatusCallback",
        "StatusCallbackEvent",
        "StatusCallbackMethod",
        "Timeout",
    }
)
MAX_BODY = 1600  # characters (error 21617)
MAX_TWIML = 4000  # characters


class TwilioAPIError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


@dataclass
class RecordedRequest:
    method: str
    path: str
    kind: str  # "Messages", "Calls" or "" when the path is wrong
    form: dict[str, str]
    headers: dict[str, str]
    client_port: int  # the client's TCP port: equal ports = one reused connection
    answer_status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


class TwilioHandler(KeepAliveHandler):
    timeout = 10  # idle kept-alive connections end by themselves (api.twilio.com keeps them too)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        fake: FakeTwilioAPI = self.server.fake  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        headers["x-fake-client-port"] = str(self.client_address[1])
        status, answer = fake.handle(method, self.path, headers, body)
        if status == 500 and answer.get("code") == 20500:
            payload, content_type = b"Internal Server Error", "text/plain"
        else:
            payload, content_type = json.dumps(answer).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout) before the answer
            self.close_connection = True


class FakeTwilioAPI(LoopbackFake):
    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        super().__init__()
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.requests: list[RecordedRequest] = []
        self._failure: tuple[str, Any] | None = None

    handler = TwilioHandler

    @property
    def base_url(self) -> str:
        return self.url

    # --- switchable failures --------------------------------------------------------

    def answer_normally(self) -> None:
        self._failure = None

    def answer_500(self) -> None:
        self._failure = ("500", None)

    def answer_error(self, code: int, status: int = 400, message: str = "") -> None:
        """Answer every valid request with Twilio's error JSON for ``code``."""
        self._failure = ("error", (status, code, message or f"Fake Twilio error {code}"))

    def answer_slowly(self, seconds: float) -> None:
        """Sleep ``seconds`` before answering (returns early when the fake stops)."""
        self._failure = ("slow", seconds)

    def connector_fields(
        self, *, messaging_service_sid: str | None = None, from_number: str | None = None
    ) -> dict[str, Any]:
        """``config``, ``secrets`` and ``base_url`` for a connector that talks to this fake."""
        config: dict[str, Any] = {"accountSID": self.account_sid}
        if messaging_service_sid:
            config["fromMessagingServiceSID"] = messaging_service_sid
        if from_number:
            config["fromNumber"] = from_number
        return {"config": config, "secrets": {"authToken": self.auth_token}, "base_url": self.base_url}

    # --- what was sent ----------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        return [r.form for r in self.requests if r.kind == "Messages"]

    @property
    def calls(self) -> list[dict[str, str]]:
        return [r.form for r in self.requests if r.kind == "Calls"]

    # --- the API ----------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        """One request -> (status, JSON answer). Called by the HTTP handler."""
        kind = ""
        form: dict[str, str] = {}
        try:
            self._check_auth(headers.get("authorization", ""))
            match = PATH.match(urlsplit(path).path)
            if method != "POST" or match is None or match["sid"] != self.account_sid:
                raise TwilioAPIError(404, 20404, f"The requested resource {path} was not found")
            kind = match["kind"]
            form = self._parse_form(headers, body)
        except TwilioAPIError as exc:
            return self._record(method, path, kind, form, headers, exc.status, _error_json(exc))
        return self._answer(method, path, kind, form, headers)

    def _answer(self, method, path, kind, form, headers) -> tuple[int, dict]:
        failure = self._failure
        try:
            if kind == "Messages":
                _check_message(form)
            else:
                _check_call(form)
            if failure and failure[0] == "500":
                raise TwilioAPIError(500, 20500, "Internal Server Error")
            if failure and failure[0] == "error":
                raise TwilioAPIError(*failure[1])
            if failure and failure[0] == "slow":
                self._stopping.wait(failure[1])
        except TwilioAPIError as exc:
            return self._record(method, path, kind, form, headers, exc.status, _error_json(exc))
        answer = self._message_json(form) if kind == "Messages" else self._call_json(form)
        return self._record(method, path, kind, form, headers, 201, answer)

    def _record(self, method, path, kind, form, headers, status, answer) -> tuple[int, dict]:
        port = int(headers.get("x-fake-client-port", "0"))
        with self._lock:
            self.requests.append(
                RecordedRequest(method, path, kind, form, dict(headers), port, status, answer)
            )
        return status, answer

    def _check_auth(self, header: str) -> None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not secrets.compare_digest(value.strip(), expected):
            raise TwilioAPIError(401, 20003, "Authenticate")

    @staticmethod
    def _parse_form(headers: dict[str, str], body: bytes) -> dict[str, str]:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise TwilioAPIError(400, 21604, "Send the parameters form-encoded")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as exc:
            raise TwilioAPIError(400, 20001, "Malformed form body") from exc
        repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
        if repeated:
            raise TwilioAPIError(400, 20001, f"Parameters given twice: {', '.join(repeated)}")
        return {name: values[0] for name, values in parsed.items()}

    def _message_json(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822(datetime.now(UTC))
        service = form.get("MessagingServiceSid")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # With a Messaging Service the sender is picked later; the status is "accepted".
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _call_json(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "CA" + secrets.token_hex(16)
        now = _rfc2822(datetime.now(UTC))
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}"
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form["From"],
            "from_formatted": form["From"],
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + secrets.token_hex(16),
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {"notifications": f"{base}/Notifications.json"},
            "to": form["To"],
            "to_formatted": form["To"],
            "trunk_sid": None,
            "uri": f"{base}.json",
        }


# --- parameter checks, as the real API answers them ----------------------------------------


def _check_unknown(form: dict[str, str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(form) - allowed)
    if unknown:
        raise TwilioAPIError(400, 20001, f"Fake Twilio: unknown parameters {', '.join(unknown)}")


def _check_status_callback(form: dict[str, str]) -> None:
    url = form.get("StatusCallback")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TwilioAPIError(400, 21609, "Invalid StatusCallback url")


def _check_message(form: dict[str, str]) -> None:
    _check_unknown(form, MESSAGE_PARAMS)
    if not form.get("To"):
        raise TwilioAPIError(400, 21604, "A 'To' phone number is required.")
    if not E164.match(form["To"]):
        raise TwilioAPIError(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
    has_from, has_service = "From" in form, "MessagingServiceSid" in form
    if not has_from and not has_service:
        raise TwilioAPIError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
    if has_from and has_service:
        raise TwilioAPIError(400, 20001, "Fake Twilio: give exactly one of From and MessagingServiceSid")
    if has_service and not MG_SID.match(form["MessagingServiceSid"]):
        raise TwilioAPIError(400, 21705, "The Messaging Service Sid is invalid.")
    if has_from and not (E164.match(form["From"]) or ALPHANUMERIC_SENDER.match(form["From"])):
        raise TwilioAPIError(400, 21212, f"The 'From' number {form['From']} is not a valid phone number.")
    if not form.get("Body"):
        raise TwilioAPIError(400, 21602, "Message body is required.")
    if len(form["Body"]) > MAX_BODY:
        raise TwilioAPIError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    _check_status_callback(form)


def _check_call(form: dict[str, str]) -> None:
    _check_unknown(form, CALL_PARAMS)
    if not form.get("To"):
        raise TwilioAPIError(400, 21201, "No 'To' number is specified")
    if not E164.match(form["To"]):
        raise TwilioAPIError(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
    if not form.get("From"):
        raise TwilioAPIError(400, 21213, "No 'From' number is specified")
    if not E164.match(form["From"]):
        raise TwilioAPIError(400, 21212, f"The 'From' number {form['From']} is not a valid phone number.")
    given = [name for name in ("Url", "Twiml", "ApplicationSid") if name in form]
    if len(given) != 1:
        raise TwilioAPIError(400, 21205, "Give exactly one of Url, Twiml or ApplicationSid.")
    if "Url" in form and urlsplit(form["Url"]).scheme not in ("http", "https"):
        raise TwilioAPIError(400, 21205, "Url is not a valid URL.")
    if "ApplicationSid" in form and not AP_SID.match(form["ApplicationSid"]):
        raise TwilioAPIError(400, 21218, "Invalid ApplicationSid")
    if "Twiml" in form:
        _check_twiml(form["Twiml"])
    _check_status_callback(form)


def _check_twiml(twiml: str) -> None:
    if len(twiml) > MAX_TWIML:
        raise TwilioAPIError(400, 21205, "Twiml is longer than 4000 characters.")
    try:
        root = ET.fromstring(twiml)  # noqa: S314  (our own test input)
    except ET.ParseError as exc:
        raise TwilioAPIError(400, 12100, "Document parse failure") from exc
    if root.tag != "Response":
        raise TwilioAPIError(400, 12100, "The root element must be <Response>")


def _error_json(exc: TwilioAPIError) -> dict[str, Any]:
    return {
        "code": exc.code,
        "message": exc.message,
        "more_info": f"https://www.twilio.com/docs/errors/{exc.code}",
        "status": exc.status,
    }


def _rfc2822(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")
