"""The read models' store: a tracking recorder of the eventsourcing library that owns our tables.

The read-model rows of a page of events and the tracking position of its last event are written in
one transaction, so each event is applied exactly once and a crash resumes where it stopped.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Sequence

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteConnectionPool, SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.persistence import Store
from projections.storage.batch import PageWrites, remember, remembered
from projections.storage.pgschema import SerializedSchemaCreation

VIEWS_NAME = "ledgerviews"


class Db:
    """One open transaction on the read models, with `?` placeholders on both backends."""

    def __init__(self, cursor: Any, dialect: str, memo: dict[str, Any] | None = None) -> None:
        self.cursor = cursor
        self.dialect = dialect
        # `memo`: the store's process-wide cache, for facts that never change once written (the
        # trace index's stream facts); `page`: scratch space for this one transaction.
        self.memo: dict[str, Any] = {} if memo is None else memo
        self.page: dict[Any, Any] = {}
        self._deferred: dict[str, list[tuple[Any, ...]]] = {}
        # Row changes written in batches when the page ends (projections/storage/batch.py, issue 7).
        self.writes = PageWrites(cursor, dialect)

    def sql(self, statement: str) -> Any:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.writes.before(statement)
        self.cursor.execute(self.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self.writes.before(statement)
        self.cursor.executemany(self.sql(statement), [tuple(r) for r in rows])

    # Batched row changes (projections/storage/batch.py): merged per row, written once per page.

    def insert(self, table: str, key: str, /, **row: Any) -> None:
        """Insert a row whose primary key is the column `key`."""
        self.writes.insert(table, key, row)

    def update(self, table: str, key: str, value: Any, /, **values: Any) -> None:
        """Set columns of the row whose `key` column is `value`."""
        self.writes.update(table, key, value, values)

    def add(self, table: str, key: str, value: Any, /, **deltas: int) -> None:
        """Add to counters of the row whose `key` column is `value`."""
        self.writes.add(table, key, value, deltas)

    def accumulate(self, table: str, keys: dict[str, Any], /, **deltas: int) -> None:
        """Add to counters of the row with these key columns, created with the deltas if new."""
        self.writes.accumulate(table, keys, deltas)

    def row(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        """The row as it stands with the page's pending changes (read-only), or None."""
        return self.writes.row(table, key, value)

    def fact(self, kind: str, key: Any, load: Callable[[], Any]) -> Any:
        """A fact that never changes once written (a voucher's year), loaded once per process."""
        return remembered(self.memo, kind, key, load)

    def remember(self, kind: str, key: Any, value: Any) -> None:
        remember(self.memo, kind, key, value)

    def defer(self, statement: str, row: Sequence[Any]) -> None:
        """Queue an insert nobody reads within the page; `flush` runs the queue as batches."""
        self._deferred.setdefault(statement, []).append(tuple(row))

    def flush(self, then: Callable[[Any], None] | None = None) -> None:
        """Write the page's pending changes and deferred inserts, then run `then(cursor)` (its tracking row)."""
        self.writes.flush(self._deferred, then)
        self._deferred.clear()

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self.execute(statement, params)
        row = self.cursor.fetchone()
        return None if row is None else dict(row)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self.cursor.fetchall()]


def _registry() -> Any:
    """The read models' tables and handlers: the one table in projections/runner.py (imported on first use,
    as the runner imports this module)."""
    from projections.runner import REGISTRY

    return REGISTRY


def _operational_tables() -> tuple[str, ...]:
    """Tables created with the read models but not of them, so a rebuild keeps them: the webhooks'
    subscriptions and delivery log (projections/storage/webhooks.py)."""
    from projections.storage.webhooks import TABLES

    return TABLES


