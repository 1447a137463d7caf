"""Reading the store's own events as canonical records: by position range, or at chosen positions.

Events are read through the application's recorder and decoded with its mapper (the same path the
projections take), never from a read model, so what the trace, the export and `audit/verify`
show is what the event store holds now.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Sequence

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from projections.audit import canonical

PAGE_SIZE = 500
# Positions closer than this are read with one range query rather than one query each.
RUN_GAP = 16
# Positions asked for in one statement when the events are read by position.
CHUNK = 500


class Unreadable:
    """A stored event that no longer decodes (its state was altered into something unreadable)."""

    def __init__(self, position: int, error: Exception) -> None:
        self.position = position
        self.error = error


def decode(app: Any, notification: Any) -> dict[str, Any] | Unreadable:
    try:
        return canonical.record(app.mapper.to_domain_event(notification), notification.id)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is evidence, reported by position
        return Unreadable(notification.id, exc)


def iter_records(app: Any, after: int = 0, stop: int | None = None,
                 page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any] | Unreadable]]:
    """Pages of records with after < position <= stop, in position order."""
    last = after
    while True:
        page = app.recorder.select_notifications(start=last, limit=page_size, stop=stop, inclusive_of_start=False)
        if not page:
            return
        yield [decode(app, n) for n in page]
        last = page[-1].id
        if stop is not None and last >= stop:
            return


def runs(positions: Iterable[int], gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """Sorted positions grouped into (first, last) ranges whose members lie within `gap` of each other."""
    ranges: list[tuple[int, int]] = []
    for position in sorted(set(positions)):
        if ranges and position - ranges[-1][1] <= gap:
            ranges[-1] = (ranges[-1][0], position)
        else:
            ranges.append((position, position))
    return ranges


def notifications_at(recorder: Any, positions: Sequence[int], types: frozenset[str] | None = None) -> list[Notification]:
    """The stored events at these positions, in one statement per chunk; with `types`, only events of
    those types, chosen in the statement by the stored topic (module:qualname; a record's type is the
    qualname), so the others' state is not even read.

    Reads the library's own events table with the columns its `select_notifications` reads (the
    recorder offers ranges only, and a trace's positions are scattered over the whole log);
    any other recorder falls back to one range query per run of nearby positions.
    """
    wanted = sorted(set(positions))
    found: list[Notification] = []
    chosen = sorted(types) if types is not None else None
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        if isinstance(recorder, PostgresApplicationRecorder):
            by_type = SQL(" AND split_part(topic, ':', 2) = ANY(%s)") if chosen is not None else SQL("")
            statement = SQL("SELECT * FROM {schema}.{table} WHERE notification_id = ANY(%s){by_type}").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name),
                by_type=by_type)
            # Binary results: a large state comes as its bytes, not as hex text twice its size that the
            # driver decodes again (a settled batch's payment, 195 KB: 1.97 -> 0.49 ms for two such rows).
            with recorder.datastore.get_connection() as conn, conn.cursor(binary=True) as cursor:
                cursor.execute(statement, [chunk] if chosen is None else [chunk, chosen], prepare=True)
                found.extend(Notification(id=row["notification_id"], originator_id=row["originator_id"],
                                          originator_version=row["originator_version"], topic=row["topic"],
                                          state=bytes(row["state"])) for row in cursor.fetchall())
        elif isinstance(recorder, SQLiteApplicationRecorder):
            by_type = (f" AND substr(topic, instr(topic, ':') + 1) IN ({','.join('?' * len(chosen))})"
                       if chosen is not None else "")
            statement = (f"SELECT rowid, * FROM {recorder.events_table_name} "
                         f"WHERE rowid IN ({','.join('?' * len(chunk))}){by_type}")
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [*chunk, *(chosen or [])])
                found.extend(Notification(id=row["rowid"], originator_id=recorder.convert_originator_id(
                    row["originator_id"]), originator_version=row["originator_version"], topic=row["topic"],
                    state=row["state"]) for row in cursor.fetchall())
        else:
            members = set(chunk)
            for first, last in runs(chunk):
                found.extend(n for n in recorder.select_notifications(start=first, limit=last - first + 1, stop=last)
                             if n.id in members)
            if chosen is not None:
                found = [n for n in found if n.topic.rsplit(":", 1)[-1] in types]
    return sorted(found, key=lambda n: n.id)


class _LargeRecords:
    """Decoded records of large stored events, keyed by the stored bytes themselves.

    A contract's trace includes its settlement batch's events, whose payment and approval list
    hundreds of contracts each: decoding them again for every contract of the batch made most of
    a trace's time at scale 1 (issue 7). The key holds the stored event whole (position, stream,
    version, topic and state bytes), so an event altered in the store is a miss and is decoded
    afresh: traces still show what the store holds now.
    """

    MIN_BYTES = 4_096  # smaller events decode in microseconds: not worth the memory
    MAX_ENTRIES = 256  # at most a few tens of MB

    def __init__(self) -> None:
        self._records: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def decode(self, app: Any, notification: Any) -> dict[str, Any] | Unreadable:
        if len(notification.state) < self.MIN_BYTES:
            return decode(app, notification)
        key = (notification.id, notification.originator_id, notification.originator_version, notification.topic,
               bytes(notification.state))
        with self._lock:
            found = self._records.get(key)
            if found is not None:
                self._records.move_to_end(key)
                return found
        record = decode(app, notification)
        if isinstance(record, Unreadable):
            return record
        with self._lock:
            self._records[key] = record
            while len(self._records) > self.MAX_ENTRIES:
                self._records.popitem(last=False)
        return record


_LARGE = _LargeRecords()


def records_at(app: Any, positions: Iterable[int],
               types: frozenset[str] | None = None) -> dict[int, dict[str, Any] | Unreadable]:
    """The records at these positions (missing positions are simply absent from the answer); with `types`,
    only events of those types ("Contract.Signed"), chosen by the stored topic before anything is read.

    Read-only: records of large events are shared between callers (`_LargeRecords`).
    """
    return {n.id: _LARGE.decode(app, n) for n in notifications_at(app.recorder, list(positions), types)}
