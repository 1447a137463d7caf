"""The library's own snapshots table read in bulk: every stored snapshot, a page at a time.

For the auditor's check of every snapshot against the events it came from
(projections/audit/snapshots.py): `ledger/` knows no SQL (ARCHITECTURE.md), and storage is the one
place that knows the library's tables.
"""

from __future__ import annotations

from typing import Any, Iterator

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

PAGE_SIZE = 500


def stored_snapshots(app: Any, page_size: int = PAGE_SIZE) -> Iterator[StoredEvent]:
    """Every stored snapshot, in (stream, version) order, paged by keyset."""
    snapshots = app.snapshots
    if snapshots is None:
        return
    recorder = snapshots.recorder
    last: tuple[Any, int] | None = None
    while True:
        if isinstance(recorder, PostgresAggregateRecorder):
            where = "" if last is None else "WHERE (originator_id, originator_version) > (%s, %s) "
            statement = SQL("SELECT originator_id, originator_version, topic, state FROM {schema}.{table} " + where +
                            "ORDER BY originator_id, originator_version LIMIT %s").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [*(last or ()), page_size])
                rows = [(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                        for r in cursor.fetchall()]
        elif isinstance(recorder, SQLiteAggregateRecorder):
            where = "" if last is None else "WHERE originator_id > ? OR (originator_id = ? AND originator_version > ?) "
            params: list[Any] = [] if last is None else [last[0], last[0], last[1]]
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
                               f"{where}ORDER BY originator_id, originator_version LIMIT ?", [*params, page_size])
                rows = [(r[0], r[1], r[2], bytes(r[3])) for r in cursor.fetchall()]
        else:
            return
        for originator_id, version, topic, state in rows:
            yield StoredEvent(originator_id=originator_id, originator_version=version, topic=topic, state=state)
        if len(rows) < page_size:
            return
        last = (rows[-1][0], rows[-1][1])
