"""The database's own floor, measured in the same run: what the figures are ratios against.

- `insert`: plain single-row INSERT transactions per second into a scratch table, with the plain
  driver (stdlib sqlite3 in WAL mode like the library's recorder, or psycopg in autocommit mode);
- `log_read`: rows per second read from the application's notification log in pages through
  `recorder.select_notifications`, without decoding them into events.

More, not what the targets are stated against, so that a reader can tell our code's cost from
the library's (issue 7):
- `library_save`: one-event `save()`s per second of a trivial aggregate through the eventsourcing
  library's own recorder, on the same database (a scratch application, its tables dropped after);
- `library_batch_save`: events per second when each `save()` records one new event of each of
  LIBRARY_BATCH scratch aggregates in one transaction, as a chunk of the year close does;
- `library_streams_save`: for 2 and 3 aggregates, `save()`s per second of one new event on each, in one
  transaction: what one measured command writes (an issuance its voucher and the year, a signature or a
  completion its contract, voucher and provider's year), so each can be set against the library doing
  that write alone;
- `decoded_read`: the same log read (its first DECODED_ROWS rows), each row decoded into its domain
  event by the library's mapper.

Each is the median of a few short rounds, because these machines are shared and noisy.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.timing import percentile
from ledger.persistence import Store

SCRATCH_TABLE = "bench_floor_scratch"
PAYLOAD = os.urandom(320)  # about the size of one stored event's state
PAYLOAD_TEXT = PAYLOAD.hex()[:320]
ROUNDS = 3
LOG_PAGE = 1000
LIBRARY_BATCH = 500  # the year close's vouchers per transaction (ledger/commands/years.py CLOSE_CHUNK)
COMMAND_STREAMS = (2, 3)  # aggregates one measured command saves: bench/report.py STREAMS_WRITTEN
DECODED_ROWS = 300_000  # decoding is slower: the first rows of the log are enough for its rate


def insert_rate(store: Store, seconds: float = 1.0, rounds: int = ROUNDS) -> dict[str, Any]:
    """Single-row insert transactions per second with the plain driver (median of rounds)."""
    rates = [_insert_round(store, seconds) for _ in range(rounds)]
    return {"ops_per_s": round(statistics.median(rates), 1), "rounds": [round(r, 1) for r in rates],
            "driver": "sqlite3" if store.backend == "sqlite" else "psycopg"}


def _insert_round(store: Store, seconds: float) -> float:
    if store.backend == "sqlite":
        return _sqlite_inserts(store, seconds)
    return _postgres_inserts(store, seconds)


def durability(store: Store) -> dict[str, Any]:
    """The commit settings the floor and the ledger were measured under: what one commit pays for."""
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        conn = sqlite3.connect(store.sqlite_path, isolation_level=None)
        try:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            level = conn.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            conn.close()
        # What a fresh connection gets, as the library's recorder and the insert floor's connection do.
        synchronous = {0: "off", 1: "normal", 2: "full", 3: "extra"}.get(level, str(level))
        return {"journal_mode": journal, "synchronous": synchronous, "durable": synchronous in ("full", "extra")}
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit", "full_page_writes")}
    settings["durable"] = settings["fsync"] == "on" and settings["synchronous_commit"] != "off"
    return settings


def point_read_latency(store: Store, app: Any, count: int = 2000) -> dict[str, Any]:
    """p50/p99 of a primary-key SELECT of one stored event with the plain driver: a query's floor."""
    head = app.recorder.max_notification_id() or 1
    keys = [1 + (i * 7919) % head for i in range(count)]
    samples: list[float] = []
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        conn = sqlite3.connect(store.sqlite_path, isolation_level=None)
        try:
            for key in keys:
                started = time.perf_counter()
                conn.execute("SELECT * FROM stored_events WHERE rowid = ?", (key,)).fetchone()
                samples.append(time.perf_counter() - started)
        finally:
            conn.close()
    else:
        import psycopg

        statement = f"SELECT * FROM {app.recorder.events_table_name} WHERE notification_id = %s"
        with psycopg.connect(store.url, autocommit=True) as conn:
            for key in keys:
                started = time.perf_counter()
                conn.execute(statement, (key,), prepare=True).fetchone()
                samples.append(time.perf_counter() - started)
    return {"p50_ms": round(percentile(samples, 0.5) * 1000, 4), "p99_ms": round(percentile(samples, 0.99) * 1000, 4),
            "count": count, "driver": "sqlite3" if store.backend == "sqlite" else "psycopg"}


def _sqlite_inserts(store: Store, seconds: float) -> float:
    assert store.sqlite_path is not None
    path = os.path.join(os.path.dirname(os.path.abspath(store.sqlite_path)), "bench-floor.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCRATCH_TABLE} (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        count, started = 0, time.perf_counter()
        deadline = started + seconds
        while True:
            conn.execute("BEGIN")
            conn.execute(f"INSERT INTO {SCRATCH_TABLE} (payload) VALUES (?)", (PAYLOAD,))
            conn.execute("COMMIT")
            count += 1
            if count % 50 == 0 and time.perf_counter() >= deadline:
                break
        return count / (time.perf_counter() - started)
    finally:
        conn.close()
        _remove_sqlite_file(path)


def _postgres_inserts(store: Store, seconds: float) -> float:
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCRATCH_TABLE} (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL)")
        try:
            count, started = 0, time.perf_counter()
            deadline = started + seconds
            while True:
                # Autocommit: each statement is its own transaction, the simplest there is (durable when the
                # server is: see `durability`).
                conn.execute(f"INSERT INTO {SCRATCH_TABLE} (payload) VALUES (%s)", (PAYLOAD,), prepare=True)
                count += 1
                if count % 50 == 0 and time.perf_counter() >= deadline:
                    break
            return count / (time.perf_counter() - started)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")


