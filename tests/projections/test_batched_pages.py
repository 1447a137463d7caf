"""Batched read-model writes (projections/batch.py) change nothing but the number of statements.

A year made by the bench's generator (vouchers, contracts in every state, settlement batches,
sanctions, then the year close) is projected three times: one event per page, where every change
is written before the next event is applied; small pages, where rows created in earlier pages are
read and changed within a page; and one page for everything, where changes are merged per row and
written when the page ends. Every read-model table must come out identical.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ledger.application import VoucherLedger
from ledger.bench import timing
from ledger.bench.generate import generate
from ledger.bench.plan import Sizes
from ledger.commands.base import CHINA
from ledger.context import Actor, acting
from projections.runner import Views


def tables(views: Views) -> dict[str, list[tuple]]:
    dump = {}
    with views.store.read() as db:
        for name in views.store.table_names():
            rows = db.all(f"SELECT * FROM {name}")
            dump[name] = sorted((tuple(sorted((k, repr(v)) for k, v in row.items())) for row in rows))
    return dump


def project(views: Views, page_size: int) -> dict[str, list[tuple]]:
    views.store.drop_all()  # type: ignore[attr-defined]
    views.store.create_table()  # type: ignore[attr-defined]
    views.catch_up(page_size=page_size)
    return tables(views)


@pytest.fixture
def generated_year(store: Any) -> Any:
    app = VoucherLedger.for_store(store)
    timing.QUIET = True
    year = datetime.now(CHINA).year
    generate(app, Sizes.at(0.0003), year)
    with acting(Actor("operator", "test-operator")):
        app.close_year(year)
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
