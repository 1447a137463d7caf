"""The export's read path: stored events read as plain rows and decoded straight from their JSON.

Why a second decode path: the export of the whole store ran at 0.17 of the raw log read rate (issue
7, target 0.4). Half its time went into the library's decoding (a Python `object_hook` on every JSON
object, a domain event object per row) and then into turning that object back into plain values
for the canonical record. Here the stored state is parsed by orjson and only the values the
library's transcoder would have turned into objects (`{"_type_": ..., "_data_": ...}`) are converted,
through the very same transcodings, then `canonical.plain`.

The guarantee: `Records(app)(row)` equals `eventlog.decode(app, notification)` for every stored event.
Whatever this path does not recognise as the ledger's usual shape (a cipher or compressor, an
upcast class, an unknown or nested transcoding, a float, an actor of another shape, a timestamp
that is not the library's, JSON orjson refuses) goes through `eventlog.decode`, so an altered
event decodes, or fails to decode, exactly as the projections and `audit/verify` see it.
tests/projections/test_fastlog.py holds both paths equal over a whole lifecycle and over random
and hand-made altered states. `audit/verify` reads through this path too (issue 21): were the two
ever to differ, it would report an event altered, never pass an altered one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterator, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from projections.audit import canonical, chain
from projections.storage import eventlog
from projections.storage.store import ViewStore

_SCALARS = frozenset({str, int, bool, type(None)})
_HEX32 = re.compile(r"[0-9a-f]{32}")
# The library's ISO timestamps of UTC instants with microseconds are already the canonical form.
_CANONICAL_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00")


class StoredRow(NamedTuple):
    position: int
    stream: str  # the originator id as the canonical record writes it
    version: int
    topic: str
    state: bytes


class _Unusual(Exception):
    """Not the usual shape: decode this one with the library's mapper."""


