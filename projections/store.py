"""The read models' store: a tracking recorder of the eventsourcing library that owns our tables.

The read-model rows of a page of events and the tracking position of its last event are written in
one transaction, so each event is applied exactly once and a crash resumes where it stopped.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.sql import SQL

from ledger.persistence import Store
from projections import registry

VIEWS_NAME = "ledgerviews"


class Db:
    """One open transaction on the read models, with `?` placeholders on both backends."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def sql(self, statement: str) -> Any:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self.cursor.executemany(self.sql(statement), [tuple(r) for r in rows])

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self.execute(statement, params)
        row = self.cursor.fetchone()
        return None if row is None else dict(row)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self.cursor.fetchall()]


class ViewStore:
    """Backend-neutral part: apply pages of events, query, drop for a rebuild."""

    dialect = "sqlite"

    def apply_page(self, events: Sequence[tuple[Any, int]], application_name: str, last_position: int) -> None:
        """Apply events (with their positions) and track `last_position`, all in one transaction."""
        with self.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            db = Db(cursor, self.dialect)
            for domain_event, position in events:
                for handler in registry.handlers_for(type(domain_event)):
                    handler(db, domain_event, position)
            self._insert_tracking(cursor, Tracking(application_name, last_position))  # type: ignore[attr-defined]

    def read(self) -> "_ReadTransaction":
        return _ReadTransaction(self)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.read() as db:
            return db.all(statement, params)

    def query_one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        with self.read() as db:
            return db.one(statement, params)

    def table_names(self) -> list[str]:
        return [ddl.split("(")[0].split()[-1] for ddl in registry.TABLES]


class _ReadTransaction:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def __enter__(self) -> Db:
        self._cm = self.store.datastore.transaction(commit=False)  # type: ignore[attr-defined]
        return Db(self._cm.__enter__(), self.store.dialect)

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


class SQLiteViewStore(ViewStore, SQLiteTrackingRecorder):
    dialect = "sqlite"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *registry.TABLES, *registry.INDEXES]

    def drop_all(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for name in self.table_names():
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute("DELETE FROM tracking")


class PostgresViewStore(ViewStore, PostgresTrackingRecorder):
    dialect = "postgres"

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        for ddl in (*registry.TABLES, *registry.INDEXES):
            self.sql_create_statements.append(SQL(ddl))  # type: ignore[arg-type]

    def drop_all(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for name in self.table_names():
                cursor.execute(SQL(f"DROP TABLE IF EXISTS {name}"))  # type: ignore[arg-type]
            cursor.execute(SQL(f"DELETE FROM {self.tracking_table_name}"))  # type: ignore[arg-type]


def open_view_store(store: Store, create_table: bool = True) -> ViewStore:
    """Construct the read models' recorder on the same backend as the events."""
    env = Environment(VIEWS_NAME, store.views_env(create_table=create_table))
    factory = InfrastructureFactory.construct(env)
    view_class = SQLiteViewStore if store.backend == "sqlite" else PostgresViewStore
    return factory.tracking_recorder(view_class)  # type: ignore[return-value]
