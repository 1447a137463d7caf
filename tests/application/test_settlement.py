"""Settlement batches (兑付), as the centre, DIIT and finance walk them through (Art. 10, 19-20).

Providers claim completed contracts with settlement materials; the operator reviews every claim;
DIIT approves the plan when no claim is pending; the public notice (公示) is recorded; finance pays
and each contract is redeemed (兑现确认) and settled, at most once, within the provider's cap.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger import errors
from ledger.context import Actor, acting
from ledger.domain.settlement import SOD_RULE
from ledger.money import yuan
from projections.views import balances, contracts, providers, settlement
from tests.support import YEAR, as_role, year_ended

DOCS = [{"name": "结算申请表.pdf", "sha256": "a" * 64, "size": 20_480,
         "uri": "https://docs.example.gov.cn/settlements/claim.pdf"}]

# Distinct people in distinct seats, as the measures' departments are (Art. 4, 20).
REVIEWER, NOTICER, APPROVER, PAYER, SANCTIONER = "centre-li", "centre-wang", "diit-zhao", "finance-qian", "centre-sun"


# --- helpers shared by the settlement and sanction tests ------------------------------------------------


class World:
    """A year, a signed provider with a diagnosis product, and a way to make completed contracts."""

    def __init__(self, scenario: Any, year: int = YEAR, **year_params: Any) -> None:
        self.scenario = scenario
        self.app = scenario.app
        self.year = scenario.open_year(year, **year_params)
        self.provider = scenario.provider(signed_for=year)
        self.product = scenario.product(self.provider, "diagnosis", 50_000, listed_for=year)

    def holder(self, honours: tuple[str, ...] = ("little_giant",)) -> tuple[str, str]:
        return self.scenario.holder(honours, year=self.year)

    def contract(self, state: str = "completed", provider: str | None = None, product: str | None = None,
                 holder: tuple[str, str] | None = None, amount_yuan: int = 50_000) -> str:
        """A ¥50,000 diagnosis contract: subsidy ¥40,000 (80%), deposit ¥10,000."""
        enterprise, voucher = holder or self.holder()
        return self.scenario.contract(enterprise, voucher, provider or self.provider, product or self.product,
                                      yuan(amount_yuan), state=state)


def open_batch(app: Any, year: int = YEAR, name: str = "第一批兑付") -> str:
    with as_role("operator", name=REVIEWER):
        return app.open_settlement(year, name).data["batch_id"]


def claim(app: Any, batch_id: str, provider: str, contract_ids: list[str]) -> str:
    with as_role("provider", provider):
        return app.claim_settlement(batch_id, contract_ids, DOCS).data["claim_id"]


def review(app: Any, batch_id: str, claim_id: str, decision: str = "approve", reviewer: str = REVIEWER,
           reason: str | None = None) -> Any:
    if decision == "reject" and reason is None:
        reason = "materials"  # a rejection says why (DOMAIN.md "Stops" 5)
    with as_role("operator", name=reviewer):
        return app.review_claim(batch_id, claim_id, decision, "材料核对", reason)


def approve(app: Any, batch_id: str, approver: str = APPROVER) -> Any:
    with as_role("approver", name=approver):
        return app.approve_settlement(batch_id)


def notice(app: Any, batch_id: str, outcome: str = "no_objection", claim_ids: list[str] | None = None,
           by: str = NOTICER, contract_ids: list[str] | None = None) -> Any:
    with as_role("operator", name=by):
        return app.record_settlement_notice(batch_id, outcome, "公示期满", claim_ids, contract_ids)


def resolve(app: Any, batch_id: str, contract_id: str, decision: str, by: str = APPROVER) -> Any:
    with as_role("approver", name=by):
        return app.resolve_objection(batch_id, contract_id, decision, "异议核查完毕")


def pay(app: Any, batch_id: str, reference: str = "桂财工兑〔2026〕1号", payer: str = PAYER) -> Any:
    with as_role("finance", name=payer):
        return app.pay_settlement(batch_id, reference)


def settle(app: Any, provider: str, contract_ids: list[str], year: int = YEAR, name: str = "第一批兑付") -> str:
    """The whole path for one claim: open, claim, review, approve, notice, pay."""
    batch_id = open_batch(app, year, name)
    review(app, batch_id, claim(app, batch_id, provider, contract_ids))
    approve(app, batch_id)
    notice(app, batch_id)
    pay(app, batch_id)
    return batch_id


def file_case(app: Any, subject_id: str, contract_ids: list[str], subject_type: str = "enterprise",
              violation: str = "fake_transaction", filer: str = "supervisor-zhou", role: str = "supervisor") -> str:
    with as_role(role, name=filer):
        return app.file_case(subject_type, subject_id, violation, contract_ids, "监理发现").data["case_id"]


def sanction(app: Any, case_id: str, clawback: list[str], by: str = SANCTIONER, **kwargs: Any) -> Any:
    with as_role("operator", name=by):
        return app.sanction_case(case_id, clawback, note="依第二十五条处理", **kwargs)


@pytest.fixture
def world(scenario: Any) -> World:
    return World(scenario)


# --- the whole path -------------------------------------------------------------------------------------


def test_whole_settlement_path_redeems_and_settles_each_contract(world, views):
    app = world.app
    # Two completed ¥50,000 diagnosis contracts: ¥40,000 of subsidy each is used.
    first, second = world.contract(), world.contract()
    # The centre opens the year's first batch; the provider claims both with its materials.
    batch_id = open_batch(app)
    with as_role("provider", world.provider):
        claimed = app.claim_settlement(batch_id, [first, second], DOCS)
    assert claimed.created
    assert claimed.data["amount"] == yuan(80_000)
    assert claimed.data["amounts"] == {first: yuan(40_000), second: yuan(40_000)}
    claim_id = claimed.data["claim_id"]
    # The centre reviews it; DIIT approves the plan; the notice ends without objection.
    assert review(app, batch_id, claim_id).data["status"] == "approved"
    approved = approve(app, batch_id)
    assert (approved.data["status"], approved.data["amount"]) == ("approved", yuan(80_000))
    assert notice(app, batch_id).data["status"] == "noticed"
    # Finance pays with its reference: each contract is redeemed (兑现确认) and settled.
    paid = pay(app, batch_id, "桂财工兑〔2026〕7号")
    assert paid.data["status"] == "paid"
    assert paid.data["amount"] == yuan(80_000)
    assert paid.data["providers"] == {world.provider: yuan(80_000)}
    for contract_id in (first, second):
        contract = app.get_contract(contract_id)
        assert contract.settled and contract.settlement == {"batch_id": batch_id, "reference": "桂财工兑〔2026〕7号"}
    assert app.get_provider_year(world.provider, YEAR).settled_fen == yuan(80_000)
    # The views: the batch, the year's settled total, the provider's totals.
    views.catch_up()
    batch = settlement.get_batch(views.store, batch_id)
    assert batch["status"] == "paid" and batch["reference"] == "桂财工兑〔2026〕7号"
    assert batch["paid"] == yuan(80_000)
    assert batch["totals"]["paid"] == {"claims": 1, "contracts": 2, "amount": yuan(80_000)}
    assert [c["status"] for c in batch["claims"]] == ["paid"]
    assert (batch["claims"][0]["claimed_by"], batch["claims"][0]["reviewed_by"]) == (
        f"provider-{world.provider}", REVIEWER)
    assert (batch["approved_by"], batch["noticed_by"], batch["paid_by"]) == (APPROVER, NOTICER, PAYER)
    year = balances.get_year(views.store, YEAR)
    assert year["settled"] == yuan(80_000) <= year["used"] + year["clawed_back"]
    totals = providers.get_provider_totals(views.store, world.provider, YEAR)
    assert (totals["settled"], totals["used"], totals["receivable"]) == (yuan(80_000), yuan(80_000), 0)
    assert contracts.get_contract(views.store, first)["settled"] is True


def test_batch_is_opened_by_the_operator_for_a_known_year(world):
    with as_role("provider", world.provider), pytest.raises(errors.Forbidden):
        world.app.open_settlement(YEAR, "第一批")
    with as_role("operator"), pytest.raises(errors.NotFound):
        world.app.open_settlement(1999, "第一批")
    with as_role("operator"), pytest.raises(errors.ValidationFailed):
        world.app.open_settlement(YEAR, "  ")


def test_unknown_batch_and_claim_are_not_found(world):
    with as_role("provider", world.provider), pytest.raises(errors.NotFound):
        world.app.claim_settlement("00000000-0000-0000-0000-000000000000", [world.contract()], DOCS)
    with as_role("operator"), pytest.raises(errors.NotFound):
        world.app.review_claim("not-a-uuid", "x", "approve")
    batch_id = open_batch(world.app)
    with as_role("operator"), pytest.raises(errors.NotFound):
        world.app.review_claim(batch_id, "00000000-0000-0000-0000-000000000000", "approve")
    with as_role("provider", world.provider), pytest.raises(errors.NotFound):
        world.app.claim_settlement(batch_id, ["00000000-0000-0000-0000-000000000000"], DOCS)


# --- what may be claimed --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["proposed", "signed", "active", "terminated"])
def test_only_completed_contracts_are_claimed(world, state):
    contract_id = world.contract(state=state)
    batch_id = open_batch(world.app)
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted) as refused:
        world.app.claim_settlement(batch_id, [contract_id], DOCS)
    assert refused.value.details["status"] == state


def test_clawed_back_contract_is_never_claimed(world):
    enterprise, voucher = holder = world.holder()
    contract_id = world.contract(holder=holder)
    sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])
    batch_id = open_batch(world.app)
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted):
        world.app.claim_settlement(batch_id, [contract_id], DOCS)


def test_contract_settled_at_most_once(world):
    contract_id = world.contract()
    settle(world.app, world.provider, [contract_id])
    later = open_batch(world.app, name="第二批兑付")
    with as_role("provider", world.provider), pytest.raises(errors.AlreadyClaimed) as refused:
        world.app.claim_settlement(later, [contract_id], DOCS)
    assert refused.value.details["reference"] == "桂财工兑〔2026〕1号"


def test_contract_is_claimed_in_one_batch_at_a_time(world):
    contract_id = world.contract()
    first, second = open_batch(world.app), open_batch(world.app, name="第二批")
    claim(world.app, first, world.provider, [contract_id])
    with as_role("provider", world.provider), pytest.raises(errors.AlreadyClaimed) as refused:
        world.app.claim_settlement(second, [contract_id], DOCS)
    assert refused.value.details["batch_id"] == first
    # Nor twice in the same batch, nor twice in one claim.
    with as_role("provider", world.provider), pytest.raises(errors.AlreadyClaimed):
        world.app.claim_settlement(first, [contract_id], DOCS)
    other = world.contract()
    with as_role("provider", world.provider), pytest.raises(errors.ValidationFailed):
        world.app.claim_settlement(first, [other, other], DOCS)


def test_provider_claims_only_its_own_contracts(world, scenario):
    mine = world.contract()
    rival = scenario.provider(signed_for=YEAR)
    batch_id = open_batch(world.app)
    with as_role("provider", rival), pytest.raises(errors.Forbidden):
        world.app.claim_settlement(batch_id, [mine], DOCS)
    with as_role("operator"), pytest.raises(errors.Forbidden):
        world.app.claim_settlement(batch_id, [mine], DOCS)
    enterprise = world.app.get_contract(mine).enterprise_id
    with as_role("enterprise", enterprise), pytest.raises(errors.Forbidden):
        world.app.claim_settlement(batch_id, [mine], DOCS)


def test_contract_is_settled_in_a_batch_of_its_own_year(world, scenario):
    contract_id = world.contract()
    scenario.open_year(YEAR + 1)
    batch_id = open_batch(world.app, YEAR + 1)
    with as_role("provider", world.provider), pytest.raises(errors.YearMismatch) as refused:
        world.app.claim_settlement(batch_id, [contract_id], DOCS)
    assert refused.value.details == {"contract_id": contract_id, "contract_year": YEAR, "batch_year": YEAR + 1}


def test_claim_carries_its_settlement_materials(world):
    batch_id = open_batch(world.app)
    with as_role("provider", world.provider), pytest.raises(errors.ValidationFailed) as refused:
        world.app.claim_settlement(batch_id, [world.contract()], [])
    assert "documents" in refused.value.details
    with as_role("provider", world.provider), pytest.raises(errors.ValidationFailed):
        world.app.claim_settlement(batch_id, [], DOCS)


def test_claims_are_submitted_and_reviewed_only_while_the_batch_is_open(world):
    app = world.app
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [world.contract()])
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    with as_role("provider", world.provider), pytest.raises(errors.InvalidState):
        app.claim_settlement(batch_id, [world.contract()], DOCS)


def test_claim_is_reviewed_once_by_the_operator(world):
    app = world.app
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [world.contract()])
    with as_role("approver"), pytest.raises(errors.Forbidden):
        app.review_claim(batch_id, claim_id, "approve")
    review(app, batch_id, claim_id)
    with pytest.raises(errors.InvalidState):
        review(app, batch_id, claim_id, "reject")


def test_rejected_claim_frees_its_contracts_for_a_later_batch(world, views):
    app = world.app
    contract_id = world.contract()
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [contract_id])
    assert review(app, batch_id, claim_id, "reject").data["status"] == "rejected"
    assert app.get_contract(contract_id).claim is None
    # Corrected materials go into the next batch.
    later = settle(app, world.provider, [contract_id], name="第二批兑付")
    assert app.get_contract(contract_id).settlement["batch_id"] == later
    views.catch_up()
    assert settlement.get_batch(views.store, batch_id)["totals"]["rejected"]["amount"] == yuan(40_000)


# --- approval, notice, payment ----------------------------------------------------------------------


def test_plan_is_approved_only_when_no_claim_is_pending(world):
    app = world.app
    batch_id = open_batch(app)
    reviewed = claim(app, batch_id, world.provider, [world.contract()])
    pending = claim(app, batch_id, world.provider, [world.contract()])
    review(app, batch_id, reviewed)
    with pytest.raises(errors.ClaimsPending) as refused:
        approve(app, batch_id)
    assert refused.value.details == {"claim_ids": [pending]}
    review(app, batch_id, pending, "reject")
    assert approve(app, batch_id).data["amount"] == yuan(40_000)
    with pytest.raises(errors.InvalidState):
        approve(app, batch_id)


def test_plan_without_an_approved_claim_is_not_approved(world):
    app = world.app
    batch_id = open_batch(app)
    with pytest.raises(errors.InvalidState):
        approve(app, batch_id)
    review(app, batch_id, claim(app, batch_id, world.provider, [world.contract()]), "reject")
    with pytest.raises(errors.InvalidState):
        approve(app, batch_id)


def test_only_the_approver_approves_and_only_finance_pays(world):
    app = world.app
    batch_id = open_batch(app)
    review(app, batch_id, claim(app, batch_id, world.provider, [world.contract()]))
    with as_role("operator", name="someone"), pytest.raises(errors.Forbidden):
        app.approve_settlement(batch_id)
    approve(app, batch_id)
    with as_role("approver", name="someone"), pytest.raises(errors.Forbidden):
        app.record_settlement_notice(batch_id, "no_objection")
    notice(app, batch_id)
    with as_role("approver", name="someone"), pytest.raises(errors.Forbidden):
        app.pay_settlement(batch_id, "REF")


def test_payment_waits_for_the_public_notice(world):
    app = world.app
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [world.contract()])
    with pytest.raises(errors.NoticePending):
        pay(app, batch_id)
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    with pytest.raises(errors.NoticePending):
        pay(app, batch_id)
    notice(app, batch_id)
    pay(app, batch_id)
    with pytest.raises(errors.InvalidState):
        pay(app, batch_id)


def test_notice_follows_the_approval_once(world):
    app = world.app
    batch_id = open_batch(app)
    review(app, batch_id, claim(app, batch_id, world.provider, [world.contract()]))
    with pytest.raises(errors.InvalidState):
        notice(app, batch_id)
    approve(app, batch_id)
    notice(app, batch_id)
    with pytest.raises(errors.InvalidState):
        notice(app, batch_id)


def test_objection_holds_back_only_disputed_claims(world, scenario, views):
    app = world.app
    other_provider = scenario.provider(signed_for=YEAR)
    other_product = scenario.product(other_provider, "diagnosis", 50_000)
    kept, disputed = world.contract(), world.contract(provider=other_provider, product=other_product)
    batch_id = open_batch(app)
    kept_claim = claim(app, batch_id, world.provider, [kept])
    disputed_claim = claim(app, batch_id, other_provider, [disputed])
    review(app, batch_id, kept_claim)
    review(app, batch_id, disputed_claim)
    approve(app, batch_id)
    # Someone objects to one claim during the notice: only that claim is held back.
    noticed = notice(app, batch_id, "objection", [disputed_claim])
    assert noticed.data["held_back_claim_ids"] == [disputed_claim]
    assert noticed.data["amount"] == yuan(40_000)
    paid = pay(app, batch_id)
    assert paid.data["providers"] == {world.provider: yuan(40_000)}
    assert app.get_contract(kept).settled
    held = app.get_contract(disputed)
    # The disputed contract stays in its claim, held until resolved: claimable nowhere (DOMAIN.md "Stops" 6).
    assert not held.settled and held.disputed and not held.claimable
    # Once the objection is dismissed, the held-back contract is paid with its batch (a second payment).
    resolve(app, batch_id, disputed, "dismissed")
    assert pay(app, batch_id, reference="桂财工兑〔2026〕2号").data["providers"] == {other_provider: yuan(40_000)}
    assert app.get_contract(disputed).settled
    views.catch_up()
    batch = settlement.get_batch(views.store, batch_id)
    assert {c["claim_id"]: c["status"] for c in batch["claims"]} == {kept_claim: "paid", disputed_claim: "paid"}
    assert {c["claim_id"]: c["dispute"] for c in batch["claims"]} == {kept_claim: None, disputed_claim: "dismissed"}
    assert batch["totals"]["paid"]["amount"] == yuan(80_000)


def test_objection_names_the_claims_it_disputes(world):
    app = world.app
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [world.contract()])
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    with pytest.raises(errors.ValidationFailed) as refused:
        notice(app, batch_id, "objection", [])
    assert "contract_ids" in refused.value.details
    with pytest.raises(errors.ValidationFailed):
        notice(app, batch_id, "no_objection", [claim_id])
    with pytest.raises(errors.NotFound):
        notice(app, batch_id, "objection", ["00000000-0000-0000-0000-000000000000"])


def test_objection_to_a_rejected_claim_is_refused(world):
    app = world.app
    batch_id = open_batch(app)
    good = claim(app, batch_id, world.provider, [world.contract()])
    bad = claim(app, batch_id, world.provider, [world.contract()])
    review(app, batch_id, good)
    review(app, batch_id, bad, "reject")
    approve(app, batch_id)
    with pytest.raises(errors.InvalidState):
        notice(app, batch_id, "objection", [bad])


def test_objection_to_every_claim_closes_the_batch_with_nothing_paid(world, views):
    app = world.app
    contract_id = world.contract()
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [contract_id])
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    # The claim waits for the approver's resolution; nothing is payable meanwhile (Stops 6).
    assert notice(app, batch_id, "objection", [claim_id]).data["status"] == "noticed"
    with pytest.raises(errors.ObjectionUnresolved):
        pay(app, batch_id)
    # Upheld, the contract fails acceptance and leaves its claim: the batch closes with nothing paid.
    resolve(app, batch_id, contract_id, "upheld")
    assert app.get_contract(contract_id).status == "failed_acceptance"
    with pytest.raises(errors.InvalidState):
        pay(app, batch_id)
    views.catch_up()
    assert settlement.get_batch(views.store, batch_id)["status"] == "closed"


# --- segregation of duties (职责分离) -----------------------------------------------------------------


def _reviewed_batch(world: World, reviewer: str = REVIEWER) -> str:
    batch_id = open_batch(world.app)
    review(world.app, batch_id, claim(world.app, batch_id, world.provider, [world.contract()]), reviewer=reviewer)
    return batch_id


def test_nobody_approves_what_they_reviewed(world):
    # One person holding an operator seat and an approver seat reviewed a claim of this batch.
    batch_id = _reviewed_batch(world, reviewer="zhang-san")
    with pytest.raises(errors.SegregationOfDuties) as refused:
        approve(world.app, batch_id, approver="zhang-san")
    assert refused.value.details["rule"] == SOD_RULE
    assert refused.value.details["conflicts"] == ["reviewed"]
    approve(world.app, batch_id)


def test_nobody_approves_what_they_claimed(world):
    app = world.app
    batch_id = open_batch(app)
    with acting(Actor("provider", "li-si", world.provider)):
        claim_id = app.claim_settlement(batch_id, [world.contract()], DOCS).data["claim_id"]
    review(app, batch_id, claim_id)
    with pytest.raises(errors.SegregationOfDuties) as refused:
        approve(app, batch_id, approver="li-si")
    assert refused.value.details["conflicts"] == ["claimed"]
    assert refused.value.details["claim_ids"] == [claim_id]


def test_nobody_reviews_their_own_claim(world):
    app = world.app
    batch_id = open_batch(app)
    with acting(Actor("provider", "li-si", world.provider)):
        claim_id = app.claim_settlement(batch_id, [world.contract()], DOCS).data["claim_id"]
    with pytest.raises(errors.SegregationOfDuties):
        review(app, batch_id, claim_id, reviewer="li-si")


def test_nobody_pays_what_they_reviewed(world):
    batch_id = _reviewed_batch(world, reviewer="zhang-san")
    approve(world.app, batch_id)
    notice(world.app, batch_id)
    with pytest.raises(errors.SegregationOfDuties) as refused:
        pay(world.app, batch_id, payer="zhang-san")
    assert refused.value.details["rule"] == SOD_RULE
    assert refused.value.details["step"] == "pay"
    assert not world.app.get_batch(batch_id).payment
    pay(world.app, batch_id)


def test_nobody_pays_what_they_approved(world):
    batch_id = _reviewed_batch(world)
    approve(world.app, batch_id, approver="wang-wu")
    notice(world.app, batch_id)
    with pytest.raises(errors.SegregationOfDuties) as refused:
        pay(world.app, batch_id, payer="wang-wu")
    assert refused.value.details["conflicts"] == ["approved"]


def test_nobody_pays_what_they_claimed(world):
    app = world.app
    batch_id = open_batch(app)
    with acting(Actor("provider", "li-si", world.provider)):
        claim_id = app.claim_settlement(batch_id, [world.contract()], DOCS).data["claim_id"]
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    notice(app, batch_id)
    with pytest.raises(errors.SegregationOfDuties):
        pay(app, batch_id, payer="li-si")


# --- the provider's cap (Art. 10) -------------------------------------------------------------------


@pytest.fixture
def capped(scenario: Any) -> World:
    """A provider whose annual cap is ¥100,000: room for two ¥40,000 subsidies, not three."""
    return World(scenario, provider_cap=yuan(100_000))


def _claw_back_after_payment(world: World) -> str:
    """Settle a contract, then claw it back: it stays settled (a receivable) and frees live cap."""
    enterprise, voucher = holder = world.holder()
    contract_id = world.contract(holder=holder)
    settle(world.app, world.provider, [contract_id])
    sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])
    return contract_id


def test_settlements_never_pass_the_providers_cap_plus_exceptions(capped):
    app = capped.app
    _claw_back_after_payment(capped)  # ¥40,000 settled for good
    second, third = capped.contract(), capped.contract()  # live ¥80,000 ≤ cap ¥100,000
    batch_id = open_batch(app, name="第二批兑付")
    review(app, batch_id, claim(app, batch_id, capped.provider, [second, third]))
    # Settling ¥80,000 more would make ¥120,000 settled against a ¥100,000 cap.
    with pytest.raises(errors.ProviderCapExceeded) as refused:
        approve(app, batch_id)
    assert refused.value.details["limit"] == "100000.00"
    # DIIT grants a recorded exception of ¥20,000 (原则上, Art. 10): now it fits exactly.
    with as_role("approver", name="diit-head"):
        app.grant_cap_exception(capped.provider, YEAR, yuan(20_000), "重点项目")
    approve(app, batch_id)
    notice(app, batch_id)
    pay(app, batch_id)
    provider_year = app.get_provider_year(capped.provider, YEAR)
    assert provider_year.settled_fen == yuan(120_000) == provider_year.limit_fen


def test_cap_is_checked_again_at_payment(capped):
    app = capped.app
    # Two batches a year at most (Art. 19): the second payment of the first batch, for a contract whose
    # objection was dismissed after that batch was first paid, is the payment that would pass the cap.
    enterprise, _ = holder = capped.holder()
    first, disputed = capped.contract(holder=holder), capped.contract()
    batch_a = open_batch(app, name="第一批")
    review(app, batch_a, claim(app, batch_a, capped.provider, [first]))
    review(app, batch_a, claim(app, batch_a, capped.provider, [disputed]))
    approve(app, batch_a)  # ¥80,000 ≤ ¥100,000
    notice(app, batch_a, "objection", contract_ids=[disputed])
    pay(app, batch_a)  # ¥40,000 settled
    sanction(app, file_case(app, enterprise, [first]), [first])  # stays settled, frees live cap
    third = capped.contract()
    batch_b = open_batch(app, name="第二批")
    review(app, batch_b, claim(app, batch_b, capped.provider, [third]))
    approve(app, batch_b)  # ¥40,000 settled + ¥40,000 ≤ ¥100,000
    notice(app, batch_b)
    pay(app, batch_b)
    resolve(app, batch_a, disputed, "dismissed")
    with pytest.raises(errors.ProviderCapExceeded):
        pay(app, batch_a, reference="桂财工兑〔2026〕2号")
    assert not app.get_contract(disputed).settled
    assert app.get_provider_year(capped.provider, YEAR).settled_fen == yuan(80_000)


# --- large batches, closed years ----------------------------------------------------------------------


def test_large_batch_is_paid_in_chunks(world, views):
    app = world.app
    app.payment_chunk = 2
    contracts = [world.contract() for _ in range(5)]
    batch_id = settle(app, world.provider, contracts)
    assert all(app.get_contract(c).settled for c in contracts)
    assert app.get_batch(batch_id).status == "paid"
    assert app.get_provider_year(world.provider, YEAR).settled_fen == yuan(200_000)
    views.catch_up()
    assert balances.get_year(views.store, YEAR)["settled"] == yuan(200_000)


def test_interrupted_chunked_payment_finishes_with_its_own_reference(world):
    app = world.app
    app.payment_chunk = 1
    contracts = [world.contract() for _ in range(3)]
    batch_id = open_batch(app)
    review(app, batch_id, claim(app, batch_id, world.provider, contracts))
    approve(app, batch_id)
    notice(app, batch_id)
    # The payment started, and its first chunk was saved, when the process died.
    with as_role("finance", name=PAYER):
        batch = app.get_batch(batch_id)
        batch.start_payment(reference="REF-9", amount_fen=yuan(120_000), contracts=3)
        app.save(batch)
        plan = app.get_batch(batch_id).payable()
        app._pay_chunk(batch.id, [sorted(plan)[0]], "REF-9")
    with pytest.raises(errors.InvalidState):
        pay(app, batch_id, reference="REF-10")
    assert pay(app, batch_id, reference="REF-9").data["status"] == "paid"
    assert all(app.get_contract(c).settlement == {"batch_id": batch_id, "reference": "REF-9"} for c in contracts)
    assert app.get_provider_year(world.provider, YEAR).settled_fen == yuan(120_000)


def test_settlement_goes_on_after_the_year_closed(world, scenario, clock):
    app = world.app
    contract_id = world.contract()
    clock.today = date(YEAR + 1, 1, 10)
    with as_role("operator", name="centre-close"):
        year_ended(app)
        app.close_year(YEAR)
    settle(app, world.provider, [contract_id])
    assert app.get_contract(contract_id).settled


def test_same_payment_request_is_answered_once(world):
    from ledger.context import Idempotency

    app = world.app
    batch_id = open_batch(app)
    review(app, batch_id, claim(app, batch_id, world.provider, [world.contract()]))
    approve(app, batch_id)
    notice(app, batch_id)
    key = Idempotency(key="pay-1", request_hash="h")
    with acting(Actor("finance", PAYER), idempotency=key):
        first = app.pay_settlement(batch_id, "REF")
    with acting(Actor("finance", PAYER), idempotency=key):
        again = app.pay_settlement(batch_id, "REF")
    assert again.replayed and again.data == first.data
