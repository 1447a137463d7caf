"""The store's schema: one step, `migrate` (`voucher-ledger migrate`), creates or upgrades it.

The schema (events, snapshots, read models) is made by `migrate`, which records SCHEMA_VERSION in
`ledger_schema_version`. A server and the projection follower check the recorded version
(`require_current_schema`) and never run DDL on a live store: on PostgreSQL a `CREATE INDEX IF NOT
EXISTS` from a starting server deadlocked against running servers' writes (issue 15, item 6). Raise
SCHEMA_VERSION with any change to the tables, and make `migrate` upgrade to it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, nullcontext
from datetime import datetime, timezone
from typing import Any

from ledger.application import VoucherLedger
from ledger.persistence import Store, parse_database_url
from projections.storage.pgschema import schema_lock
from projections.storage.store import Db


# 2: the webhooks' tables (projections/storage/webhooks.py); 3: the index vl_contracts (year, status)
# (projections/views/contracts.py) for the year-end warning; 4: the trace index's vl_trace_hidden and
# vl_trace_hidden_since (projections/audit/trace.py). Each upgrade reruns the CREATE ... IF NOT EXISTS.
SCHEMA_VERSION = 4
# The first version whose trace index records what each party may not see (vl_trace_hidden).
HIDDEN_SINCE_VERSION = 4
VERSION_TABLE = "ledger_schema_version"


class SchemaNotCurrent(RuntimeError):
    """Raised when the store's schema is not the version this program needs (run `voucher-ledger migrate`)."""

    def __init__(self, found: int) -> None:
        self.found = found
        if found > SCHEMA_VERSION:
            hint = "数据库结构较新，请升级程序 / the store's schema is newer than this program: upgrade it"
        else:
            hint = "请先运行 voucher-ledger migrate / run `voucher-ledger migrate` first"
        super().__init__(f"数据库结构版本 {found}，需要 {SCHEMA_VERSION} / schema version {found}, "
                         f"this program needs {SCHEMA_VERSION}: {hint}")


def schema_version(store: Store) -> int:
    """The schema version recorded in the store; 0 when it was never migrated (an unreachable store raises)."""
    query = f"SELECT version FROM {VERSION_TABLE}"
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        with closing(sqlite3.connect(store.sqlite_path, timeout=30)) as conn:
            try:
                row = conn.execute(query).fetchone()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return 0
                raise
        return int(row[0]) if row else 0
    import psycopg

    with psycopg.connect(store.url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (VERSION_TABLE,)).fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def require_current_schema(store: Store) -> None:
    """Refuse (SchemaNotCurrent) unless the store was migrated to exactly this program's SCHEMA_VERSION."""
    found = schema_version(store)
    if found != SCHEMA_VERSION:
        raise SchemaNotCurrent(found)


def migrate(store: Store | None = None) -> tuple[int, int]:
    """Create or upgrade every table of the store, once, under the schema lock; (version before, after).

    A store already at SCHEMA_VERSION is left alone: no DDL against running servers. A newer one is
    refused. Safe to run from several processes at once (PostgreSQL's advisory lock; SQLite's file lock).
    """
    from projections.runner import Views  # its READ_MODELS table names every table to create

    store = store or parse_database_url()
    with schema_lock(store.url) if store.backend == "postgres" else nullcontext():
        before = schema_version(store)
        if before > SCHEMA_VERSION:
            raise SchemaNotCurrent(before)
        if before == SCHEMA_VERSION:
            return before, before
        # The library's create_table statements are CREATE ... IF NOT EXISTS: version 0 -> 1 creates,
        # and finds whatever an earlier release (which created tables at every start) already made.
        app = VoucherLedger.for_store(store, create_table=True)
        views = Views(app, create_table=True)
        try:
            if 0 < before < HIDDEN_SINCE_VERSION:
                _mark_hidden_since(views)
            _record_version(app, store)
        finally:
            views.close()
            app.close()
    return before, SCHEMA_VERSION


def _mark_hidden_since(views: Any) -> None:
    """Upgrading to version 4: the events already indexed have no vl_trace_hidden rows. Rather than replay
    the whole log inside `migrate` (servers wait for it), the position reached is recorded: parties' traces
    reaching back to it decide visibility by decoding, as version 3 did, until `projections rebuild`."""
    position = views.position
    if position:
        with views.store.datastore.transaction(commit=True) as cursor:
            Db(cursor, views.store.dialect).execute(
                "INSERT INTO vl_trace_hidden_since (id, position) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET position = excluded.position", [position])


def _record_version(app: VoucherLedger, store: Store) -> None:
    now = datetime.now(timezone.utc).isoformat()
    create = (f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
              "version INTEGER NOT NULL, migrated_at TEXT NOT NULL)")
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        with closing(sqlite3.connect(store.sqlite_path, timeout=30)) as conn, conn:
            conn.execute(create)
            conn.execute(f"INSERT INTO {VERSION_TABLE} (id, version, migrated_at) VALUES (1, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET version = excluded.version, migrated_at = excluded.migrated_at",
                         (SCHEMA_VERSION, now))
        return
    import psycopg

    with psycopg.connect(store.url, autocommit=False, connect_timeout=10) as conn:
        conn.execute(create)  # type: ignore[arg-type]
        conn.execute(f"INSERT INTO {VERSION_TABLE} (id, version, migrated_at) VALUES (1, %s, %s) "  # type: ignore[arg-type]
                     "ON CONFLICT (id) DO UPDATE SET version = excluded.version, migrated_at = excluded.migrated_at",
                     (SCHEMA_VERSION, now))
