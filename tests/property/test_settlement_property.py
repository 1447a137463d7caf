"""Random sequences of contracts, settlement batches and sanctions keep the fund's identities.

After every step, on both backends:
- every voucher: quota = available + reserved + used + clawed_back + expired, no term negative;
- every year: Σ settled ≤ Σ used + Σ clawed back;
- every contract is settled at most once (one Settled event, in one paid claim);
- every provider year: settled ≤ cap + exceptions, and no figure negative;
- the read models equal a fold of the aggregates loaded through `ledger.repository`.
Refusals (LedgerError) are expected along the way; anything else fails the test.
"""

from __future__ import annotations

import tempfile
from datetime import date
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import errors
from ledger.application import VoucherLedger
from ledger.domain.contract import Contract
from ledger.domain.settlement import SettlementBatch
from ledger.money import yuan
from ledger.persistence import Store
from projections.runner import Views
from projections.views import balances, contracts as contract_views, providers, settlement
from service.bootstrap import open_ledger
from tests.conftest import make_store, postgres_admin_url
from tests.support import YEAR, Clock, Scenario, as_role

DOCS = [{"name": "结算材料.pdf", "sha256": "c" * 64, "size": 10, "uri": "https://docs.example.gov.cn/p.pdf"}]
HOLDERS, PROVIDERS = 3, 2
CLAWABLE = ("proposed", "signed", "active", "completed")

i = st.integers(min_value=0, max_value=7)
mask = st.integers(min_value=0, max_value=255)
# Weighted by repetition: contracts and their completion are frequent, closing the year rare.
STEP = st.one_of(
    st.tuples(st.just("contract"), i, i),
    st.tuples(st.just("contract"), i, i),
    st.tuples(st.just("complete"), i),
    st.tuples(st.just("complete"), i),
    st.tuples(st.just("open_batch")),
    st.tuples(st.just("claim"), i, i, mask),
    st.tuples(st.just("claim"), i, i, mask),
    st.tuples(st.just("review"), i, i, st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("review"), i, i, st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("approve"), i, st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("notice"), i, st.integers(min_value=0, max_value=2), mask),
    st.tuples(st.just("pay"), i, st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("sanction"), i, mask, st.booleans(), st.booleans()),
    st.tuples(st.just("exception"), i),
    st.tuples(st.just("recover"), i),
    st.tuples(st.just("close_year"), st.integers(min_value=0, max_value=3)),
)


