"""Year close (Art. 18: 先用先享、用完为止、期满作废): available expires, open reservations are released and expire."""

from __future__ import annotations

import json

import pytest

from ledger import errors
from service.cli import EXIT_REFUSED, main
from ledger.commands import years as year_commands
from ledger.money import format_yuan, yuan
from projections.views import balances
from service.bootstrap import open_ledger
from tests.support import YEAR, as_role, year_ended
from tests.support_fold import assert_fund_identity, assert_views_match_fold, fold


def a_year_in_use(scenario):
    """Three holders: one with a completed and a signed contract, one with an active one, one untouched."""
    scenario.open_year()
    provider = scenario.provider()
    diagnosis = scenario.product(provider, "diagnosis")
    consulting = scenario.product(provider, "management_consulting")
    (first, first_voucher), (second, second_voucher), (_, idle_voucher) = (
        scenario.holder(("tech_sme",)), scenario.holder(("gazelle",)), scenario.holder(()))
    contracts = {
        "completed": scenario.contract(first, first_voucher, provider, diagnosis, yuan(50_000), state="completed"),
        "signed": scenario.contract(first, first_voucher, provider, consulting, yuan(20_000), state="signed"),
        "active": scenario.contract(second, second_voucher, provider, diagnosis, yuan(100_000), state="active"),
        "proposed": scenario.contract(second, second_voucher, provider, consulting, yuan(10_000), state="proposed"),
    }
    return {"provider": provider, "vouchers": (first_voucher, second_voucher, idle_voucher), "contracts": contracts}


def test_year_close_expires_available_and_releases_open_reservations(scenario, ledger, views):
    year = a_year_in_use(scenario)
    first, second, idle = year["vouchers"]
    with as_role("operator"):
        year_ended(ledger)
        closed = ledger.close_year(YEAR).data
    # Quotas: T2 100,000 (used 40,000; signed 10,000 released) · T3 200,000 (active 80,000 released) · T1 50,000.
    assert closed == {"year": YEAR, "expired_vouchers": 3, "expired_amount": yuan(60_000 + 200_000 + 50_000),
                      "released_contracts": 2}
    expected = {first: (yuan(40_000), yuan(60_000)), second: (0, yuan(200_000)), idle: (0, yuan(50_000))}
    for voucher_id, (used, expired) in expected.items():
        voucher = ledger.get_voucher(voucher_id)
        assert (voucher.available_fen, voucher.reserved_fen, voucher.used_fen, voucher.expired_fen) == (
            0, 0, used, expired)
        assert voucher.status == "expired"
    statuses = {state: ledger.get_contract(cid).status for state, cid in year["contracts"].items()}
    assert statuses == {"completed": "completed", "signed": "terminated", "active": "terminated",
                        "proposed": "proposed"}
    provider_year = ledger.get_provider_year(year["provider"], YEAR)
    assert provider_year.reserved == {} and provider_year.live_fen == yuan(40_000)
    assert ledger.get_year(YEAR).status == "closed"
    folded = assert_views_match_fold(ledger, views)
    assert_fund_identity(folded)
    totals = balances.get_year(views.store, YEAR)
    assert (totals["status"], totals["available"], totals["reserved"], totals["used"], totals["expired"]) == (
        "closed", 0, 0, yuan(40_000), yuan(310_000))


def test_after_close_nothing_moves_money_but_completed_contracts_stand(scenario, ledger):
    year = a_year_in_use(scenario)
    with as_role("operator"):
        year_ended(ledger)
        ledger.close_year(YEAR)
        with pytest.raises(errors.InvalidState):
            ledger.close_year(YEAR)
    released = ledger.get_contract(year["contracts"]["active"])
    with as_role("enterprise", released.enterprise_id), pytest.raises(errors.InvalidState):
        ledger.complete_contract(released.id, released.balance_due_fen)
    with as_role("provider", year["provider"]), pytest.raises(errors.YearClosed):
        ledger.sign_contract(year["contracts"]["proposed"])
    assert ledger.get_contract(year["contracts"]["completed"]).status == "completed"


