"""The webhooks' tables (projections/storage/webhooks.py): made by `migrate`, upgrading a version-1 store."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

from projections.storage import webhooks
from projections.storage.schema import SCHEMA_VERSION, VERSION_TABLE, migrate
from service.bootstrap import open_ledger, open_views


def _sql(store: Any, *statements: str) -> None:
    if store.backend == "sqlite":
        with closing(sqlite3.connect(store.sqlite_path)) as conn, conn:
            for statement in statements:
                conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def test_migrate_upgrades_a_version_1_store_with_the_webhook_tables(store):
    assert migrate(store) == (0, SCHEMA_VERSION)
    ledger = open_ledger(store, create_table=False)
    views = open_views(ledger, create_table=False)
    try:
        with views.store.datastore.transaction(commit=True) as cursor:
            cursor.execute("DROP TABLE vl_webhook_deliveries")
            cursor.execute("DROP TABLE vl_webhooks")
        _sql(store, f"UPDATE {VERSION_TABLE} SET version = 1")
        assert migrate(store) == (1, SCHEMA_VERSION) == (1, 4)
        created = webhooks.create(views.store, url="https://x.example/hook", types=[], secret="s" * 16,
                                  created_at="2026-06-01T00:00:00+00:00", created_by="operator:1", after=0)
        assert webhooks.list_all(views.store) == [created] and "secret" not in created
    finally:
        views.close()
        ledger.close()
