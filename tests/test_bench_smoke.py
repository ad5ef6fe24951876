"""bench/run.py keeps working: a very short SQLite run prints its tables.

Only the exact figures are asserted (SQL statements per call, messages lost); throughput
is what the script reports, not something a test can hold to on a shared machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="run once per suite, in the SQLite pass"
)


def cells(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_benchmark_runs_and_prints_its_figures(tmp_path):
    results = tmp_path / "results.md"
    command = [sys.executable, "bench/run.py", "--db", "sqlite", "--quick", "--seconds", "0.4"]
    command += ["--sizes", "200,400", "--bulk", "20", "--markdown", str(results)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    text = results.read_text()
    assert int(cells(text, "floor (bench/floor/)")[-1]) == 1
    assert int(cells(text, "same writes, fewest statements (bench/floor-writes-sql/)")[-1]) == 3
    assert int(cells(text, "request, tasks mode")[-1]) <= 4
    assert int(cells(text, "check")[-1]) <= 3
    assert "delivered 20, lost 0" in text


def test_the_parts_script_times_every_part():
    command = [sys.executable, "bench/parts.py", "--calls", "50"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    rows = [line.rsplit(None, 1) for line in finished.stdout.splitlines()[1:]]
    assert [label.split(":")[0].strip() for label, _ in rows] == [
        "rate limits",
        "number checks",
        "code",
        "security log line",
        "sum",
    ]
    figures = [float(value) for _, value in rows]
    assert all(value > 0 for value in figures)
    assert abs(sum(figures[:-1]) - figures[-1]) < 0.2  # the sum is of the parts shown
