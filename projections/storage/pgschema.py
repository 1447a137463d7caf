"""PostgreSQL: one session at a time creates the schema.

Servers and the projection follower start together (replicas in production, the crash and concurrency
tests here). The library's create_table is CREATE ... IF NOT EXISTS and CREATE OR REPLACE FUNCTION,
which are not safe when run at once: the losers fail with "duplicate key value violates unique
constraint pg_type_typname_nsp_index" or "tuple concurrently updated", and the process does not start.
An advisory lock held while the tables are created makes the others wait and then find everything
there. It is held on a connection of its own, not one of a pool (a pool of one would wait for itself),
and closing that connection releases it whatever happened meanwhile.

Two places take it: `open_ledger` (service/bootstrap.py) around the events' and snapshots' tables,
and the read models' recorder (`SerializedSchemaCreation`, projections/storage/store.py) around theirs; `migrate`
(projections/storage/schema.py) holds it around both (the lock is reentrant within a thread). Servers no longer
create tables at all (issue 15): they check the version `migrate` recorded.

Also here: `BoundedPostgresFactory`, the library's factory with every database call bounded in time.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import psycopg
import psycopg_pool
from eventsourcing.postgres import PostgresFactory

SCHEMA_LOCK = "voucher-ledger:schema"
CONNECT_TIMEOUT_S = 10


_held = threading.local()  # the lock is reentrant within a thread: `migrate` creates the views' tables under it


@contextmanager
def schema_lock(conninfo: str = "", **params: Any) -> Iterator[None]:
    """Hold the schema lock of the database that `conninfo`/`params` name (psycopg's connect arguments)."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    # Not the pool's statement timeout: waiting for another process's schema step is what this is for.
    params = {key: value for key, value in params.items() if key != "options"}
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    with psycopg.connect(conninfo, autocommit=True, **params) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (SCHEMA_LOCK,))
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


class SerializedSchemaCreation:
    """Mixin for a recorder of the library's PostgreSQL datastore: its create_table under the lock."""

    datastore: Any

    def create_table(self) -> None:
        params = {key: value for key, value in self.datastore.pool.kwargs.items() if key != "row_factory"}
        with schema_lock(**params):
            super().create_table()  # type: ignore[misc]


class BoundedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, every database call bounded in time (issue 15, item 7).

    With the library alone, a request while PostgreSQL was down hung 62-102 s: each of its recorders'
    ten retries waited the pool's whole timeout for a connection. Here, before the pool makes its first
    connection: libpq's `connect_timeout` and a server-side `statement_timeout` on every connection
    (LEDGER_POSTGRES_CONNECT_TIMEOUT, LEDGER_POSTGRES_STATEMENT_TIMEOUT), and `FailFast` on the pool.
    The pool's own wait for a connection is POSTGRES_CONNECT_TIMEOUT (ledger/persistence.py).
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        connect_timeout = int(self.env.get("LEDGER_CONNECT_TIMEOUT") or 3)
        statement_timeout = int(self.env.get("LEDGER_STATEMENT_TIMEOUT") or 0)
        if connect_timeout:
            pool.kwargs["connect_timeout"] = connect_timeout
        options = []
        if statement_timeout:
            options.append(f"-c statement_timeout={statement_timeout * 1000}")
        if self.env.get("LEDGER_SEARCH_PATH"):  # a rebuild's fresh read models (projections/storage/bluegreen.py)
            options.append(f"-c search_path={self.env.get('LEDGER_SEARCH_PATH')}")
        if options:
            pool.kwargs["options"] = " ".join(options)
        FailFast(pool, hold=float(self.env.get("LEDGER_FAIL_FAST") or 0)).install()


class FailFast:
    """A pool that says at once that the database is unreachable, for `hold` seconds after it found so.

    Found so: a wait for a connection ran out, and a connection of its own, made at once, fails too (as
    opposed to every connection of the pool being busy). Meanwhile every request for a
    connection fails immediately (PoolTimeout, which the app answers 503 with Retry-After), so the
    library's ten retries of each call take two seconds instead of ten pool timeouts, and worker threads
    are not held. After `hold`, the next request waits for the pool again: that is the probe.
    """

    def __init__(self, pool: Any, hold: float) -> None:
        self.pool = pool
        self.hold = hold
        self.until = 0.0
        self.original = pool.connection

    def install(self) -> None:
        if self.hold > 0:
            self.pool.connection = self.connection  # this pool's connections only

    def _reachable(self) -> bool:
        params = {key: value for key, value in self.pool.kwargs.items() if key != "row_factory"}
        params["connect_timeout"] = min(int(params.get("connect_timeout") or 2), 2)
        try:
            psycopg.connect(**params).close()
        except psycopg.Error:
            return False
        return True

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        if time.monotonic() < self.until:
            raise psycopg_pool.PoolTimeout("the database was unreachable moments ago (failing fast)")
        manager = self.original(timeout)
        try:
            conn = manager.__enter__()
        except psycopg_pool.PoolTimeout:
            if not self._reachable():
                self.until = time.monotonic() + self.hold
            raise
        try:
            yield conn
        except BaseException as exc:
            if not manager.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            manager.__exit__(None, None, None)
