"""Waiting for the next event of the store (the feed's long poll, the delivery worker).

`LogWatch(app).wait_beyond(position, timeout)` returns True as soon as the store holds an event after
`position`, False when `timeout` runs out. On PostgreSQL the library's recorder NOTIFYs its channel
with every insert (eventsourcing's `PostgresApplicationRecorder.channel_name`): one thread per process
LISTENs on its own connection and wakes every waiter, so a long poll answers within milliseconds of a
command committed by any process. Between notices (and whenever the listening connection is down)
waiters still look at the store's head every POLL_S seconds; on SQLite, which cannot notify, the
look is the whole mechanism, every SQLITE_POLL_S seconds (one indexed MAX per waiter). The listening
thread ends after IDLE_S seconds without a waiter, so an app that is done with waiting holds no connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

POLL_S = 0.5
SQLITE_POLL_S = 0.02
IDLE_S = 30.0  # the listening thread ends after this long without a waiter (started again by the next)


class LogWatch:
    """Wakes waiters when the store's log grows (one per process, shared by its request threads)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._changed = threading.Condition()
        self._generation = 0
        self._listening = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        self._last_wait = time.monotonic()

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def wait_beyond(self, position: int, timeout: float) -> bool:
        """True once the store holds an event after `position`; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        self._last_wait = max(self._last_wait, deadline)
        self._listen()
        while True:
            generation = self._generation  # read before the head: a notice after it is not missed
            if self.head() > position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pause = POLL_S if self._listening else SQLITE_POLL_S
            with self._changed:
                if self._generation == generation:
                    self._changed.wait(min(remaining, pause))

    def _listen(self) -> None:
        """Start the listening thread once (PostgreSQL only)."""
        if self._thread is not None or self.app.store.backend != "postgres":
            return
        with self._start_lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="ledger-listen", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import psycopg
        from psycopg.sql import SQL, Identifier

        channel = self.app.recorder.channel_name
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.app.store.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                    self._listening = True
                    self._wake()  # anything committed before LISTEN took effect is looked at now
                    while not self._stop.is_set() and not self._idle():
                        for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                            self._wake()
                    break
            except Exception:  # noqa: BLE001 - the database away: waiters poll until it is back
                self._listening = False
                if self._idle():
                    break
                self._stop.wait(1.0)
        with self._start_lock:
            self._listening = False
            self._thread = None

    def _idle(self) -> bool:
        return time.monotonic() - self._last_wait > IDLE_S

    def _wake(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def close(self) -> None:
        self._stop.set()
