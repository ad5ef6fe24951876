"""The testproject as the README's demo runs it: fresh SQLite, seeded console connector,
the code on the server's console, and a check that answers a verification token."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "testproject" / "manage.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def demo_server(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(SQLITE_PATH=str(tmp_path / "demo.sqlite3"), PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, str(MANAGE), "migrate", "--noinput", "-v0"], env=env, check=True, timeout=120
    )
    port = _free_port()
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield base, log
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_demo_request_shows_code_on_console_and_check_answers_token(demo_server):
    base, log = demo_server
    status, body = _post(
        base + "/api/sms-verify/verifications/", {"phone": "+8613800138000", "usage_type": "SignIn"}
    )
    assert status == 202, body
    assert body["status"] == "pending" and body["phone"] == "+8613800138000"

    code = None
    for _ in range(50):
        log.seek(0)
        found = re.search(r"via console: .*? (\d{6})\b", log.read())
        if found:
            code = found.group(1)
            break
        time.sleep(0.1)
    assert code, "the code did not appear on the server's console"

    status, body = _post(
        base + "/api/sms-verify/verifications/check/",
        {"phone": "+8613800138000", "usage_type": "SignIn", "code": code},
    )
    assert status == 200, body
    assert body["status"] == "approved" and body["verification_token"]

    with urllib.request.urlopen(base + "/api/schema/", timeout=10) as response:
        assert b"/api/sms-verify/verifications/" in response.read()
    with urllib.request.urlopen(base + "/", timeout=10) as response:
        assert b"request-form" in response.read()

    # a Chinese browser gets the sign-in page from the demo app's own zh_Hans catalog
    request = urllib.request.Request(base + "/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    with urllib.request.urlopen(request, timeout=10) as response:
        page = response.read().decode()
    assert '<html lang="zh-hans">' in page
    assert "<title>手机号登录</title>" in page and "获取验证码" in page and "Send code" not in page
