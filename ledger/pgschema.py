"""PostgreSQL: one session at a time creates the schema.

Servers and the projection follower start together (replicas in production, the crash and concurrency
tests here). The library's create_table is CREATE ... IF NOT EXISTS and CREATE OR REPLACE FUNCTION,
which are not safe when run at once: the losers fail with "duplicate key value violates unique
constraint pg_type_typname_nsp_index" or "tuple concurrently updated", and the process does not start.
A transaction-scoped advisory lock, held on a connection of its own while the library creates the
tables on another, makes the others wait and then find everything there.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL

SCHEMA_LOCK = "voucher-ledger:schema"
_LOCK = SQL("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))")


class SerializedSchemaCreation:
    """Mixin for the library's PostgreSQL recorders (it has `datastore` and `create_table`)."""

    datastore: Any

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(_LOCK, (SCHEMA_LOCK,))
            super().create_table()  # type: ignore[misc]


class LedgerPostgresApplicationRecorder(SerializedSchemaCreation, PostgresApplicationRecorder):
    """The events' recorder (named by APPLICATION_RECORDER_TOPIC in ledger/persistence.py)."""
