"""Concurrent checks of one verification: one code approves once, and no more than
MAX_CHECK_ATTEMPTS wrong codes are ever evaluated.

Every thread has its own database connection (Django's are per thread), so on PostgreSQL the
checks really race in the database. These tests need PostgreSQL: the SQLite test database is an
in-memory shared-cache database, where a second writer fails at once with "database table is
locked" instead of waiting, so threads there test SQLite's locking, not our code.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from tests.conftest import PHONE_CN
from tests.helpers import check_code, latest_code, request_code, wrong_code

ON_POSTGRES = connection.vendor == "postgresql"
needs_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL)")

pytestmark = pytest.mark.django_db(transaction=True)


def check_all_at_once(codes: list[str]) -> list[tuple[int, dict]]:
    """Check ``codes`` from one thread each, released together; (status, body) per thread."""
    barrier = threading.Barrier(len(codes))
    answers: list[tuple[int, dict] | BaseException] = [None] * len(codes)  # type: ignore[list-item]

    def worker(index: int, code: str) -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            response = check_code(client, code)
            answers[index] = (response.status_code, response.json())
        except BaseException as exc:  # reported by the main thread
            answers[index] = exc
        finally:
            connections.close_all()  # this thread's connections, so the test database can be flushed

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(codes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a check hung"
    failures = [a for a in answers if isinstance(a, BaseException)]
    assert not failures, failures
    return answers  # type: ignore[return-value]


@pytest.fixture
def pending_code(transactional_db, connector) -> str:
    assert request_code(APIClient()).status_code == 202
    return latest_code()


def assert_one_approval(answers: list[tuple[int, dict]]) -> None:
    approved = [body for status, body in answers if status == 200]
    assert len(approved) == 1, answers
    assert approved[0]["status"] == "approved"
    others = [(status, body["code"]) for status, body in answers if status != 200]
    assert all(status == 400 and code == "not_found" for status, code in others), others


def assert_wrong_checks_capped(answers: list[tuple[int, dict]], limit: int, pending_code: str) -> None:
    assert all(status == 400 for status, _ in answers), answers
    invalid = [body for _, body in answers if body["code"] == "invalid_code"]
    assert 1 <= len(invalid) <= limit, answers
    assert {body["code"] for _, body in answers} <= {"invalid_code", "max_attempts_reached"}
    # Each evaluated wrong code was counted once: the answers count down without repeats.
    lefts = sorted(body["attempts_left"] for body in invalid)
    assert len(set(lefts)) == len(lefts), lefts
    # The right code is refused afterwards.
    response = check_code(APIClient(), pending_code)
    assert (response.status_code, response.json()["code"]) == (400, "max_attempts_reached")


@needs_postgres
def test_twenty_threads_with_the_right_code_get_exactly_one_approval(pending_code, settings):
    answers = check_all_at_once([pending_code] * 20)
    assert_one_approval(answers)


@needs_postgres
def test_twenty_threads_with_wrong_codes_evaluate_at_most_max_check_attempts(pending_code, settings):
    codes = [wrong_code(pending_code)] * 10 + [str(100000 + i) for i in range(10)]
    codes = [c if c != pending_code else wrong_code(c) for c in codes]
    answers = check_all_at_once(codes)
    assert_wrong_checks_capped(answers, limit=5, pending_code=pending_code)
    # With row locks every wrong check up to the cap is answered invalid_code, counting down.
    lefts = sorted(body["attempts_left"] for _, body in answers if body["code"] == "invalid_code")
    assert lefts == [0, 1, 2, 3, 4]


@needs_postgres
def test_concurrent_tokens_of_one_approval_are_consumed_once(pending_code):
    from django_sms_verify import consume_verification_token
    from django_sms_verify.exceptions import InvalidToken

    token = check_code(APIClient(), pending_code).json()["verification_token"]
    barrier = threading.Barrier(10)
    results: list[str] = []

    def consume() -> None:
        try:
            barrier.wait(timeout=10)
            try:
                results.append(consume_verification_token(token, usage_type="SignIn"))
            except InvalidToken:
                results.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consume) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == sorted([PHONE_CN] + ["refused"] * 9)
