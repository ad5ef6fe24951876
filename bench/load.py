"""A small closed-loop load generator for loopback: threads, ``http.client``, one
connection per request (gunicorn's sync workers close it after each answer anyway).

Bounded twice: by a duration and by a request count, whichever comes first.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    statuses: Counter

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency in milliseconds at percentile ``p`` (0-100), nearest rank."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    def unexpected(self, expected: int) -> int:
        return sum(count for status, count in self.statuses.items() if status != expected)


def run_load(
    port: int,
    path: str,
    body: Callable[[int], dict],
    *,
    seconds: float,
    concurrency: int = 4,
    max_requests: int = 50_000,
    host: str = "127.0.0.1",
) -> LoadResult:
    """POST ``body(i)`` as JSON to ``path`` from ``concurrency`` threads for ``seconds``."""
    numbers = itertools.count()
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def worker() -> None:
        own_latencies, own_statuses = [], Counter()
        while time.monotonic() < deadline:
            i = next(numbers)
            if i >= max_requests:
                break
            data = json.dumps(body(i)).encode()
            started = time.perf_counter()
            connection = http.client.HTTPConnection(host, port, timeout=30)
            try:
                connection.request(
                    "POST",
                    path,
                    body=data,
                    headers={"Content-Type": "application/json", "Connection": "close"},
                )
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = 0
            finally:
                connection.close()
            own_latencies.append(time.perf_counter() - started)
            own_statuses[status] += 1
        with lock:
            latencies.extend(own_latencies)
            statuses.update(own_statuses)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return LoadResult(requests=len(latencies), seconds=elapsed, latencies=latencies, statuses=statuses)
