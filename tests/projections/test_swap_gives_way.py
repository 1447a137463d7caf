"""The blue/green swap gives way to a reader and tries again (projections/storage/bluegreen.py).

On PostgreSQL the swap moves the live tables aside under a short lock timeout, so that a reader holding a
table is never the one a deadlock aborts. The library re-raises psycopg's lock timeout as its own
OperationalError: the swap must still recognise it and retry, or a rebuild fails whenever a query holds a
table for longer than the timeout (seen once on a scale-0.1 store: `projections rebuild` exited with
"canceling statement due to lock timeout").
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psycopg
import pytest

from projections.runner import Views
from service.bootstrap import open_ledger
from tests.conftest import make_store
from tests.support import Scenario

HELD_SECONDS = 1.5  # three times the swap's lock timeout (bluegreen.SWAP_LOCK_TIMEOUT)


@pytest.mark.postgres
def test_a_rebuild_waits_out_a_reader_holding_a_live_table_and_then_swaps(tmp_path: Any) -> None:
    with contextlib.contextmanager(make_store)("postgres", tmp_path) as store:
        app = open_ledger(store)
        scenario = Scenario(app)
        scenario.open_year()
        voucher = scenario.holder(("tech_sme",))[1]
        views = Views(app)
        views.catch_up()
        held = threading.Event()

        def hold_a_live_table() -> None:
            with psycopg.connect(store.url) as conn:  # a transaction, as a long report query would be
                conn.execute("SELECT count(*) FROM vl_vouchers").fetchone()
                held.set()
                time.sleep(HELD_SECONDS)

        reader = threading.Thread(target=hold_a_live_table)
        reader.start()
        held.wait(10)
        started = time.monotonic()
        try:
            views.rebuild()
        finally:
            reader.join()
        waited = time.monotonic() - started
        assert waited >= HELD_SECONDS - 0.5, "the swap went through while the reader held the table"
        with views.store.read() as db:
            assert db.one("SELECT voucher_id FROM vl_vouchers WHERE voucher_id = ?", [str(voucher)]) is not None
        views.close()
        app.close()
