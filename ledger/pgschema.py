"""PostgreSQL: one session at a time creates the schema.

Servers and the projection follower start together (replicas in production, the crash and concurrency
tests here). The library's create_table is CREATE ... IF NOT EXISTS and CREATE OR REPLACE FUNCTION,
which are not safe when run at once: the losers fail with "duplicate key value violates unique
constraint pg_type_typname_nsp_index" or "tuple concurrently updated", and the process does not start.
An advisory lock, held on a connection of its own (not the pool's: a pool of one would wait for
itself) while the library creates the tables, makes the others wait and then find everything there.
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresFactory

SCHEMA_LOCK = "voucher-ledger:schema"


class SerializedSchemaCreation:
    """Mixin for the library's PostgreSQL recorders (it has `datastore` and `create_table`)."""

    datastore: Any

    def create_table(self) -> None:
        pool = self.datastore.pool
        params = {key: value for key, value in pool.kwargs.items() if key != "row_factory"}
        # Closing the connection releases the lock, whatever happened in between.
        with psycopg.connect(autocommit=True, connect_timeout=int(pool.timeout), **params) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (SCHEMA_LOCK,))
            super().create_table()  # type: ignore[misc]


class LedgerPostgresApplicationRecorder(SerializedSchemaCreation, PostgresApplicationRecorder):
    """The events."""


class LedgerPostgresAggregateRecorder(SerializedSchemaCreation, PostgresAggregateRecorder):
    """The snapshots."""


class LedgerPostgresFactory(PostgresFactory):
    """PERSISTENCE_MODULE on PostgreSQL (ledger/persistence.py); the read models name their own
    recorder class (projections/store.py), which serializes its schema creation the same way."""

    aggregate_recorder_class = LedgerPostgresAggregateRecorder
    application_recorder_class = LedgerPostgresApplicationRecorder
