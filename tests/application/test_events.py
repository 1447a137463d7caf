"""What every event carries: who acted, on which request, and the rule parameters it applied (ARCHITECTURE.md)."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.application import VoucherLedger
from ledger.context import Actor, acting
from ledger.domain.contract import Contract
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.money import share_of, yuan
from tests.support import YEAR, Scenario, as_role, year_ended
from tests.support_fold import assert_fund_identity, fold


def all_events(ledger):
    events, last = [], 0
    while page := ledger.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
        events += [(n.id, ledger.mapper.to_domain_event(n)) for n in page]
        last = page[-1].id
    return events


def busy_year(scenario: Scenario) -> dict[str, str]:
    """A year with contracts in every state, a cap exception and a close: every kind of event."""
    app = scenario.app
    scenario.open_year(provider_cap=yuan(1_000_000))
    enterprise, voucher_id = scenario.holder(("gazelle",))
    provider = scenario.provider()
    diagnosis = scenario.product(provider, "diagnosis")
    consulting = scenario.product(provider, "management_consulting")
    with as_role("approver"):
        app.grant_cap_exception(provider, YEAR, yuan(50_000), "重点项目 (Art. 10 原则上)")
    ids = {state: scenario.contract(enterprise, voucher_id, provider, product, yuan(40_000), state=state)
           for state, product in (("completed", diagnosis), ("active", consulting), ("terminated", diagnosis),
                                  ("signed", consulting), ("proposed", diagnosis))}
    with as_role("operator"):
        year_ended(app)
        app.close_year(YEAR)
    return ids


def test_every_event_records_actor_and_request_id(scenario, ledger):
    # A request id names each command; every event it records carries it with the actor (Art. 24 trace).
    with acting(Actor(role="approver", id="厅-张三"), request_id="req-open-year"):
        ledger.open_year(YEAR, f"{YEAR}-01-01", f"{YEAR}-12-31")
    with acting(Actor(role="finance", id="财政-李四"), request_id="req-budget"):
        ledger.allocate_budget(YEAR, yuan(1_000_000), "桂财工〔2026〕1号")
    busy = Scenario(ledger)
    busy.open_year = lambda *a, **k: YEAR  # the year above is the one
    busy_year(busy)
    events = all_events(ledger)
    assert len(events) > 30
    for position, event in events:
        assert set(event.actor) == {"role", "id"} and event.actor["role"] and event.actor["id"], (position, event)
        assert isinstance(event.request_id, str) and event.request_id, (position, event)
    by_request = {}
    for _, event in events:
        by_request.setdefault(event.request_id, []).append(event)
    assert [type(e) for e in by_request["req-open-year"]] == [Year.Opened]
    assert by_request["req-open-year"][0].actor == {"role": "approver", "id": "厅-张三"}
    assert [type(e) for e in by_request["req-budget"]] == [Year.BudgetAllocated]
    # One signature is one request: the contract, the voucher and the provider's year move together.
    signed = next(e for _, e in events if isinstance(e, Contract.Signed))
    together = {type(e) for e in by_request[signed.request_id]}
    assert together == {Contract.Signed, Voucher.Reserved, ProviderYear.Reserved}
    assert all(e.actor["role"] == "provider" for e in by_request[signed.request_id])


def test_events_record_rule_parameters(scenario, ledger):
    # An auditor recomputes every figure from the event alone (share, cap, deposit share).
    busy_year(scenario)
    events = [e for _, e in all_events(ledger)]
    opened = next(e for e in events if isinstance(e, Year.Opened))
    assert opened.parameters == {"tier_quotas_fen": {"T1": yuan(50_000), "T2": yuan(100_000), "T3": yuan(200_000),
                                                     "T4": yuan(300_000)},
                                 "diagnosis_share_bp": 8000, "other_share_bp": 5000, "deposit_share_bp": 2000,
                                 "provider_cap_fen": yuan(1_000_000), "commitment_required": False,
                                 "settlement_batches": 2}
    proposed = {e.originator_id: e for e in events if isinstance(e, Contract.Proposed)}
    signatures = [e for e in events if isinstance(e, Contract.Signed)]
    assert len(signatures) == 4
    for signed in signatures:
        amount = signed.deposit_fen + signed.subsidy_fen + signed.balance_due_fen
        assert amount == proposed[signed.originator_id].amount_fen
        assert signed.deposit_fen == share_of(amount, signed.deposit_share_bp)
        assert signed.subsidy_fen == min(share_of(amount, signed.share_bp), signed.voucher_available_fen)
        assert signed.share_bp == (8000 if proposed[signed.originator_id].category == "diagnosis" else 5000)
        assert (signed.provider_cap_fen, signed.provider_exceptions_fen) == (yuan(1_000_000), yuan(50_000))
    for reserved in (e for e in events if isinstance(e, Voucher.Reserved)):
        assert reserved.amount_fen <= share_of(reserved.contract_amount_fen, reserved.share_bp)
    for reserved in (e for e in events if isinstance(e, ProviderYear.Reserved)):
        assert (reserved.cap_fen, reserved.exceptions_fen) == (yuan(1_000_000), yuan(50_000))
    issued = next(e for e in events if isinstance(e, Voucher.Issued))
    assert issued.quota_fen == opened.parameters["tier_quotas_fen"][issued.tier]
    committed = next(e for e in events if isinstance(e, Year.QuotaCommitted))
    assert (committed.voucher_id, committed.quota_fen) == (str(issued.originator_id), issued.quota_fen)
    granted = next(e for e in events if isinstance(e, ProviderYear.ExceptionGranted))
    assert (granted.amount_fen, granted.reason, granted.actor["role"]) == (yuan(50_000), "重点项目 (Art. 10 原则上)",
                                                                           "approver")


class SnappyLedger(VoucherLedger):
    """The same application and tables, snapshotting every other event."""

    name = "VoucherLedger"
    snapshotting_intervals = {Year: 2, ProviderYear: 2, Voucher: 2, Contract: 2}


def state(aggregate) -> dict:
    return {k: v for k, v in vars(aggregate).items() if k not in ("_pending_events", "_modified_on")}


def test_snapshot_and_cache_do_not_change_results(store, clock):
    # Snapshots and the aggregate cache are speed only: every aggregate, at every version, equals a
    # plain fold of its events; and a run with snapshots answers exactly what a run without does.
    snappy = SnappyLedger(env={**store.event_store_env(), "AGGREGATE_CACHE_MAXSIZE": "20000"}, clock=clock)
    snappy.store = store
    try:
        ids = busy_year(Scenario(snappy))
        folded = fold(snappy)
        assert_fund_identity(folded)
        plain = VoucherLedger(env={**store.event_store_env(create_table=False), "IS_SNAPSHOTTING_ENABLED": "n"},
                              clock=clock)
        try:
            snapshots_taken = 0
            for aggregate_id, expected in folded.aggregates.items():
                assert state(snappy.repository.get(aggregate_id)) == state(expected)  # cache
                assert state(plain.repository.get(aggregate_id)) == state(expected)  # no cache, no snapshot
                fresh = SnappyLedger(env=store.event_store_env(create_table=False), clock=clock)
                try:
                    assert state(fresh.repository.get(aggregate_id)) == state(expected)  # snapshot + events
                finally:
                    fresh.close()
                snapshots_taken += len(list(snappy.snapshots.get(aggregate_id)))
                for version in range(1, expected.version + 1):
                    assert state(snappy.repository.get(aggregate_id, version=version)) == \
                        state(plain.repository.get(aggregate_id, version=version))
            assert snapshots_taken > 5
        finally:
            plain.close()
        contract = snappy.get_contract(ids["completed"])
        assert contract.status == "completed" and contract.subsidy_fen == yuan(32_000)
    finally:
        snappy.close()


@pytest.mark.parametrize("today", [date(YEAR, 1, 1), date(YEAR, 12, 31)])
def test_the_window_includes_its_first_and_last_day(scenario, clock, today):
    clock.today = today
    scenario.open_year()
    enterprise, voucher_id = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider)
    assert scenario.contract(enterprise, voucher_id, provider, product, yuan(10_000))


@pytest.mark.parametrize("with_snapshots", [True, False])
def test_bulk_stream_reads_rebuild_every_aggregate_exactly(store, clock, with_snapshots):
    # The year close's bulk loads (projections/storage/streams.py, PostgreSQL): latest snapshots and the events
    # after them for many aggregates in two statements, replayed into the cache; every aggregate equals
    # a plain fold of its events.
    from projections.storage import streams

    snappy = SnappyLedger(env={**store.event_store_env(), "AGGREGATE_CACHE_MAXSIZE": "20000"}, clock=clock)
    snappy.store = store
    try:
        busy_year(Scenario(snappy))
        folded = fold(snappy)
    finally:
        snappy.close()
    fresh = SnappyLedger(env={**store.event_store_env(create_table=False), "AGGREGATE_CACHE_MAXSIZE": "20000"},
                         clock=clock)
    try:
        streams.install(fresh)
        reader = fresh.repository.stream_reader
        if store.backend == "sqlite":
            assert reader is None  # in-process: nothing to save by batching
            return
        asked: list[int] = []
        fresh.repository.stream_reader = lambda ids, *rest, **kw: asked.append(len(ids)) or reader(ids, *rest, **kw)
        ids = list(folded.aggregates)
        fresh.repository.prefetch(ids, snapshots=with_snapshots)
        # One bulk read for every stream, whole: a fresh process has checked no snapshot yet, and checks
        # each against the fold of its events (issue 15) on the way, without reading any event twice.
        assert asked == [len(ids)]
        checked = {aggregate_id for aggregate_id, _ in fresh.repository.verified_snapshots}
        assert fresh.repository.checked_streams == checked  # the index the next bulk read consults
        assert bool(checked) is with_snapshots  # the busy year's vouchers and year are snapshotted
        assert not fresh.repository.snapshot_mismatches
        for aggregate_id, expected in folded.aggregates.items():
            assert fresh.repository.pickled.get(aggregate_id) is not None  # loaded by the bulk read
            assert state(fresh.repository.get(aggregate_id)) == state(expected)
        # Loaded again (evicted, say), the checked streams start from their snapshots, the others are whole.
        for aggregate_id in ids:
            fresh.repository.forget(aggregate_id)
        asked.clear()
        fresh.repository.prefetch(ids, snapshots=with_snapshots)
        assert asked == ([len(ids) - len(checked), len(checked)] if with_snapshots else [len(ids)])
        for aggregate_id, expected in folded.aggregates.items():
            assert state(fresh.repository.get(aggregate_id)) == state(expected)
    finally:
        fresh.close()
