"""The log check's reader: the log's notifications from a position on, without their state.

The aggregate cache's check (`ledger/cache.py` `LogCheck`) runs before every request, since
authentication reads cached credentials. The library's `select_notifications` reads every column,
the state as hex text on PostgreSQL, where the check needs only the position, the stream and its
version. This reads those three from the library's own table, with binary results on PostgreSQL
(138 -> 105 us p50 for an idle check at scale 1, bench-results/session9). `ledger/` knows no SQL, so
the composition root `install`s it; any other recorder keeps the library's reader.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier


class LogEntry(NamedTuple):
    """What the log check reads of a notification: where it is and whose version it records."""

    id: int
    originator_id: Any
    originator_version: int


_FROM = {True: ">=", False: ">"}


def install(app: Any) -> None:
    """Give the application's log check the lean reader its backend supports."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        app.log_check.entries = PostgresLogEntries(recorder)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        app.log_check.entries = SQLiteLogEntries(recorder)


class PostgresLogEntries:
    """`(start, limit, inclusive) -> [LogEntry]` from the library's events table, binary results."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.datastore = recorder.datastore
        self.statements = {inclusive: SQL(
            "SELECT notification_id, originator_id, originator_version FROM {schema}.{table} "
            f"WHERE notification_id {sign} %s ORDER BY notification_id LIMIT %s").format(
            schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            for inclusive, sign in _FROM.items()}

    def __call__(self, start: int, limit: int, inclusive: bool) -> list[LogEntry]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            cursor.execute(self.statements[inclusive], [start, limit], prepare=True)
            return [LogEntry(*row) for row in cursor.fetchall()]


class SQLiteLogEntries:
    """The same from the library's SQLite table (its rowid is the notification id)."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.recorder = recorder
        self.statements = {inclusive: (
            f"SELECT rowid, originator_id, originator_version FROM {recorder.events_table_name} "
            f"WHERE rowid {sign} ? ORDER BY rowid LIMIT ?") for inclusive, sign in _FROM.items()}

    def __call__(self, start: int, limit: int, inclusive: bool) -> list[LogEntry]:
        convert = self.recorder.convert_originator_id
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.statements[inclusive], (start, limit))
            return [LogEntry(row[0], convert(row[1]), row[2]) for row in cursor.fetchall()]
