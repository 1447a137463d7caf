"""Turns across processes on PostgreSQL, for the commands marked `exclusive` (ledger/commands/base.py).

A turn is a transaction-scoped advisory lock on the aggregate's key, on a connection of the pool held
for the attempt: PostgreSQL queues the waiters of every server process, and releases the lock with the
transaction however the attempt ends (an answer, an error, a killed process). `ledger/` knows no SQL,
so the composition root installs it (service/bootstrap.py), as it does the bulk stream reader.
SQLite needs none: its writers are serialised by the file's lock, and the in-process turn suffices
for the one server it has.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.errors import LockNotAvailable

from ledger import errors

log = logging.getLogger(__name__)

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def install(app: Any) -> None:
    """Extend the application's turns to every process of its PostgreSQL store (none on SQLite)."""
    if isinstance(app.recorder, PostgresApplicationRecorder):
        app.turns.across = _across(app.recorder.datastore)


def _across(datastore: Any) -> Any:
    @contextmanager
    def turn(key: Any, timeout: float) -> Iterator[None]:
        held = ExitStack()
        try:
            # BEGIN, the timeout and the lock in one round trip (a pipeline, as the library sends its
            # inserts), the ROLLBACK that releases it in one more: as four round trips they were a
            # seventh of a served issuance (issue 21's profile).
            conn = held.enter_context(datastore.get_connection())
            pipeline = held.enter_context(conn.pipeline())
            held.enter_context(conn.transaction(force_rollback=True))
            # Waiting longer than the command's own retry budget would only make the client wait.
            conn.execute(f"SET LOCAL lock_timeout = '{max(int(timeout * 1000), 1)}ms'")
            conn.execute(_LOCK, (f"voucher-ledger:turn:{key}",))
            pipeline.sync()  # the turn is ours once this returns (or LockNotAvailable)
        except BaseException as exc:
            _release(held)
            if isinstance(exc, LockNotAvailable) or isinstance(exc.__cause__, LockNotAvailable):
                raise errors.ConcurrencyConflict("the subject is busy; try again", {"waited_s": timeout}) from exc
            raise
        try:
            yield
        finally:
            _release(held)

    return turn


def _release(held: ExitStack) -> None:
    """Give the turn back. This cannot fail the command, which may have committed by now: a connection
    that broke meanwhile (the server's idle-in-transaction timeout, a restart) released the lock with
    its session, and the pool discards it."""
    try:
        held.close()
    except (psycopg.Error, OperationalError, InterfaceError) as exc:
        log.warning("a turn's connection broke before its release (the lock went with it): %s", exc)
