"""VoucherLedger: the one application service; every command is one method (ARCHITECTURE.md).

The command groups live in `ledger/commands/`; this class puts them together with the
persistence settings that keep hot aggregates fast (snapshots, the aggregate cache).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable
from datetime import date, datetime

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.as_of import PointInTimeQueries
from ledger.cache import CheckedRepository, LogCheck
from ledger.commands.archive import ArchiveCommands
from ledger.commands.base import CommandBase
from ledger.commands.cases import CaseCommands
from ledger.commands.contracts import ContractCommands
from ledger.commands.credentials import CredentialCommands
from ledger.commands.providers import ProviderCommands
from ledger.commands.settlement import SettlementCommands
from ledger.commands.years import YearCommands
from ledger.domain.packed import PackedDictAsDict
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import SettlementBatch
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.persistence import Store, parse_database_url

PREFETCH_THREADS = 6  # below the pool's size plus overflow (persistence.py)


class VoucherLedger(SettlementCommands, ArchiveCommands, CaseCommands, ContractCommands, ProviderCommands, YearCommands,
                    CredentialCommands, PointInTimeQueries, CommandBase):
    """Commands of the voucher fund; queries are served by the read models in `projections/`."""

    name = "VoucherLedger"
    # Year gets one event per issued voucher and ProviderYear one per contract: snapshot them so
    # a command never replays a year's worth of events. A voucher gets two or three per contract;
    # every ten, so the year close (which loads every voucher) replays little (issue 7).
    snapshotting_intervals = {Year: 100, ProviderYear: 100, Voucher: 10, SettlementBatch: 100}

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], date] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(env=env, clock=clock, now=now)
        self.log_check = LogCheck(self, self.repository)

    def register_transcodings(self, transcoder: Any) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(PackedDictAsDict())  # a batch's claims, in its snapshots

    def construct_repository(self) -> CheckedRepository:
        """The aggregate cache is checked once per command against the log (ledger/cache.py)."""
        maxsize = int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or 0)
        # Concurrent loads overlap PostgreSQL's round trips (the pool has connections to spare).
        threads = PREFETCH_THREADS if "postgres" in (self.env.get("PERSISTENCE_MODULE") or "").lower() else 1
        return CheckedRepository(event_store=self.events, snapshot_store=self.snapshots, cache_maxsize=maxsize,
                                 prefetch_threads=threads)

    def unit_of_work(self) -> AbstractContextManager[Any]:
        return self.log_check.unit()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's `save()`, collecting our aggregates' events without its runtime-Protocol checks.

        `ProcessingEvent.collect_events` asks `isinstance(obj, DomainEventProtocol)` and then
        `CollectEventsProtocol` of every object: each walks the protocol's attributes, about a tenth of
        a contract signature's CPU and of a year-close chunk's in the profiles of issue 21. Our
        aggregates are the library's `Aggregate`s (an ordinary class check); anything else goes
        through the library's own collection. The recording, snapshots and notifications are the
        library's steps, unchanged.
        """
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, kept as its save() calls it
        return recordings

    def _record(self, processing_event: Any) -> Any:
        """Record, then cache what was saved; a refused save (version conflict) forgets its aggregates."""
        try:
            recordings = super()._record(processing_event)
        except IntegrityError:
            for aggregate_id in processing_event.aggregates:
                self.repository.forget(aggregate_id)
            raise
        for aggregate in processing_event.aggregates.values():
            self.repository.remember(aggregate)
        if recordings:
            self.log_check.note_commit(recordings[-1].notification)  # a later check expects it in the log
        return recordings

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot what a save carried past a multiple of its interval: its saved state, in one insert.

        The library re-reads each due aggregate at exactly that version (two queries when the save
        went past it, as a year-close chunk does with hundreds of vouchers and providers' years) and
        inserts each snapshot on its own; the state just saved is as good a starting point (issue 7).
        """
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        due: dict[Any, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            if aggregate is None:
                continue
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and event.originator_version % interval == 0:
                due[aggregate.id] = aggregate
        if due:
            self.snapshots.put([getattr(type(a), "Snapshot", self.snapshot_class).take(a) for a in due.values()])

    @classmethod
    def for_store(cls, store: Store | None = None, *, create_table: bool = True,
                  clock: Callable[[], date] | None = None,
                  now: Callable[[], datetime] | None = None) -> "VoucherLedger":
        store = store or parse_database_url()
        env = {**store.event_store_env(create_table=create_table), "AGGREGATE_CACHE_MAXSIZE": "20000"}
        app = cls(env=env, clock=clock, now=now)
        app.store = store
        return app
