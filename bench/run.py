#!/usr/bin/env python
"""Benchmark: the testproject under gunicorn (1 sync worker) on SQLite and PostgreSQL.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python bench/run.py                 # the full run (a few minutes per database)
    .venv/bin/python bench/run.py --quick         # seconds: small sizes, short phases
    .venv/bin/python bench/run.py --db sqlite --markdown /tmp/results.md

For each database, in a fresh database:

1. throughput: requests/s, p50 and p99 of ``POST verifications/`` (tasks mode),
   ``POST verifications/check/`` (right codes) and of the *floor* (``POST bench/floor/``: a
   bare DRF view that parses the number with phonenumbers and INSERTs one row), measured
   in the same run, interleaved, best of ``--rounds``; each as a ratio to the floor and
   to the two *same-writes floors* (the verification, message and task a request writes,
   and nothing else: ``bench/floor-writes/`` by the ORM and the Tasks API,
   ``bench/floor-writes-sql/`` by the fewest statements);
2. SQL queries per call, counted in process with ``CaptureQueriesContext``;
3. size: the same with SIZE_SMALL and then SIZE_LARGE stored verifications and messages
   (seeded with INSERT ... SELECT: generate_series on PostgreSQL, a recursive CTE on
   SQLite), and the ratio;
4. a provider answering after 200 ms: requests/s of ``POST verifications/`` in sync mode
   and in tasks mode (with a db_worker running);
5. 1 000 notifications through ``services.send_notifications`` and a real db_worker,
   which is killed half way and replaced: delivered, lost, sent twice.

Every load is bounded in time and count and targets 127.0.0.1 only. PostgreSQL is
expected at postgres://postgres@127.0.0.1:5432 (a database ``bench_sms_verify`` is
created and dropped). Rate limits are raised through SMS_VERIFY_* variables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTPROJECT = REPO / "testproject"
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

from load import LoadResult, run_load  # noqa: E402

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DB = "bench_sms_verify"
CODE = "123456"
# Numbers: requests +86137…, checks +86136…, bulk +86134…, seeded history +86135…,
# the same-writes floors +86132… (ORM) and +86131… (fewest statements)
REQUEST_PREFIX, CHECK_PREFIX, BULK_PREFIX, SEED_PREFIX = "+86137", "+86136", "+86134", "+86135"
WRITES_PREFIX = "+86132"
LEAN_PREFIX = "+86131"
ALIASES = ("default", "large")
ENDPOINTS = ("floor", "floor_writes", "floor_lean", "request", "check")
COUNTED = ("request", "check", "floor_writes", "floor_lean")  # endpoints that need a new number per call


# --- the parent: one child per database, then the table ------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes (development)")
    parser.add_argument("--seconds", type=float, default=None, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, best kept")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sizes", default=None, help="small,large stored rows (default 10000,1000000)")
    parser.add_argument("--bulk", type=int, default=None, help="notifications in the bulk run")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.seconds = args.seconds or (1.5 if args.quick else 6.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.sizes = args.sizes or ("1000,20000" if args.quick else "10000,1000000")
    args.bulk = args.bulk or (100 if args.quick else 1000)
    if args.child:
        Child(args).run()
        return

    results = {}
    load_before = os.getloadavg()
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            result_path = handle.name
        command = [sys.executable, __file__, "--child", db, "--result", result_path]
        for option in ("seconds", "rounds", "concurrency", "sizes", "bulk"):
            command += [f"--{option}", str(getattr(args, option))]
        print(f"== {db}", flush=True)
        subprocess.run(command, check=True)
        results[db] = json.loads(Path(result_path).read_text())
        os.unlink(result_path)
    args.load_averages = (load_before, os.getloadavg())
    text = report(results, args)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model or platform.processor()}), {platform.system()} {platform.release()}"
    )


def report(results: dict, args) -> str:
    lines = [
        f"machine: {machine()}; Python {platform.python_version()}",
        f"load: {args.concurrency} client threads on loopback, {args.seconds:g} s per measurement, "
        f"best of {args.rounds} interleaved rounds; gunicorn 1 sync worker",
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(
            *args.load_averages[0], *args.load_averages[1]
        ),
        "",
    ]
    for db, r in results.items():
        lines += [
            f"### {db} ({r['versions']})",
            "",
            f"Throughput with {r['size_small']['rows']} stored verifications (+ as many messages):",
            "",
            "| endpoint | requests/s | p50 ms | p99 ms | x floor | x same-writes floor (ORM) "
            "| x same-writes floor (fewest statements) | SQL queries |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        small = r["size_small"]["load"]
        floor_rps, writes_rps = small["floor"]["rps"], small["floor_writes"]["rps"]
        lean_rps = small["floor_lean"]["rps"]
        for name, label in (
            ("floor", "floor (bench/floor/)"),
            ("floor_writes", "same-writes floor (bench/floor-writes/)"),
            ("floor_lean", "same writes, fewest statements (bench/floor-writes-sql/)"),
            ("request", "request, tasks mode"),
            ("check", "check"),
        ):
            m = small[name]
            lines.append(
                f"| {label} | {m['rps']:.0f} | {m['p50']:.1f} | {m['p99']:.1f} | "
                f"{m['rps'] / floor_rps:.2f} | {m['rps'] / writes_rps:.2f} | {m['rps'] / lean_rps:.2f} "
                f"| {r['queries'][name]} |"
            )
        lines.append(
            f"| request, sync mode (instant provider) | | | | | | | {r['queries']['request_sync']} |"
        )
        lines.append(f"| GET verifications/<id>/ | | | | | | | {r['queries']['status']} |")
        large = r["size_large"]["load"]
        lines += [
            "",
            f"Size: {r['size_small']['rows']} vs {r['size_large']['rows']} stored verifications "
            f"(+ as many messages; seeding the large one took {r['size_large']['seed_seconds']:.0f} s); "
            "two databases, two servers, measured in alternation:",
            "",
            "| endpoint | rps small | rps large | large/small | x floor small | x floor large "
            "| p50 small | p50 large | p99 small | p99 large |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ENDPOINTS:
            a, b = small[name], large[name]
            lines.append(
                f"| {name} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.2f} "
                f"| {a['rps'] / small['floor']['rps']:.2f} | {b['rps'] / large['floor']['rps']:.2f} "
                f"| {a['p50']:.1f} | {b['p50']:.1f} | {a['p99']:.1f} | {b['p99']:.1f} |"
            )
        slow = r["slow_provider"]
        lines += [
            "",
            "Provider answering after 200 ms, `POST verifications/`:",
            "",
            "| mode | requests/s | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            f"| sync | {slow['sync']['rps']:.1f} | {slow['sync']['p50']:.0f} | {slow['sync']['p99']:.0f} |",
            f"| tasks (+1 db_worker) | {slow['tasks']['rps']:.1f} | {slow['tasks']['p50']:.0f} | "
            f"{slow['tasks']['p99']:.0f} |",
            f"| tasks / sync | {slow['tasks']['rps'] / slow['sync']['rps']:.0f}x | | |",
            "",
        ]
        b = r["bulk"]
        lines += [
            f"Bulk: {b['count']} notifications, 1 db_worker killed (SIGKILL) after {b['sent_at_kill']} "
            f"were sent, a new one started:",
            "",
            f"- queued in {b['enqueue_seconds']:.2f} s; all delivered after {b['deliver_seconds']:.1f} s "
            f"({b['count'] / b['deliver_seconds']:.0f}/s with one worker and an instant provider)",
            f"- delivered {b['delivered']}, lost {b['lost']}, failed {b['failed']}, "
            f"sent twice {b['duplicates']} (the send in flight when the worker died)",
            f"- the message in flight was recovered by: {b['recovered_by']}",
            "",
        ]
    return "\n".join(lines)


# --- the child: one database, Django set up in process --------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    def __init__(self, args) -> None:
        self.args = args
        self.db = args.child
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.db}-"))
        self.small, self.large = (int(x) for x in args.sizes.split(","))
        self.counters = {alias: dict.fromkeys(COUNTED, 0) for alias in ALIASES}
        self.result: dict = {}
        self.sql_log: list[str] = []

    # environment and databases --------------------------------------------------------
    # Two databases side by side: "default" seeded to the small size, "large" to the large
    # one, each served by its own gunicorn, measured in alternation so that the machine's
    # drift (other processes on the same cores) hits both sizes alike.

    def configure(self) -> None:
        env = {
            "DJANGO_SETTINGS_MODULE": "testproject.settings",
            "BENCH_FLOOR": "1",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTPROJECT)]),
            "SMS_VERIFY_IP_RATE": "1000000000/h",
            "SMS_VERIFY_PHONE_RATE": "1000/h",
            "SMS_VERIFY_PHONE_CHECK_RATE": "1000/h",
            "SMS_VERIFY_PREFIX_RATE": "1000000000/h",  # every bench number shares a few blocks
            "SMS_VERIFY_CONVERSION_MIN_SENDS": "0",  # no pumping monitor: the bench approves few codes
            "SMS_VERIFY_DELIVERY": "tasks",
            "SMS_VERIFY_PROVIDER_TIMEOUT": "1",
            "SMS_VERIFY_STALE_AFTER": "3",
        }
        if self.db == "sqlite":
            env["SQLITE_PATH"] = str(self.tmp / "small.sqlite3")
            self.db_env = {"large": {"SQLITE_PATH": str(self.tmp / "large.sqlite3")}}
        elif self.db == "postgres":
            env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
            env["DATABASE_PREPARED_STATEMENTS"] = "1"  # the floor's INSERT and our statements alike
            self.db_env = {"large": {"DATABASE_URL": f"{PG_SERVER}/{PG_DB}_large"}}
            self.recreate_postgres()
        else:
            raise SystemExit(f"unknown database {self.db!r}")
        self.db_env["default"] = {}
        os.environ.pop("REDIS_URL", None)
        os.environ.update(env)
        sys.path[:0] = [str(TESTPROJECT)]

    def recreate_postgres(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            for name in (PG_DB, f"{PG_DB}_large"):
                connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                connection.execute(f"CREATE DATABASE {name}")

    def drop_postgres(self) -> None:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            for name in (PG_DB, f"{PG_DB}_large"):
                connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def run(self) -> None:
        self.configure()
        from django.conf import settings

        large = dict(settings.DATABASES["default"])
        large["NAME"] = self.db_env["large"]["SQLITE_PATH"] if self.db == "sqlite" else f"{PG_DB}_large"
        settings.DATABASES["large"] = large
        import django

        django.setup()
        from django.core.management import call_command

        from tests.fakes.http_sms import FakeSmsServer

        self.fake = FakeSmsServer().start()
        try:
            for alias in ALIASES:
                call_command("migrate", database=alias, verbosity=0)
                self.setup_connector(alias)
            self.result["versions"] = self.versions()
            self.sizes()
            self.result["queries"] = self.count_queries()
            self.result["slow_provider"] = self.slow_provider()
            self.result["bulk"] = self.bulk()
        finally:
            self.fake.stop()
            if self.db == "postgres":
                self.drop_postgres()
        Path(self.args.result).write_text(json.dumps(self.result))

    def versions(self) -> str:
        import django
        import gunicorn
        from django.db import connection

        with connection.cursor() as cursor:
            if self.db == "postgres":
                cursor.execute("SHOW server_version")
                db = "PostgreSQL " + cursor.fetchone()[0].split()[0]
            else:
                cursor.execute("select sqlite_version()")
                db = "SQLite " + cursor.fetchone()[0] + ", WAL"
        return f"{db}, Django {django.get_version()}, gunicorn {gunicorn.__version__}"

    def setup_connector(self, alias: str) -> None:
        from django_sms_verify.models import Connector, Template

        Connector.objects.using(alias).update(is_active=False)  # the seeded console connector prints
        connector = Connector(name="bench", provider="fakehttp", priority=1, base_url=self.fake.url)
        connector.set_secrets({"token": self.fake.token})
        connector.save(using=alias)
        for usage in ("Register", "SignIn", "ForgotPassword"):
            Template.objects.using(alias).create(
                connector=connector, usage_type=usage, content="Your code is <<code>> (<<ttl_minutes>> min)"
            )
        Template.objects.using(alias).create(
            connector=connector, usage_type="Generic", content="Order <<order>> shipped"
        )

    # seeding -----------------------------------------------------------------------------

    def stored(self, alias: str = "default") -> int:
        from django_sms_verify.models import Verification

        return Verification.objects.using(alias).count()

    def seed_history(self, alias: str, target: int) -> float:
        """Grow the verifications (and one message each) to ``target`` rows: old
        sign-ins, approved, expired or failed, spread over 30 days."""
        from django.db import connections, transaction

        start = self.stored(alias)
        began = time.monotonic()
        batch = 200_000
        for low in range(start, target, batch):
            high = min(target, low + batch) - 1
            with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                if self.db == "postgres":
                    cursor.execute(SEED_POSTGRES, [SEED_PREFIX, low, high])
                else:
                    cursor.execute(SEED_SQLITE_VERIFICATIONS, [low, high, SEED_PREFIX])
                    cursor.execute(SEED_SQLITE_MESSAGES, [low, high])
        with connections[alias].cursor() as cursor:
            cursor.execute("ANALYZE")
        return time.monotonic() - began

    def seed_checks(self, count: int, alias: str = "default") -> None:
        """Pending verifications whose code is known, for the check endpoint."""
        from datetime import timedelta

        from django.db import connections
        from django.utils import timezone

        from django_sms_verify import crypto
        from django_sms_verify.models import Verification

        now = timezone.now()
        encrypted = crypto.encrypt(CODE)
        rows = []
        for i in range(count):
            verification = Verification(
                phone=f"{CHECK_PREFIX}{i:08d}",
                usage_type="SignIn",
                send_count=1,
                last_sent_at=now,
                expires_at=now + timedelta(hours=1),
                code_encrypted=encrypted,
            )
            verification.code_digest = crypto.code_digest(verification.phone, "SignIn", CODE)
            rows.append(verification)
        Verification.objects.using(alias).bulk_create(rows, batch_size=2000)
        with connections[alias].cursor() as cursor:
            # Statistics as autovacuum would keep them: a planner that still believes the
            # table holds only the seeded history may scan it whole.
            cursor.execute("ANALYZE")
        self.counters[alias] = dict.fromkeys(COUNTED, 0)

    def clean_run_rows(self, alias: str = "default") -> None:
        """Remove what the measurements wrote, so the stored size stays what was seeded."""
        from django.db import connections

        with connections[alias].cursor() as cursor:
            cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")
            cursor.execute("DELETE FROM benchfloor_floorrow")
            for prefix in (REQUEST_PREFIX, CHECK_PREFIX, BULK_PREFIX, WRITES_PREFIX, LEAN_PREFIX):
                cursor.execute('DELETE FROM sms_verify_message WHERE "to" LIKE %s', [prefix + "%"])
                cursor.execute("DELETE FROM sms_verify_verification WHERE phone LIKE %s", [prefix + "%"])
            cursor.execute("ANALYZE")
        self.counters[alias] = dict.fromkeys(COUNTED, 0)

    # load ----------------------------------------------------------------------------------

    def request_body(self, i: int, alias: str = "default") -> dict:
        n = self.counters[alias]["request"] + i
        return {"phone": f"{REQUEST_PREFIX}{n:08d}", "usage_type": "SignIn"}

    def check_body(self, i: int, alias: str = "default") -> dict:
        n = self.counters[alias]["check"] + i
        return {"phone": f"{CHECK_PREFIX}{n:08d}", "usage_type": "SignIn", "code": CODE}

    def load(
        self, port: int, name: str, seconds: float | None = None, max_requests=50_000, alias="default"
    ) -> LoadResult:
        seconds = seconds or self.args.seconds
        if name == "floor":
            path, body, expected = "/bench/floor/", (lambda i: {"phone": f"+86133{i % 10**8:08d}"}), 202
        elif name == "floor_lean":
            path, body, expected = (
                "/bench/floor-writes-sql/",
                (lambda i: {"phone": f"{LEAN_PREFIX}{self.counters[alias]['floor_lean'] + i:08d}"}),
                202,
            )
        elif name == "floor_writes":
            path, body, expected = (
                "/bench/floor-writes/",
                (lambda i: {"phone": f"{WRITES_PREFIX}{self.counters[alias]['floor_writes'] + i:08d}"}),
                202,
            )
        elif name == "request":
            path, body, expected = (
                "/api/sms-verify/verifications/",
                (lambda i: self.request_body(i, alias)),
                202,
            )
        else:
            path, body, expected = (
                "/api/sms-verify/verifications/check/",
                (lambda i: self.check_body(i, alias)),
                200,
            )
        result = run_load(
            port, path, body, seconds=seconds, concurrency=self.args.concurrency, max_requests=max_requests
        )
        if name in COUNTED:
            self.counters[alias][name] += result.requests
        bad = result.unexpected(expected)
        if bad:
            raise SystemExit(f"{name}: {bad} unexpected answers: {dict(result.statuses)}")
        return result

    def sizes(self) -> None:
        """Floor, request and check on both sizes, interleaved; the best round of each."""
        sizes = {"default": self.small, "large": self.large}
        for alias, size in sizes.items():
            seconds = self.seed_history(alias, size)
            self.result[f"seed_seconds_{alias}"] = seconds
            print(
                f"   {self.db}/{alias}: {self.stored(alias)} stored verifications ({seconds:.1f} s)",
                flush=True,
            )
        rows = {alias: self.stored(alias) for alias in sizes}
        budget = int(self.args.seconds * 3000)
        best: dict[tuple[str, str], LoadResult] = {}
        servers = {
            alias: Gunicorn(
                {"SMS_VERIFY_DELIVERY": "tasks", **self.db_env[alias]}, self.tmp / f"gunicorn-{alias}.log"
            )
            for alias in sizes
        }
        with servers["default"], servers["large"]:
            for alias, server in servers.items():
                self.seed_checks(budget * self.args.rounds + 500, alias)
                for name in ENDPOINTS:
                    self.load(server.port, name, seconds=0.5, max_requests=200, alias=alias)  # warm up
            for _ in range(self.args.rounds):
                for alias, server in servers.items():
                    for name in ENDPOINTS:
                        result = self.load(server.port, name, max_requests=budget, alias=alias)
                        if (alias, name) not in best or result.rps > best[alias, name].rps:
                            best[alias, name] = result
        for alias in sizes:
            self.clean_run_rows(alias)
        for alias, key in (("default", "size_small"), ("large", "size_large")):
            load = {
                name: {"rps": r.rps, "p50": r.percentile(50), "p99": r.percentile(99), "n": r.requests}
                for (a, name), r in best.items()
                if a == alias
            }
            self.result[key] = {
                "rows": rows[alias],
                "seed_seconds": self.result[f"seed_seconds_{alias}"],
                "load": load,
            }
            for name, m in load.items():
                print(
                    f"   {key} {name}: {m['rps']:.0f}/s p50 {m['p50']:.1f} ms p99 {m['p99']:.1f} ms",
                    flush=True,
                )

    # queries -------------------------------------------------------------------------------

    def count_queries(self) -> dict:
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, override_settings

        from django_sms_verify.conf import app_settings
        from django_sms_verify.sending import connector_cache

        self.seed_checks(10)
        client = Client()

        def count(method, path, body=None) -> int:
            with CaptureQueriesContext(connection) as queries:
                if method == "post":
                    response = client.post(path, body, content_type="application/json")
                else:
                    response = client.get(path)
            assert response.status_code in (200, 202), response.content
            # Transaction control is not counted: psycopg sends BEGIN/COMMIT without Django
            # logging them, SQLite runs its BEGIN in process.
            sql = [q["sql"] for q in queries.captured_queries]
            statements = [
                q for q in sql if not q.upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"))
            ]
            self.sql_log.append(f"{method.upper()} {path}:\n" + "\n".join(f"  {q[:110]}" for q in sql))
            return len(statements)

        connector_cache.active_connectors()  # warm, as in a running server
        counts = {
            "floor": count("post", "/bench/floor/", {"phone": "+8613300000001"}),
            "floor_writes": count("post", "/bench/floor-writes/", {"phone": f"{WRITES_PREFIX}90000000"}),
            "floor_lean": count("post", "/bench/floor-writes-sql/", {"phone": f"{LEAN_PREFIX}90000000"}),
            "request": count("post", "/api/sms-verify/verifications/", self.request_body(90_000_000)),
            "check": count("post", "/api/sms-verify/verifications/check/", self.check_body(1)),
        }
        response = client.post(
            "/api/sms-verify/verifications/", self.request_body(90_000_001), content_type="application/json"
        )
        counts["status"] = count("get", f"/api/sms-verify/verifications/{response.json()['id']}/")
        with override_settings(SMS_VERIFY={**app_settings._user_settings(), "DELIVERY": "sync"}):
            connector_cache.active_connectors()
            counts["request_sync"] = count(
                "post", "/api/sms-verify/verifications/", self.request_body(90_000_002)
            )
        self.clean_run_rows()
        print(f"   queries: {counts}", flush=True)
        (self.tmp / "queries.txt").write_text("\n\n".join(self.sql_log))
        print(f"   the SQL of each: {self.tmp / 'queries.txt'}", flush=True)
        return counts

    # slow provider ---------------------------------------------------------------------------

    def slow_provider(self) -> dict:
        self.fake.delay = 0.2
        out = {}
        try:
            with Gunicorn({"SMS_VERIFY_DELIVERY": "sync"}, self.tmp / "gunicorn-sync.log") as server:
                self.load(server.port, "request", seconds=1, max_requests=20)
                out["sync"] = self.load(server.port, "request", max_requests=2000)
            with (
                Gunicorn({"SMS_VERIFY_DELIVERY": "tasks"}, self.tmp / "gunicorn-tasks.log") as server,
                DbWorker(self.tmp / "worker-slow.log"),
            ):
                self.load(server.port, "request", seconds=0.5, max_requests=200)
                out["tasks"] = self.load(server.port, "request")
        finally:
            self.fake.delay = 0.0
        self.clean_run_rows()
        result = {k: {"rps": r.rps, "p50": r.percentile(50), "p99": r.percentile(99)} for k, r in out.items()}
        print(
            f"   200 ms provider: sync {result['sync']['rps']:.1f}/s, tasks {result['tasks']['rps']:.1f}/s",
            flush=True,
        )
        return result

    # bulk ----------------------------------------------------------------------------------

    def bulk(self) -> dict:
        from collections import Counter

        from django_sms_verify import services
        from django_sms_verify.models import Message, MessageStatus

        count = self.args.bulk
        self.fake.received.clear()
        phones = [f"{BULK_PREFIX}{i:08d}" for i in range(count)]
        began = time.monotonic()
        summary = services.send_notifications(phones, "Generic", {"order": "B-1"})
        enqueue_seconds = time.monotonic() - began
        ids = summary.message_ids

        def sent() -> int:
            return Message.objects.filter(pk__in=ids, status=MessageStatus.SENT).count()

        began = time.monotonic()
        first = DbWorker(self.tmp / "worker-bulk-1.log").start()
        deadline = time.monotonic() + 300
        while sent() < count // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()
        sent_at_kill = sent()
        recovered_by = "the new worker's own recovery (STALE_AFTER=3 s)"
        with DbWorker(self.tmp / "worker-bulk-2.log"):
            progress, last_change = sent(), time.monotonic()
            while progress < count and time.monotonic() < deadline:
                time.sleep(0.1)
                now_sent = sent()
                if now_sent != progress:
                    progress, last_change = now_sent, time.monotonic()
                elif time.monotonic() - last_change > 4:
                    # No task is left to run, so no worker recovers the lost one: cron's turn.
                    done = subprocess.run(
                        [sys.executable, str(TESTPROJECT / "manage.py"), "sms_verify_requeue"],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    if not done.stdout.startswith("Requeued 0"):
                        recovered_by = "manage.py sms_verify_requeue (no task was left to run it)"
                    last_change = time.monotonic()
            deliver_seconds = time.monotonic() - began
        statuses = Counter(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
        references = Counter(r.reference for r in self.fake.received)
        result = {
            "count": count,
            "queued": summary.queued,
            "enqueue_seconds": enqueue_seconds,
            "deliver_seconds": deliver_seconds,
            "sent_at_kill": sent_at_kill,
            "delivered": statuses.get(MessageStatus.SENT, 0),
            "failed": statuses.get(MessageStatus.FAILED, 0),
            "lost": count - sum(1 for i in ids if references[i] >= 1),
            "duplicates": sum(n - 1 for n in references.values() if n > 1),
            "recovered_by": recovered_by,
        }
        print(f"   bulk: {result}", flush=True)
        return result


# --- processes ---------------------------------------------------------------------------


class Gunicorn:
    """The testproject under gunicorn, 1 sync worker, on a free loopback port."""

    def __init__(self, env: dict, log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.port = free_port()

    def __enter__(self) -> Gunicorn:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "testproject.wsgi:application",
                    "--workers=1",
                    "--worker-class=sync",
                    f"--bind=127.0.0.1:{self.port}",
                    f"--chdir={TESTPROJECT}",
                    "--log-level=warning",
                    "--backlog=2048",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"gunicorn exited; see {self.log}") from None
                time.sleep(0.1)
        raise SystemExit("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        stop(self.process)


class DbWorker:
    """``manage.py db_worker`` of the database backend, polling every 100 ms."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def start(self) -> DbWorker:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(TESTPROJECT / "manage.py"),
                    "db_worker",
                    "--interval=0.1",
                    "--no-startup-delay",
                    "--no-reload",
                    "--verbosity=0",
                ],
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def __enter__(self) -> DbWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            stop(self.process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s: every process the bench starts ends with it."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- seeding SQL ---------------------------------------------------------------------------

# Old verifications (approved, expired, failed) and one delivered message each, created
# over the last 30 days; numbers +86135… (never the ones the measurements use).
SEED_POSTGRES = """
WITH v AS (
    INSERT INTO sms_verify_verification (
        id, phone, usage_type, channel, status, code_digest, code_encrypted, send_count,
        check_attempts, created_at, expires_at, last_sent_at, approved_at, token_used_at
    )
    SELECT gen_random_uuid(),
           %s || lpad((i %% 100000000)::text, 8, '0'),
           (ARRAY['SignIn', 'Register', 'ForgotPassword'])[1 + i %% 3],
           'sms',
           (ARRAY['approved', 'expired', 'failed', 'approved'])[1 + i %% 4],
           md5(i::text) || md5((i + 1)::text), '', 1, 0,
           now() - make_interval(secs => 60 + i %% 2592000),
           now() - make_interval(secs => 60 + i %% 2592000) + interval '10 minutes',
           now() - make_interval(secs => 60 + i %% 2592000),
           NULL, NULL
    FROM generate_series(%s::bigint, %s::bigint) AS i
    RETURNING id, phone, usage_type, created_at
)
INSERT INTO sms_verify_message (
    id, kind, verification_id, connector_id, connector_name, provider, "to", usage_type,
    channel, body, status, provider_message_id, error_code, error_message, attempts, context,
    created_at, updated_at, sent_at, delivered_at
)
SELECT gen_random_uuid(), 'verification', v.id, NULL, 'bench', 'fakehttp', v.phone, v.usage_type,
       'sms', 'Your code is ****** (10 min)', 'delivered', 'seed-' || v.id::text, '', '', '[]', '{}',
       v.created_at, v.created_at, v.created_at, v.created_at
FROM v
"""

SEED_SQLITE_VERIFICATIONS = """
WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
INSERT INTO sms_verify_verification (
    id, phone, usage_type, channel, status, code_digest, code_encrypted, send_count,
    check_attempts, created_at, expires_at, last_sent_at, approved_at, token_used_at
)
SELECT printf('5eed%028x', i),
       ? || printf('%08d', i % 100000000),
       CASE i % 3 WHEN 0 THEN 'SignIn' WHEN 1 THEN 'Register' ELSE 'ForgotPassword' END,
       'sms',
       CASE i % 4 WHEN 1 THEN 'expired' WHEN 2 THEN 'failed' ELSE 'approved' END,
       printf('%064x', i), '', 1, 0,
       datetime('now', printf('-%d seconds', 60 + i % 2592000)),
       datetime('now', printf('%+d seconds', 540 - i % 2592000)),
       datetime('now', printf('-%d seconds', 60 + i % 2592000)),
       NULL, NULL
FROM seq
"""

SEED_SQLITE_MESSAGES = """
WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
INSERT INTO sms_verify_message (
    id, kind, verification_id, connector_id, connector_name, provider, "to", usage_type,
    channel, body, status, provider_message_id, error_code, error_message, attempts, context,
    created_at, updated_at, sent_at, delivered_at
)
SELECT printf('3e55%028x', i), 'verification', v.id, NULL, 'bench', 'fakehttp', v.phone, v.usage_type,
       'sms', 'Your code is ****** (10 min)', 'delivered', 'seed-' || i, '', '', '[]', '{}',
       v.created_at, v.created_at, v.created_at, v.created_at
FROM seq JOIN sms_verify_verification AS v ON v.id = printf('5eed%028x', seq.i)
"""


if __name__ == "__main__":
    main()