def test_year_close_works_in_chunks(scenario, ledger, views, monkeypatch):
    # A province has tens of thousands of vouchers: each chunk is one transaction, with progress reported.
    monkeypatch.setattr(year_commands, "CLOSE_CHUNK", 2)
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider)
    vouchers = [scenario.holder() for _ in range(5)]
    for enterprise, voucher_id in vouchers[:3]:
        scenario.contract(enterprise, voucher_id, provider, product, yuan(10_000), state="signed")
    progress = []
    with as_role("operator"):
        year_ended(ledger)
        closed = ledger.close_year(YEAR, progress=lambda done, total: progress.append((done, total))).data
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert (closed["expired_vouchers"], closed["expired_amount"], closed["released_contracts"]) == (5, yuan(500_000), 3)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_a_close_cut_short_is_finished_by_a_rerun(scenario, ledger, views, store, clock, monkeypatch):
    # A crash between chunks leaves whole vouchers closed and the year closing; a rerun in a fresh
    # process (cold cache) closes the rest and answers the totals of all vouchers, once each.
    monkeypatch.setattr(year_commands, "CLOSE_CHUNK", 2)
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider)
    vouchers = [scenario.holder() for _ in range(5)]
    contracts = [scenario.contract(enterprise, voucher_id, provider, product, yuan(10_000), state="signed")
                 for enterprise, voucher_id in vouchers[:3]]
    commits = ledger._commit_many

    def killed_after_first_chunk(aggregates):
        if killed_after_first_chunk.chunks:
            raise RuntimeError("process killed")
        killed_after_first_chunk.chunks += 1
        return commits(aggregates)

    killed_after_first_chunk.chunks = 0
    monkeypatch.setattr(ledger, "_commit_many", killed_after_first_chunk)
    year_ended(ledger)
    with as_role("operator"), pytest.raises(RuntimeError):
        ledger.close_year(YEAR)
    assert ledger.get_year(YEAR).status == "closing"
    statuses = [ledger.get_voucher(voucher_id).status for _, voucher_id in vouchers]
    assert statuses == ["expired", "expired", "active", "active", "active"]
    rerun = open_ledger(store, create_table=False, clock=clock)
    try:
        with as_role("operator"):
            year_ended(rerun)
            closed = rerun.close_year(YEAR).data
    finally:
        rerun.close()
    assert (closed["expired_vouchers"], closed["expired_amount"], closed["released_contracts"]) == (5, yuan(500_000), 3)
    assert {ledger.get_contract(contract_id).status for contract_id in contracts} == {"terminated"}
    year_events = [type(e).__qualname__ for e in ledger.events.get(ledger.get_year(YEAR).id)]
    assert (year_events.count("Year.ClosingStarted"), year_events.count("Year.Closed")) == (1, 1)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_a_year_without_vouchers_closes(scenario, ledger):
    scenario.open_year()
    with as_role("operator"):
        year_ended(ledger)
        assert ledger.close_year(YEAR).data == {"year": YEAR, "expired_vouchers": 0, "expired_amount": 0,
                                                "released_contracts": 0}


@pytest.mark.parametrize("role", ["approver", "finance", "enterprise", "supervisor"])
def test_only_the_operator_closes_a_year(scenario, ledger, role):
    scenario.open_year()
    with as_role(role), pytest.raises(errors.Forbidden):
        ledger.close_year(YEAR)


def test_close_year_via_cli(scenario, ledger, views, monkeypatch, capsys):
    # `voucher-ledger close-year YEAR`, with a progress bar, against the store of LEDGER_DATABASE_URL.
    year = a_year_in_use(scenario)
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.store.url)
    monkeypatch.setenv("LEDGER_BUSINESS_DATE", f"{YEAR + 1}-01-01")  # the CLI obeys the close's date rule too
    assert main(["close-year", str(YEAR), "--yes"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["expired_vouchers"], summary["expired_amount"], summary["released_contracts"]) == (
        3, format_yuan(yuan(310_000)), 2)  # yuan on the command line, as the API writes them
    assert summary["position"] == ledger.recorder.max_notification_id()
    assert "3/3" in err and "#" in err
    assert ledger.get_year(YEAR).status == "closed"
    closing = [e for e in ledger.events.get(ledger.get_year(YEAR).id)][-1]
    assert closing.actor["role"] == "operator" and closing.actor["id"].startswith("cli:")
    assert ledger.get_contract(year["contracts"]["signed"]).status == "terminated"
    assert_fund_identity(assert_views_match_fold(ledger, views))
    # A second close is refused with the CLI's error line and the refusal's exit status.
    assert main(["close-year", str(YEAR), "--yes"]) == EXIT_REFUSED
    assert "INVALID_STATE" in capsys.readouterr().err


def test_closing_one_year_leaves_the_next_alone(scenario, ledger):
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    enterprise, this_year = scenario.holder()
    next_year = scenario.voucher(enterprise, YEAR + 1)
    with as_role("operator"):
        year_ended(ledger)
        assert ledger.close_year(YEAR).data["expired_vouchers"] == 1
    assert ledger.get_voucher(next_year).available_fen == yuan(100_000)
    assert ledger.get_year(YEAR + 1).status == "open"
    assert_fund_identity(fold(ledger))
