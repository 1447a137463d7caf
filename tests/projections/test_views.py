"""Read models: equal to a fresh fold over all events, rebuildable from position 0, each event applied exactly once."""

from __future__ import annotations

import threading
import time

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.money import yuan
from projections.runner import Views
from projections.views import balances
from service.bootstrap import open_ledger
from tests.support import YEAR, as_role, year_ended
from tests.support_fold import assert_fund_identity, assert_views_match_fold


def every_kind_of_movement(scenario) -> dict[str, str]:
    """Two years, every tier, contracts in every state, a cap exception and a close."""
    app = scenario.app
    scenario.open_year(provider_cap=yuan(500_000))
    scenario.open_year(YEAR + 1, budget_yuan=2_000_000)
    provider, other_provider = scenario.provider(), scenario.provider()
    scenario.sign_provider(provider, YEAR + 1)
    products = {c: scenario.product(provider, c) for c in ("diagnosis", "legal", "financing")}
    other_product = scenario.product(other_provider, "human_resources", listed_for=YEAR)
    with as_role("approver"):
        app.grant_cap_exception(provider, YEAR, yuan(10_000), "试点")
    holders = [scenario.holder(h) for h in ((), ("tech_sme",), ("gazelle",), ("little_giant",))]
    contracts = {}
    for (enterprise, voucher_id), state in zip(holders, ("completed", "active", "signed", "terminated")):
        contracts[state] = scenario.contract(enterprise, voucher_id, provider, products["diagnosis"], yuan(30_000),
                                             state=state)
        contracts[f"{state}-legal"] = scenario.contract(enterprise, voucher_id, provider, products["legal"],
                                                        yuan(12_345_67 // 100), state=state)
    contracts["other"] = scenario.contract(*holders[3], other_provider, other_product, yuan(8_000), state="completed")
    contracts["proposed"] = scenario.contract(*holders[2], provider, products["financing"], yuan(5_000),
                                              state="proposed")
    next_year = scenario.voucher(holders[0][0], YEAR + 1)
    next_product = scenario.product(provider, "diagnosis", listed_for=YEAR + 1)
    contracts["next-year"] = scenario.contract(holders[0][0], next_year, provider, next_product, yuan(20_000),
                                               state="proposed")  # its window opens next year
    with as_role("operator"):
        year_ended(app)
        app.close_year(YEAR)
    return contracts


def rows(views: Views) -> dict[str, list[dict]]:
    """Every row of every read-model table, in a stable order."""
    result = {}
    for name in views.store.table_names():
        table_rows = views.store.query(f"SELECT * FROM {name}")
        result[name] = sorted(table_rows, key=lambda r: repr(sorted(r.items())))
    return result


def test_views_equal_a_fresh_fold_over_all_events(scenario, ledger, views):
    contracts = every_kind_of_movement(scenario)
    folded = assert_views_match_fold(ledger, views)
    assert_fund_identity(folded)
    assert len(folded.contracts) == len(contracts)
    # Spot-check the figures themselves, not just their agreement.
    totals = balances.get_year(views.store, YEAR)
    assert totals["status"] == "closed" and totals["reserved"] == 0 and totals["available"] == 0
    assert totals["budget"] == yuan(10_000_000) and totals["issued"] == yuan(650_000)


def test_views_match_the_fold_after_every_command(scenario, ledger, views):
    # Following the log step by step gives the same views as catching up once at the end.
    scenario.open_year()
    assert_views_match_fold(ledger, views)
    enterprise, voucher_id = scenario.holder()
    assert_views_match_fold(ledger, views)
    provider = scenario.provider()
    product = scenario.product(provider)
    assert_views_match_fold(ledger, views)
    for state in ("signed", "active", "completed"):
        scenario.contract(enterprise, voucher_id, provider, product, yuan(10_000), state=state)
        assert_views_match_fold(ledger, views)


def test_rebuild_from_position_0_gives_the_same_views(scenario, ledger, views):
    every_kind_of_movement(scenario)
    views.catch_up()
    before, position = rows(views), views.position
    applied = views.rebuild()
    assert applied == len(list(ledger.recorder.select_notifications(start=1, limit=100_000)))
    assert views.position == position
    assert rows(views) == before
    assert_views_match_fold(ledger, views)


def test_a_new_views_process_catches_up_from_zero(scenario, ledger, views):
    every_kind_of_movement(scenario)
    views.catch_up()
    before = rows(views)
    views.store.drop_all()
    fresh = Views(ledger)
    try:
        assert fresh.position == 0
        fresh.catch_up(page_size=7)  # many small pages end where one big one does
        assert rows(fresh) == before
        assert_views_match_fold(ledger, fresh)
    finally:
        fresh.close()


def test_exactly_once_applying_the_same_page_twice_is_refused(scenario, ledger, views):
    # The rows of a page and its tracking position commit together: a repeat is refused and changes nothing.
    scenario.open_year()
    scenario.holder()
    views.catch_up()
    before, position = rows(views), views.position
    page = ledger.recorder.select_notifications(start=1, limit=100)
    events = [(ledger.mapper.to_domain_event(n), n.id) for n in page]
    with pytest.raises(IntegrityError):
        views.store.apply_page(events, ledger.name, page[-1].id)
    with pytest.raises(IntegrityError):
        views.store.apply_page(events[-1:], ledger.name, page[-1].id)
    assert rows(views) == before and views.position == position
    assert views.catch_up() == 0
    assert_views_match_fold(ledger, views)


def test_exactly_once_with_two_followers_racing(scenario, ledger, views):
    # Two followers of the same log (two web workers) never apply an event twice.
    every_kind_of_movement(scenario)
    other = Views(ledger)
    try:
        errors: list[BaseException] = []

        def follow(follower: Views) -> None:
            try:
                for _ in range(5):
                    follower.catch_up(page_size=3)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=follow, args=(v,)) for v in (views, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors and not any(t.is_alive() for t in threads)
        assert_views_match_fold(ledger, views)
        assert_views_match_fold(ledger, other)
    finally:
        other.close()


def test_ensure_waits_for_a_position_read_your_writes(scenario, ledger, views):
    scenario.open_year()
    with as_role("operator"):
        result = ledger.issue_voucher(scenario.enterprise(), YEAR)
    views.ensure(result.position)
    assert balances.get_voucher(views.store, result.data["voucher_id"])["quota"] == yuan(50_000)
    with pytest.raises(TimeoutError):
        views.ensure(result.position + 1000, timeout=0.2)


def test_a_command_wakes_the_follower_instead_of_waiting_for_the_views(scenario, ledger, views):
    # ARCHITECTURE.md: a command never waits for the views; this process's follower applies its events at
    # once (not after its poll interval), and a query waits for them (issue 21).
    scenario.open_year()
    views.catch_up()
    views.start_polling(interval=3600)
    with as_role("operator"):
        result = ledger.issue_voucher(scenario.enterprise(), YEAR)
    views.lag_after_command(result.position)  # what a command's answer does: wakes the follower, does not wait
    deadline = time.monotonic() + 20
    while views.position < result.position and time.monotonic() < deadline:
        time.sleep(0.01)
    assert views.position >= result.position
    assert balances.get_voucher(views.store, result.data["voucher_id"])["quota"] == yuan(50_000)


def test_exactly_once_a_page_overlapping_applied_events_is_refused(scenario, ledger, views):
    # A follower that read a longer page before another follower committed a shorter one must not
    # apply the shared events a second time, even though its page ends further on.
    scenario.open_year()
    views.catch_up()
    applied = views.position  # the budget allocation: applied again, it would double the budget
    scenario.voucher(scenario.enterprise())
    before = rows(views)
    page = ledger.recorder.select_notifications(start=applied, limit=100)  # starts with an applied event
    assert page[0].id == applied and page[-1].id > applied
    events = [(ledger.mapper.to_domain_event(n), n.id) for n in page]
    with pytest.raises(IntegrityError):
        views.store.apply_page(events, ledger.name, page[-1].id)
    assert rows(views) == before and views.position == applied
    assert_views_match_fold(ledger, views)



@pytest.fixture
def sqlite_views(tmp_path):
    from tests.conftest import make_store

    for store in make_store("sqlite", tmp_path):
        app = open_ledger(store)
        store_views = Views(app)
        yield app, store_views
        store_views.close()
        app.close()


def test_sqlite_read_models_commit_without_waiting_for_the_disk_but_events_do(sqlite_views) -> None:
    """The read models may lose their last commits to a power cut (they re-apply from their tracked
    position); the event store may not. So: synchronous=NORMAL for the views only (projections/storage/store.py)."""
    app, views = sqlite_views
    with views.store.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1  # NORMAL
    with app.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL, the library's default


def test_sqlite_keeps_the_per_event_indexes_in_key_order(sqlite_views) -> None:
    """WITHOUT ROWID: one B-tree per per-event index instead of a table and its primary key's index."""
    _, views = sqlite_views
    with views.store.datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'vl_%'")
        ddl = {row[0]: row[1] for row in cursor.fetchall()}
    assert {name for name, sql in ddl.items() if sql.endswith("WITHOUT ROWID")} == {
        "vl_trace", "vl_trace_hidden", "vl_audit_chain", "vl_year_history", "vl_year_history_special"}
