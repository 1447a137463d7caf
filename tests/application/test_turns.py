"""Issuance takes turns on the year's budget (ledger/commands/base.py `exclusive`; issue 21).

Every issuance commits its quota on the year's one stream. Racing optimistically, concurrent issuers
conflicted on it and retried, across server processes until one ran out (a 503). Taking turns, none
of them conflicts on the year, in one process (a lock) or across processes (PostgreSQL's advisory
lock, projections/storage/turns.py), and the budget still adds up.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from ledger import errors
from ledger.commands import base
from ledger.domain.year import Year
from service.bootstrap import open_ledger
from tests.support import YEAR, Scenario, as_role, hooked_ledger
from tests.support_fold import assert_fund_identity, fold

ISSUERS = 8
EACH = 4


def _issue_all(app: Any, codes: list[str], failures: list[BaseException], start: threading.Barrier) -> None:
    start.wait(timeout=60)
    for code in codes:
        try:
            with as_role("operator"):
                app.issue_voucher(code, YEAR)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            failures.append(exc)


def test_concurrent_issuers_take_turns_on_the_years_budget_without_a_conflict(store, ledger, clock):
    scenario = Scenario(ledger)
    scenario.open_year()
    codes = [scenario.enterprise(("tech_sme",)) for _ in range(ISSUERS * EACH)]
    # Two server processes on PostgreSQL (two applications: two caches, two sets of turns); SQLite's
    # deployment is one server, its threads taking turns in the process.
    apps = [ledger] + ([open_ledger(store, create_table=False, clock=clock)] if store.backend == "postgres" else [])
    for app in apps:
        app.conflicts_retried = 0
    failures: list[BaseException] = []
    start = threading.Barrier(ISSUERS)
    threads = [threading.Thread(target=_issue_all, args=(apps[i % len(apps)], codes[i::ISSUERS], failures, start))
               for i in range(ISSUERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for app in apps[1:]:
            app.close()
    assert failures == []
    assert [app.conflicts_retried for app in apps] == [0] * len(apps)
    folded = fold(ledger)
    assert sum(1 for a in folded.aggregates.values() if type(a).__name__ == "Voucher") == len(codes)
    assert_fund_identity(folded)


@pytest.mark.parametrize("backend", ["postgres"])  # the turn across processes is PostgreSQL's advisory lock
def test_an_issuance_that_cannot_have_its_turn_in_time_is_a_503_and_records_nothing(backend, store, ledger,
                                                                                   clock, monkeypatch):
    scenario = Scenario(ledger)
    scenario.open_year()
    code = scenario.enterprise(("tech_sme",))
    other = open_ledger(store, create_table=False, clock=clock)  # another server, in the middle of an issuance
    monkeypatch.setattr(base, "CONFLICT_SECONDS", 0.3)
    head = ledger.recorder.max_notification_id()
    try:
        with other.turns.turn(Year.create_id(YEAR), timeout=5):
            with as_role("operator"), pytest.raises(errors.ConcurrencyConflict):
                ledger.issue_voucher(code, YEAR)
        assert ledger.recorder.max_notification_id() == head
        with as_role("operator"):
            assert ledger.issue_voucher(code, YEAR).data["enterprise_id"] == code  # its turn, once free
    finally:
        other.close()


# Runs inside an issuance, while its turn is held.
TurnBroken = hooked_ledger("get_enterprise")


@pytest.mark.parametrize("backend", ["postgres"])
def test_an_issuance_whose_turn_s_connection_breaks_is_still_answered_and_recorded_once(backend, store, clock):
    """The turn's connection dies mid-command (PostgreSQL's idle-in-transaction timeout, a restart): the
    lock went with its session, the command's own save is on another connection and commits, and its
    answer must not become an error (a retry would then refuse the committed issuance as ALREADY_ISSUED)."""
    ledger = open_ledger(store, clock=clock, application=TurnBroken)
    try:
        scenario = Scenario(ledger)
        scenario.open_year()
        code = scenario.enterprise(("tech_sme",))
        killed: list[int] = []

        def kill_the_turn_s_session() -> None:
            with psycopg.connect(store.url, autocommit=True) as admin:
                rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                     "WHERE locktype = 'advisory' AND granted").fetchall()
            killed.extend(1 for (done,) in rows if done)

        ledger.hook = kill_the_turn_s_session
        with as_role("operator"):
            issued = ledger.issue_voucher(code, YEAR)
        assert killed == [1], "the turn was held, and its session killed, during the command"
        assert issued.data["enterprise_id"] == code and issued.created
        vouchers = [a for a in fold(ledger).aggregates.values() if type(a).__name__ == "Voucher"]
        assert [v.enterprise_id for v in vouchers] == [code]
        with as_role("operator"):  # the pool replaced the dead connection: the next turn is had
            assert ledger.issue_voucher(scenario.enterprise(("tech_sme",)), YEAR).created
    finally:
        ledger.close()


def _year_rows_read(app: Any, year_id: Any) -> list[int]:
    """Rows of the year's stream each library read returns from here on (a spy: the real recorder answers)."""
    rows: list[int] = []
    select_events = app.recorder.select_events

    def counted(originator_id: Any, *args: Any, **kwargs: Any) -> Any:
        found = select_events(originator_id, *args, **kwargs)
        if originator_id == year_id:
            rows.append(len(found))
        return found

    app.recorder.select_events = counted
    return rows


def test_a_year_another_process_moved_on_is_brought_forward_by_its_new_events_not_replayed(store, ledger, clock):
    """The issuer that gets the turn after another process's issuances applies only their events to the year it
    holds. Before, it reloaded the year from its latest snapshot, and when the other process had just taken a
    new one, replayed the whole stream to check it: at scale 1, 20,800 events inside the year's turn."""
    scenario = Scenario(ledger)
    scenario.open_year()
    year_id = Year.create_id(YEAR)
    other = open_ledger(store, create_table=False, clock=clock)
    try:
        for app in (ledger, other):
            app.snapshotting_intervals = {**app.snapshotting_intervals, Year: 5}
        for _ in range(7):
            scenario.voucher(scenario.enterprise(("tech_sme",)))
        with as_role("operator"):
            other.issue_voucher(scenario.enterprise(("tech_sme",)), YEAR)  # caches the year (snapshot checked)
        held = other.repository.get(year_id).version
        for _ in range(12):  # past two more snapshots of the year, taken by this process
            scenario.voucher(scenario.enterprise(("tech_sme",)))
        moved_on = ledger.repository.get(year_id).version
        assert moved_on - held == 12 and moved_on // 5 > held // 5 + 1

        rows = _year_rows_read(other, year_id)
        code = scenario.enterprise(("tech_sme",))
        with as_role("operator"):
            issued = other.issue_voucher(code, YEAR)
        assert issued.created
        assert rows == [12]  # the other process's twelve issuances on the year, and nothing before them
        count, mismatches = other.repository.check_cached()
        assert count and mismatches == []  # what it holds is the fold of the year's events
        assert_fund_identity(fold(ledger))
    finally:
        other.close()
