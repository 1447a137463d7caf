"""Rebuilding the read models beside the live ones and switching to them at once (blue/green, issue 20).

`projections rebuild` used to drop the live tables and replay into them, so a query during the rebuild
found a contract missing (a 404) or a total half-summed. Now the rebuild fills fresh tables elsewhere,
catches them up with the log, and swaps them in with one transaction; a query sees the old models or
the new ones, never a half-built one.

- PostgreSQL: the fresh tables live in the schema `ledgerviews_build` (the build's connections put it
  on their `search_path`, so the models' own DDL and statements land there unchanged). The swap moves
  each live table into `ledgerviews_old` and each built one into the live schema (`ALTER TABLE ... SET
  SCHEMA`: a catalogue change, no copying), then drops the old schema.
- SQLite: the fresh tables are a file of their own beside the read models' (`<name>.views.build.db`).
  The swap attaches it to a connection of the live file and, in one write transaction, recreates each
  table there and copies the built rows in. Readers (WAL) see the old rows until it commits.

Both swaps hold the lock that every page of events takes (projections/storage/store.py `apply_page`),
and swap only once the built models are at least as far along the log as the live ones: a process
that already read the live models at some position never finds the new ones behind it. Followers
still applying the old models' next page are refused by the tracking check and read the position back.
On PostgreSQL the swap waits at most SWAP_LOCK_TIMEOUT for each table and otherwise gives way and
retries, so a reader holding one table while waiting for another is never the one a deadlock aborts.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, OperationalError
from eventsourcing.utils import Environment
from psycopg import errors as pg_errors
from psycopg.sql import SQL, Identifier

from ledger.persistence import Store
from projections.storage.pgschema import schema_lock
from projections.storage.store import VIEWS_NAME, PostgresViewStore, SQLiteViewStore, ViewStore, views_env

BUILD_SCHEMA = "ledgerviews_build"
OLD_SCHEMA = "ledgerviews_old"
SWAP_LOCK_TIMEOUT = "500ms"  # below PostgreSQL's deadlock_timeout (1 s): the swap yields, not a reader
SWAP_ATTEMPTS = 40


class NotCaughtUp(Exception):
    """The built models are behind the live ones: catch them up and try the swap again."""

    def __init__(self, built: int, live: int) -> None:
        super().__init__(f"built models at {built}, live ones at {live}")
        self.built, self.live = built, live


def build_path(store: Store) -> str:
    root, ext = os.path.splitext(store.views_sqlite_path)
    return f"{root}.build{ext or '.db'}"


def open_build_store(store: Store, existing: bool = False) -> ViewStore:
    """Fresh, empty read-model tables beside the live ones (a previous unfinished build is discarded);
    `existing`: the build's tables as another process made them (a rebuild's second process, runner.py)."""
    env = views_env(store, create_table=not existing)
    if store.backend == "sqlite":
        path = build_path(store)
        for leftover in (path, f"{path}-wal", f"{path}-shm") if not existing else ():
            if os.path.exists(leftover):
                os.remove(leftover)
        env["SQLITE_DBNAME"] = path
        view_class: type[ViewStore] = SQLiteViewStore
    else:
        import psycopg

        if not existing:
            with schema_lock(store.url), psycopg.connect(store.url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(BUILD_SCHEMA)))
                conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(BUILD_SCHEMA)))
        env.update(POSTGRES_SCHEMA=BUILD_SCHEMA, LEDGER_SEARCH_PATH=BUILD_SCHEMA)
        view_class = PostgresViewStore
    factory = InfrastructureFactory.construct(Environment(VIEWS_NAME, env))
    return factory.tracking_recorder(view_class)  # type: ignore[return-value]


def swap_in(store: Store, live: ViewStore, built: ViewStore, application_name: str) -> int:
    """Make the built tables the live ones in one transaction; the position they are at.

    NotCaughtUp (nothing changed) when the built models are behind the live ones.
    """
    if store.backend == "sqlite":
        return _swap_sqlite(store, live, application_name)
    for attempt in range(SWAP_ATTEMPTS):
        try:
            return _swap_postgres(live, built, application_name)
        except (pg_errors.LockNotAvailable, OperationalError) as error:
            # The library's transaction re-raises psycopg's errors as its own OperationalError (EVENTSOURCING.md),
            # so the lock timeout is its cause; any other operational error is not the swap's to retry.
            if not isinstance(error, pg_errors.LockNotAvailable) and not isinstance(error.__cause__,
                                                                                   pg_errors.LockNotAvailable):
                raise
            time.sleep(min(0.05 * (attempt + 1), 0.5))  # readers finish; the swap tries again
    raise TimeoutError("the read models stayed busy: could not swap in the rebuilt ones")


def discard(store: Store, built: ViewStore) -> None:
    """Remove what a build left (after the swap, or after a failed build)."""
    built.datastore.close()  # type: ignore[attr-defined]
    if store.backend == "sqlite":
        path = build_path(store)
        for leftover in (path, f"{path}-wal", f"{path}-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        return
    import psycopg

    with psycopg.connect(store.url, autocommit=True, connect_timeout=10) as conn:
        for schema in (OLD_SCHEMA, BUILD_SCHEMA):
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


def _swap_postgres(live: Any, built: Any, application_name: str) -> int:
    schema = live.datastore.schema
    tables = [*live.table_names(), live.tracking_table_name]
    with live.datastore.transaction(commit=True) as cursor:
        cursor.execute(SQL("SET LOCAL lock_timeout = '{}'".format(SWAP_LOCK_TIMEOUT)))  # noqa: UP032
        live._lock_for_page(cursor, application_name)  # no page is applied to the live models meanwhile
        live_position = live._max_tracking_id(application_name, cursor) or 0
        built_position = built.max_tracking_id(application_name) or 0
        if built_position < live_position:
            raise NotCaughtUp(built_position, live_position)
        cursor.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(OLD_SCHEMA)))
        cursor.execute(SQL("CREATE SCHEMA {}").format(Identifier(OLD_SCHEMA)))
        for table in tables:
            cursor.execute(SQL("ALTER TABLE IF EXISTS {}.{} SET SCHEMA {}").format(
                Identifier(schema), Identifier(table), Identifier(OLD_SCHEMA)))
            cursor.execute(SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                Identifier(BUILD_SCHEMA), Identifier(table), Identifier(schema)))
    return built_position


def _swap_sqlite(store: Store, live: Any, application_name: str) -> int:
    registry_tables = live.table_names()
    ddl = live.construct_create_table_statements()
    with closing(sqlite3.connect(store.views_sqlite_path, timeout=30, isolation_level=None)) as conn:
        conn.execute("ATTACH DATABASE ? AS build", (build_path(store),))
        try:
            conn.execute("BEGIN IMMEDIATE")  # the write lock: no page is applied meanwhile; readers go on
            try:
                live_position = _tracked(conn, "main", application_name)
                built_position = _tracked(conn, "build", application_name)
                if built_position < live_position:
                    raise NotCaughtUp(built_position, live_position)
                for table in registry_tables:
                    conn.execute(f"DROP TABLE IF EXISTS main.{table}")
                for statement in ddl:  # the models' own DDL, unqualified: it lands in main
                    conn.execute(statement)
                for table in registry_tables:
                    conn.execute(f"INSERT INTO main.{table} SELECT * FROM build.{table}")
                conn.execute("DELETE FROM main.tracking WHERE application_name = ?", (application_name,))
                conn.execute("INSERT INTO main.tracking SELECT * FROM build.tracking WHERE application_name = ?",
                             (application_name,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DETACH DATABASE build")
    return built_position


def _tracked(conn: sqlite3.Connection, database: str, application_name: str) -> int:
    row = conn.execute(f"SELECT notification_id FROM {database}.tracking WHERE application_name = ?",
                       (application_name,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
