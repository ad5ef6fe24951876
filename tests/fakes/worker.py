"""Real worker processes for the tests: ``manage.py db_worker`` (the django-tasks database
backend's worker) and management commands, run as subprocesses against the test database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


class WorkerEnv:
    """What a subprocess needs to share the running test's database, cache and settings."""

    def __init__(self, cache_dir: Path, log_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
            "SMS_VERIFY_TEST_DB": str(connection.settings_dict["NAME"]),
            "SMS_VERIFY_TEST_CACHE_DIR": str(self.cache_dir),
            "SMS_VERIFY_JSON": json.dumps(settings.SMS_VERIFY),
            "PYTHONPATH": str(REPO),
        }

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        """A ``db_worker`` polling every 50 ms; stopped at the end of the test."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "db_worker",
                "--interval",
                "0.05",
                "--no-startup-delay",
                "--no-reload",
                "--worker-id",
                name,
            ],
            cwd=REPO,
            env=self.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def manage(self, *args: str) -> str:
        """Run a management command in its own process; answers its output."""
        done = subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=REPO,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def log(self, name: str = "worker") -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def kill(process: subprocess.Popen) -> None:
    """Kill a worker as a crash or an OOM killer would: no chance to clean up."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05):
    """Poll ``predicate`` until it answers something true; answers that (or fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def tasks_settings(settings, tmp_path, **overrides) -> WorkerEnv:
    """Switch the running test to tasks mode with a cache that worker processes share;
    answers the :class:`WorkerEnv` to start them with (stop them with ``stop_all``)."""
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(exist_ok=True)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(cache_dir),
        }
    }
    settings.SMS_VERIFY = {
        "DELIVERY": "tasks",
        "PROVIDER_TIMEOUT": 1,
        "STALE_AFTER": 2,
        "RETRY_ATTEMPTS": 2,
        "RETRY_BASE_DELAY": 0.5,
        "RETRY_MAX_DELAY": 5,
        **overrides,
    }
    return WorkerEnv(cache_dir, tmp_path)
