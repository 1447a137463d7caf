"""Stops: where money must stop (DOMAIN.md "Stops" 1, 5, 6, 10; Art. 15, 19, 20, 21, 25, 28).

Each scenario of issue 14 that let public money leave where the measures stop it, with the fund
identities checked after each on a fresh fold of the log and against the read models.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger import errors
from ledger.money import yuan
from projections import chain, queries, settlement_queries, trace_queries
from tests.application.test_settlement import (
    DOCS, APPROVER, World, approve, claim, file_case, notice, open_batch, pay, resolve, review, sanction, settle,
)
from tests.support import YEAR, as_role
from tests.support_fold import assert_fund_identity, assert_views_match_fold


@pytest.fixture
def world(scenario: Any) -> World:
    return World(scenario)


def identities_hold(app: Any, views: Any) -> Any:
    """The fund identities of DOMAIN.md on a fresh fold, and every read model equal to it."""
    folded = assert_views_match_fold(app, views)
    assert_fund_identity(folded)
    for year in folded.years:  # Σ settled ≤ Σ used + Σ clawed back, per year
        vouchers = [v for v in folded.vouchers if v.year == year.year]
        settled = sum(py.settled_fen for py in folded.provider_years if py.year == year.year)
        assert settled <= sum(v.used_fen + v.clawed_back_fen for v in vouchers)
    for contract in folded.contracts:  # held, failed or terminated contracts are never paid
        if contract.status in ("held", "failed_acceptance", "terminated"):
            assert not contract.settled, f"contract {contract.id} is {contract.status} and was paid"
    return folded


def terminate(app: Any, provider: str, proposed: list[str] | None = None) -> Any:
    with as_role("approver", name=APPROVER):
        return app.terminate_provider(provider, "隐瞒真实情况、提供虚假材料", proposed)


def release(app: Any, contract_id: str) -> Any:
    with as_role("approver", name=APPROVER):
        return app.release_hold(contract_id, "服务已真实交付，验收材料齐全", DOCS)


def acceptance(app: Any, contract_id: str, result: str = "failed", role: str = "operator") -> Any:
    with as_role(role, name=f"{role}-zhou"):
        return app.record_acceptance(contract_id, result, "验收抽查：服务成果与合同不符", DOCS)


# --- Stops 1: terminated provider, revoked enterprise ------------------------------------------------


def test_terminated_providers_contracts_are_stopped_in_the_same_save(world, views):
    app = world.app
    enterprise, voucher_id = holder = world.holder()
    active = world.contract(state="active", holder=holder)
    proposed = world.contract(state="proposed", holder=holder)
    claimed, unclaimed = world.contract(), world.contract()
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [claimed])
    done = terminate(app, world.provider, [proposed])
    assert sorted(done.data["terminated_contracts"]) == sorted([active, proposed])
    assert sorted(done.data["held_contracts"]) == sorted([claimed, unclaimed])
    assert done.data["released"] == yuan(40_000)
    # The active contract was terminated and its reservation released: it can no longer be completed.
    assert app.get_contract(active).status == "terminated"
    assert app.get_voucher(voucher_id).reserved_fen == 0
    with as_role("enterprise", enterprise), pytest.raises(errors.PartyTerminated):
        app.complete_contract(active, yuan(0))
    assert app.get_contract(proposed).status == "terminated"
    # Completed contracts are held: out of the open claim, and claimable nowhere.
    assert app.get_contract(claimed).status == "held" and app.get_contract(claimed).claim is None
    assert app.get_batch(batch_id).claims[claim_id]["status"] == "withdrawn"
    other = open_batch(app, name="第二批")
    with as_role("provider", world.provider), pytest.raises(errors.ContractHeld):
        app.claim_settlement(other, [unclaimed], DOCS)
    identities_hold(app, views)
    views.catch_up()
    assert queries.get_contract(views.store, claimed)["hold"]["reason"].startswith("provider terminated")


def test_terminated_providers_active_contract_is_never_completed_claimed_or_paid(world, views):
    # Issue 14: the active contract of a provider terminated for false reporting was completed, claimed
    # and paid ¥100,000 afterwards.
    app = world.app
    enterprise, _ = holder = world.holder()
    active = world.contract(state="active", holder=holder)
    terminate(app, world.provider)
    with as_role("enterprise", enterprise), pytest.raises(errors.PartyTerminated):
        app.complete_contract(active, yuan(0))
    batch_id = open_batch(app)
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted):
        app.claim_settlement(batch_id, [active], DOCS)
    assert not app.get_contract(active).settled
    # Nor is a new contract proposed with it.
    with as_role("enterprise", enterprise), pytest.raises(errors.PartyTerminated):
        app.propose_contract(holder[1], world.provider, world.product, yuan(10_000))
    identities_hold(app, views)


def test_held_contract_is_paid_only_after_the_approvers_release(world, views):
    app = world.app
    contract_id = world.contract()
    terminate(app, world.provider)
    with as_role("operator"), pytest.raises(errors.Forbidden):
        app.release_hold(contract_id, "x")
    released = release(app, contract_id)
    assert released.data["status"] == "completed" and released.data["hold"] is None
    settle(app, world.provider, [contract_id])
    assert app.get_contract(contract_id).settled
    with as_role("approver"), pytest.raises(errors.InvalidState):
        app.release_hold(contract_id, "again")
    identities_hold(app, views)


def test_revoked_enterprises_other_contract_is_held_and_not_paid(world, scenario, views):
    # Issue 14: a revoked enterprise's other contract, not named in the case, was paid ¥32,000 afterwards.
    app = world.app
    enterprise, _ = holder = world.holder()
    named, other = world.contract(holder=holder), world.contract(holder=holder)
    bystander = world.contract()
    batch_id = open_batch(app)
    for contract_id in (other, bystander):
        review(app, batch_id, claim(app, batch_id, world.provider, [contract_id]))
    approve(app, batch_id)
    notice(app, batch_id)
    done = sanction(app, file_case(app, enterprise, [named]), [named], revoke_enterprise=True)
    assert done.data["stopped"]["held_contracts"] == [other]
    paid = pay(app, batch_id)
    assert paid.data["amount"] == yuan(40_000) and paid.data["contracts"] == 1
    assert app.get_contract(bystander).settled
    assert app.get_contract(other).status == "held" and not app.get_contract(other).settled
    identities_hold(app, views)


def test_payment_re_checks_holds_in_a_batch_being_paid(world, views):
    # A batch paid in chunks is frozen once its payment started; a hold recorded meanwhile is re-checked
    # by the payment itself, which pays the rest and says what it held back.
    app = world.app
    app.payment_chunk = 1
    enterprise, _ = holder = world.holder()
    held, kept = world.contract(holder=holder), world.contract()
    batch_id = open_batch(app)
    for contract_id in (held, kept):
        review(app, batch_id, claim(app, batch_id, world.provider, [contract_id]))
    approve(app, batch_id)
    notice(app, batch_id)
    batch = app.get_batch(batch_id)
    with as_role("finance", name="finance-qian"):
        batch.start_payment(reference="桂财工兑〔2026〕1号", amount_fen=yuan(80_000), contracts=2)
        app.save(batch)
    sanction(app, file_case(app, enterprise, []), [], revoke_enterprise=True)
    assert app.get_contract(held).status == "held"
    paid = pay(app, batch_id)
    assert paid.data["amount"] == yuan(40_000) and paid.data["held_back"] == {held: yuan(40_000)}
    assert app.get_batch(batch_id).status == "paid" and not app.get_contract(held).settled
    assert app.get_contract(held).claim is None
    identities_hold(app, views)
    views.catch_up()
    assert settlement_queries.get_batch(views.store, batch_id)["paid"] == yuan(40_000)


def test_held_contract_can_be_clawed_back(world, views):
    app = world.app
    contract_id = world.contract()
    terminate(app, world.provider)
    done = sanction(app, file_case(app, world.provider, [contract_id], subject_type="provider"), [contract_id])
    assert done.data["clawed_back"] == yuan(40_000)
    assert app.get_contract(contract_id).status == "clawed_back"
    identities_hold(app, views)


def test_signature_after_revocation_stays_holder_revoked(world):
    app = world.app
    enterprise, _ = holder = world.holder()
    proposed = world.contract(state="proposed", holder=holder)
    sanction(app, file_case(app, enterprise, []), [], revoke_enterprise=True)
    with as_role("provider", world.provider), pytest.raises(errors.HolderRevoked):
        app.sign_contract(proposed)


# --- Stops 5: acceptance ------------------------------------------------------------------------------


def test_completed_contract_fails_acceptance_and_its_subsidy_returns(world, views):
    app = world.app
    _, voucher_id = holder = world.holder()
    contract_id = world.contract(holder=holder)
    before = app.get_voucher(voucher_id).available_fen
    passed = acceptance(app, contract_id, "passed", role="supervisor")
    assert passed.data["status"] == "completed"
    failed = acceptance(app, contract_id)
    assert failed.data["status"] == "failed_acceptance"
    voucher = app.get_voucher(voucher_id)
    assert (voucher.used_fen, voucher.available_fen) == (0, before + yuan(40_000))  # the window is open
    assert app.get_provider_year(world.provider, YEAR).live_fen == 0
    batch_id = open_batch(app)
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted):
        app.claim_settlement(batch_id, [contract_id], DOCS)
    with as_role("enterprise", holder[0]), pytest.raises(errors.Forbidden):
        app.record_acceptance(contract_id, "failed", "x")
    identities_hold(app, views)


def test_acceptance_failed_after_the_window_expires_the_subsidy(world, clock, views):
    app = world.app
    _, voucher_id = holder = world.holder()
    contract_id = world.contract(holder=holder)
    clock.today = date(YEAR + 1, 1, 5)
    acceptance(app, contract_id)
    voucher = app.get_voucher(voucher_id)
    assert (voucher.used_fen, voucher.expired_fen) == (0, yuan(40_000))
    identities_hold(app, views)


def test_paid_contract_cannot_fail_acceptance(world, views):
    app = world.app
    contract_id = world.contract()
    settle(app, world.provider, [contract_id])
    with pytest.raises(errors.AlreadySettled):
        acceptance(app, contract_id)
    identities_hold(app, views)


def test_claim_rejected_as_acceptance_failure_is_never_claimed_again(world, views):
    # Issue 14: a claim rejected as "验收抽查不通过" was re-claimed in the same batch and paid ¥15,000.
    app = world.app
    contract_id = world.contract()
    batch_id = open_batch(app)
    rejected = claim(app, batch_id, world.provider, [contract_id])
    with pytest.raises(errors.ValidationFailed):
        review(app, batch_id, rejected, "reject", reason="other")
    review(app, batch_id, rejected, "reject", reason="acceptance_failed")
    assert app.get_contract(contract_id).status == "failed_acceptance"
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted):
        app.claim_settlement(batch_id, [contract_id], DOCS)
    # Incomplete materials, by contrast, free the contract to be claimed again.
    again = world.contract()
    review(app, batch_id, claim(app, batch_id, world.provider, [again]), "reject", reason="materials")
    review(app, batch_id, claim(app, batch_id, world.provider, [again]))
    approve(app, batch_id)
    notice(app, batch_id)
    assert pay(app, batch_id).data["amount"] == yuan(40_000)
    assert not app.get_contract(contract_id).settled
    identities_hold(app, views)


# --- Stops 6: objections ------------------------------------------------------------------------------


def _objected(world: World) -> tuple[str, str, str]:
    app = world.app
    disputed, kept = world.contract(), world.contract()
    batch_id = open_batch(app)
    for contract_id in (disputed, kept):
        review(app, batch_id, claim(app, batch_id, world.provider, [contract_id]))
    approve(app, batch_id)
    notice(app, batch_id, "objection", contract_ids=[disputed])
    return batch_id, disputed, kept


def test_disputed_contract_is_claimed_nowhere_until_resolved(world, views):
    # Issue 14: a contract held back by an objection was claimed in the next batch and paid.
    app = world.app
    batch_id, disputed, kept = _objected(world)
    assert pay(app, batch_id).data["amount"] == yuan(40_000)
    assert app.get_contract(kept).settled and not app.get_contract(disputed).settled
    second = open_batch(app, name="第二批")
    with as_role("provider", world.provider), pytest.raises(errors.ObjectionUnresolved):
        app.claim_settlement(second, [disputed], DOCS)
    with as_role("operator"), pytest.raises(errors.Forbidden):  # the approver resolves
        app.resolve_objection(batch_id, disputed, "dismissed", "x")
    resolve(app, batch_id, disputed, "dismissed")
    assert pay(app, batch_id, reference="桂财工兑〔2026〕2号").data["amount"] == yuan(40_000)
    assert app.get_contract(disputed).settled
    with pytest.raises(errors.InvalidState):
        resolve(app, batch_id, disputed, "upheld")
    identities_hold(app, views)


def test_upheld_objection_fails_acceptance(world, views):
    app = world.app
    batch_id, disputed, kept = _objected(world)
    voucher_id = app.get_contract(disputed).voucher_id
    resolve(app, batch_id, disputed, "upheld")
    assert app.get_contract(disputed).status == "failed_acceptance"
    assert app.get_voucher(voucher_id).used_fen == 0
    paid = pay(app, batch_id)
    assert paid.data["amount"] == yuan(40_000) and not app.get_contract(disputed).settled
    identities_hold(app, views)
    views.catch_up()
    batch = settlement_queries.get_batch(views.store, batch_id)
    assert sorted(c["dispute"] or "" for c in batch["claims"]) == ["", "upheld"]
    head = batch["notice"]
    # The chain head at the notice: the Noticed event's own position and the audit chain's hash there.
    (noticed,) = app.recorder.select_notifications(start=head["position"], limit=1)
    assert noticed.topic.endswith("SettlementBatch.Noticed")
    assert chain.links_between(views.store, head["position"], head["position"])[head["position"]].hash == head["hash"]


def test_payment_while_every_claim_is_disputed_is_refused(world):
    app = world.app
    contract_id = world.contract()
    batch_id = open_batch(app)
    review(app, batch_id, claim(app, batch_id, world.provider, [contract_id]))
    approve(app, batch_id)
    notice(app, batch_id, "objection", contract_ids=[contract_id])
    with pytest.raises(errors.ObjectionUnresolved):
        pay(app, batch_id)


# --- Stops 10: batches per year -----------------------------------------------------------------------


def test_batches_per_year_are_at_most_the_years_settlement_batches(world, scenario):
    # Issue 14: six settlement batches were opened for one year (Art. 19: one or two).
    app = world.app
    open_batch(app, name="第一批")
    open_batch(app, name="第二批")
    with pytest.raises(errors.BatchLimit):
        open_batch(app, name="第三批")
    single = scenario.open_year(YEAR + 1, settlement_batches=1)
    open_batch(app, year=single)
    with pytest.raises(errors.BatchLimit):
        open_batch(app, year=single, name="第二批")
    with pytest.raises(errors.ParameterAboveCeiling):
        scenario.open_year(YEAR - 1, settlement_batches=3)


def test_closed_year_still_takes_its_batches(world, clock):
    app = world.app
    clock.today = date(YEAR + 1, 1, 2)
    with as_role("operator"):
        app.close_year(YEAR)
    open_batch(app)
    open_batch(app, name="第二批")
    with pytest.raises(errors.BatchLimit):
        open_batch(app, name="第三批")


def test_disputed_contract_held_by_a_termination_leaves_its_dispute(world, views):
    # Held while disputed: it leaves its claim and the open dispute with it; the approver's release makes it
    # claimable again, and nothing in the first batch waits for a resolution any more.
    app = world.app
    batch_id, disputed, kept = _objected(world)
    terminate(app, world.provider)
    assert app.get_contract(disputed).status == "held" and not app.get_contract(disputed).disputed
    assert app.get_batch(batch_id).disputed_claims() == []
    with pytest.raises(errors.InvalidState):
        resolve(app, batch_id, disputed, "dismissed")
    release(app, disputed)
    assert app.get_contract(disputed).claimable
    # The provider's other contract was held too: the batch has nothing left to pay and is closed.
    assert app.get_batch(batch_id).status == "closed" and app.get_contract(kept).status == "held"
    with pytest.raises(errors.InvalidState):
        pay(app, batch_id)
    identities_hold(app, views)


def test_stop_decisions_appear_in_the_penetrating_traces(world, views):
    # Hold, release, acceptance, objection and resolution: in the contract's, enterprise's, provider's and
    # batch's traces, each with who decided it.
    app = world.app
    batch_id, disputed, kept = _objected(world)
    resolve(app, batch_id, disputed, "upheld")
    held = world.contract()
    terminate(app, world.provider)
    release(app, held)
    views.catch_up()
    enterprise = app.get_contract(disputed).enterprise_id
    traces = {
        "contract": trace_queries.contract_trace(app, views.store, disputed),
        "enterprise": trace_queries.enterprise_trace(app, views.store, enterprise, YEAR),
        "provider": trace_queries.provider_trace(app, views.store, world.provider, YEAR),
        "batch": trace_queries.settlement_trace(app, views.store, batch_id),
    }
    types = {name: {s["type"] for s in trace["steps"]} for name, trace in traces.items()}
    for name in ("contract", "enterprise", "provider"):
        assert {"Contract.Disputed", "Contract.DisputeResolved", "Contract.AcceptanceChecked",
                "Contract.AcceptanceFailed"} <= types[name], name
    assert {"SettlementBatch.ObjectionResolved", "Contract.Disputed"} <= types["batch"]
    held_trace = {s["type"] for s in trace_queries.contract_trace(app, views.store, held)["steps"]}
    assert {"Contract.Held", "Contract.HoldReleased", "Provider.Terminated"} <= held_trace
    provider_types = {s["type"] for s in traces["provider"]["steps"]}
    assert {"Contract.Held", "Contract.HoldReleased", "ProviderYear.ProviderStopped"} <= provider_types
    resolved = next(s for s in traces["batch"]["steps"] if s["type"] == "SettlementBatch.ObjectionResolved")
    assert resolved["actor"]["id"] == APPROVER
