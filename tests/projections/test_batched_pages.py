"""Batched read-model writes (projections/storage/batch.py) change nothing but the number of statements.

A year made by the bench's generator (vouchers, contracts in every state, settlement batches,
sanctions, then the year close) is projected three times: one event per page, where every change
is written before the next event is applied; small pages, where rows created in earlier pages are
read and changed within a page; and one page for everything, where changes are merged per row and
written when the page ends. Every read-model table must come out identical.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.application import VoucherLedger
from bench import timing
from bench.generate import generate
from bench.plan import Sizes
from ledger.context import Actor, acting
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.support import YEAR, Clock, year_ended


def tables(views: Views) -> dict[str, list[tuple]]:
    dump = {}
    with views.store.read() as db:
        for name in views.store.table_names():
            rows = db.all(f"SELECT * FROM {name}")
            dump[name] = sorted((tuple(sorted((k, repr(v)) for k, v in row.items())) for row in rows))
    return dump


def project(views: Views, page_size: int) -> dict[str, list[tuple]]:
    views.rebuild(page_size=page_size)
    return tables(views)


@pytest.fixture
def generated_year(store: Any) -> Any:
    # A fixed business date inside the year, then the day after it for the close: no time bomb.
    app = open_ledger(store, clock=Clock(date(YEAR, 6, 1)))
    timing.QUIET = True
    generate(app, Sizes.at(0.0003), YEAR)
    with acting(Actor("operator", "test-operator")):
        year_ended(app)
        app.close_year(YEAR)
    yield app
    app.close()


def test_read_models_are_the_same_whatever_the_page_size(generated_year: VoucherLedger) -> None:
    views = Views(generated_year)
    try:
        one_by_one = project(views, page_size=1)
        small_pages = project(views, page_size=37)
        one_page = project(views, page_size=100_000)
    finally:
        views.close()
    assert sum(len(rows) for rows in one_by_one.values()) > 100
    for batched in (small_pages, one_page):
        assert one_by_one.keys() == batched.keys()
        for name in one_by_one:
            assert batched[name] == one_by_one[name], f"{name} differs when pages are batched"


def test_a_plain_statement_sees_the_pages_pending_changes(ledger: VoucherLedger) -> None:
    """Handlers that still send SQL see every change made before them in the page, as if written at once."""
    from projections.storage.store import Db

    views = Views(ledger)
    store = views.store
    try:
        with store.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            db = Db(cursor, store.dialect, memo={})
            db.insert("vl_idempotency", "record_id", record_id="r1", position=1)
            db.insert("vl_years", "year", year=2031, starts_on="2031-01-01", ends_on="2031-12-31", parameters="{}",
                      status="open", budget=0, issued=0, vouchers=0, available=0, reserved=0, used=0, expired=0,
                      clawed_back=0, settled=0)
            # A plain statement naming the table first writes the pending insert...
            db.execute("UPDATE vl_idempotency SET position = position + 10 WHERE record_id = ?", ["r1"])
            assert db.one("SELECT position FROM vl_idempotency WHERE record_id = ?", ["r1"]) == {"position": 11}
            # ...a statement on another table leaves this table's changes pending, and row() merges them.
            db.add("vl_years", "year", 2031, budget=500, issued=200)
            db.update("vl_years", "year", 2031, status="closing")
            db.add("vl_years", "year", 2031, budget=5)
            assert db.one("SELECT COUNT(*) AS n FROM vl_idempotency") == {"n": 1}
            row = db.row("vl_years", "year", 2031)
            assert (row["budget"], row["issued"], row["status"]) == (505, 200, "closing")
            db.accumulate("vl_monthly", {"year": 2031, "month": "2031-03"}, used=7)
            db.accumulate("vl_monthly", {"year": 2031, "month": "2031-03"}, used=3, reserved=1)
            db.flush()
        with store.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            db = Db(cursor, store.dialect, memo={})
            # A row read in an earlier page: changes are blind deltas now, and row() applies them to what it reads.
            db.add("vl_years", "year", 2031, budget=1)
            assert db.row("vl_years", "year", 2031)["budget"] == 506
            db.add("vl_years", "year", 2031, budget=1)
            assert db.row("vl_years", "year", 2031)["budget"] == 507
            db.accumulate("vl_monthly", {"year": 2031, "month": "2031-03"}, used=1)
            db.flush()
        assert store.query_one("SELECT budget, status FROM vl_years WHERE year = ?", [2031]) == {
            "budget": 507, "status": "closing"}
        assert store.query_one("SELECT used, reserved FROM vl_monthly WHERE year = ?", [2031]) == {
            "used": 11, "reserved": 1}
    finally:
        views.close()