def iter_pages(app: Any, after: int, stop: int, page_size: int) -> Iterator[list[StoredRow]]:
    """Pages of stored rows with after < position <= stop, in position order."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL("SELECT notification_id, originator_id::text, originator_version, topic, state "
                        "FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s "
                        "ORDER BY notification_id LIMIT %s").format(schema=Identifier(recorder.datastore.schema),
                                                                    table=Identifier(recorder.events_table_name))

        def read(last: int) -> list[StoredRow]:
            with recorder.datastore.get_connection() as conn, \
                    conn.cursor(row_factory=tuple_row, binary=True) as cursor:
                cursor.execute(statement, [last, stop, page_size], prepare=True)
                return [StoredRow(*row) for row in cursor.fetchall()]
    elif isinstance(recorder, SQLiteApplicationRecorder):
        sqlite_statement = (f"SELECT rowid, originator_id, originator_version, topic, state "
                            f"FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?")

        def read(last: int) -> list[StoredRow]:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(sqlite_statement, (last, stop, page_size))
                return [StoredRow(row[0], _stream(row[1]), row[2], row[3], bytes(row[4])) for row in cursor.fetchall()]
    else:
        def read(last: int) -> list[StoredRow]:
            page = recorder.select_notifications(start=last, limit=page_size, stop=stop, inclusive_of_start=False)
            return [StoredRow(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in page]
    last = after
    while last < stop:
        page = read(last)
        if not page:
            return
        yield page
        last = page[-1].position


def iter_linked_pages(app: Any, store: ViewStore, after: int, stop: int,
                      page_size: int) -> Iterator[tuple[list[StoredRow], dict[int, chain.Link]]]:
    """Pages of stored rows with their chain links (`chain.links_between` of the page's positions).

    On PostgreSQL the read models live in the events' own database (ARCHITECTURE.md), so one
    statement reads both, from one snapshot: a round trip and a dict of links per page less (issue 7:
    with bytes all the way, the scale-1 export went from 0.35 to 0.55 of the log read). Elsewhere (SQLite keeps the read models in a file of their own) the
    links are read after the rows."""
    recorder = app.recorder
    if not (isinstance(recorder, PostgresApplicationRecorder) and store.dialect == "postgres"):
        for rows in iter_pages(app, after, stop, page_size):
            yield rows, chain.links_between(store, rows[0].position, rows[-1].position)
        return
    # The chain's bounds repeat the events' so the planner walks both primary keys from `after`
    # rather than merging with the whole chain from its start.
    statement = SQL("SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, "
                    "c.prev_hash, c.hash FROM {schema}.{table} e "
                    "LEFT JOIN vl_audit_chain c ON c.position = e.notification_id AND c.position > %s AND c.position <= %s WHERE e.notification_id > %s AND e.notification_id <= %s "
                    "ORDER BY e.notification_id LIMIT %s").format(schema=Identifier(recorder.datastore.schema),
                                                                  table=Identifier(recorder.events_table_name))
    last = after
    while last < stop:
        with store.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            cursor.execute(statement, [last, stop, last, stop, page_size], prepare=True)
            found = cursor.fetchall()
        if not found:
            return
        rows = [StoredRow(position, stream, version, topic, state)
                for position, stream, version, topic, state, _, _ in found]
        links = {position: chain.Link(position, prev_hash, hash_)
                 for position, _, _, _, _, prev_hash, hash_ in found if hash_ is not None}
        yield rows, links
        last = rows[-1].position


def rows_at(app: Any, positions: list[int]) -> list[StoredRow]:
    """The stored rows at these positions, in position order (absent positions left out)."""
    return [StoredRow(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in eventlog.notifications_at(app.recorder, positions)]


def _stream(stored_id: str) -> str:
    """SQLite keeps UUIDs as 32 hex digits: the record writes them as `str(UUID)`."""
    if _HEX32.fullmatch(stored_id):
        return f"{stored_id[:8]}-{stored_id[8:12]}-{stored_id[12:16]}-{stored_id[16:20]}-{stored_id[20:]}"
    try:
        return str(UUID(stored_id))
    except ValueError:
        return stored_id  # not a UUID at all: the mapper's way decides what becomes of it


class Records:
    """`records(row)` → the canonical record of a stored row, or `eventlog.Unreadable`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        mapper = app.mapper
        transcoder = mapper.transcoder
        self.enabled = (mapper.cipher is None and mapper.compressor is None and type(transcoder) is JSONTranscoder
                        and type(transcoder.names.get("datetime_iso")) is DatetimeAsISO)
        self.names = transcoder.names
        self.kinds: dict[str, tuple[str, str] | None] = {}

    def __call__(self, row: StoredRow) -> dict[str, Any] | eventlog.Unreadable:
        if self.enabled:
            try:
                return self._fast(row)
            except Exception:  # noqa: BLE001 - anything unusual is decoded the library's way, below
                pass
        return self._slow(row)

    def _slow(self, row: StoredRow) -> dict[str, Any] | eventlog.Unreadable:
        try:
            originator_id: Any = UUID(row.stream)
        except ValueError:
            originator_id = row.stream
        return eventlog.decode(self.app, Notification(id=row.position, originator_id=originator_id,
                                                      originator_version=row.version, topic=row.topic,
                                                      state=row.state))

    def _kind(self, topic: str) -> tuple[str, str]:
        """(type, stream_type) of an event class that the mapper constructs without upcasting."""
        try:
            kind = self.kinds[topic]
        except KeyError:
            cls = resolve_topic(topic)
            qualname = cls.__qualname__
            usual = getattr(cls, "class_version", 1) == 1
            kind = self.kinds[topic] = (qualname, qualname.rsplit(".", 1)[0]) if usual else None
        if kind is None:
            raise _Unusual(topic)
        return kind

    def _fast(self, row: StoredRow) -> dict[str, Any]:
        qualname, stream_type = self._kind(row.topic)
        state = orjson.loads(row.state)
        if type(state) is not dict or "class_version" in state:
            raise _Unusual("state")
        stamp = state["timestamp"]
        if type(stamp) is not dict or len(stamp) != 2 or stamp["_type_"] != "datetime_iso":
            raise _Unusual("timestamp")
        text = stamp["_data_"]
        moment = datetime.fromisoformat(text)  # the transcoding's decode: refuses what it refuses
        recorded_at = text if _CANONICAL_INSTANT.fullmatch(text) else canonical.instant(moment)
        actor = state.get("actor")
        if actor is None:
            role = actor_id = ""
        else:
            if type(actor) is not dict or not actor.keys() <= canonical.ACTOR_KEYS:
                raise _Unusual("actor")  # hashed whole into `data` by the mapper's way
            role, actor_id = actor.get("role"), actor.get("id")
            if type(role) is not str and role is not None or type(actor_id) is not str and actor_id is not None:
                raise _Unusual("actor")
            role, actor_id = role or "", actor_id or ""
        value = self._value
        own = canonical.OWN_FIELDS
        data = {name: v if type(v) in _SCALARS else value(v) for name, v in state.items() if name not in own}
        return {"position": row.position, "recorded_at": recorded_at, "stream": row.stream,
                "stream_type": stream_type, "version": row.version,
                "type": qualname, "actor_role": role, "actor_id": actor_id, "data": data}

    def _value(self, v: Any) -> Any:
        kind = type(v)
        if kind in _SCALARS:
            return v
        if kind is dict:
            if _is_typed(v):
                data = v["_data_"]
                if type(data) is not str:
                    raise _Unusual("nested transcoding")
                return canonical.plain(self.names[v["_type_"]].decode(data))
            return {k: self._value(x) for k, x in v.items()}
        if kind is list:
            return [self._value(x) for x in v]
        raise _Unusual(kind.__name__)  # floats: the mapper's way refuses them


def _is_typed(d: dict[str, Any]) -> bool:
    """What the library's `object_hook` replaces with a transcoded object."""
    return len(d) == 2 and "_type_" in d and "_data_" in d