class ViewStore:
    """Backend-neutral part: apply pages of events, query, drop for a rebuild."""

    dialect = "sqlite"

    def apply_page(self, events: Sequence[tuple[Any, int]], application_name: str, last_position: int,
                   after: int | None = None, registry: Any = None) -> None:
        """Apply events (with their positions) and track `last_position`, all in one transaction.

        Refused with IntegrityError, changing nothing, if any event of the page was already applied.
        `registry`: the read models to apply (default: all of them; a rebuild's groups, runner.py).
        """
        with self.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            # One applier at a time, across processes: two followers applying pages concurrently would
            # otherwise deadlock on the read-model rows (PostgreSQL), and the tracking upsert alone only
            # refuses a page that ends at or before the tracked position, not one that overlaps it.
            with self._pipeline(cursor):  # the lock and the read in one round trip on PostgreSQL
                self._lock_for_page(cursor, application_name)
                applied = self._max_tracking_id(application_name, cursor) or 0  # type: ignore[attr-defined]
            if events and events[0][1] <= applied:
                raise IntegrityError(f"events up to position {applied} are already applied")
            if after is not None and applied != after:
                # The page was read as the events after `after`; the views are elsewhere (another process
                # applied more, or rebuilt them): applying it could skip events, so refuse it.
                raise IntegrityError(f"the views are at position {applied}, not {after}")
            db = Db(cursor, self.dialect, memo=self.memo)
            handlers_for = (registry or _registry()).handlers_for
            for domain_event, position in events:
                for handler in handlers_for(type(domain_event)):
                    handler(db, domain_event, position)
            # The rows and the tracking position in one transaction (and, on PostgreSQL, one pipeline).
            tracking = Tracking(application_name, last_position)
            db.flush(then=lambda own: self._insert_tracking(own, tracking))  # type: ignore[attr-defined]

    def forget_tracking(self, application_name: str) -> None:
        """Remove a tracking row (a rebuild's second group's, projections/runner.py)."""
        with self.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute(self._forget_sql, (application_name,))

    def _lock_for_page(self, cursor: Any, application_name: str) -> None:
        """Serialise page application across processes (per backend)."""
        raise NotImplementedError

    def _pipeline(self, cursor: Any) -> Any:
        """Send the enclosed statements together (PostgreSQL's pipeline mode); as they are on SQLite."""
        return cursor.connection.pipeline() if self.dialect == "postgres" else contextlib.nullcontext()

    @property
    def memo(self) -> dict[str, Any]:
        """A cache for facts that never change once written; emptied when the views are dropped."""
        if "_memo" not in self.__dict__:
            self.__dict__["_memo"] = {}
        return self.__dict__["_memo"]

    def read(self) -> "_ReadTransaction":
        return _ReadTransaction(self)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.read() as db:
            return db.all(statement, params)

    def query_tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples, for pages of thousands of rows where a dict per row shows (the export)."""
        with self.read() as db:
            cursor = db.cursor
            if self.dialect == "postgres":
                cursor.row_factory = tuple_row  # this transaction's own cursor, dropped after it
            cursor.execute(db.sql(statement), tuple(params))
            return [tuple(row) for row in cursor.fetchall()]

    def query_one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        with self.read() as db:
            return db.one(statement, params)

    def table_names(self) -> list[str]:
        return [ddl.split("(")[0].split()[-1] for ddl in _registry().tables]


class _ReadTransaction:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def __enter__(self) -> Db:
        if self.store.dialect == "postgres":
            # PostgreSQL: the pool's connections are in autocommit mode, and a read gains nothing from a
            # transaction at READ COMMITTED (each statement reads its own snapshot either way). Without
            # one a single-row query is one round trip, not four: BEGIN, the query, ROLLBACK, and the
            # DEALLOCATE ALL psycopg sends after a rollback, which also threw away every prepared
            # statement of the connection (issue 21's profile of a voucher query).
            self._cm = self.store.datastore.cursor()  # type: ignore[attr-defined]
        else:
            self._cm = self.store.datastore.transaction(commit=False)  # type: ignore[attr-defined]
        return Db(self._cm.__enter__(), self.store.dialect)

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


class _ViewsConnectionPool(SQLiteConnectionPool):
    """Connections to the SQLite read models, whose commits need not wait for the disk.

    In WAL mode `synchronous=NORMAL` keeps every commit atomic and the file consistent; only the
    last commits before an operating-system crash or power loss may be lost. For the read models that
    loses nothing: their rows and tracking position commit together, so they restart from an earlier
    position and re-apply the events from the event store (which keeps the library's full sync).
    """

    def _create_connection(self) -> Any:
        connection = super()._create_connection()
        connection._sqlite_conn.execute("PRAGMA synchronous=NORMAL")
        return connection


class SQLiteViewStore(ViewStore, SQLiteTrackingRecorder):
    dialect = "sqlite"
    _forget_sql = "DELETE FROM tracking WHERE application_name = ?"

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        if type(datastore.pool) is SQLiteConnectionPool and not datastore.pool.is_sqlite_memory_mode:
            datastore.pool.__class__ = _ViewsConnectionPool  # before its first connection is made
        super().__init__(datastore, **kwargs)

    def _lock_for_page(self, cursor: Any, application_name: str) -> None:
        # A write as the first statement takes SQLite's write lock now (waiting out the busy timeout),
        # before any read could pin a snapshot that a later write would find stale.
        cursor.execute("UPDATE tracking SET notification_id = notification_id WHERE application_name = ?",
                       (application_name,))

    def construct_create_table_statements(self) -> list[str]:
        registry = _registry()
        tables = [f"{ddl} WITHOUT ROWID" if ddl in registry.clustered else ddl for ddl in registry.tables]
        return [*super().construct_create_table_statements(), *tables, *registry.indexes, *_operational_tables()]

    def drop_all(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for name in self.table_names():
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            # Keep the library's migration marker row (see PostgresViewStore.drop_all).
            cursor.execute("DELETE FROM tracking WHERE application_name <> ?", (self.table_migration_identifier,))
        self.memo.clear()


class PostgresViewStore(SerializedSchemaCreation, ViewStore, PostgresTrackingRecorder):
    dialect = "postgres"

    @property
    def _forget_sql(self) -> Any:
        return SQL("DELETE FROM {}.{} WHERE application_name = %s").format(
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name))  # type: ignore[attr-defined]

    def _lock_for_page(self, cursor: Any, application_name: str) -> None:
        # Held until the transaction ends; the key is this database's read models of that application.
        # A cursor of its own: in pipeline mode its result must not become the next fetch's (apply_page).
        lock = SQL("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))")
        cursor.connection.cursor().execute(lock, (f"{VIEWS_NAME}:{application_name}",))  # type: ignore[arg-type]
        # The page's commit need not wait for the disk, as on SQLite (_ViewsConnectionPool): a crash loses
        # whole pages, rows and tracking position together, which are applied again from the event store
        # (its commits stay synchronous). Over HTTP each command waits for its page (issue 21's profile).
        cursor.connection.cursor().execute(SQL("SET LOCAL synchronous_commit TO off"))

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        for ddl in (*_registry().tables, *_registry().indexes, *_operational_tables()):
            self.sql_create_statements.append(SQL(ddl))  # type: ignore[arg-type]

    def drop_all(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for name in self.table_names():
                cursor.execute(SQL(f"DROP TABLE IF EXISTS {name}"))  # type: ignore[arg-type]
            # Keep the library's migration marker row: without it, create_table takes the table for
            # an old multi-row one and renames it away (bkup1_...), which fails on the next rebuild.
            cursor.execute(SQL(f"DELETE FROM {self.tracking_table_name} WHERE application_name <> %s"),  # type: ignore[arg-type]
                           (self.table_migration_identifier,))
        self.memo.clear()


# A page's transaction stays open while its events' handlers run (1,000 events: seconds on a busy machine,
# more under a profiler); the library's default of 5 s idle in a transaction cut rebuilds off (issue 21).
PAGE_IDLE_TIMEOUT_S = "60"


def views_env(store: Store, create_table: bool = True) -> dict[str, str]:
    """The read models' recorder's environment: the store's, with room for a page's handlers."""
    return {**store.views_env(create_table=create_table),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": PAGE_IDLE_TIMEOUT_S}


def open_view_store(store: Store, create_table: bool = True) -> ViewStore:
    """Construct the read models' recorder on the same backend as the events."""
    env = Environment(VIEWS_NAME, views_env(store, create_table=create_table))
    factory = InfrastructureFactory.construct(env)
    view_class = SQLiteViewStore if store.backend == "sqlite" else PostgresViewStore
    return factory.tracking_recorder(view_class)  # type: ignore[return-value]
