"""Bulk reads of many aggregates' streams, for commands that touch thousands of them (the year close).

The library reads one aggregate at a time: its latest snapshot, then the events after it, two round
trips each. Closing a year of 20,000 vouchers, 12,000 reserved contracts and 2,000 providers' years
that way spent most of its time in those round trips (issue 7). Here a chunk of aggregates costs one
statement on PostgreSQL, or two with snapshots: the latest snapshot of each, then the events after
each snapshot (or all of them, for the cache to check a snapshot it has not checked yet: ledger/cache.py
`_prefetch_in_bulk`), from the library's own tables and with the library's own columns.
`ledger/` knows no SQL, so the composition roots (`voucher-ledger`, the web app, the bench) `install`
this reader into the application's repository (`ledger/cache.py`), which falls back to its concurrent
per-aggregate loads without it. SQLite needs none: it is in-process, where a round trip costs nothing.
"""

from __future__ import annotations

from typing import Any, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

_SNAPSHOTS = ("SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state FROM {schema}.{table} "
              "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version DESC")
_EVENTS = ("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {schema}.{table} AS e "
           "JOIN unnest(%s::uuid[], %s::bigint[]) AS s(id, after) ON e.originator_id = s.id "
           "AND e.originator_version > s.after ORDER BY e.originator_id, e.originator_version")


def install(app: Any) -> None:
    """Give the application's repository the bulk reader its backend supports (none on SQLite)."""
    if isinstance(app.recorder, PostgresApplicationRecorder) and app.repository.pickled is not None:
        app.repository.stream_reader = PostgresStreams(app)


def _stored(row: tuple[Any, int, str, Any]) -> StoredEvent:
    """A row of either statement (id, version, topic, state), as the library's recorder returns it."""
    return StoredEvent(originator_id=row[0], originator_version=row[1], topic=row[2], state=bytes(row[3]))


class PostgresStreams:
    """`(ids, with_snapshots) -> {id: (latest snapshot or None, stored events after it)}`; absent ids are left out."""

    def __init__(self, app: Any) -> None:
        recorder = app.recorder
        self.datastore = recorder.datastore
        schema = Identifier(recorder.datastore.schema)
        self.events = SQL(_EVENTS).format(schema=schema, table=Identifier(recorder.events_table_name))
        snapshots = app.snapshots.recorder if app.snapshots is not None else None
        self.snapshots = None if snapshots is None else SQL(_SNAPSHOTS).format(
            schema=schema, table=Identifier(snapshots.events_table_name))

    def __call__(self, ids: Sequence[Any], with_snapshots: bool,
                 from_start: bool = False) -> dict[Any, tuple[StoredEvent | None, list[StoredEvent]]]:
        """`from_start`: every event, not only those after the snapshot (to check a snapshot against them)."""
        ids = list(ids)
        found: dict[Any, tuple[StoredEvent | None, list[StoredEvent]]] = {}
        # One transaction: both statements see the same store.
        with self.datastore.transaction(commit=False) as cursor:
            cursor.row_factory = tuple_row  # tens of thousands of rows in a close: a dict per row cost ~7% of it
            latest: dict[Any, StoredEvent] = {}
            if with_snapshots and self.snapshots is not None:
                cursor.execute(self.snapshots, [ids], prepare=True)
                latest = {row[0]: _stored(row) for row in cursor.fetchall()}
            after = [0] * len(ids) if from_start else [latest[i].originator_version if i in latest else 0 for i in ids]
            cursor.execute(self.events, [ids, after], prepare=True)
            for row in cursor.fetchall():
                aggregate_id = row[0]
                if aggregate_id not in found:
                    found[aggregate_id] = (latest.get(aggregate_id), [])
                found[aggregate_id][1].append(_stored(row))
        for aggregate_id, snapshot in latest.items():
            found.setdefault(aggregate_id, (snapshot, []))
        return found
