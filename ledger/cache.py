"""The aggregate cache, checked against the event log once per command instead of once per aggregate.

The library's cache "fast-forwards" every cached aggregate it hands out: one query per aggregate,
seven for a contract signature. Here a command first reads the log's new notifications since the
last check (usually just its own previous command's events) and marks every cached aggregate
that another writer — a second web worker, the command line — has moved on as behind; for the rest
of that command, cached aggregates are used as they are, except that one marked behind is first
brought forward by the events after its cached version (one query). Outside a command
(authentication, scripts) the library's fast-forward applies as before.

Why bring forward rather than evict: an aggregate that two processes take turns on (the year's
budget stream: every issuance writes it, exclusive across processes) would otherwise be reloaded at
every hand-over from its latest snapshot, and whenever the other process had just taken a new one,
replayed whole to check that snapshot (below). At scale 1 that is a Year of 20,800 events replayed
inside the year's turn while every other issuance waits: 8 clients on 2 servers issued at 0.39 × one
client (bench-results/session8). The forward applies only events the store holds after a state this
process already trusts, which is what keeping any cached aggregate already relies on.

Correctness rests on two facts of the library's recorders: notification ids are issued in commit
order (the PostgreSQL recorder locks the table for each insert; SQLite has one writer), so reading
the log past the last seen id misses nothing committed; and a save checks every aggregate's
version, so a cached aggregate that went stale after the check makes that save fail with a
version conflict — the aggregates of a failed save are evicted and the command retries.

Aggregates are kept pickled: each `get` unpickles a private copy (cheaper than the library's
deepcopy, and smaller in memory); the cache keeps the newest version it has seen of each.

Snapshots are a cache too, kept in the store outside the audit chain, so one is never trusted
unchecked (API.md "Audit and supervision"; issue 15: a raised `budget_fen` in a Year snapshot let
a fresh server issue past the budget). The first time a process loads an aggregate from a snapshot,
it folds the aggregate's events up to the snapshot's version and compares; a snapshot that matches
is trusted for the rest of the process, one that does not is ignored (the aggregate comes from its
events), logged and kept in `snapshot_mismatches` for `GET /audit/verify`. Why this and not a
check of every snapshot at start or a signature: a signature key would sit beside the data it
protects, and a check at start reads every snapshotted stream whether a command needs it or not;
checking on first use costs one replay per snapshotted aggregate per process, the cost of having no
snapshot on a cold start (measured in README.md "Audit chain, traces and export"), and every later
load within the process (after the cache evicted it) starts from the verified snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, Sequence

from eventsourcing.application import AggregateNotFoundError, Repository, project_aggregate

log = logging.getLogger("voucher_ledger.cache")

# Notifications read per check; after this many pages the cache is simply emptied.
CHECK_PAGE = 1_000
CHECK_PAGES = 10



class Unit:
    """One checked attempt of a command: the aggregates it read, forgotten if the attempt failed."""

    def __init__(self, repository: "CheckedRepository") -> None:
        self.repository = repository
        self.loaded: set[Any] = set()

    def failed(self) -> None:
        for aggregate_id in self.loaded:
            self.repository.forget(aggregate_id)


_unit: ContextVar[Unit | None] = ContextVar("voucher_ledger_cache_unit", default=None)


def _anchor(notification: Any) -> tuple[Any, int]:
    """What identifies a notification beyond its position: a restored database reuses positions."""
    return notification.originator_id, notification.originator_version


class PickledLRU:
    """Least-recently-used map of aggregate id -> (version, pickled aggregate); thread-safe."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.entries: OrderedDict[Any, tuple[int, bytes]] = OrderedDict()
        # Cached aggregates another writer has moved on: id -> the newest version the log showed.
        self.behind: dict[Any, int] = {}
        self.lock = threading.Lock()

    def get(self, key: Any) -> tuple[int, bytes] | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def put_if_newer(self, key: Any, version: int, blob: bytes) -> None:
        """Keep the newest version: a slower thread never puts back an older one."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0] > version:
                return
            self.entries[key] = (version, blob)
            self.entries.move_to_end(key)
            if self.behind.get(key, version) <= version:
                self.behind.pop(key, None)
            while len(self.entries) > self.maxsize:
                dropped, _ = self.entries.popitem(last=False)
                self.behind.pop(dropped, None)

    def mark_behind(self, key: Any, version: int) -> None:
        """The log holds `version` of this aggregate: if the cached one is older, it must be brought forward."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0] < version:
                self.behind[key] = max(version, self.behind.get(key, 0))

    def is_behind(self, key: Any) -> bool:
        with self.lock:
            return key in self.behind

    def evict(self, key: Any) -> None:
        with self.lock:
            self.entries.pop(key, None)
            self.behind.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.behind.clear()

    def __len__(self) -> int:
        return len(self.entries)


