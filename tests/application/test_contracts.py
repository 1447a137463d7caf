"""Contracts: reservation at signing, deduction at completion, release at termination (Art. 10, 17, 18, 28).

Each refusal of a signature has its own test, named after its code.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger import errors
from ledger.money import yuan
from projections.views import providers
from tests.support import YEAR, as_role, revoke_holder, year_ended
from tests.support_fold import assert_fund_identity, assert_views_match_fold, fold


@pytest.fixture
def deal(scenario):
    """A funded year, a T2 holder (¥100,000), a signed provider with a listed diagnosis and consulting product."""
    scenario.open_year()
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    provider = scenario.provider()
    return {"enterprise": enterprise, "voucher_id": voucher_id, "provider": provider,
            "diagnosis": scenario.product(provider, "diagnosis"),
            "consulting": scenario.product(provider, "management_consulting")}


def propose(scenario, deal, amount_yuan, product="diagnosis", subsidy_fen=None):
    return scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"], deal[product],
                            yuan(amount_yuan), subsidy_fen)


def sign_refused(scenario, deal, contract_id, error):
    """Signing is refused with `error`, and nothing is recorded."""
    head = scenario.app.recorder.max_notification_id()
    with pytest.raises(error) as refused:
        scenario.sign(deal["provider"], contract_id)
    assert scenario.app.recorder.max_notification_id() == head
    assert scenario.app.get_contract(contract_id).status == "proposed"
    return refused.value


def test_signing_reserves_the_subsidy_on_the_voucher_and_the_provider_year(scenario, ledger, deal):
    # Art. 10, 17: a ¥60,000 consulting contract: 50% = ¥30,000 subsidy, 20% = ¥12,000 deposit, ¥18,000 balance.
    contract_id = propose(scenario, deal, 60_000, "consulting")
    signed = scenario.sign(deal["provider"], contract_id)
    assert (signed["status"], signed["subsidy"], signed["deposit"], signed["balance_due"]) == (
        "signed", yuan(30_000), yuan(12_000), yuan(18_000))
    voucher = ledger.get_voucher(deal["voucher_id"])
    assert (voucher.available_fen, voucher.reserved_fen) == (yuan(70_000), yuan(30_000))
    assert ledger.get_provider_year(deal["provider"], YEAR).reserved == {contract_id: yuan(30_000)}


def test_subsidy_is_the_smaller_amount_asked(scenario, ledger, deal):
    contract_id = propose(scenario, deal, 10_000, subsidy_fen=yuan(5_000))
    signed = scenario.sign(deal["provider"], contract_id)
    assert (signed["subsidy"], signed["deposit"], signed["balance_due"]) == (yuan(5_000), yuan(2_000), yuan(3_000))


def test_subsidy_rounds_down_to_the_fen(scenario, deal):
    # ¥333.33 × 50% = ¥166.665 → ¥166.66; deposit ¥66.666 → ¥66.66; the balance takes the remainder.
    contract_id = scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"], deal["consulting"], 33_333)
    signed = scenario.sign(deal["provider"], contract_id)
    assert (signed["subsidy"], signed["deposit"], signed["balance_due"]) == (16_666, 6_666, 10_001)


def test_voucher_exhausted(scenario, ledger, deal):
    # 用完为止 (Art. 18): once the voucher is used up, nothing more is reserved.
    scenario.sign(deal["provider"], propose(scenario, deal, 125_000))  # 80% = ¥100,000: the whole quota
    assert ledger.get_voucher(deal["voucher_id"]).available_fen == 0
    refused = sign_refused(scenario, deal, propose(scenario, deal, 10_000), errors.VoucherExhausted)
    assert refused.details == {"available": "0.00", "asked": "0.00"}


def test_voucher_exhausted_when_asking_more_than_available(scenario, deal):
    scenario.sign(deal["provider"], propose(scenario, deal, 100_000))  # ¥80,000 reserved, ¥20,000 left
    refused = sign_refused(scenario, deal, propose(scenario, deal, 100_000, subsidy_fen=yuan(30_000)),
                           errors.VoucherExhausted)
    assert refused.details == {"available": "20000.00", "asked": "30000.00"}


def test_subsidy_above_share(scenario, deal):
    # Art. 10: at most 50% of a non-diagnosis contract, whatever the holder asks.
    refused = sign_refused(scenario, deal, propose(scenario, deal, 10_000, "consulting", subsidy_fen=yuan(5_000) + 1),
                           errors.SubsidyAboveShare)
    assert refused.details == {"asked": "5000.01", "share": 5000, "maximum": "5000.00"}


def test_provider_not_signed(scenario, ledger, deal):
    # A contract needs a provider signed for the voucher's year (Art. 14, 15).
    unsigned = scenario.provider(signed_for=None)
    product = scenario.product(unsigned)
    contract_id = scenario.propose(deal["enterprise"], deal["voucher_id"], unsigned, product, yuan(10_000))
    with pytest.raises(errors.ProviderNotSigned):
        scenario.sign(unsigned, contract_id)
    scenario.open_year(YEAR + 1)
    next_year_only = scenario.provider(signed_for=YEAR + 1)
    product = scenario.product(next_year_only, listed_for=YEAR)
    contract_id = scenario.propose(deal["enterprise"], deal["voucher_id"], next_year_only, product, yuan(10_000))
    with pytest.raises(errors.ProviderNotSigned):
        scenario.sign(next_year_only, contract_id)


def test_provider_not_signed_after_termination(scenario, ledger, deal):
    contract_id = propose(scenario, deal, 10_000)
    with as_role("approver"):
        ledger.terminate_provider(deal["provider"], "提供虚假材料")
    # A terminated provider's signature is refused as such (DOMAIN.md "Stops" 1), no longer as "not signed".
    sign_refused(scenario, deal, contract_id, errors.PartyTerminated)


def test_product_not_listed(scenario, ledger, deal):
    # Art. 7-8: only a product in the year's catalogue, offered by this provider.
    unlisted = scenario.product(deal["provider"], listed_for=None)
    sign_refused(scenario, deal, scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"], unlisted,
                                                  yuan(10_000)), errors.ProductNotListed)
    scenario.open_year(YEAR + 1)
    next_year = scenario.product(deal["provider"], listed_for=YEAR + 1)
    sign_refused(scenario, deal, scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"], next_year,
                                                  yuan(10_000)), errors.ProductNotListed)
    someone_elses = scenario.product(scenario.provider())
    sign_refused(scenario, deal, scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"],
                                                  someone_elses, yuan(10_000)), errors.ProductNotListed)


def test_provider_cap_exceeded_and_cap_exceptions_let_it_through(scenario, ledger, views):
    # Art. 10: ≤ the year's cap per provider "in principle"; the approver's recorded exception lets more through.
    scenario.open_year(provider_cap=yuan(100_000))
    provider = scenario.provider()
    diagnosis = scenario.product(provider)
    first_holder, first_voucher = scenario.holder()
    second_holder, second_voucher = scenario.holder()
    scenario.sign(provider, scenario.propose(first_holder, first_voucher, provider, diagnosis, yuan(100_000)))
    late = scenario.propose(second_holder, second_voucher, provider, diagnosis, yuan(100_000))
    head = ledger.recorder.max_notification_id()
    with pytest.raises(errors.ProviderCapExceeded) as refused:
        scenario.sign(provider, late)
    assert refused.value.details == {"kind": "general", "cap": "100000.00", "exceptions": "0.00", "live": "80000.00", "asked": "80000.00"}
    assert ledger.recorder.max_notification_id() == head
    assert ledger.get_voucher(second_voucher).available_fen == yuan(100_000)  # nothing reserved on the voucher
    with as_role("approver", name="工信厅-处长") as ctx:
        ledger.grant_cap_exception(provider, YEAR, yuan(60_000), "自治区重大项目配套服务")
    signed = scenario.sign(provider, late)
    assert signed["subsidy"] == yuan(80_000)
    provider_year = ledger.get_provider_year(provider, YEAR)
    assert provider_year.live_fen == yuan(160_000) == provider_year.cap_fen + provider_year.exceptions_fen
    # The signature records the cap and exceptions it applied; the exception records who and why.
    signed_event = list(ledger.events.get(ledger.get_contract(late).id))[-1]
    assert (signed_event.provider_cap_fen, signed_event.provider_exceptions_fen) == (yuan(100_000), yuan(60_000))
    granted = [e for e in ledger.events.get(provider_year.id) if type(e).__name__ == "ExceptionGranted"][0]
    assert (granted.actor, granted.reason, granted.request_id) == (
        {"role": "approver", "id": "工信厅-处长"}, "自治区重大项目配套服务", ctx.request_id)
    views.catch_up()
    totals = providers.get_provider_totals(views.store, provider, YEAR)
    assert (totals["cap"], totals["exceptions"], totals["reserved"], totals["remaining_cap"], totals["contracts"]) == (
        yuan(100_000), yuan(60_000), yuan(160_000), 0, 2)


def test_holder_revoked(scenario, ledger, deal):
    # Art. 25: revocation blocks new reservations, including contracts already proposed.
    contract_id = propose(scenario, deal, 10_000)
    revoke_holder(ledger, deal["enterprise"])
    sign_refused(scenario, deal, contract_id, errors.HolderRevoked)
    with pytest.raises(errors.HolderRevoked):
        propose(scenario, deal, 10_000)


def test_year_closed(scenario, ledger, deal):
    # 期满作废 (Art. 18): after close no money moves into or out of the year's vouchers.
    contract_id = propose(scenario, deal, 10_000)
    late_enterprise = scenario.enterprise()
    with as_role("operator"):
        year_ended(ledger)
        ledger.close_year(YEAR)
    sign_refused(scenario, deal, contract_id, errors.YearClosed)
    with pytest.raises(errors.YearClosed):
        propose(scenario, deal, 10_000)
    with as_role("finance"), pytest.raises(errors.YearClosed):
        ledger.allocate_budget(YEAR, yuan(1_000), "too late")
    with as_role("operator"), pytest.raises(errors.YearClosed):
        ledger.issue_voucher(late_enterprise, YEAR)


def test_year_not_started(scenario, clock, deal):
    # Money is reserved only inside [starts_on, ends_on]: the day before is too early.
    contract_id = propose(scenario, deal, 10_000)
    clock.today = date(YEAR - 1, 12, 31)
    refused = sign_refused(scenario, deal, contract_id, errors.YearNotStarted)
    assert refused.details == {"starts_on": f"{YEAR}-01-01", "today": f"{YEAR - 1}-12-31"}
    clock.today = date(YEAR, 1, 1)
    assert scenario.sign(deal["provider"], contract_id)["status"] == "signed"


def test_year_ended(scenario, ledger, clock, deal):
    # After ends_on nothing is reserved, even before the operator closes the year.
    contract_id = propose(scenario, deal, 10_000)
    clock.today = date(YEAR + 1, 1, 1)
    refused = sign_refused(scenario, deal, contract_id, errors.YearEnded)
    assert refused.details == {"ends_on": f"{YEAR}-12-31", "today": f"{YEAR + 1}-01-01"}
    assert ledger.get_year(YEAR).status == "open"


def test_wrong_amount_for_deposit(scenario, ledger, deal):
    # Art. 17: the deposit is exactly 20% of the contract amount.
    contract_id = propose(scenario, deal, 50_000)
    scenario.sign(deal["provider"], contract_id)
    with as_role("enterprise", deal["enterprise"]):
        for wrong in (yuan(10_000) - 1, yuan(10_000) + 1, 0):
            with pytest.raises(errors.WrongAmount) as refused:
                ledger.pay_deposit(contract_id, wrong)
        assert refused.value.details == {"expected": "10000.00", "paid": "0.00"}
        assert ledger.pay_deposit(contract_id, yuan(10_000)).data["status"] == "active"
        with pytest.raises(errors.InvalidState):
            ledger.pay_deposit(contract_id, yuan(10_000))


def test_wrong_amount_for_completion(scenario, ledger, deal, views):
    # Completion pays exactly amount − deposit − subsidy; then the reservation is used (核销).
    contract_id = propose(scenario, deal, 50_000, "consulting")  # subsidy 25,000, deposit 10,000, balance 15,000
    scenario.sign(deal["provider"], contract_id)
    with as_role("enterprise", deal["enterprise"]):
        with pytest.raises(errors.InvalidState):  # no completion before the deposit
            ledger.complete_contract(contract_id, yuan(15_000))
        ledger.pay_deposit(contract_id, yuan(10_000))
        for wrong in (yuan(15_000) - 1, yuan(40_000), 0):
            with pytest.raises(errors.WrongAmount):
                ledger.complete_contract(contract_id, wrong)
        completed = ledger.complete_contract(contract_id, yuan(15_000)).data
    assert (completed["status"], completed["balance_paid"]) == ("completed", yuan(15_000))
    voucher = ledger.get_voucher(deal["voucher_id"])
    assert (voucher.available_fen, voucher.reserved_fen, voucher.used_fen) == (yuan(75_000), 0, yuan(25_000))
    provider_year = ledger.get_provider_year(deal["provider"], YEAR)
    assert (provider_year.reserved, provider_year.used) == ({}, {contract_id: yuan(25_000)})
    assert_views_match_fold(ledger, views)


def test_termination_releases_the_reservation(scenario, ledger, deal, views):
    # Art. 28: a contract that cannot be completed is terminated; its reservation goes back to available.
    signed = propose(scenario, deal, 50_000)
    scenario.sign(deal["provider"], signed)
    active = propose(scenario, deal, 20_000)
    deposit = scenario.sign(deal["provider"], active)["deposit"]
    with as_role("enterprise", deal["enterprise"]):
        ledger.pay_deposit(active, deposit)
    assert ledger.get_voucher(deal["voucher_id"]).reserved_fen == yuan(56_000)
    with as_role("provider", deal["provider"]):
        assert ledger.terminate_contract(signed, "服务方无法履约").data["status"] == "terminated"
    with as_role("operator"):
        ledger.terminate_contract(active, "验收不合格 (Art. 28)")
    voucher = ledger.get_voucher(deal["voucher_id"])
    assert (voucher.available_fen, voucher.reserved_fen, voucher.used_fen) == (yuan(100_000), 0, 0)
    provider_year = ledger.get_provider_year(deal["provider"], YEAR)
    assert provider_year.live_fen == 0
    released = [e for e in ledger.events.get(voucher.id) if type(e).__name__ == "Released"]
    assert [(e.amount_fen, e.reason) for e in released] == [(yuan(40_000), "服务方无法履约"),
                                                            (yuan(16_000), "验收不合格 (Art. 28)")]
    assert_views_match_fold(ledger, views)


def test_a_terminated_contract_can_never_complete(scenario, ledger, deal):
    contract_id = propose(scenario, deal, 50_000)
    signed = scenario.sign(deal["provider"], contract_id)
    with as_role("enterprise", deal["enterprise"]):
        ledger.pay_deposit(contract_id, signed["deposit"])
        ledger.terminate_contract(contract_id, "双方协商终止")
        for step in (lambda: ledger.complete_contract(contract_id, signed["balance_due"]),
                     lambda: ledger.pay_deposit(contract_id, signed["deposit"]),
                     lambda: ledger.terminate_contract(contract_id, "again")):
            with pytest.raises(errors.InvalidState):
                step()
    with pytest.raises(errors.InvalidState):
        scenario.sign(deal["provider"], contract_id)
    assert_fund_identity(fold(ledger))


def test_a_proposed_contract_is_terminated_without_any_release(scenario, ledger, deal):
    contract_id = propose(scenario, deal, 10_000)
    with as_role("enterprise", deal["enterprise"]):
        assert ledger.terminate_contract(contract_id, "不再需要").data["status"] == "terminated"
    assert ledger.get_voucher(deal["voucher_id"]).available_fen == yuan(100_000)


def test_a_completed_contract_cannot_be_terminated(scenario, ledger, deal):
    contract_id = scenario.contract(deal["enterprise"], deal["voucher_id"], deal["provider"], deal["diagnosis"],
                                    yuan(10_000), state="completed")
    with as_role("operator"), pytest.raises(errors.InvalidState):
        ledger.terminate_contract(contract_id, "too late")


def test_only_the_parties_act_on_a_contract(scenario, ledger, deal):
    other_enterprise, _ = scenario.holder()
    other_provider = scenario.provider()
    with as_role("enterprise", other_enterprise), pytest.raises(errors.Forbidden):
        propose_as_other = ledger.propose_contract  # the holder alone proposes on its voucher
        propose_as_other(deal["voucher_id"], deal["provider"], deal["diagnosis"], yuan(10_000))
    for role in ("operator", "provider", "approver"):
        with as_role(role, deal["provider"]), pytest.raises(errors.Forbidden):
            ledger.propose_contract(deal["voucher_id"], deal["provider"], deal["diagnosis"], yuan(10_000))
    contract_id = propose(scenario, deal, 10_000)
    with pytest.raises(errors.Forbidden):
        scenario.sign(other_provider, contract_id)
    with as_role("enterprise", deal["enterprise"]), pytest.raises(errors.Forbidden):
        ledger.sign_contract(contract_id)
    signed = scenario.sign(deal["provider"], contract_id)
    with as_role("enterprise", other_enterprise):
        with pytest.raises(errors.Forbidden):
            ledger.pay_deposit(contract_id, signed["deposit"])
        with pytest.raises(errors.Forbidden):
            ledger.terminate_contract(contract_id, "not mine")
    with as_role("provider", other_provider), pytest.raises(errors.Forbidden):
        ledger.terminate_contract(contract_id, "not mine")
    with as_role("provider", deal["provider"]), pytest.raises(errors.Forbidden):
        ledger.pay_deposit(contract_id, signed["deposit"])


@pytest.mark.parametrize("amount, subsidy", [(0, None), (-100, None), (yuan(100), 0), (yuan(100), yuan(100) + 1)])
def test_contract_amounts_must_make_sense(scenario, ledger, deal, amount, subsidy):
    with as_role("enterprise", deal["enterprise"]), pytest.raises(errors.ValidationFailed):
        ledger.propose_contract(deal["voucher_id"], deal["provider"], deal["diagnosis"], amount, subsidy)


def test_contract_for_unknown_voucher_provider_or_product_is_not_found(scenario, ledger, deal):
    import uuid

    with as_role("enterprise", deal["enterprise"]):
        for args in ((str(uuid.uuid4()), deal["provider"], deal["diagnosis"]),
                     (deal["voucher_id"], scenario.next_code(), deal["diagnosis"]),
                     (deal["voucher_id"], deal["provider"], str(uuid.uuid4()))):
            with pytest.raises(errors.NotFound):
                ledger.propose_contract(*args, yuan(10_000))
    with as_role("provider", deal["provider"]), pytest.raises(errors.NotFound):
        ledger.sign_contract(str(uuid.uuid4()))


def test_subsidy_preview_is_what_signing_reserves(scenario, ledger, deal):
    # Art. 10, 17: before proposing, the enterprise sees what a signature would reserve; a preview records nothing.
    head = scenario.app.recorder.max_notification_id()
    preview = ledger.preview_subsidy(deal["voucher_id"], deal["consulting"], yuan(60_000))
    assert (preview["share"], preview["share_maximum"], preview["available"], preview["asked"], preview["subsidy"]) == (
        "0.50", yuan(30_000), yuan(100_000), None, yuan(30_000))
    assert scenario.app.recorder.max_notification_id() == head
    signed = scenario.sign(deal["provider"], propose(scenario, deal, 60_000, "consulting"))
    assert signed["subsidy"] == preview["subsidy"]
    # Now limited by what the voucher has left (80% of ¥125,000 is more than ¥70,000), or the smaller amount asked.
    assert ledger.preview_subsidy(deal["voucher_id"], deal["diagnosis"], yuan(125_000))["subsidy"] == yuan(70_000)
    assert ledger.preview_subsidy(deal["voucher_id"], deal["diagnosis"], yuan(10_000), yuan(3_000))["subsidy"] == yuan(3_000)


def test_subsidy_preview_refuses_as_signing_would(scenario, ledger, deal):
    with pytest.raises(errors.SubsidyAboveShare) as refused:
        ledger.preview_subsidy(deal["voucher_id"], deal["consulting"], yuan(10_000), yuan(5_000) + 1)
    assert refused.value.details == {"asked": "5000.01", "share": 5000, "maximum": "5000.00"}
    with pytest.raises(errors.VoucherExhausted):
        ledger.preview_subsidy(deal["voucher_id"], deal["diagnosis"], yuan(200_000), yuan(100_000) + 1)


def test_subsidy_preview_refuses_what_proposing_or_signing_would(scenario, ledger, deal):
    # The preview answers only what a signature could reserve: an amount proposing refuses (0.00, a subsidy
    # above the amount) is VALIDATION_ERROR, and a share that rounds down to nothing is SUBSIDY_ZERO (Art. 10).
    with pytest.raises(errors.ValidationFailed) as refused:
        ledger.preview_subsidy(deal["voucher_id"], deal["consulting"], 0)
    assert "amount" in refused.value.details
    with pytest.raises(errors.ValidationFailed):
        ledger.preview_subsidy(deal["voucher_id"], deal["consulting"], yuan(100), 0)
    with pytest.raises(errors.SubsidyZero):
        ledger.preview_subsidy(deal["voucher_id"], deal["consulting"], 1)
    # ...as the signature of that contract is refused.
    one_fen = scenario.propose(deal["enterprise"], deal["voucher_id"], deal["provider"], deal["consulting"], 1)
    sign_refused(scenario, deal, one_fen, errors.SubsidyZero)
    # A product outside the voucher's year's catalogue: PRODUCT_NOT_LISTED, as its signature (test_product_not_listed).
    unlisted = scenario.product(deal["provider"], listed_for=None)
    with pytest.raises(errors.ProductNotListed):
        ledger.preview_subsidy(deal["voucher_id"], unlisted, yuan(10_000))