def log_read_rate(app: Any, rounds: int = ROUNDS, page: int = LOG_PAGE, limit: int | None = None,
                  decode: bool = False) -> dict[str, Any]:
    """Rows per second of the notification log read in pages, undecoded or decoded (median of rounds)."""
    rates, rows = [], 0
    for _ in range(rounds):
        rows, seconds = read_log(app, page, limit, decode)
        rates.append(rows / seconds if seconds > 0 else 0.0)
    return {"rows_per_s": round(statistics.median(rates), 1), "rows": rows, "page": page,
            "rounds": [round(r, 1) for r in rates]}


def decoded_read_rate(app: Any, limit: int = DECODED_ROWS) -> dict[str, Any]:
    """The log read with each row decoded into its domain event by the library's mapper."""
    return log_read_rate(app, limit=limit, decode=True)


def read_log(app: Any, page: int = LOG_PAGE, limit: int | None = None, decode: bool = False) -> tuple[int, float]:
    """Read the log from the start: (rows, seconds)."""
    rows, last = 0, 0
    to_domain_event = app.mapper.to_domain_event
    started = time.perf_counter()
    while True:
        notifications = app.recorder.select_notifications(start=last, limit=page, inclusive_of_start=False)
        if not notifications:
            break
        if decode:
            for notification in notifications:
                to_domain_event(notification)
        rows += len(notifications)
        last = notifications[-1].id
        if limit is not None and rows >= limit:
            break
    return rows, time.perf_counter() - started


class _FloorAggregate(Aggregate):
    """A scratch aggregate: one small event per save."""

    @event("Noted")
    def note(self, payload: str) -> None:
        self.last = payload


class BenchFloorScratch(Application):
    """The library with nothing of ours: its tables live beside the ledger's and are dropped after."""


def library_save_rate(store: Store, seconds: float = 1.0, rounds: int = ROUNDS) -> dict[str, Any]:
    """One-event saves per second through the library's own recorder (median of rounds)."""
    rates = _library_save_rounds(store, 1, seconds, rounds)
    return {"ops_per_s": round(statistics.median(rates), 1), "rounds": [round(r, 1) for r in rates]}


def library_batch_save_rate(store: Store, batch: int = LIBRARY_BATCH, seconds: float = 1.0,
                            rounds: int = ROUNDS) -> dict[str, Any]:
    """Events per second through the library's recorder, `batch` aggregates' new events per save (median)."""
    rates = [rate * batch for rate in _library_save_rounds(store, batch, seconds, rounds)]
    return {"events_per_s": round(statistics.median(rates), 1), "batch": batch, "rounds": [round(r, 1) for r in rates]}


def library_streams_save_rate(store: Store, streams: tuple[int, ...] = COMMAND_STREAMS, seconds: float = 1.0,
                              rounds: int = ROUNDS) -> dict[str, Any]:
    """For each count of aggregates, saves per second of one new event on each in one transaction (median)."""
    measured = {}
    for count in streams:
        rates = _library_save_rounds(store, count, seconds, rounds)
        measured[str(count)] = {"ops_per_s": round(statistics.median(rates), 1), "rounds": [round(r, 1) for r in rates]}
    return measured


def _library_save_rounds(store: Store, batch: int, seconds: float, rounds: int) -> list[float]:
    """Saves per second, each of one new event on each of `batch` scratch aggregates, per round."""
    env = store.event_store_env()
    scratch_path = None
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        scratch_path = os.path.join(os.path.dirname(os.path.abspath(store.sqlite_path)), "bench-floor-library.db")
        env["SQLITE_DBNAME"] = scratch_path
    app = BenchFloorScratch(env=env)
    try:
        aggregates = [_FloorAggregate() for _ in range(batch)]
        app.save(*aggregates)
        rates = []
        for _ in range(rounds):
            count, started = 0, time.perf_counter()
            deadline = started + seconds
            while True:
                for aggregate in aggregates:
                    aggregate.note(PAYLOAD_TEXT)
                app.save(*aggregates)
                count += 1
                if (batch > 3 or count % 20 == 0) and time.perf_counter() >= deadline:
                    break
            rates.append(count / (time.perf_counter() - started))
    finally:
        _drop_scratch(app, scratch_path)
    return rates


def _drop_scratch(app: Any, scratch_path: str | None) -> None:
    if scratch_path is None:
        with app.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {app.recorder.events_table_name}")
    app.close()
    if scratch_path is not None:
        _remove_sqlite_file(scratch_path)


def _remove_sqlite_file(path: str) -> None:
    """A scratch SQLite file and its WAL companions."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
