"""Catching the read models up with the event store; read-your-writes by waiting for a position.

A pull loop over the notification log works on both backends (the SQLite recorder cannot
subscribe). Each page of events is one transaction with its tracking row: if two processes race,
the slower one's page is rolled back by the tracking conflict and it simply reads on.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import pickle
import threading
import time
from typing import Any, Callable

from eventsourcing.persistence import IntegrityError

from projections.audit import chain, history, trace
from projections.storage import bluegreen
from projections.storage.store import ViewStore, open_view_store
from projections.views import balances, contracts, enterprises, idempotency, monthly, providers, settlement
from projections.views.model import Registry

# Every read model, in the order their handlers run for an event (the one table: importing a module
# registers nothing). The audit chain, the trace index and the years' history handle every event and
# so run after every model's own handlers, in this order: the history finds a year's events through
# the trace index's subjects.
READ_MODELS = (
    balances.MODEL, contracts.MODEL, enterprises.MODEL, idempotency.MODEL, settlement.MODEL, monthly.MODEL,
    providers.MODEL,
    chain.MODEL, trace.MODEL, history.MODEL,
)
REGISTRY = Registry(READ_MODELS)
# A rebuild on PostgreSQL replays the log in two processes at once, one group of read models each
# (issue 21: both cores). No handler of one group reads a table of the other: balances reads the
# providers' years, monthly the vouchers and the batches, the history the years and the trace index's
# subjects (and facts), and settlement adds to the years' totals, so those go together; the contracts,
# the enterprises, the idempotency records and the chain read and write only their own tables. Each group keeps its handlers in READ_MODELS' order
# and its own tracking row, so each group's tables come out as a serial replay writes them
# (tests/projections/test_parallel_rebuild.py).
REBUILD_GROUPS = (
    (balances.MODEL, settlement.MODEL, monthly.MODEL, providers.MODEL, trace.MODEL, history.MODEL),
    (contracts.MODEL, enterprises.MODEL, idempotency.MODEL, chain.MODEL),
)
# Processes a rebuild uses on PostgreSQL (SQLite has one writer: its rebuild stays in one process).
REBUILD_PROCESSES = int(os.environ.get("LEDGER_REBUILD_PROCESSES", "2"))

PAGE_SIZE = 1000  # events per transaction; rows are batched per page (projections/storage/batch.py)
# How long a command's answer waits for the views to reach it before answering anyway (with a lag header).
# No wait by default (ARCHITECTURE.md "Projections and read-your-writes": a command never waits for the views):
# the command wakes this process's follower, which applies its events at once, and a query waits for them.
# Over HTTP on PostgreSQL the wait was 61% of a command (issue 21's profile).
COMMAND_WAIT_S = float(os.environ.get("LEDGER_VIEWS_WAIT_SECONDS", "0"))
# A replayed Idempotency-Key answer reads its position from the views: it waits for them up to this long.
REPLAY_WAIT_S = max(COMMAND_WAIT_S, 2.0)

log = logging.getLogger("voucher_ledger.views")


class Views:
    """The read models of one application, and the loop that keeps them current."""

    def __init__(self, app: Any, create_table: bool = True, store: ViewStore | None = None) -> None:
        self.app = app
        self.store: ViewStore = store or open_view_store(app.store, create_table=create_table)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by `follow_now`: the follower catches up without its pause
        self._thread: threading.Thread | None = None
        # The position this process last applied or read back: `ensure` answers from it without asking
        # the database when it is already far enough, and catch_up starts from it.
        self._known = 0

    @property
    def position(self) -> int:
        position = self.store.max_tracking_id(self.app.name) or 0  # type: ignore[attr-defined]
        self._known = position  # the database's word (lower after another process rebuilt the views)
        return position

    def _applied_once(self) -> int:
        """The views' position in one statement, without the library's retries (ten, each as long as the
        statement timeout): a query or a command waiting on the views keeps to its own deadline."""
        with self.store.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            position = self.store._max_tracking_id(self.app.name, cursor) or 0  # type: ignore[attr-defined]
        self._known = max(self._known, position)
        return position

    def catch_up(self, page_size: int = PAGE_SIZE, progress: Callable[[int, int], None] | None = None,
                 lock_timeout: float = -1) -> int:
        """Apply every event not yet applied; return how many were applied.

        `lock_timeout` (seconds) bounds the wait for another thread of this process already catching up:
        then nothing is applied here (that thread applies it).
        """
        if not self._lock.acquire(timeout=lock_timeout):
            return 0
        try:
            return self._catch_up(page_size, progress)
        finally:
            self._lock.release()

    def _catch_up(self, page_size: int, progress: Callable[[int, int], None] | None) -> int:
        applied = 0
        head = self.app.recorder.max_notification_id() or 0
        # Start where this process knows the views are; if another process moved them since,
        # apply_page refuses the page (it checks `after`) and we read the position back (below).
        last = self._known or self.position
        while last < head:
            page = self.app.recorder.select_notifications(start=last, limit=page_size, inclusive_of_start=False)
            if not page:
                break
            events = [(self.app.mapper.to_domain_event(n), n.id) for n in page]
            try:
                self.store.apply_page(events, self.app.name, page[-1].id, after=last)
            except IntegrityError:
                # Another process applied this page first: continue from where it got to.
                last = self.position
                continue
            last = page[-1].id
            self._known = max(self._known, last)
            applied += len(page)
            if progress:
                progress(last, head)
        return applied

    def ensure(self, position: int | None, timeout: float = 30.0) -> None:
        """Return once the read models reflect `position` (read-your-writes, API.md); TimeoutError after
        `timeout` seconds (a query then fails: it must not answer from views older than asked)."""
        if position is None or position <= self._known:
            return
        # Without a follower thread here, another process (`projections run`) usually got there first:
        # one read of its position, rather than decoding a page this process would then fail to apply.
        if self._thread is None and self._applied_once() >= position:
            return
        deadline = time.monotonic() + timeout
        while self._known < position:
            self.catch_up(lock_timeout=max(deadline - time.monotonic(), 0))
            if self._known >= position or self.position >= position:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"read models did not reach position {position}")
            time.sleep(0.01)

    def lag_after_command(self, position: int | None, timeout: float = COMMAND_WAIT_S) -> int:
        """Start bringing the views to a command's position; how many positions they lag behind it once
        `timeout` seconds passed (none by default: the follower applies them while the answer goes out).

        Never raises: the command is committed and its answer is its 2xx whatever the read models do
        (ARCHITECTURE.md "Projections and read-your-writes"). A lag is said in the answer's
        X-Ledger-Views-Lag header (README); the next query waits for the views as ever.
        """
        if position is None:
            return 0
        self.follow_now()
        if position <= self._known:
            return 0
        if timeout <= 0:
            return position - self._known
        try:
            self.ensure(position, timeout)
            return 0
        except Exception as exc:  # noqa: BLE001 - a lagging or failing view is not the command's error
            log.warning("read models behind a committed command at %s: %s", position, type(exc).__name__)
            return max(position - self._known, 1)

    def rebuild(self, progress: Callable[[int, int], None] | None = None, page_size: int = PAGE_SIZE,
                rechain: bool = False, processes: int | None = None) -> int:
        """Replay the whole log from position 0 into fresh read models, then switch to them at once.

        Blue/green (projections/storage/bluegreen.py): the live models keep answering queries while the
        new ones are built beside them; one transaction swaps them in once they have caught up, so no
        query sees a half-built model (issue 20). Returns the events replayed.

        The stored audit chain is checked against the events first (issue 15): if an event no longer
        matches its link, `chain.ChainMismatch` names the first such position and nothing is built.
        `rechain=True` replays anyway (the operator's decision, projections/audit/chain.py).

        On PostgreSQL the replay up to the head runs in `processes` (REBUILD_PROCESSES) processes, one
        group of read models each (REBUILD_GROUPS); the events after that head, in this one, as ever.
        """
        if not rechain:
            chain.check_for_rebuild(self.app, self.store)
        fresh = bluegreen.open_build_store(self.app.store)
        try:
            building = Views(self.app, store=fresh)
            applied = _replay_in_groups(self.app, fresh, page_size, progress) if self._in_groups(processes) else 0
            applied += building.catch_up(page_size=page_size, progress=progress)
            while True:
                try:
                    position = bluegreen.swap_in(self.app.store, self.store, fresh, self.app.name)
                    break
                except bluegreen.NotCaughtUp:  # the live models moved on meanwhile: follow them
                    applied += building.catch_up(page_size=page_size, progress=progress)
        finally:
            bluegreen.discard(self.app.store, fresh)
        with self._lock:
            self.store.memo.clear()
            self._known = position
        return applied

    def follow_now(self) -> None:
        """Wake the follower (if this process runs one): a command of this process has just committed."""
        self._wake.set()
    def _in_groups(self, processes: int | None) -> bool:
        """Whether this rebuild replays in two processes: PostgreSQL, and an application class that a
        second process can import (not one made inside a function, as a test might)."""
        if (REBUILD_PROCESSES if processes is None else processes) < 2 or self.app.store.backend != "postgres":
            return False
        try:
            pickle.dumps((type(self.app), self.app.store))
        except Exception:  # noqa: BLE001 - not importable elsewhere: replay here
            return False
        return True

    def start_polling(self, interval: float = 0.25) -> None:
        """Follow the log in a background thread: at once after this process's commands (`follow_now`),
        every `interval` seconds for events written by other processes."""

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()  # before reading the log: a commit after this point wakes it again
                if self._stop.is_set():
                    return
                try:
                    self.catch_up()
                except Exception:  # noqa: BLE001 - keep following; the next request surfaces real faults
                    time.sleep(interval)

        self._thread = threading.Thread(target=loop, name="ledger-views", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.datastore.close()  # type: ignore[attr-defined]


def replay(app: Any, store: ViewStore, registry: Registry, tracking_name: str, stop: int,
           page_size: int = PAGE_SIZE, progress: Callable[[int, int], None] | None = None) -> int:
    """Apply the events up to position `stop` to `registry`'s read models, tracked as `tracking_name`,
    a page per transaction as `catch_up` does; the events applied."""
    applied = 0
    last = store.max_tracking_id(tracking_name) or 0  # type: ignore[attr-defined]
    while last < stop:
        page = app.recorder.select_notifications(start=last, limit=page_size, stop=stop, inclusive_of_start=False)
        if not page:
            break
        events = [(app.mapper.to_domain_event(n), n.id) for n in page]
        store.apply_page(events, tracking_name, page[-1].id, after=last, registry=registry)
        last = page[-1].id
        applied += len(page)
        if progress:
            progress(last, stop)
    return applied


def _replay_in_groups(app: Any, fresh: ViewStore, page_size: int,
                      progress: Callable[[int, int], None] | None) -> int:
    """Replay the log up to its head into the fresh read models, REBUILD_GROUPS[1] in a second process.

    This process replays the first group under the application's own tracking row; the second
    process its group under a row of its own, removed once both reached the head, so the catch-up
    that follows (every model, from the head on) and the swap see one position, as after a serial
    replay. Should either fail, the rebuild fails and its tables are discarded (`Views.rebuild`).
    """
    stop = app.recorder.max_notification_id() or 0
    if not stop:
        return 0
    second = f"{app.name}#{REBUILD_GROUPS[1][0].name}"
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no pool or thread of ours copied
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        other = pool.submit(_replay_group, type(app), app.store, 1, second, stop, page_size)
        applied = replay(app, fresh, Registry(REBUILD_GROUPS[0]), app.name, stop, page_size, progress)
        if other.result() != applied:
            raise RuntimeError(f"the rebuild's groups replayed {applied} and {other.result()} events")
    fresh.forget_tracking(second)  # type: ignore[attr-defined]
    return applied


def _replay_group(app_class: Any, store: Any, group: int, tracking_name: str, stop: int, page_size: int) -> int:
    """In the rebuild's second process: replay one group of read models into the build's tables."""
    app = app_class.for_store(store, create_table=False)
    built = bluegreen.open_build_store(store, existing=True)
    try:
        return replay(app, built, Registry(REBUILD_GROUPS[group]), tracking_name, stop, page_size)
    finally:
        built.datastore.close()  # type: ignore[attr-defined]
        app.close()
