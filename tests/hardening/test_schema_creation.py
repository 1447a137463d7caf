"""Replicas start together: servers and the projection follower on a fresh PostgreSQL database all
create the schema at once, and every one of them starts (projections/storage/pgschema.py). Each opens the
ledger as `voucher-ledger serve` does (service/bootstrap.py), then its read models."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg

from service.bootstrap import open_ledger
from projections.runner import Views
from tests.conftest import make_store

STARTING_TOGETHER = 6


def test_processes_starting_together_on_a_fresh_database_all_create_the_schema(tmp_path: Path) -> None:
    for attempt in range(3):  # the race is a matter of timing: give it several chances to show
        stores = make_store("postgres", tmp_path)
        store = next(stores)
        opened: list[Any] = []
        try:
            barrier = threading.Barrier(STARTING_TOGETHER)
            failures: list[BaseException] = []

            def start() -> None:
                barrier.wait()
                try:
                    app = open_ledger(store)
                    opened.append(app)
                    opened.append(Views(app).store)
                except BaseException as error:  # noqa: BLE001 - reported below, with its attempt
                    failures.append(error)

            threads = [threading.Thread(target=start) for _ in range(STARTING_TOGETHER)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert not failures, f"attempt {attempt}: {failures!r}"
            assert len(opened) == 2 * STARTING_TOGETHER
            with psycopg.connect(store.url) as conn:
                tables = {row[0] for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            assert {"voucherledger_events", "ledgerviews_tracking"} <= tables, tables
        finally:
            for resource in opened:
                closing = getattr(resource, "close", None) or resource.datastore.close
                closing()
            next(stores, None)