class Model:
    """The ids the steps act on; every figure is read back from the aggregates, never kept here."""

    def __init__(self, ledger: VoucherLedger, clock: Clock) -> None:
        self.ledger = ledger
        self.clock = clock
        scenario = Scenario(ledger)
        # A cap of ¥100,000 against ¥40,000 subsidies, so caps, exceptions and clawbacks meet.
        scenario.open_year(YEAR, provider_cap=yuan(100_000))
        self.holders = [scenario.holder(("tech_sme",)) for _ in range(HOLDERS)]  # T2: ¥100,000 each
        self.providers = [scenario.provider() for _ in range(PROVIDERS)]
        self.products = [scenario.product(p, "diagnosis", 50_000) for p in self.providers]
        self.contracts: list[str] = []
        self.batches: list[str] = []
        self.cases: list[str] = []
        self.scenario = scenario

    def pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def chosen(self, items: list[Any], bits: int) -> list[Any]:
        return [item for n, item in enumerate(items) if bits >> (n % 8) & 1]

    def step(self, step: tuple) -> None:
        kind, *args = step
        getattr(self, f"do_{kind}")(*args)

    def do_contract(self, holder: int, provider: int) -> None:
        enterprise, voucher = self.pick(self.holders, holder)
        p = provider % PROVIDERS
        contract_id = self.scenario.propose(enterprise, voucher, self.providers[p], self.products[p], yuan(50_000))
        self.contracts.append(contract_id)
        signed = self.scenario.sign(self.providers[p], contract_id)
        with as_role("enterprise", enterprise):
            self.ledger.pay_deposit(contract_id, signed["deposit"])

    def in_state(self, *states: str) -> list[str]:
        return [c for c in self.contracts if self.ledger.get_contract(c).status in states]

    def batches_in(self, *statuses: str) -> list[str]:
        return [b for b in self.batches if self.ledger.get_batch(b).status in statuses]

    def do_complete(self, index: int) -> None:
        contract_id = self.pick(self.in_state("active"), index)
        if contract_id is None:
            return
        contract = self.ledger.get_contract(contract_id)
        with as_role("enterprise", contract.enterprise_id):
            self.ledger.complete_contract(contract.id, contract.balance_due_fen)

    def do_open_batch(self) -> None:
        with as_role("operator", name="centre-li"):
            self.batches.append(self.ledger.open_settlement(YEAR, f"第{len(self.batches) + 1}批").data["batch_id"])

    def do_claim(self, batch: int, provider: int, bits: int) -> None:
        # Mostly claimable contracts; a mask bit may add any other of the provider's (refused as a whole).
        batch_id = self.pick(self.batches_in("open") or self.batches, batch)
        code = self.providers[provider % PROVIDERS]
        mine = [c for c in self.contracts if self.ledger.get_contract(c).provider_id == code]
        claimable = [c for c in mine if self.ledger.get_contract(c).claimable]
        chosen = self.chosen(claimable, bits) or claimable[:1]
        if bits % 16 == 0:
            chosen += self.chosen(mine, bits >> 4)[:1]
        if batch_id is None or not chosen:
            return
        with as_role("provider", code):
            self.ledger.claim_settlement(batch_id, list(dict.fromkeys(chosen)), DOCS)

    def do_review(self, batch: int, claim: int, decision: int) -> None:
        batch_id = self.pick(self.batches_in("open") or self.batches, batch)
        if batch_id is None:
            return
        claims = self.ledger.get_batch(batch_id).claims
        pending = sorted(c for c, v in claims.items() if v["status"] == "pending") or sorted(claims)
        if not pending:
            return
        with as_role("operator", name="centre-li"):
            # A rejection says why (DOMAIN.md "Stops" 5): incomplete materials here; acceptance failures in
            # tests/property/test_stops_property.py.
            self.ledger.review_claim(batch_id, self.pick(pending, claim), "reject" if decision == 0 else "approve",
                                     "", "materials" if decision == 0 else None)

    def do_approve(self, batch: int, conflicted: int) -> None:
        # Now and then the approver is the reviewer in another seat: refused by segregation of duties.
        batch_id = self.pick(self.batches_in("open") or self.batches, batch)
        if batch_id is None:
            return
        with as_role("approver", name="centre-li" if conflicted == 0 else "diit-zhao"):
            self.ledger.approve_settlement(batch_id)

    def do_notice(self, batch: int, objection: int, bits: int) -> None:
        batch_id = self.pick(self.batches_in("approved") or self.batches, batch)
        if batch_id is None:
            return
        claims = self.ledger.get_batch(batch_id).claims
        approved = sorted(c for c, v in claims.items() if v["status"] == "approved")
        disputed = (self.chosen(approved, bits) or approved[:1]) if objection == 0 else []
        with as_role("operator", name="centre-wang"):
            self.ledger.record_settlement_notice(batch_id, "objection" if disputed else "no_objection", "",
                                                 disputed)

    def do_pay(self, batch: int, conflicted: int) -> None:
        batch_id = self.pick(self.batches_in("noticed") or self.batches, batch)
        if batch_id is None:
            return
        with as_role("finance", name="diit-zhao" if conflicted == 0 else "finance-qian"):
            self.ledger.pay_settlement(batch_id, "REF")

    def do_sanction(self, index: int, bits: int, revoke: bool, terminate: bool) -> None:
        target = self.pick(self.contracts, index)
        if target is None:
            return
        contract = self.ledger.get_contract(target)
        against_provider = terminate and not revoke
        subject = contract.provider_id if against_provider else contract.enterprise_id
        party = (lambda c: c.provider_id) if against_provider else (lambda c: c.enterprise_id)
        concerned = [c for c in self.contracts if party(self.ledger.get_contract(c)) == subject]
        # Only contracts with money left to stop or claw back; a terminated one is refused (INVALID_STATE).
        clawable = [c for c in concerned if self.ledger.get_contract(c).status in CLAWABLE]
        clawback = [c for c in self.chosen(clawable, bits) if c != target] + ([target] if target in clawable else [])
        with as_role("supervisor", name="supervisor-zhou"):
            case_id = self.ledger.file_case("provider" if against_provider else "enterprise", subject,
                                            "fake_transaction", concerned, "").data["case_id"]
        self.cases.append(case_id)
        with as_role("operator", name="centre-sun"):
            self.ledger.sanction_case(case_id, clawback, revoke_enterprise=revoke and not against_provider,
                                      terminate_provider=against_provider)

    def do_exception(self, provider: int) -> None:
        with as_role("approver", name="diit-zhao"):
            self.ledger.grant_cap_exception(self.providers[provider % PROVIDERS], YEAR, yuan(40_000), "例外")

    def do_recover(self, provider: int) -> None:
        code = self.providers[provider % PROVIDERS]
        owed = self.ledger.get_provider_year(code, YEAR).receivable_fen
        if owed == 0:
            return
        with as_role("finance", name="finance-qian"):
            self.ledger.record_recovery(code, YEAR, max(owed // 2, 1), "缴款书")

    def do_close_year(self, dice: int) -> None:
        if dice:
            return  # rarely: most sequences run inside the year
        self.clock.today = date(YEAR + 1, 1, 2)
        with as_role("operator", name="centre-close"):
            self.ledger.close_year(YEAR)


def check(model: Model, views: Views) -> None:
    """Every identity of DOMAIN.md, and every view against the aggregates."""
    app = model.ledger
    views.catch_up()
    vouchers = [app.get_voucher(v) for _, v in model.holders]
    contracts = [app.get_contract(c) for c in model.contracts]
    for voucher in vouchers:
        figures = voucher.figures()
        assert all(value >= 0 for value in figures.values()), figures
        assert figures["quota"] == sum(figures[k] for k in ("available", "reserved", "used", "clawed_back", "expired"))
        view = balances.get_voucher(views.store, str(voucher.id))
        assert {k: view[k] for k in figures} == figures
    # Each contract settled at most once: one Settled event, one paid claim.
    paid_in: dict[str, int] = {}
    batches = [app.get_batch(b) for b in model.batches]
    for batch in batches:
        for claim in batch.claims.values():
            assert claim["amount_fen"] == sum(claim["amounts_fen"].values()) >= 0
            if claim["status"] == "paid":
                for contract_id in claim["contract_ids"]:
                    paid_in[contract_id] = paid_in.get(contract_id, 0) + 1
    settled_total = 0
    for contract in contracts:
        settled_events = [e for e in app.events.get(contract.id) if isinstance(e, Contract.Settled)]
        assert len(settled_events) == (1 if contract.settled else 0)
        assert paid_in.get(str(contract.id), 0) == len(settled_events)
        settled_total += sum(e.amount_fen for e in settled_events)
        assert contract.deposit_fen + contract.subsidy_fen + contract.balance_due_fen in (contract.amount_fen, 0)
        view = contract_views.get_contract(views.store, str(contract.id))
        assert (view["status"], view["settled"], view["receivable"]) == (
            contract.status, contract.settled, contract.receivable_fen)
    # The year: Σ settled ≤ Σ used + Σ clawed back, and the view's totals are the vouchers' sums.
    year = balances.get_year(views.store, YEAR)
    sums = {k: sum(v.figures()[k] for v in vouchers)
            for k in ("available", "reserved", "used", "expired", "clawed_back")}
    assert {k: year[k] for k in sums} == sums
    assert year["settled"] == settled_total <= sums["used"] + sums["clawed_back"]
    # Provider years: settled ≤ cap + exceptions; live ≤ cap + exceptions; nothing negative; view = aggregate.
    for code in model.providers:
        provider_year = app.get_provider_year(code, YEAR)
        assert provider_year.settled_fen <= provider_year.limit_fen
        assert provider_year.live_fen <= provider_year.limit_fen
        assert provider_year.receivable_fen >= 0
        assert all(v >= 0 for v in (*provider_year.reserved.values(), *provider_year.used.values(),
                                     *provider_year.settled.values()))
        totals = providers.get_provider_totals(views.store, code, YEAR)
        assert (totals["reserved"], totals["used"], totals["settled"], totals["receivable"], totals["exceptions"]) == (
            sum(provider_year.reserved.values()), sum(provider_year.used.values()), provider_year.settled_fen,
            provider_year.receivable_fen, provider_year.exceptions_fen)
        assert totals["contracts"] == len(provider_year.reserved) + len(provider_year.used)
    # Batches: status, claims and totals as the aggregate has them.
    for batch in batches:
        view = settlement.get_batch(views.store, str(batch.id))
        assert view["status"] == batch.status
        assert {c["claim_id"]: (c["status"], c["amount"], c["contract_ids"]) for c in view["claims"]} == {
            cid: (c["status"], c["amount_fen"], c["contract_ids"]) for cid, c in batch.claims.items()}
        # Every payment of the batch (a second one pays contracts whose objection was dismissed later).
        paid = sum(e.amount_fen for e in app.events.get(batch.id) if isinstance(e, SettlementBatch.Paid))
        assert view["paid"] == paid
        for status, total in view["totals"].items():
            assert total["amount"] == sum(c["amount_fen"] for c in batch.claims.values() if c["status"] == status)
    # Cases and the credit records in the service archive.
    for case_id in model.cases:
        case = app.get_case(case_id)
        view = settlement.get_case(views.store, case_id)
        assert view["status"] == case.status
    subjects = {app.get_case(c).subject_id for c in model.cases}
    for subject in subjects:
        expected = sorted(c for c in model.cases if app.get_case(c).credit_record
                          and app.get_case(c).subject_id == subject)
        assert sorted(r["case_id"] for r in settlement.list_credit_records(views.store, subject)) == expected


@pytest.fixture
def new_store(backend: str) -> Callable[[], Iterator[Store]]:
    """A fresh store per example (hypothesis runs many examples in one test call)."""
    if backend == "postgres":
        postgres_admin_url()  # skips, or fails on CI, before hypothesis starts

    def make() -> Iterator[Store]:
        with tempfile.TemporaryDirectory() as tmp:
            yield from make_store(backend, tmp)

    return make


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(STEP, min_size=10, max_size=40))
def test_batches_and_sanctions_keep_the_fund_identities(new_store, steps):
    stores = new_store()
    store = next(stores)
    clock = Clock(date(YEAR, 6, 1))
    ledger = open_ledger(store, clock=clock)
    views = Views(ledger)
    try:
        model = Model(ledger, clock)
        check(model, views)
        for step in steps:
            try:
                model.step(step)
            except errors.LedgerError:
                pass  # a refusal changes nothing; the identities are checked all the same
            check(model, views)
    finally:
        views.close()
        ledger.close()
        stores.close()
