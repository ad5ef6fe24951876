#!/usr/bin/env python
"""What a code request must do besides its writes, timed in process, part by part.

    .venv/bin/python bench/parts.py [--calls 20000]

Prints microseconds per call for each part of ``POST verifications/`` that is not a row
written (the rate limits on the local-memory cache, the number's checks, the code's
generation, keyed hash and encryption, the security log line), and their sum. With the
floors of ``bench/run.py`` this bounds the request's throughput from above: at best it
takes the time of the same writes by the fewest statements plus this sum
(``bench/RESULTS.md``). No database and no network: the parts only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "testproject")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "testproject.settings",
            "DJANGO_DEBUG": "0",
            "SQLITE_PATH": str(Path(tempfile.mkdtemp(prefix="bench-parts-")) / "db.sqlite3"),
            # As bench/run.py runs the server: limits high enough for its load, no monitor.
            "SMS_VERIFY_IP_RATE": "1000000000/h",
            "SMS_VERIFY_PHONE_RATE": "1000/h",
            "SMS_VERIFY_PREFIX_RATE": "1000000000/h",
            "SMS_VERIFY_CONVERSION_MIN_SENDS": "0",
        }
    )
    import django

    django.setup()
    # The security log goes to a file, as gunicorn's output does in bench/run.py.
    log_file = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger("django_sms_verify").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)

    from django_sms_verify import crypto
    from django_sms_verify.abuse import guards
    from django_sms_verify.abuse.security_log import security_event
    from django_sms_verify.conf import app_settings
    from django_sms_verify.phones import parse_phone

    number = parse_phone("+8613700000001")
    # A new number per call, as in the benchmark's load (parsed beforehand: the floor
    # parses too, so parsing is not part of the difference).
    fresh = iter([parse_phone(f"+86137{n:08d}") for n in range(args.calls * 3 + 1)])

    def limits() -> None:
        phone = next(fresh)
        guards.admit(phone, resend_scope=f"{phone.e164}|SignIn", client_ip="127.0.0.1")

    def code() -> None:
        value = crypto.generate_code(app_settings.CODE_LENGTH)
        crypto.code_digest(number.e164, "SignIn", value)
        crypto.encrypt(value)

    def log_line() -> None:
        security_event(
            "verification_requested",
            endpoint="verification-request",
            status=202,
            phone=number,
            usage_type="SignIn",
            ip="127.0.0.1",
        )

    parts = [
        ("rate limits: IP, resend interval, phone, number block, region (guards.admit)", limits),
        (
            "number checks: type, allowed region (guards.check_number)",
            lambda: guards.check_number(number, "sms"),
        ),
        ("code: generate, keyed hash, encrypt", code),
        ("security log line", log_line),
    ]
    print(f"{'part':78s} {'us/call':>8s}")
    total = 0.0
    for label, call in parts:
        call()  # warm
        seconds = min(timeit.repeat(call, number=args.calls, repeat=3)) / args.calls
        total += seconds
        print(f"{label:78s} {seconds * 1e6:8.1f}")
    print(f"{'sum':78s} {total * 1e6:8.1f}")
    log_file.close()


if __name__ == "__main__":
    main()
