"""Random interleavings of the stops with claims, approvals and payments (DOMAIN.md "Stops" 1, 5, 6, 10).

Terminations, revocations, acceptance checks, objections, their resolutions and hold releases are
mixed with contracts, claims, reviews (approve, reject for materials or for acceptance failure),
approvals, notices and payments. After every step, on both backends, the identities of
`test_settlement_property.check` hold, and:
- no held, failed or terminated contract is ever paid (nor clawed-back one after its clawback);
- every voucher, year, provider year and contract satisfies the fund identity on a fresh fold of
  the log, and every read model equals that fold (tests/support_fold.py);
- a claim with an open dispute is never paid; no year has more batches than its `settlement_batches`.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import errors
from ledger.domain.contract import Contract
from ledger.domain.settlement import SettlementBatch
from ledger.domain.year import Year
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.property.test_settlement_property import DOCS, PROVIDERS, STEP as SETTLEMENT_STEP, Model, check
from tests.property.test_settlement_property import new_store  # noqa: F401 (the fixture)
from tests.support import YEAR, Clock, as_role
from tests.support_fold import assert_fund_identity, assert_views_match_fold

i = st.integers(min_value=0, max_value=7)
STOP_STEP = st.one_of(
    st.tuples(st.just("terminate"), i),
    st.tuples(st.just("revoke"), i),
    st.tuples(st.just("acceptance"), i, st.booleans()),
    st.tuples(st.just("acceptance"), i, st.booleans()),
    st.tuples(st.just("reject_failed"), i, i),
    st.tuples(st.just("objection"), i, st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("objection"), i, st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("resolve"), i, i, st.booleans()),
    st.tuples(st.just("resolve"), i, i, st.booleans()),
    st.tuples(st.just("release"), i),
)
STEP = st.one_of(SETTLEMENT_STEP, STOP_STEP)
STOPPED = ("held", "failed_acceptance", "terminated")


class StopModel(Model):
    """The settlement model, plus the stops."""

    def do_terminate(self, provider: int) -> None:
        with as_role("approver", name="diit-zhao"):
            self.ledger.terminate_provider(self.providers[provider % PROVIDERS], "虚假材料", self.in_state("proposed"))

    def do_revoke(self, holder: int) -> None:
        enterprise, _ = self.pick(self.holders, holder)
        with as_role("supervisor", name="supervisor-zhou"):
            case_id = self.ledger.file_case("enterprise", enterprise, "transfer", [], "").data["case_id"]
        self.cases.append(case_id)
        with as_role("operator", name="centre-sun"):
            self.ledger.sanction_case(case_id, [], revoke_enterprise=True)

    def do_acceptance(self, index: int, passed: bool) -> None:
        contract_id = self.pick(self.in_state("completed", "held"), index)
        if contract_id is not None:
            with as_role("supervisor", name="supervisor-zhou"):
                self.ledger.record_acceptance(contract_id, "passed" if passed else "failed", "验收抽查", DOCS)

    def do_reject_failed(self, batch: int, claim: int) -> None:
        batch_id = self.pick(self.batches_in("open") or self.batches, batch)
        if batch_id is None:
            return
        pending = sorted(c for c, v in self.ledger.get_batch(batch_id).claims.items() if v["status"] == "pending")
        if pending:
            with as_role("operator", name="centre-li"):
                self.ledger.review_claim(batch_id, self.pick(pending, claim), "reject", "验收抽查不通过",
                                         "acceptance_failed")

    def do_objection(self, batch: int, bits: int) -> None:
        batch_id = self.pick(self.batches_in("approved") or self.batches, batch)
        if batch_id is None:
            return
        claims = self.ledger.get_batch(batch_id).claims
        approved = sorted(c for v in claims.values() if v["status"] == "approved" for c in v["contract_ids"])
        disputed = self.chosen(approved, bits) or approved[:1]
        with as_role("operator", name="centre-wang"):
            self.ledger.record_settlement_notice(batch_id, "objection", "异议", [], disputed)

    def do_resolve(self, batch: int, index: int, upheld: bool) -> None:
        batch_id = self.pick(self.batches, batch)
        if batch_id is None:
            return
        open_ = sorted(c for v in self.ledger.get_batch(batch_id).claims.values()
                       for c, state in (v.get("disputed") or {}).items() if state == "open")
        if open_:
            with as_role("approver", name="diit-zhao"):
                self.ledger.resolve_objection(batch_id, self.pick(open_, index), "upheld" if upheld else "dismissed",
                                              "核查")

    def do_release(self, index: int) -> None:
        contract_id = self.pick(self.in_state("held"), index)
        if contract_id is not None:
            with as_role("approver", name="diit-zhao"):
                self.ledger.release_hold(contract_id, "服务已真实交付", DOCS)

    def do_pay(self, batch: int, conflicted: int) -> None:
        # Also batches already paid: a dismissed objection is paid by the batch's second payment.
        batch_id = self.pick(self.batches_in("noticed", "paid") or self.batches, batch)
        if batch_id is None:
            return
        # A second payment has its own reference.
        reference = "REF-2" if self.ledger.get_batch(batch_id).status == "paid" else "REF"
        with as_role("finance", name="diit-zhao" if conflicted == 0 else "finance-qian"):
            self.ledger.pay_settlement(batch_id, reference)


def check_stops(model: StopModel, views: Views) -> None:
    app = model.ledger
    folded = assert_views_match_fold(app, views)
    assert_fund_identity(folded)
    for contract_id in model.contracts:
        contract = app.get_contract(contract_id)
        events = list(app.events.get(contract.id))
        settled_at = next((n for n, e in enumerate(events) if isinstance(e, Contract.Settled)), None)
        if contract.status in STOPPED:
            assert settled_at is None, f"contract {contract_id} is {contract.status} and was paid"
        # Nothing is paid while the contract is held, failed or disputed: look at the events before the payment.
        stopped = None
        for e in events[:settled_at]:
            if isinstance(e, (Contract.Held, Contract.AcceptanceFailed, Contract.Disputed)):
                stopped = e
            elif isinstance(e, (Contract.HoldReleased, Contract.DisputeResolved)):
                stopped = None if getattr(e, "decision", "dismissed") == "dismissed" else stopped
        assert settled_at is None or stopped is None, f"contract {contract_id} was paid while stopped: {stopped}"
    for batch_id in model.batches:
        batch = app.get_batch(batch_id)
        for claim in batch.claims.values():
            assert not (claim["status"] == "paid" and SettlementBatch.dispute_of(claim) == "open")
    year = app.get_year(YEAR)
    assert year.batches_opened == len(model.batches) <= year.params.settlement_batches


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(STEP, min_size=10, max_size=40))
def test_no_held_failed_or_terminated_contract_is_ever_paid(new_store, steps):  # noqa: F811
    stores = new_store()
    store = next(stores)
    clock = Clock(date(YEAR, 6, 1))
    ledger = open_ledger(store, clock=clock)
    views = Views(ledger)
    try:
        model = StopModel(ledger, clock)
        for step in steps:
            try:
                model.step(step)
            except errors.LedgerError:
                pass  # a refusal changes nothing; the identities are checked all the same
            check(model, views)
            check_stops(model, views)
        assert isinstance(ledger.get_year(YEAR), Year)
    finally:
        views.close()
        ledger.close()
        stores.close()
