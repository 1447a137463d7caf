"""Fixtures: every store-touching test runs on SQLite and on PostgreSQL, with the real recorders.

PostgreSQL comes from LEDGER_TEST_POSTGRES_URL (scripts/test starts a throwaway cluster); each
test gets a database of its own. On CI a missing PostgreSQL fails the test instead of skipping it.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any, Iterator

import pytest

from ledger.application import VoucherLedger
from ledger.persistence import Store, parse_database_url
from projections.runner import Views
from service.bootstrap import build_app, open_ledger, open_views
from tests.servers import scratch_database
from tests.support import Clock, Scenario, issue_tokens

ALL_BACKENDS = ("sqlite", "postgres")


def selected_backends() -> tuple[str, ...]:
    """The stores this run covers: LEDGER_TEST_BACKENDS (comma-separated), both by default.

    The fast lane (`scripts/test --fast`) sets `sqlite`: the edit-test loop runs every rule on the embedded
    store; CI runs the full lane, on both.
    """
    chosen = tuple(b.strip() for b in os.environ.get("LEDGER_TEST_BACKENDS", ",".join(ALL_BACKENDS)).split(","))
    unknown = [b for b in chosen if b not in ALL_BACKENDS]
    if unknown or not chosen:
        raise pytest.UsageError(f"LEDGER_TEST_BACKENDS: unknown store(s) {unknown}; choose from {ALL_BACKENDS}")
    return chosen


BACKENDS = selected_backends()


def postgres_admin_url() -> str | None:
    if "postgres" not in BACKENDS:
        pytest.skip("PostgreSQL left out of this run (LEDGER_TEST_BACKENDS)")
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL: LEDGER_TEST_POSTGRES_URL is not set (run scripts/test)")
        pytest.skip("PostgreSQL not configured: run scripts/test, or set LEDGER_TEST_POSTGRES_URL")
    return url


def make_store(backend: str, tmp_path: Any) -> Iterator[Store]:
    if backend == "sqlite":
        yield parse_database_url(f"sqlite:///{tmp_path}/ledger.db")
        return
    admin = postgres_admin_url()
    assert admin is not None
    with scratch_database(admin) as url:
        yield parse_database_url(url)


@pytest.fixture(params=BACKENDS)
def backend(request: Any) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path: Any) -> Iterator[Store]:
    yield from make_store(backend, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(date(2026, 6, 1))


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Iterator[VoucherLedger]:
    app = open_ledger(store, clock=clock)  # as production opens it (service/bootstrap.py)
    yield app
    app.close()


@pytest.fixture
def views(ledger: VoucherLedger) -> Iterator[Views]:
    store_views = open_views(ledger)
    yield store_views
    store_views.close()


@pytest.fixture
def scenario(ledger: VoucherLedger) -> Scenario:
    return Scenario(ledger)


@pytest.fixture
def flask_app(ledger: VoucherLedger, views: Views) -> Any:
    return build_app(ledger, views, {"TESTING": True})


@pytest.fixture
def client(flask_app: Any) -> Any:
    return flask_app.test_client()


@pytest.fixture
def tokens(ledger: VoucherLedger) -> dict[str, str]:
    """A token per staff and reader role; subject tokens come from `issue_tokens` in the tests."""
    return issue_tokens(ledger)