def _dumps(aggregate: Any) -> bytes:
    return pickle.dumps(aggregate, pickle.HIGHEST_PROTOCOL)


def mutate_all(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event check against a runtime Protocol.

    That `isinstance` walks the protocol's attributes for every event: about a fifth of a load's CPU
    in a profile of the year close (issue 7).
    Our events are all the library's aggregate events, which mutate.
    """
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _projector(projector_func: Any) -> Any:
    return mutate_all if projector_func is project_aggregate else projector_func


# (ids, with_snapshots) -> {id: (latest snapshot or None, stored events after it)}: many streams in a few
# statements. Installed by the composition roots (projections/storage/streams.py); ledger/ itself knows no SQL.
StreamReader = Callable[[Sequence[Any], bool], "dict[Any, tuple[Any, list[Any]]]"]


def state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's attributes; pending events are no state."""
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def comparable(transcoder: Any, aggregate: Any) -> Any:
    """An aggregate's state as its snapshot would record it, through the store's own transcoding
    (so a tuple and the list it is stored as compare equal)."""
    return transcoder.decode(transcoder.encode(state_of(aggregate)))


class CheckedRepository(Repository):
    """A repository whose cache is trusted inside a checked unit of work (see `LogCheck`), and whose
    snapshots are checked against their events before they are first used (module docstring)."""

    stream_reader: StreamReader | None = None

    def __init__(self, *args: Any, cache_maxsize: int = 0, prefetch_threads: int = 1, **kwargs: Any) -> None:
        # The library's own cache stays off: this class keeps the pickled one below.
        super().__init__(*args, cache_maxsize=None, **kwargs)
        self.pickled = PickledLRU(cache_maxsize) if cache_maxsize > 0 else None
        self.prefetch_threads = prefetch_threads
        # (aggregate id, version) -> sha256 of the state of the snapshot this process checked against its
        # events: a row changed after its check no longer has that digest, and is checked again.
        self.verified_snapshots: dict[tuple[Any, int], str] = {}
        # The ids among those keys, kept beside them: a bulk read asks this of each id it reads, and a set
        # built from the keys on every read cost 17% of an issuance at scale 1 (1,883 providers' years checked).
        self.checked_streams: set[Any] = set()
        # Those that did not match, as reported: {(id, version): {"stream", "version", "type", "found_by"}}.
        self.snapshot_mismatches: dict[tuple[Any, int], dict[str, Any]] = {}
        self._snapshot_lock = threading.Lock()

    # --- snapshots, checked before use ---------------------------------------------------------------

    def _state_digest(self, snapshot: Any) -> str:
        return hashlib.sha256(self.event_store.mapper.transcoder.encode(snapshot.state)).hexdigest()

    def snapshot_trusted(self, snapshot: Any) -> bool:
        """Checked in this process, and still the very state that was checked."""
        digest = self.verified_snapshots.get((snapshot.originator_id, snapshot.originator_version))
        return digest is not None and digest == self._state_digest(snapshot)

    def snapshot_matches(self, snapshot: Any, folded: Any, found_by: str = "load") -> bool:
        """Whether a snapshot equals the fold of its events up to its version; a mismatch is logged and kept."""
        key = (snapshot.originator_id, snapshot.originator_version)
        transcoder = self.event_store.mapper.transcoder
        try:
            restored = mutate_all(None, [snapshot])
            matches = folded is not None and comparable(transcoder, restored) == comparable(transcoder, folded)
        except Exception:  # noqa: BLE001 - a row changed into something that does not restore: a mismatch
            matches = False
        with self._snapshot_lock:
            if matches:
                self.verified_snapshots[key] = self._state_digest(snapshot)
                self.checked_streams.add(key[0])
                self.snapshot_mismatches.pop(key, None)
            else:
                self.verified_snapshots.pop(key, None)
                if not any(stream == key[0] for stream, _ in self.verified_snapshots):
                    self.checked_streams.discard(key[0])
                self.snapshot_mismatches[key] = {"stream": str(snapshot.originator_id),
                                                 "version": snapshot.originator_version,
                                                 "type": str(snapshot.topic).rsplit(":", 1)[-1], "found_by": found_by}
        if not matches:
            log.warning("snapshot of %s at version %s does not match its events: ignored, the aggregate is "
                        "replayed from its events (GET /api/v1/audit/verify reports it)", snapshot.originator_id,
                        snapshot.originator_version)
        return matches

    def unreadable_snapshot(self, aggregate_id: Any, found_by: str, version: int | None = None) -> None:
        with self._snapshot_lock:
            self.snapshot_mismatches[(aggregate_id, version or 0)] = {
                "stream": str(aggregate_id), "version": version, "type": "unreadable", "found_by": found_by}
        log.warning("a snapshot of %s no longer decodes: ignored, the aggregate is replayed from its events "
                    "(GET /api/v1/audit/verify reports it)", aggregate_id)

    def _reconstruct_aggregate(self, aggregate_id: Any, version: int | None, projector_func: Any) -> Any:
        if self.snapshot_store is None:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        try:
            snapshots = list(self.snapshot_store.get(originator_id=aggregate_id, desc=True, limit=1, lte=version))
        except Exception:  # noqa: BLE001 - a snapshot row that no longer decodes is ignored, and reported
            self.unreadable_snapshot(aggregate_id, "load")
            snapshots = []
        snapshot = snapshots[0] if snapshots else None
        if snapshot is None or self.snapshot_trusted(snapshot):
            start, gt = ([snapshot], snapshot.originator_version) if snapshot is not None else ([], None)
            aggregate = projector_func(None, [*start, *self.event_store.get(originator_id=aggregate_id, gt=gt,
                                                                            lte=version)])
        else:
            # First use in this process: the events decide; the snapshot is trusted later only if it matches.
            folded = projector_func(None, self.event_store.get(originator_id=aggregate_id,
                                                               lte=snapshot.originator_version))
            self.snapshot_matches(snapshot, folded)
            aggregate = projector_func(folded, self.event_store.get(originator_id=aggregate_id,
                                                                    gt=snapshot.originator_version, lte=version))
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate

    def check_cached(self) -> tuple[int, list[dict[str, Any]]]:
        """Every cached aggregate compared with the fold of its events up to its version (GET /audit/verify).

        A mismatch is evicted (the next command replays it from the store) and reported.
        """
        if self.pickled is None:
            return 0, []
        with self.pickled.lock:
            entries = list(self.pickled.entries.items())
        mismatches = []
        for aggregate_id, (version, blob) in entries:
            folded = mutate_all(None, self.event_store.get(originator_id=aggregate_id, lte=version))
            cached = pickle.loads(blob)
            # Both are Python objects of the same fold: compared as they are (not every aggregate transcodes).
            if folded is None or state_of(cached) != state_of(folded):
                self.forget(aggregate_id)
                mismatches.append({"stream": str(aggregate_id), "version": version, "type": type(cached).__name__,
                                   "found_by": "cache"})
        return len(entries), mismatches

    def get(self, aggregate_id: Any, *, version: int | None = None, projector_func: Any = project_aggregate,
            fastforward_skipping: bool = False, deepcopy_from_cache: bool = True) -> Any:
        projector_func = _projector(projector_func)
        if self.pickled is None:
            return self._reconstruct_aggregate(aggregate_id, version, projector_func)
        entry = self.pickled.get(aggregate_id)
        if version is not None:
            # A snapshot of what was just saved asks for exactly the cached version: no need to replay.
            if entry is not None and entry[0] == version:
                return pickle.loads(entry[1])
            return self._reconstruct_aggregate(aggregate_id, version, projector_func)
        if entry is None:
            aggregate = self._reconstruct_aggregate(aggregate_id, None, projector_func)
            self.remember(aggregate)
            return aggregate  # already a private copy: the cache keeps its own pickled one
        aggregate = pickle.loads(entry[1])
        unit = _unit.get()
        if unit is not None:
            if self.pickled.is_behind(aggregate_id):
                # Another writer moved it on (LogCheck): only the events after the copy we hold.
                aggregate = projector_func(aggregate, self.event_store.get(originator_id=aggregate_id,
                                                                           gt=aggregate.version))
                if aggregate is None:
                    raise AggregateNotFoundError(aggregate_id)
                self.remember(aggregate)
            unit.loaded.add(aggregate_id)
        else:
            # Not inside a checked command: bring the copy up to date from the store, as the library does.
            new_events = list(self.event_store.get(originator_id=aggregate_id, gt=aggregate.version))
            if new_events:
                aggregate = projector_func(aggregate, new_events)
                if aggregate is None:
                    raise AggregateNotFoundError(aggregate_id)
                self.remember(aggregate)
        return aggregate

    def remember(self, aggregate: Any) -> None:
        """Keep (a pickled copy of) an aggregate as recorded; pending events are never kept."""
        if self.pickled is None or getattr(aggregate, "_pending_events", None):
            return
        try:
            blob = _dumps(aggregate)
        except (pickle.PicklingError, TypeError, AttributeError):  # an unpicklable attribute: do not cache it
            self.forget(aggregate.id)
            return
        self.pickled.put_if_newer(aggregate.id, aggregate.version, blob)

    def prefetch(self, aggregate_ids: Iterable[Any], *, snapshots: bool = True) -> frozenset[Any]:
        """Load the uncached ones ahead, so the gets that follow hit the cache.

        For commands that touch thousands of aggregates (the year close), whose loads one by one are two
        round trips each. With a `stream_reader` (PostgreSQL, installed by the composition roots) a
        chunk's streams come in two statements (`_prefetch_in_bulk`); without one, several connections of
        the pool overlap the per-aggregate loads. Not worth it in-process (SQLite).
        `snapshots=False` for aggregates of a class that is never snapshotted (contracts): all their
        events, in one round trip instead of two (a snapshot, if any, would only shorten the replay).

        Returns the ids it read in bulk and found to have no stream at all, so that a command asking
        whether something exists yet (an issuance, its voucher) need not read again; empty when it read
        nothing in bulk, which says nothing about absence.
        """
        if self.pickled is None:
            return frozenset()
        missing = [i for i in dict.fromkeys(aggregate_ids) if self.pickled.get(i) is None]
        if self.stream_reader is not None and missing:  # even one: its two statements share a transaction
            return self._prefetch_in_bulk(missing, snapshots)
        if len(missing) < 2 or self.prefetch_threads <= 1:
            return frozenset()

        def load(aggregate_id: Any) -> None:
            if snapshots:
                try:
                    self.remember(self._reconstruct_aggregate(aggregate_id, None, mutate_all))
                except AggregateNotFoundError:
                    pass  # the get that follows says so
                return
            aggregate = mutate_all(None, self.event_store.get(originator_id=aggregate_id))
            if aggregate is not None:
                self.remember(aggregate)

        with ThreadPoolExecutor(max_workers=min(self.prefetch_threads, len(missing))) as pool:
            list(pool.map(load, missing))
        return frozenset()

    def _prefetch_in_bulk(self, missing: list[Any], snapshots: bool, chunk: int = 1_000) -> frozenset[Any]:
        """The streams of many aggregates in a few statements (`stream_reader`), then replayed here.

        A stream whose snapshot this process has checked starts from that snapshot (two statements: the
        snapshots, the events after them). Any other snapshot must first be checked against the fold of its
        stream's events up to it (see the module's doc), so those streams are read whole together with
        their latest snapshot, folded once, and the snapshot checked on the way: later loads start from it.
        (Reading the events after the snapshot and then all of them again, as this did before, read the
        tail twice: a cold year close's vouchers are snapshotted every ten events.)
        """
        assert self.stream_reader is not None
        from_snapshots: list[Any] = []
        if snapshots and self.snapshot_store is not None:
            with self._snapshot_lock:
                from_snapshots = [i for i in missing if i in self.checked_streams]
        starting_from_snapshots = set(from_snapshots)
        whole = [i for i in missing if i not in starting_from_snapshots]
        absent: set[Any] = set()
        for ids, from_start in ((whole, True), (from_snapshots, False)):
            for start in range(0, len(ids), chunk):
                absent.update(self._replay_in_bulk(ids[start:start + chunk], snapshots, from_start))
        return frozenset(absent)

    def _replay_in_bulk(self, ids: list[Any], with_snapshots: bool, from_start: bool) -> set[Any]:
        """Read these streams in bulk and remember each aggregate; answer the ids that have no stream."""
        assert self.stream_reader is not None
        snapshot_mapper = self.snapshot_store.mapper if self.snapshot_store is not None else None
        mapper = self.event_store.mapper
        unchecked: dict[Any, Any] = {}
        streams = self.stream_reader(ids, with_snapshots, from_start=from_start)
        for snapshot, stored in streams.values():
            try:
                first = None if snapshot is None or snapshot_mapper is None else snapshot_mapper.to_domain_event(
                    snapshot)
            except Exception:  # noqa: BLE001 - unreadable: left to `get`, which replays the events and reports it
                continue
            if from_start:  # every event is here: fold them, checking the snapshot on the way
                self._remember_checked(first, [mapper.to_domain_event(event) for event in stored])
                continue
            if first is not None and not self.snapshot_trusted(first):
                unchecked[first.originator_id] = first  # a newer snapshot than the one checked: see below
                continue
            stream = [] if first is None else [first]
            stream.extend(mapper.to_domain_event(event) for event in stored)
            aggregate = mutate_all(None, stream)
            if aggregate is not None:
                self.remember(aggregate)
        if unchecked:
            for aggregate_id, (_, stored) in self.stream_reader(list(unchecked), False).items():
                self._remember_checked(unchecked[aggregate_id], [mapper.to_domain_event(event) for event in stored])
        return {i for i in ids if i not in streams}

    def _remember_checked(self, snapshot: Any, events: list[Any]) -> None:
        """Fold a stream's events from the start, checking the snapshot (if any) against the fold up to it."""
        if snapshot is None:
            folded = mutate_all(None, events)
        else:
            upto = [e for e in events if e.originator_version <= snapshot.originator_version]
            folded = mutate_all(None, upto)
            self.snapshot_matches(snapshot, folded)
            folded = mutate_all(folded, events[len(upto):])
        if folded is not None:
            self.remember(folded)

    def forget(self, aggregate_id: Any) -> None:
        if self.pickled is not None:
            self.pickled.evict(aggregate_id)

    def __contains__(self, item: Any) -> bool:
        try:
            self.get(item)
        except AggregateNotFoundError:
            return False
        return True


class LogCheck:
    """Marks cached aggregates that other writers changed as behind, by reading the log past the last check.

    It also notices the log going backwards (issue 15, item 5): a failover to a replica that lost
    acknowledged commits, a database restored from an earlier copy, rows deleted. Then the cache may
    hold aggregates, or versions of them, that the store no longer has, and acting on them would
    issue a voucher to an enterprise the store does not know; so it is emptied. Two signs, each
    checked by the same query as the new notifications: the last notification it saw (`seen`, with its
    originator and version) must still be there, unchanged; and every commit of this process that was
    acknowledged before the check began must be in the log.
    """

    def __init__(self, app: Any, repository: CheckedRepository) -> None:
        self.app = app
        self.repository = repository
        self.lock = threading.Lock()
        self.rewinds = 0  # times the log was found to have gone backwards (shown by /healthz)
        # The last notification of this process's latest acknowledged save: (position, anchor).
        self.committed: tuple[int, Any] = (0, None)
        # `entries(start, limit, inclusive)`: the log's notifications from `start` (id, originator id and
        # version are all the check reads). The library's reader by default; the composition root installs
        # a leaner one (projections/storage/logentries.py: `ledger/` knows no SQL).
        self.entries: Callable[[int, int, bool], Sequence[Any]] = (
            lambda start, limit, inclusive: app.recorder.select_notifications(
                start=start, limit=limit, inclusive_of_start=inclusive))
        # Constructed before anything is cached: whatever is cached later is at least this recent.
        self.seen, self.anchor = self._head()

    def _head(self) -> tuple[int, Any]:
        head = self.app.recorder.max_notification_id() or 0
        page = self.entries(head, 1, inclusive=True) if head else []
        return (page[0].id, _anchor(page[0])) if page else (0, None)

    def note_commit(self, notification: Any) -> None:
        """This process's save was acknowledged, its last event at `notification` (VoucherLedger._record)."""
        with self.lock:
            if notification.id > self.committed[0]:
                self.committed = (notification.id, _anchor(notification))

    def check(self) -> None:
        cache = self.repository.pickled
        if cache is None:
            return
        with self.lock:
            start, anchor, committed = self.seen, self.anchor, self.committed
        # The page starts at the last notification seen (inclusive), to check it is still the same.
        page = self.entries(max(start, 1), CHECK_PAGE + 1, inclusive=True)
        if start and (not page or page[0].id != start or _anchor(page[0]) != anchor):
            self._rewound(cache)
            return
        if start:
            page = page[1:]
        last, last_anchor = start, anchor
        ours, our_anchor = committed
        found_ours = ours <= start  # checked by an earlier check, or nothing saved since
        for pages in range(CHECK_PAGES):
            if pages:
                page = self.entries(last, CHECK_PAGE, inclusive=False)
            for notification in page:
                cache.mark_behind(notification.originator_id, notification.originator_version)
                if notification.id == ours:
                    found_ours = _anchor(notification) == our_anchor
            if page:
                last, last_anchor = page[-1].id, _anchor(page[-1])
            if len(page) < CHECK_PAGE:
                break
        else:
            # Far behind (a bulk load by another process): start afresh rather than read it all.
            cache.clear()
            last, last_anchor = self._head()
            found_ours = True  # the cache is empty anyway
        if not found_ours:
            # A save of ours acknowledged before this check began is not in the log (or another event
            # holds its position, in a restored database): commits were lost.
            self._rewound(cache)
            return
        with self.lock:
            if last > self.seen:
                self.seen, self.anchor = last, last_anchor

    def _rewound(self, cache: PickledLRU) -> None:
        """The log no longer has what this process saw or saved: forget every cached aggregate."""
        cache.clear()
        seen, anchor = self._head()
        with self.lock:
            self.seen, self.anchor, self.committed = seen, anchor, (0, None)
            self.rewinds += 1

    def checked_head(self) -> int | None:
        """The log's head as far as the checks have read it (at least what the latest check found), or
        None without a cache, when nothing is checked: a caller then asks the store."""
        if self.repository.pickled is None:
            return None
        with self.lock:
            return self.seen

    @contextmanager
    def unit(self) -> Iterator[Unit]:
        """One attempt of a command: check once, then trust the cache until it ends."""
        outer = _unit.get()
        if outer is not None:  # a command run by a command: the outer check stands
            yield outer
            return
        self.check()
        unit = Unit(self.repository)
        token = _unit.set(unit)
        try:
            yield unit
        finally:
            _unit.reset(token)
