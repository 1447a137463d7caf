"""Special vouchers (专项券): programme, designations, eligibility, scope and separate caps (Art. 5, 6, 9, 10, 11).

Each rule of DOMAIN.md "Special vouchers" has its own test, named after it; refusals by code.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ledger import errors
from ledger.money import yuan
from projections.audit import history
from projections.views import balances, providers
from tests.support import (
    YEAR, as_role, revoke_holder, set_special_programme, special_holder, year_ended,
)
from tests.support_fold import assert_fund_identity, assert_views_match_fold


@pytest.fixture
def funded(scenario):
    scenario.open_year(budget_yuan=10_000_000, provider_cap=yuan(100_000))
    return YEAR


def test_special_programme_is_set_once_before_the_first_special_voucher(scenario, ledger, funded):
    set_special_programme(ledger, quotas={"key_project": yuan(400_000)})
    set_special_programme(ledger)  # replaced: no special voucher yet
    assert ledger.get_year(YEAR).special_programme["quotas_fen"]["key_project"] == yuan(500_000)
    special_holder(scenario)
    head = ledger.recorder.max_notification_id()
    with pytest.raises(errors.InvalidState):
        set_special_programme(ledger, quotas={"key_project": yuan(900_000)})
    assert ledger.recorder.max_notification_id() == head
    assert ledger.get_year(YEAR).special_programme["quotas_fen"]["key_project"] == yuan(500_000)


def test_special_programme_refuses_unknown_designations_and_categories(ledger, funded):
    with pytest.raises(errors.ValidationFailed) as refused:
        set_special_programme(ledger, quotas={"champion": yuan(1)}, categories=["lobbying"])
    assert set(refused.value.details) == {"quotas", "categories"}


def test_special_voucher_carries_the_designations_quota(scenario, ledger, funded):
    set_special_programme(ledger)
    code, voucher_id = special_holder(scenario, "key_project")
    voucher = ledger.get_voucher(voucher_id)
    assert (voucher.kind, voucher.designation, voucher.tier, voucher.quota_fen) == (
        "special", "key_project", "key_project", yuan(500_000))
    assert ledger.get_year(YEAR).issued_fen == yuan(500_000)


def test_no_special_programme(scenario, ledger, funded):
    code = scenario.enterprise()
    with as_role("operator"):
        ledger.designate_enterprise(code, YEAR, "key_project", "notice")
        with pytest.raises(errors.NoSpecialProgramme):
            ledger.issue_voucher(code, YEAR, "special", "key_project")
    set_special_programme(ledger, quotas={"lead_enterprise": yuan(300_000)})
    with as_role("operator"), pytest.raises(errors.NoSpecialProgramme):  # no quota for this designation
        ledger.issue_voucher(code, YEAR, "special", "key_project")


def test_not_designated(scenario, ledger, funded):
    set_special_programme(ledger)
    code = scenario.enterprise()
    with as_role("operator"):
        ledger.designate_enterprise(code, YEAR, "lead_enterprise", "notice")
        with pytest.raises(errors.NotDesignated) as refused:
            ledger.issue_voucher(code, YEAR, "special", "key_project")
    assert refused.value.details["designations"] == ["lead_enterprise"]


def test_designation_is_recorded_once_per_year_and_designation(scenario, ledger, funded):
    code = scenario.enterprise()
    with as_role("operator"):
        ledger.designate_enterprise(code, YEAR, "key_project", "notice")
        with pytest.raises(errors.AlreadyExists):
            ledger.designate_enterprise(code, YEAR, "key_project", "notice again")
        with pytest.raises(errors.ValidationFailed):
            ledger.designate_enterprise(code, YEAR, "champion", "notice")
    with as_role("enterprise", code), pytest.raises(errors.Forbidden):
        ledger.designate_enterprise(code, YEAR, "lead_enterprise", "self-designated")


def test_special_eligibility_is_not_sme_bound(scenario, ledger, funded):
    set_special_programme(ledger)
    code, voucher_id = special_holder(scenario, employees=20_000, revenue_fen=yuan(5_000_000_000),
                                      social_insurance=False, industry_aligned=False)
    assert ledger.get_enterprise(code).eligibility_failures()  # no general voucher for it
    assert ledger.get_voucher(voucher_id).quota_fen == yuan(500_000)


@pytest.mark.parametrize("facts, condition", [
    ({"code": "91110000600037341L"}, "registered_in_guangxi"),  # a Beijing registration authority
    ({"registered_in_guangxi": False}, "registered_in_guangxi"),
    ({"legal_person": False}, "legal_person"),
    ({"dishonest": True}, "not_dishonest"),
])
def test_not_eligible_for_a_special_voucher(scenario, ledger, funded, facts, condition):
    set_special_programme(ledger)
    with pytest.raises(errors.NotEligible) as refused:
        special_holder(scenario, **facts)
    assert [c["code"] for c in refused.value.details["conditions"]] == [condition]
    assert ledger.get_year(YEAR).issued_fen == 0  # the refusal is recorded, the budget untouched


def test_not_eligible_with_a_bad_credit_record(scenario, ledger, funded):
    set_special_programme(ledger)
    code = scenario.enterprise()
    with as_role("operator"):
        enterprise = ledger.get_enterprise(code)
        enterprise.record_bad_credit(case_id="case-1", violation="fake_transaction", article="Art. 25(2)")
        ledger.save(enterprise)
        ledger.designate_enterprise(code, YEAR, "key_project", "notice")
        with pytest.raises(errors.NotEligible) as refused:
            ledger.issue_voucher(code, YEAR, "special", "key_project")
    assert [c["code"] for c in refused.value.details["conditions"]] == ["bad_credit"]


def test_special_vouchers_draw_on_the_same_budget(scenario, ledger):
    scenario.open_year(budget_yuan=600_000)
    set_special_programme(ledger)
    special_holder(scenario)  # ¥500,000 of ¥600,000
    with pytest.raises(errors.BudgetExhausted):
        scenario.holder(("little_giant",))  # a general ¥300,000 no longer fits


def test_one_special_voucher_per_subject_and_year_beside_its_general_one(scenario, ledger, funded):
    set_special_programme(ledger)
    code = scenario.enterprise(("tech_sme",))
    with as_role("operator"):
        general = ledger.issue_voucher(code, YEAR).data
        ledger.designate_enterprise(code, YEAR, "key_project", "notice")
        ledger.designate_enterprise(code, YEAR, "lead_enterprise", "notice")
        special = ledger.issue_voucher(code, YEAR, "special", "lead_enterprise").data
        with pytest.raises(errors.AlreadyIssued):
            ledger.issue_voucher(code, YEAR, "special", "key_project")
    assert (general["kind"], general["quota"], special["kind"], special["quota"]) == (
        "general", yuan(100_000), "special", yuan(300_000))
    assert general["voucher_id"] != special["voucher_id"]


@pytest.fixture
def special_deal(scenario, ledger, funded):
    """The programme (special cap ¥1,000,000; general cap ¥100,000), a key-project holder, a signed provider."""
    set_special_programme(ledger)
    enterprise, voucher_id = special_holder(scenario)
    provider = scenario.provider()
    return {"enterprise": enterprise, "voucher_id": voucher_id, "provider": provider,
            "diagnosis": scenario.product(provider, "diagnosis"),
            "digital": scenario.product(provider, "digital_transformation"),
            "legal": scenario.product(provider, "legal")}


def test_category_out_of_scope(scenario, ledger, special_deal):
    d = special_deal
    contract_id = scenario.propose(d["enterprise"], d["voucher_id"], d["provider"], d["legal"], yuan(10_000))
    head = ledger.recorder.max_notification_id()
    with pytest.raises(errors.CategoryOutOfScope) as refused:
        scenario.sign(d["provider"], contract_id)
    assert refused.value.details["category"] == "legal"
    assert ledger.recorder.max_notification_id() == head


def test_general_vouchers_are_not_bound_by_the_special_scope(scenario, ledger, special_deal):
    d = special_deal
    enterprise, voucher_id = scenario.holder()
    contract_id = scenario.propose(enterprise, voucher_id, d["provider"], d["legal"], yuan(10_000))
    assert scenario.sign(d["provider"], contract_id)["subsidy"] == yuan(5_000)


def test_special_voucher_takes_the_same_shares_and_deposit(scenario, ledger, special_deal):
    d = special_deal
    diagnosis = scenario.sign(d["provider"], scenario.propose(d["enterprise"], d["voucher_id"], d["provider"],
                                                              d["diagnosis"], yuan(100_000)))
    digital = scenario.sign(d["provider"], scenario.propose(d["enterprise"], d["voucher_id"], d["provider"],
                                                            d["digital"], yuan(100_000)))
    assert (diagnosis["subsidy"], diagnosis["deposit"], digital["subsidy"], digital["deposit"]) == (
        yuan(80_000), yuan(20_000), yuan(50_000), yuan(20_000))


def test_provider_filling_its_general_cap_still_takes_special_contracts_up_to_the_special_cap(
        scenario, ledger, special_deal):
    d = special_deal
    general_holder, general_voucher = scenario.holder(("little_giant",))  # ¥300,000
    # The general cap (¥100,000) is full...
    scenario.contract(general_holder, general_voucher, d["provider"], d["diagnosis"], yuan(125_000))
    late = scenario.propose(general_holder, general_voucher, d["provider"], d["diagnosis"], yuan(10_000))
    with pytest.raises(errors.ProviderCapExceeded) as refused:
        scenario.sign(d["provider"], late)
    assert refused.value.details["kind"] == "general"
    # ...and the special line still reserves, up to the special cap (¥1,000,000), against which it alone counts.
    special = scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(500_000))
    assert ledger.get_contract(special).subsidy_fen == yuan(400_000)
    totals = ledger.get_provider_year(d["provider"], YEAR)
    assert (totals.live_fen, totals.special_live_fen, totals.remaining_fen) == (yuan(100_000), yuan(400_000), 0)


def test_provider_filling_its_special_cap_still_takes_general_contracts(scenario, ledger, funded):
    set_special_programme(ledger, provider_cap_fen=yuan(50_000))
    enterprise, voucher_id = special_holder(scenario)
    provider = scenario.provider()
    diagnosis = scenario.product(provider, "diagnosis")
    scenario.contract(enterprise, voucher_id, provider, diagnosis, yuan(62_500))  # ¥50,000: the special cap
    late = scenario.propose(enterprise, voucher_id, provider, diagnosis, yuan(10_000))
    with pytest.raises(errors.ProviderCapExceeded) as refused:
        scenario.sign(provider, late)
    assert refused.value.details["kind"] == "special"
    general_holder, general_voucher = scenario.holder()
    general = scenario.contract(general_holder, general_voucher, provider, diagnosis, yuan(100_000))
    assert ledger.get_contract(general).subsidy_fen == yuan(80_000)
    # A special cap exception lets the refused one through; it leaves the general exceptions alone.
    with as_role("approver"):
        granted = ledger.grant_cap_exception(provider, YEAR, yuan(10_000), "key project phase 2", "special").data
    assert (granted["kind"], granted["exceptions"]) == ("special", yuan(10_000))
    assert scenario.sign(provider, late)["subsidy"] == yuan(8_000)
    provider_year = ledger.get_provider_year(provider, YEAR)
    assert (provider_year.exceptions_fen, provider_year.special_exceptions_fen) == (0, yuan(10_000))


def test_special_programme_without_a_provider_cap_caps_nothing(scenario, ledger, funded):
    set_special_programme(ledger, provider_cap_fen=None)
    enterprise, voucher_id = special_holder(scenario)
    provider = scenario.provider()
    diagnosis = scenario.product(provider, "diagnosis")
    contract = scenario.contract(enterprise, voucher_id, provider, diagnosis, yuan(625_000))
    assert ledger.get_contract(contract).subsidy_fen == yuan(500_000)  # above the general cap of ¥100,000


def settle(scenario, ledger, provider, contract_ids):
    with as_role("operator"):
        batch_id = ledger.open_settlement(YEAR, "first batch").data["batch_id"]
    with as_role("provider", provider):
        claim_id = ledger.claim_settlement(batch_id, contract_ids, [{"name": "materials.pdf", "sha256": "0" * 64,
                                                                     "size": 1, "uri": "s3://docs/m.pdf"}]).data["claim_id"]
    with as_role("operator", name="reviewer"):
        ledger.review_claim(batch_id, claim_id, "approve", "complete")
    with as_role("approver"):
        ledger.approve_settlement(batch_id)
    with as_role("operator", name="notice clerk"):
        ledger.record_settlement_notice(batch_id, "no_objection")
    with as_role("finance"):
        ledger.pay_settlement(batch_id, "国库支付 2026-001")
    return batch_id


def test_special_voucher_from_signature_to_payment_keeps_the_fund_identity_per_kind(scenario, ledger, views,
                                                                                      special_deal):
    d = special_deal
    general_holder, general_voucher = scenario.holder()
    special = scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["digital"], yuan(200_000),
                                state="completed")
    general = scenario.contract(general_holder, general_voucher, d["provider"], d["diagnosis"], yuan(50_000),
                                state="completed")
    settle(scenario, ledger, d["provider"], [special, general])
    assert ledger.get_contract(special).settled and ledger.get_contract(general).settled
    folded = assert_views_match_fold(ledger, views)
    assert_fund_identity(folded)
    totals = providers.get_provider_totals(views.store, d["provider"], YEAR)
    assert totals["by_kind"]["special"]["settled"] == yuan(100_000)
    assert totals["by_kind"]["general"]["settled"] == yuan(40_000)
    year = balances.get_year(views.store, YEAR)
    assert (year["by_kind"]["special"]["used"], year["by_kind"]["special"]["settled"]) == (yuan(100_000), yuan(100_000))


def test_by_kind_sums_to_the_totals(scenario, ledger, views, special_deal):
    d = special_deal
    general_holder, general_voucher = scenario.holder()
    scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(100_000), state="completed")
    scenario.contract(general_holder, general_voucher, d["provider"], d["diagnosis"], yuan(20_000))
    assert_views_match_fold(ledger, views)
    year = balances.get_year(views.store, YEAR)
    for figure in ("issued", "vouchers", "available", "reserved", "used", "expired", "clawed_back", "settled"):
        assert year[figure] == year["by_kind"]["general"][figure] + year["by_kind"]["special"][figure]
    assert (year["by_kind"]["special"]["issued"], year["by_kind"]["general"]["issued"]) == (yuan(500_000), yuan(100_000))
    totals = providers.get_provider_totals(views.store, d["provider"], YEAR)
    for figure in ("reserved", "used", "settled", "contracts", "exceptions"):
        assert totals[figure] == totals["by_kind"]["general"][figure] + totals["by_kind"]["special"][figure]
    assert (totals["cap"], totals["remaining_cap"]) == (yuan(100_000), yuan(84_000))
    assert (totals["by_kind"]["special"]["cap"], totals["by_kind"]["special"]["remaining_cap"]) == (
        yuan(1_000_000), yuan(920_000))
    balance = balances.get_enterprise_balance(views.store, d["enterprise"], YEAR)
    assert balance["by_kind"]["special"]["used"] == balance["used"] == yuan(80_000)
    assert balance["by_kind"]["general"]["vouchers"] == 0


def test_special_contracts_are_stopped_and_clawed_back_like_general_ones(scenario, ledger, views, special_deal):
    d = special_deal
    reserved = scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(10_000))
    used = scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(20_000),
                             state="completed")
    with as_role("supervisor"):
        case_id = ledger.file_case("enterprise", d["enterprise"], "fake_transaction", [used], "inflated").data["case_id"]
    with as_role("operator"):
        ledger.sanction_case(case_id, [used], revoke_enterprise=True, note="clawed back, revoked")
    assert ledger.get_contract(reserved).status == "terminated"
    voucher = ledger.get_voucher(d["voucher_id"])
    assert (voucher.reserved_fen, voucher.used_fen, voucher.clawed_back_fen) == (0, 0, yuan(16_000))
    provider_year = ledger.get_provider_year(d["provider"], YEAR)
    assert provider_year.special_live_fen == 0
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_year_close_expires_special_vouchers_too(scenario, ledger, views, special_deal):
    d = special_deal
    open_one = scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(10_000))
    year_ended(ledger)
    with as_role("operator"):
        closed = ledger.close_year(YEAR).data
    assert closed["released_contracts"] == 1 and ledger.get_contract(open_one).status == "terminated"
    voucher = ledger.get_voucher(d["voucher_id"])
    assert (voucher.status, voucher.expired_fen) == ("expired", yuan(500_000))
    views.catch_up()
    year = balances.get_year(views.store, YEAR)
    assert year["by_kind"]["special"]["expired"] == yuan(500_000)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_revoked_holder_gets_no_special_voucher(scenario, ledger, funded):
    set_special_programme(ledger)
    code = scenario.enterprise()
    revoke_holder(ledger, code)
    with as_role("operator"):
        ledger.designate_enterprise(code, YEAR, "key_project", "notice")
        with pytest.raises(errors.HolderRevoked):
            ledger.issue_voucher(code, YEAR, "special", "key_project")


def test_as_of_figures_carry_by_kind_as_the_views_do(scenario, ledger, views, special_deal):
    d = special_deal
    general_holder, general_voucher = scenario.holder()
    scenario.contract(d["enterprise"], d["voucher_id"], d["provider"], d["diagnosis"], yuan(100_000), state="completed")
    scenario.contract(general_holder, general_voucher, d["provider"], d["diagnosis"], yuan(20_000))
    with as_role("approver"):
        ledger.grant_cap_exception(d["provider"], YEAR, yuan(5_000), "phase 2", "special")
    views.catch_up()
    now = datetime.now(timezone.utc)
    totals = ledger.provider_totals_as_of(d["provider"], YEAR, now)
    assert {k: v for k, v in totals.items() if k != "as_of"} == providers.get_provider_totals(views.store, d["provider"], YEAR)
    balance = ledger.enterprise_balance_as_of(d["enterprise"], YEAR, now)
    assert {k: v for k, v in balance.items() if k != "as_of"} == balances.get_enterprise_balance(
        views.store, d["enterprise"], YEAR)
    year = history.get_year_as_of(views.store, YEAR, now)
    assert year["by_kind"] == balances.get_year(views.store, YEAR)["by_kind"]


def test_subsidy_preview_of_a_special_voucher_is_refused_out_of_scope(ledger, special_deal):
    # Art. 6(二): the preview refuses a category the signature would refuse, not a subsidy never reservable.
    d = special_deal
    with pytest.raises(errors.CategoryOutOfScope) as refused:
        ledger.preview_subsidy(d["voucher_id"], d["legal"], yuan(10_000))
    assert refused.value.details["category"] == "legal"
    assert ledger.preview_subsidy(d["voucher_id"], d["diagnosis"], yuan(10_000))["subsidy"] == yuan(8_000)
