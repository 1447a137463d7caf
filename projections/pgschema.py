"""PostgreSQL: one session at a time creates the schema.

Servers and the projection follower start together (replicas in production, the crash and concurrency
tests here). The library's create_table is CREATE ... IF NOT EXISTS and CREATE OR REPLACE FUNCTION,
which are not safe when run at once: the losers fail with "duplicate key value violates unique
constraint pg_type_typname_nsp_index" or "tuple concurrently updated", and the process does not start.
An advisory lock held while the tables are created makes the others wait and then find everything
there. It is held on a connection of its own, not one of a pool (a pool of one would wait for itself),
and closing that connection releases it whatever happened meanwhile.

Two places take it: `open_ledger` (projections/compose.py) around the events' and snapshots' tables,
and the read models' recorder (`SerializedSchemaCreation`, projections/store.py) around theirs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import psycopg

SCHEMA_LOCK = "voucher-ledger:schema"
CONNECT_TIMEOUT_S = 10


@contextmanager
def schema_lock(conninfo: str = "", **params: Any) -> Iterator[None]:
    """Hold the schema lock of the database that `conninfo`/`params` name (psycopg's connect arguments)."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **params) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (SCHEMA_LOCK,))
        yield


class SerializedSchemaCreation:
    """Mixin for a recorder of the library's PostgreSQL datastore: its create_table under the lock."""

    datastore: Any

    def create_table(self) -> None:
        params = {key: value for key, value in self.datastore.pool.kwargs.items() if key != "row_factory"}
        with schema_lock(**params):
            super().create_table()  # type: ignore[misc]
