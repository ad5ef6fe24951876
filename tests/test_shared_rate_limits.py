"""Two server processes of the testproject sharing one Redis enforce one phone limit between them.

The servers are real ``manage.py runserver`` processes on 127.0.0.1 with a fresh SQLite file, a
Redis database apart from the suite's and a key prefix of their own (so runs never see each
other's counters). Requests for one phone
alternate between the servers; exactly the requests beyond ``PHONE_RATE`` get 429.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

SUITE_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The servers' own database on that Redis (with a prefix of their own as well): other runs'
# cache.clear() on database 0 is FLUSHDB, which would wipe the counters under test.
SERVERS_REDIS_DB = 15
REDIS_URL = urlunsplit(urlsplit(SUITE_REDIS_URL)._replace(path=f"/{SERVERS_REDIS_DB}"))
MANAGE = Path(__file__).resolve().parent.parent / "testproject" / "manage.py"
PHONE_LIMIT = 3
ATTEMPTS = 7


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not redis_reachable(), reason=f"needs Redis at {REDIS_URL}"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_env(tmp_path):
    prefix = f"test-shared-rl-{uuid.uuid4().hex}"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SMS_VERIFY_", "DJANGO_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="testproject.settings",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
        SMS_VERIFY_PHONE_RATE=f"{PHONE_LIMIT}/h",
        SMS_VERIFY_RESEND_INTERVAL="0",
        SMS_VERIFY_IP_RATE="1000/h",
        SMS_VERIFY_MAX_SENDS="10",
        PYTHONUNBUFFERED="1",
    )
    yield env
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def two_servers(server_env, tmp_path):
    """Migrate once, then start two servers; they are stopped whatever the test does."""
    subprocess.run(
        [sys.executable, str(MANAGE), "migrate", "--noinput", "-v", "0"],
        env=server_env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    servers: list[tuple[subprocess.Popen, str]] = []
    try:
        for index in range(2):
            port = free_port()
            log = open(tmp_path / f"server{index}.log", "wb")  # noqa: SIM115  (closed below)
            process = subprocess.Popen(
                [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so nothing it starts outlives it
            )
            log.close()
            servers.append((process, f"http://127.0.0.1:{port}"))
        for process, origin in servers:
            wait_until_serving(process, origin, tmp_path)
        yield [origin for _, origin in servers]
    finally:
        for process, _ in servers:
            stop(process)


def wait_until_serving(process: subprocess.Popen, origin: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logs = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("server*.log"))
            pytest.fail(f"server exited with {process.returncode}:\n{logs}")
        status, _, _ = post(origin, {})  # any answer from our view means it is up
        if status == 400:
            return
        time.sleep(0.1)
    pytest.fail(f"{origin} did not start in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def post(origin: str, body: dict) -> tuple[int, dict, dict]:
    """POST to the verification endpoint: (status, JSON body, headers); (0, {}, {}) if not up."""
    request = urllib.request.Request(
        f"{origin}/api/sms-verify/verifications/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, {}


def send_alternately(origins: list[str], phone: str) -> list[tuple[int, dict, dict]]:
    answers = []
    for attempt in range(ATTEMPTS):
        origin = origins[attempt % len(origins)]
        answers.append(post(origin, {"phone": phone, "usage_type": "SignIn"}))
    return answers


def test_two_servers_sharing_redis_enforce_one_phone_limit(two_servers):
    for phone in ("+8613800138000", "+8613800138001"):
        hour = int(time.time() // 3600)
        answers = send_alternately(two_servers, phone)
        if int(time.time() // 3600) == hour:
            break  # one fixed rate window throughout: the counts are meaningful
        # The rate window turned over mid-run (a one-in-thousands chance): try once more.
    statuses = [status for status, _, _ in answers]
    assert statuses == [202] * PHONE_LIMIT + [429] * (ATTEMPTS - PHONE_LIMIT), answers
    # Both servers sent codes and both refused: the limit is shared, not per process.
    assert {statuses[0], statuses[1]} == {202}
    assert set(statuses[-2:]) == {429}
    for _status, body, headers in answers[PHONE_LIMIT:]:
        assert body["code"] == "throttled"
        assert 1 <= int(headers["Retry-After"]) <= 3600
    # One verification, sent again on both servers with the same id (they share the database).
    ids = {body["id"] for status, body, _ in answers if status == 202}
    assert len(ids) == 1
