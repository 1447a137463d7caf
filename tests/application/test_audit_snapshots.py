"""Snapshots inside the evidence (issue 15, 2; API.md "Audit and supervision"): a changed snapshot row is
reported by `/audit/verify`, never used to decide a command.

The Year snapshot is edited in the store's own snapshots table, on SQLite and PostgreSQL, the way an
insider with database access would: its `budget_fen` raised by ¥2,100,000. A fresh ledger (a
restarted server: nothing cached, nothing checked yet) must still refuse issuance past the real budget.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import errors
from ledger.domain.year import Year
from ledger.money import yuan
from projections.audit import snapshots
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.audit_support import edit_snapshot
from tests.support import YEAR, Scenario, as_role


def _year_with_one_voucher_left(scenario: Scenario) -> tuple[Any, int]:
    """A year whose budget covers exactly the vouchers issued; a snapshot of it taken at its latest version."""
    scenario.open_year(budget_yuan=None)
    code = scenario.enterprise(("tech_sme",))
    app = scenario.app
    with as_role("finance"):
        app.allocate_budget(YEAR, yuan(1), "budget-small")
    year_id = Year.create_id(YEAR)
    app.take_snapshot(year_id)
    return year_id, code


def test_a_changed_year_snapshot_is_never_used_and_is_reported(store, clock, ledger):
    scenario = Scenario(ledger)
    year_id, code = _year_with_one_voucher_left(scenario)
    with as_role("operator"), pytest.raises(errors.BudgetExhausted):
        ledger.issue_voucher(code, YEAR)
    edit_snapshot(ledger, store, year_id, lambda state: state.update(budget_fen=state["budget_fen"] + yuan(2_100_000)))

    fresh = open_ledger(store, clock=clock)  # a freshly started server
    try:
        assert fresh.repository.get(year_id).budget_fen == yuan(1)  # the events decide, not the row
        with as_role("operator"), pytest.raises(errors.BudgetExhausted):
            fresh.issue_voucher(code, YEAR)
        views = Views(fresh)
        try:
            views.catch_up()
            from projections.audit import chain

            result = snapshots.with_snapshots(fresh, chain.verify(fresh, views.store))
        finally:
            views.close()
        assert result["ok"] is False and result["reason"] == "snapshot_mismatch"
        assert result["stream"] == str(year_id)
        assert [m["type"] for m in result["snapshots"]["mismatches"]] == ["Year"]
    finally:
        fresh.close()


def test_an_untouched_snapshot_is_checked_once_then_trusted(store, clock, ledger):
    scenario = Scenario(ledger)
    year_id, _ = _year_with_one_voucher_left(scenario)
    fresh = open_ledger(store, clock=clock)
    try:
        assert fresh.repository.get(year_id).budget_fen == yuan(1)
        assert fresh.repository.verified_snapshots and not fresh.repository.snapshot_mismatches
        found = snapshots.check(fresh)
        assert found["checked"] == 1 and found["mismatches"] == []
        # Changed after this process checked it: the audit compares again, and the next load does not trust it.
        edit_snapshot(fresh, store, year_id, lambda state: state.update(issued_fen=-1))
        again = snapshots.check(fresh)
        assert [(m["stream"], m["found_by"]) for m in again["mismatches"]] == [(str(year_id), "audit")]
        fresh.repository.forget(year_id)
        assert fresh.repository.get(year_id).issued_fen == 0
    finally:
        fresh.close()


def test_the_aggregate_cache_is_checked_against_the_events(scenario, ledger):
    import pickle

    from tests.audit_support import build

    build(scenario)
    found = snapshots.check(ledger)
    assert found["cached"] > 10 and found["mismatches"] == []  # every aggregate of a whole lifecycle, as folded
    year_id = Year.create_id(YEAR)
    cached = ledger.repository.get(year_id)
    cached.budget_fen += yuan(2_100_000)  # a cached state that no event made
    ledger.repository.pickled.put_if_newer(year_id, cached.version, pickle.dumps(cached))
    found = snapshots.check(ledger)
    assert [(m["stream"], m["found_by"]) for m in found["mismatches"]] == [(str(year_id), "cache")]
    assert ledger.repository.pickled.get(year_id) is None  # evicted: the next command replays the events


def test_a_snapshot_row_that_no_longer_decodes_is_ignored_and_reported(store, clock, ledger):
    from tests.audit_support import edit_snapshot

    scenario = Scenario(ledger)
    year_id, code = _year_with_one_voucher_left(scenario)

    def garble(state: dict) -> None:
        state["budget_fen"] = {"_type_": "no_such_type", "_data_": "x"}

    edit_snapshot(ledger, store, year_id, garble)
    fresh = open_ledger(store, clock=clock)
    try:
        with as_role("operator"), pytest.raises(errors.BudgetExhausted):
            fresh.issue_voucher(code, YEAR)  # the events decide, never a 500
        found = snapshots.check(fresh)
        assert {(m["stream"], m["type"]) for m in found["mismatches"]} == {(str(year_id), "unreadable")}
    finally:
        fresh.close()


def test_a_snapshot_changed_after_a_bulk_read_checked_it_is_not_used_by_the_next_bulk_read(store, clock, ledger):
    # The bulk reads of a server on PostgreSQL (projections/storage/streams.py): a fresh process reads the
    # Year whole and checks its snapshot on the way; once the row changes, the next bulk read does not
    # trust it, folds the events again and reports the row.
    from projections.storage import streams

    scenario = Scenario(ledger)
    year_id, code = _year_with_one_voucher_left(scenario)
    fresh = open_ledger(store, clock=clock)
    try:
        streams.install(fresh)
        if fresh.repository.stream_reader is None:
            assert store.backend == "sqlite"  # in-process: no bulk reads to check
            return
        fresh.repository.prefetch([year_id])
        assert not fresh.repository.snapshot_mismatches
        assert any(stream == year_id for stream, _ in fresh.repository.verified_snapshots)  # checked on the way
        edit_snapshot(fresh, store, year_id, lambda state: state.update(budget_fen=state["budget_fen"] + yuan(2_100_000)))
        fresh.repository.forget(year_id)
        fresh.repository.prefetch([year_id])
        assert fresh.repository.get(year_id).budget_fen == yuan(1)  # the events decide, not the row
        assert [(m["stream"], m["found_by"]) for m in fresh.repository.snapshot_mismatches.values()] == \
            [(str(year_id), "load")]
        # No snapshot of the year is checked any more: the next bulk read reads its stream whole again.
        assert year_id not in fresh.repository.checked_streams
        with as_role("operator"), pytest.raises(errors.BudgetExhausted):
            fresh.issue_voucher(code, YEAR)
    finally:
        fresh.close()
