"""A generic SMS HTTP API, its fake server, and the provider that speaks to it.

Not a real provider's wire format: the delivery machinery (queueing, retries, failover,
recovery) is what the tests using it look at, and it needs a provider whose answers can be
slowed down, failed or held at will, from another process. The provider registers itself
as ``fakehttp`` when this module is imported.

Wire format: ``POST {base_url}/messages`` with ``Authorization: Bearer <token>`` and JSON
``{"to", "text", "channel", "reference"}``; ``200 {"id"}`` when accepted, ``400
{"error": "invalid_number"}`` for a refused recipient, ``401`` for a wrong token, ``5xx``
or ``429`` when the service is down or busy.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from django_sms_verify.exceptions import PermanentProviderError, TransientProviderError
from django_sms_verify.providers import PROVIDER_CLASSES
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, Provider, SendResult
from tests.fakes.loopback import KeepAliveHandler, LoopbackFake, LoopbackServer

KEY = "fakehttp"
PROVIDER_CLASSES.setdefault(KEY, "tests.fakes.http_sms.FakeHttpProvider")


class FakeHttpProvider(Provider):
    key = KEY
    verbose_name = "Fake HTTP SMS (tests)"
    supports_voice = True
    fields = (ConfigField("token", "Token", secret=True),)

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        return self._post(message)

    def place_call(self, message: OutgoingMessage) -> SendResult:
        return self._post(message)

    def _post(self, message: OutgoingMessage) -> SendResult:
        url = urlsplit(self.base_url)
        body = json.dumps(
            {
                "to": message.to,
                "text": message.text,
                "channel": message.channel,
                "reference": message.message_id,
            }
        )
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout)
        try:
            connection.request(
                "POST",
                f"{url.path}/messages",
                body=body,
                headers={
                    "Authorization": f"Bearer {self.secrets.get('token', '')}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            status, data = response.status, response.read()
        except TimeoutError as exc:
            raise TransientProviderError("timed out", provider=self.key, reason="timeout") from exc
        except OSError as exc:
            raise TransientProviderError("unreachable", provider=self.key, reason="unavailable") from exc
        finally:
            connection.close()
        try:
            answer = json.loads(data or b"{}")
        except ValueError:
            answer = {}
        if status == 200:
            return SendResult(provider_message_id=answer["id"], status="sent", raw=answer)
        code = answer.get("error", str(status))
        if 400 <= status < 500 and status != 429:
            raise PermanentProviderError(
                f"refused: {code}", provider=self.key, provider_code=code, status=status, reason=code
            )
        raise TransientProviderError(
            f"service error {status}", provider=self.key, provider_code=str(status), status=status
        )


@dataclass
class Received:
    to: str
    text: str
    channel: str
    reference: str
    at: float  # time.time() when the request arrived


class FakeSmsHandler(KeepAliveHandler):
    server: LoopbackServer

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        fake: FakeSmsServer = self.server.fake  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            fake.rejected.append("authorization")
            return self._answer(401, {"error": "unauthorized"})
        try:
            data = json.loads(raw)
            item = Received(data["to"], data["text"], data["channel"], data["reference"], time.time())
        except (ValueError, KeyError, TypeError):
            fake.rejected.append("body")
            return self._answer(422, {"error": "malformed"})
        if not self.path.endswith("/messages"):
            fake.rejected.append(f"path {self.path}")
            return self._answer(404, {"error": "not_found"})
        with fake._lock:
            fake.received.append(item)
        answer = fake._next_answer()
        if fake.delay:
            time.sleep(fake.delay)
        if answer == "hang":
            fake._released.wait(timeout=60)
            return self._answer(503, {"error": "gone"})
        if answer == "invalid_number":
            return self._answer(400, {"error": "invalid_number"})
        if answer.isdigit():
            return self._answer(int(answer), {"error": "unavailable"})
        return self._answer(200, {"id": f"fake-{uuid.uuid4().hex[:20]}"})


class FakeSmsServer(LoopbackFake):
    """The fake API. ``script`` lists answers for the next requests in order (``"ok"``,
    ``"503"``, ``"429"``, ``"invalid_number"``, ``"hang"``); then every answer is ``"ok"``.
    ``delay`` slows every answer; ``"hang"`` holds the request until :meth:`release`."""

    handler = FakeSmsHandler

    def __init__(self, token: str = "fake-token", *, delay: float = 0.0, script: list[str] | None = None):
        super().__init__()
        self.token = token
        self.delay = delay
        self.script = list(script or [])
        self.received: list[Received] = []
        self.rejected: list[str] = []  # wire-format errors, which a test should never see
        self._released = threading.Event()

    def start(self) -> FakeSmsServer:
        self._released.clear()
        return super().start()

    def stop(self) -> None:
        self._released.set()  # held requests answer, so their threads end
        super().stop()

    def release(self) -> None:
        """Let held (``"hang"``) requests go on (they answer 503: the caller is gone)."""
        self._released.set()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until ``count`` messages arrived; answers them (fewer on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self._lock:
            return list(self.received)

    def _next_answer(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else "ok"


@contextmanager
def fake_sms_server(**kwargs) -> Iterator[FakeSmsServer]:
    server = FakeSmsServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
