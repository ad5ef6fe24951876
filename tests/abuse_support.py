"""Helpers for the abuse-defense tests: requests from chosen IPs, number series, the
Mann-Whitney U test, and a reader of the security log."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import CHECK_URL, REQUEST_URL

SECURITY_LOGGER = "django_sms_verify.security"


def request_code(api, phone: str, *, ip: str = "198.51.100.1", usage_type: str = "SignIn", **extra):
    return api.post(
        REQUEST_URL, {"phone": phone, "usage_type": usage_type}, format="json", REMOTE_ADDR=ip, **extra
    )


def check_code(api, phone: str, code: str, *, ip: str = "198.51.100.1", usage_type: str = "SignIn"):
    return api.post(
        CHECK_URL, {"phone": phone, "usage_type": usage_type, "code": code}, format="json", REMOTE_ADDR=ip
    )


def rotating_ip(n: int) -> str:
    """A different documentation-range address for each n (up to 65 536)."""
    return f"203.0.{n // 256 % 256}.{n % 256}"


def cn_numbers(block: str, count: int, start: int = 0) -> list[str]:
    """Consecutive China Mobile numbers in one block: ``block`` is the E.164 number
    without its last 4 digits, e.g. ``+861380013``."""
    return [f"{block}{n:04d}" for n in range(start, start + count)]


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation with the tie
    correction; fine for samples of a few hundred)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        ties = j - i + 1
        tie_term += ties**3 - ties
        i = j + 1
    rank_sum_a = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum_a - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - mean) - 0.5) / math.sqrt(variance)
    return math.erfc(max(z, 0) / math.sqrt(2))


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.everything: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.everything.append(text)
        if record.name == SECURITY_LOGGER:
            self.lines.append(text)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@contextmanager
def captured_logs() -> Iterator[_Collector]:
    """Every record of the app's loggers; ``.lines`` are the security log's raw lines."""
    collector = _Collector()
    root = logging.getLogger("django_sms_verify")
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(collector)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(old_level)


__all__ = ["CHECK_URL", "REQUEST_URL"]


@pytest.fixture
def roomy_cache(settings):
    """LocMemCache keeps 300 entries by default and culls the rest, rate-limit counters
    included; tests that count thousands of keys give it room (Redis needs none)."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        settings.CACHES = {"default": {**settings.CACHES["default"], "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
    yield
