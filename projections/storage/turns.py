"""Turns across processes on PostgreSQL, for the commands marked `exclusive` (ledger/commands/base.py).

A turn is a transaction-scoped advisory lock on the aggregate's key, on a connection of the pool held
for the attempt: PostgreSQL queues the waiters of every server process, and releases the lock with the
transaction however the attempt ends (an answer, an error, a killed process). `ledger/` knows no SQL,
so the composition root installs it (service/bootstrap.py), as it does the bulk stream reader.
SQLite needs none: its writers are serialised by the file's lock, and the in-process turn suffices
for the one server it has.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.errors import LockNotAvailable

from ledger import errors

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def install(app: Any) -> None:
    """Extend the application's turns to every process of its PostgreSQL store (none on SQLite)."""
    if isinstance(app.recorder, PostgresApplicationRecorder):
        app.turns.across = _across(app.recorder.datastore)


def _across(datastore: Any) -> Any:
    @contextmanager
    def turn(key: Any, timeout: float) -> Iterator[None]:
        try:
            with datastore.transaction(commit=False) as cursor:
                # Waiting longer than the command's own retry budget would only make the client wait.
                cursor.execute(f"SET LOCAL lock_timeout = '{max(int(timeout * 1000), 1)}ms'")
                cursor.execute(_LOCK, (f"voucher-ledger:turn:{key}",))
                yield
        except (LockNotAvailable, OperationalError) as exc:
            if isinstance(exc, LockNotAvailable) or isinstance(exc.__cause__, LockNotAvailable):
                raise errors.ConcurrencyConflict("the subject is busy; try again", {"waited_s": timeout}) from exc
            raise

    return turn
