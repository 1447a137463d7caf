"""Racing signatures never overspend a voucher or a provider's cap (Art. 10, 18; ARCHITECTURE.md "Aggregates").

Signing saves the contract, the voucher and the provider's year in one transaction; a concurrent
writer of any of them loses on its expected version and is retried against fresh state. Two
threads sharing one application (as the web server's threads do), and on PostgreSQL two processes
each with its own application, sign contracts that together ask more than the voucher holds and
more than the provider's cap allows.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import date
from typing import Any

import pytest

from ledger.application import VoucherLedger
from ledger.errors import LedgerError
from ledger.money import yuan
from ledger.persistence import Store
from service.bootstrap import open_ledger
from tests.support import YEAR, Clock, as_role
from tests.support_fold import assert_fund_identity, assert_views_match_fold, fold

TODAY = date(YEAR, 6, 1)
ALLOWED_REFUSALS = {"VOUCHER_EXHAUSTED", "PROVIDER_CAP_EXCEEDED"}


def oversubscribed(scenario) -> dict[str, Any]:
    """Two T2 holders (¥100,000 each) and one provider capped at ¥150,000; eight ¥50,000 diagnosis
    contracts asking ¥40,000 each: ¥320,000 asked against ¥200,000 of vouchers and ¥150,000 of cap."""
    scenario.open_year(provider_cap=yuan(150_000))
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis")
    holders = [scenario.holder(("tech_sme",)) for _ in range(2)]
    contracts = [scenario.propose(enterprise, voucher_id, provider, product, yuan(50_000))
                 for _ in range(4) for enterprise, voucher_id in holders]
    return {"provider": provider, "vouchers": [v for _, v in holders], "contracts": contracts}


def sign_all(app: VoucherLedger, provider: str, contract_ids: list[str]) -> list[tuple[str, int]]:
    """Sign each contract in turn; a rule's refusal is an outcome, anything else a failure."""
    outcomes = []
    for contract_id in contract_ids:
        try:
            with as_role("provider", provider):
                outcomes.append(("signed", app.sign_contract(contract_id).data["subsidy"]))
        except LedgerError as refused:
            outcomes.append((refused.code, 0))
    return outcomes


def check_nothing_overspent(app: VoucherLedger, deal: dict[str, Any], outcomes: list[tuple[str, int]]) -> None:
    assert len(outcomes) == len(deal["contracts"])
    assert {code for code, _ in outcomes} <= {"signed"} | ALLOWED_REFUSALS, outcomes
    folded = fold(app)
    assert_fund_identity(folded)  # every voucher adds up, nothing negative, live ≤ cap + exceptions
    signed_total = sum(subsidy for code, subsidy in outcomes if code == "signed")
    provider_year = app.get_provider_year(deal["provider"], YEAR)
    assert provider_year.live_fen == signed_total <= yuan(150_000)
    vouchers = [app.get_voucher(v) for v in deal["vouchers"]]
    assert sum(v.reserved_fen for v in vouchers) == signed_total
    assert all(0 <= v.reserved_fen <= v.quota_fen and v.available_fen >= 0 for v in vouchers)
    # Signatures went through until the cap stopped them (at least three ¥40,000 fit under ¥150,000):
    # retried conflicts were decided again, not dropped.
    assert signed_total >= yuan(120_000)
    assert sum(code == "signed" for code, _ in outcomes) >= 3
    for contract in folded.contracts:
        assert contract.status in ("signed", "proposed")


def test_two_threads_racing_to_sign_never_overspend(scenario, ledger, views):
    deal = oversubscribed(scenario)
    halves = [deal["contracts"][0::2], deal["contracts"][1::2]]  # each thread touches both vouchers
    outcomes: list[list[tuple[str, int]]] = [[], []]
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            outcomes[index] = sign_all(ledger, deal["provider"], halves[index])
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and not any(t.is_alive() for t in threads)
    check_nothing_overspent(ledger, deal, outcomes[0] + outcomes[1])
    assert_views_match_fold(ledger, views)


def sign_in_process(store: Store, provider: str, contract_ids: list[str], start: Any, results: Any) -> None:
    """A second process: its own application on the same store, starting when the other is ready."""
    app = open_ledger(store, create_table=False, clock=Clock(TODAY))
    try:
        start.wait(timeout=60)
        results.put((sign_all(app, provider, contract_ids), app.conflicts_retried))
    finally:
        app.close()


@pytest.mark.parametrize("backend", ["postgres"])  # several processes on one store: the PostgreSQL deployment
def test_two_processes_racing_to_sign_never_overspend(backend, scenario, ledger, views):
    deal = oversubscribed(scenario)
    halves = [deal["contracts"][0::2], deal["contracts"][1::2]]
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=sign_in_process, args=(ledger.store, deal["provider"], half, start, results))
               for half in halves]
    for worker in workers:
        worker.start()
    try:
        answers = [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    assert all(worker.exitcode == 0 for worker in workers)
    outcomes = [outcome for signed, _ in answers for outcome in signed]
    check_nothing_overspent(ledger, deal, outcomes)
    assert_views_match_fold(ledger, views)
