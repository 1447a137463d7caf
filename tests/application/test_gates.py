"""Stops and gates, at the application level (DOMAIN.md "Stops" 2, 3, 4, 7, 8, 9).

Each test is one scenario the audit of the measures found, named after its rule; money that must
not move is checked against the fund identity (tests/support_fold.py).
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger import errors
from ledger.business_date import BusinessClock
from service.cli import main
from ledger.money import yuan
from projections.audit import trace_queries
from projections.views import balances
from tests.support import PROVIDER_DOCUMENTS, YEAR, as_role, document, year_ended
from tests.support_fold import assert_fund_identity, assert_views_match_fold, fold


def refused(app, error, command, *args, role="operator", subject=None, **kwargs):
    """`command` is refused with `error`, and records nothing."""
    head = app.recorder.max_notification_id()
    with as_role(role, subject), pytest.raises(error) as refusal:
        command(*args, **kwargs)
    assert app.recorder.max_notification_id() == head
    return refusal.value


# --- the business date ------------------------------------------------------------------------------

def test_business_date_is_beijing_unless_fixed_by_the_environment():
    assert BusinessClock.from_environ({}).fixed is None
    fixed = BusinessClock.from_environ({"LEDGER_BUSINESS_DATE": "2027-01-02"})
    assert (fixed.fixed, fixed()) == (date(2027, 1, 2), date(2027, 1, 2))
    with pytest.raises(SystemExit):
        BusinessClock.from_environ({"LEDGER_BUSINESS_DATE": "02/01/2027"})


# --- 2. a year is a calendar year ---------------------------------------------------------------------

@pytest.mark.parametrize("year, starts_on, ends_on", [
    (2029, "2026-01-01", "2026-12-31"),  # "2029" with a 2026 window: a second voucher for calendar 2026
    (2028, "2028-01-01", "2030-12-31"),  # a window spanning three years
    (2099, "2099-01-01", "2099-12-31"),  # a year nobody can be in
    (2027, "2027-06-01", "2028-05-31"),  # a window leaving its calendar year
])
def test_a_year_is_a_calendar_year(scenario, ledger, year, starts_on, ends_on):
    scenario.open_year()
    enterprise, _ = scenario.holder()
    refusal = refused(ledger, errors.YearOutOfRange, ledger.open_year, year, starts_on, ends_on, role="approver")
    assert refusal.details["today"] == ["2026-06-01"]
    # No year was opened, so no second voucher for calendar 2026 can be issued under it.
    with as_role("operator"), pytest.raises(errors.NotFound):
        ledger.issue_voucher(enterprise, year)
    assert_fund_identity(fold(ledger))


def test_a_year_is_last_this_or_next_year_on_the_business_date(ledger, clock):
    with as_role("approver"):
        for year in (YEAR - 1, YEAR, YEAR + 1):
            assert ledger.open_year(year, f"{year}-01-01", f"{year}-12-31").data["year"] == year
    refused(ledger, errors.YearOutOfRange, ledger.open_year, YEAR + 2, f"{YEAR + 2}-01-01", f"{YEAR + 2}-12-31",
            role="approver")
    clock.today = date(YEAR + 1, 1, 5)  # a new business year: the one after next becomes next year
    with as_role("approver"):
        ledger.open_year(YEAR + 2, f"{YEAR + 2}-01-01", f"{YEAR + 2}-12-31")


# --- 3. money moves only inside the window ----------------------------------------------------------

def test_money_moves_only_inside_the_window(scenario, ledger, clock, views):
    scenario.open_year()
    enterprise, voucher_id = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider, "management_consulting")
    # Two identical contracts signed on 31 December, their deposits paid.
    clock.today = date(YEAR, 12, 31)
    first = scenario.contract(enterprise, voucher_id, provider, product, yuan(20_000), state="active")
    second = scenario.contract(enterprise, voucher_id, provider, product, yuan(20_000), state="active")
    unpaid = scenario.contract(enterprise, voucher_id, provider, product, yuan(20_000), state="signed")
    balance = ledger.get_contract(first).balance_due_fen
    # On 2 January, before the close: the service confirmation and a deposit are refused.
    clock.today = date(YEAR + 1, 1, 2)
    refused(ledger, errors.YearEnded, ledger.complete_contract, first, balance, role="enterprise", subject=enterprise)
    refused(ledger, errors.YearEnded, ledger.pay_deposit, unpaid, yuan(4_000), role="enterprise", subject=enterprise)
    with as_role("operator"):
        closed = ledger.close_year(YEAR).data
    assert closed["released_contracts"] == 3
    # After the close the other one is refused too: both end terminated, whenever the close ran.
    refused(ledger, errors.InvalidState, ledger.complete_contract, second, balance, role="enterprise",
            subject=enterprise)
    assert {ledger.get_contract(c).status for c in (first, second, unpaid)} == {"terminated"}
    voucher = ledger.get_voucher(voucher_id)
    assert (voucher.used_fen, voucher.reserved_fen, voucher.expired_fen) == (0, 0, yuan(100_000))
    assert_fund_identity(assert_views_match_fold(ledger, views))


# --- 4. close only after the year has ended ---------------------------------------------------------

def test_close_only_after_the_year_has_ended(scenario, ledger, clock, views):
    # The operator closed 2027 on 2026-12-07, before it began, expiring a ¥100,000 voucher.
    scenario.open_year(YEAR + 1)
    enterprise = scenario.enterprise(("tech_sme",))
    voucher_id = scenario.voucher(enterprise, YEAR + 1)
    clock.today = date(YEAR, 12, 7)
    refusal = refused(ledger, errors.YearNotEnded, ledger.close_year, YEAR + 1)
    assert refusal.details == {"year": YEAR + 1, "ends_on": f"{YEAR + 1}-12-31", "today": f"{YEAR}-12-07"}
    clock.today = date(YEAR + 1, 12, 31)  # the last day of the window is still inside the year
    refused(ledger, errors.YearNotEnded, ledger.close_year, YEAR + 1)
    assert ledger.get_voucher(voucher_id).available_fen == yuan(100_000)
    clock.today = date(YEAR + 2, 1, 1)
    with as_role("operator"):
        assert ledger.close_year(YEAR + 1).data["expired_amount"] == yuan(100_000)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_the_close_preview_says_what_the_close_will_do(scenario, ledger, clock, views):
    scenario.open_year()
    enterprise, voucher_id = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider, "management_consulting")
    active = scenario.contract(enterprise, voucher_id, provider, product, yuan(20_000), state="active")
    scenario.contract(enterprise, voucher_id, provider, product, yuan(10_000), state="completed")
    views.catch_up()
    preview = balances.close_preview(views.store, ledger.get_year(YEAR), ledger.today())
    assert preview == {"year": YEAR, "expired_vouchers": 1, "expired_amount": yuan(95_000), "released_contracts": 1,
                       "can_close": False, "closes_after": f"{YEAR}-12-31"}
    year_ended(ledger)
    assert balances.close_preview(views.store, ledger.get_year(YEAR), ledger.today())["can_close"] is True
    with as_role("operator"):
        closed = ledger.close_year(YEAR).data
    assert {k: closed[k] for k in ("expired_vouchers", "expired_amount", "released_contracts")} == {
        k: preview[k] for k in ("expired_vouchers", "expired_amount", "released_contracts")}
    # The contract the close terminated records the deposit the enterprise had paid (Art. 28).
    terminated = [e for e in ledger.events.get(ledger.get_contract(active).id) if type(e).__name__ == "Terminated"]
    assert terminated[0].deposit_paid_fen == yuan(4_000)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_the_cli_close_obeys_the_same_rule(scenario, ledger, monkeypatch, capsys):
    scenario.open_year()
    scenario.holder()
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.store.url)
    monkeypatch.setenv("LEDGER_BUSINESS_DATE", f"{YEAR}-12-31")
    assert main(["close-year", str(YEAR), "--yes"]) != 0
    assert "YEAR_NOT_ENDED" in capsys.readouterr().err
    assert ledger.get_year(YEAR).status == "open"


# --- 7. contract gates --------------------------------------------------------------------------------

@pytest.fixture
def market(scenario):
    scenario.open_year()
    enterprise, voucher_id = scenario.holder(("little_giant",))  # T4: ¥300,000
    provider = scenario.provider()
    return {"enterprise": enterprise, "voucher_id": voucher_id, "provider": provider,
            "product": scenario.product(provider, "management_consulting", price_yuan=80_000)}


def test_contract_price_above_list(scenario, ledger, market, views):
    # A ¥80,000 catalogue product contracted at ¥600,000 would reserve ¥300,000 (Art. 7, 25(2)).
    refusal = refused(ledger, errors.PriceAboveList, ledger.propose_contract, market["voucher_id"],
                      market["provider"], market["product"], yuan(600_000), role="enterprise",
                      subject=market["enterprise"])
    assert refusal.details == {"amount": "600000.00", "price": "80000.00", "quantity": 1, "maximum": "80000.00"}
    # Eight units of the same product may cost up to ¥640,000.
    with as_role("enterprise", market["enterprise"]):
        contract = ledger.propose_contract(market["voucher_id"], market["provider"], market["product"],
                                           yuan(600_000), quantity=8).data
    assert contract["quantity"] == 8
    assert scenario.sign(market["provider"], contract["contract_id"])["subsidy"] == yuan(300_000)
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_contract_with_a_related_party(scenario, ledger, market):
    # One credit code registered as enterprise and as provider contracts with itself.
    selfish = scenario.provider(code=market["enterprise"])
    product = scenario.product(selfish, "management_consulting")
    refused(ledger, errors.RelatedParty, ledger.propose_contract, market["voucher_id"], selfish, product,
            yuan(10_000), role="enterprise", subject=market["enterprise"])


def test_signature_with_subsidy_zero(scenario, ledger, views):
    # A year whose notice gives other categories no share: nothing to reserve, so no contract.
    scenario.open_year(other_share=0)
    enterprise, voucher_id = scenario.holder()
    provider = scenario.provider()
    consulting = scenario.product(provider, "management_consulting")
    contract_id = scenario.propose(enterprise, voucher_id, provider, consulting, yuan(10_000))
    refusal = refused(ledger, errors.SubsidyZero, ledger.sign_contract, contract_id, role="provider", subject=provider)
    assert refusal.details == {"amount": "10000.00", "share": 0, "subsidy": "0.00"}
    # A voucher with nothing left says so first (VOUCHER_EXHAUSTED), whatever the share.
    diagnosis = scenario.product(provider, "diagnosis")
    scenario.sign(provider, scenario.propose(enterprise, voucher_id, provider, diagnosis, yuan(125_000)))
    refused(ledger, errors.VoucherExhausted, ledger.sign_contract, contract_id, role="provider", subject=provider)
    assert_fund_identity(assert_views_match_fold(ledger, views))


# --- 8. admission gates -------------------------------------------------------------------------------

def compliance(ledger, code, year=YEAR):
    with as_role("operator"):
        return ledger.review_provider(code, year, "compliance", "pass", "")


def test_provider_credit_code_must_name_guangxi(scenario, ledger):
    # A Beijing code (110000) with the flag set passed as "registered in Guangxi".
    from service.demo import credit_code

    scenario.open_year()
    beijing = scenario.provider(signed_for=None, code=credit_code(4242, division="110105"))
    refusal = refused(ledger, errors.NotEligible, compliance, ledger, beijing)
    assert [c["code"] for c in refusal.details["conditions"]] == ["guangxi_code"]


def test_provider_compliance_needs_every_document_kind(scenario, ledger):
    # A provider with no documents at all passed compliance.
    scenario.open_year()
    bare = scenario.provider(signed_for=None, documents=[])
    refusal = refused(ledger, errors.DocumentsMissing, compliance, ledger, bare)
    assert refusal.details == {"missing": ["application_form", "licence", "last_year_contracts", "qualification",
                                           "social_insurance", "tax_registration"]}
    partial = scenario.provider(signed_for=None, documents=PROVIDER_DOCUMENTS[:4] + [document("other")])
    assert refused(ledger, errors.DocumentsMissing, compliance, ledger, partial).details == {
        "missing": ["social_insurance", "tax_registration"]}
    # The provider adds the missing materials by an amendment of its own: the next review passes.
    with as_role("provider", partial):
        ledger.amend_provider(partial, {}, "材料补正", PROVIDER_DOCUMENTS[4:])
    assert compliance(ledger, partial).data["stage"] == "compliance"


def test_provider_compliance_needs_tax_compliance_and_both_consents(scenario, ledger):
    scenario.open_year()
    silent = scenario.provider(signed_for=None, tax_compliant=False, accepts_supervision=False,
                               accepts_face_value_offset=False)
    refusal = refused(ledger, errors.NotEligible, compliance, ledger, silent)
    assert [c["code"] for c in refusal.details["conditions"]] == [
        "tax_compliant", "accepts_supervision", "accepts_face_value_offset"]
    with as_role("operator"):
        ledger.amend_provider(silent, {"tax_compliant": True, "accepts_supervision": True,
                                       "accepts_face_value_offset": True}, "申报时漏填承诺", [document("other")])
    assert compliance(ledger, silent).data["decision"] == "pass"


def sanction(ledger, subject_type, subject_id, **kwargs):
    with as_role("supervisor", name="supervisor-1"):
        case_id = ledger.file_case(subject_type, subject_id, "complaint", [], "投诉").data["case_id"]
    with as_role("operator", name="operator-2"):
        ledger.sanction_case(case_id, [], note="记入不良信用记录", **kwargs)


def test_bad_credit_fails_the_next_compliance_review_and_issuance(scenario, ledger, views):
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    provider = scenario.provider()
    enterprise = scenario.enterprise(("tech_sme",))
    sanction(ledger, "provider", provider)
    sanction(ledger, "enterprise", enterprise)
    # Recognition is yearly: next year's compliance review finds the bad-credit record.
    refusal = refused(ledger, errors.NotEligible, compliance, ledger, provider, YEAR + 1)
    assert [c["code"] for c in refusal.details["conditions"]] == ["bad_credit"]
    with as_role("operator"), pytest.raises(errors.NotEligible) as not_eligible:
        ledger.issue_voucher(enterprise, YEAR + 1)
    assert [c["code"] for c in not_eligible.value.details["conditions"]] == ["bad_credit"]
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_a_banned_providers_products_are_never_reviewed_or_listed(scenario, ledger):
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, listed_for=None)
    with as_role("approver"):
        ledger.terminate_provider(provider, "隐瞒真实情况")
    refused(ledger, errors.ProviderBanned, ledger.review_product, product, YEAR, "expert", "pass", "")
    assert not ledger.get_product(product).is_listed_for(YEAR)


# --- 9. facts carry evidence and can be corrected -----------------------------------------------------

def test_declared_honours_count_only_once_verified(scenario, ledger, views):
    # An enterprise registering itself with self-declared honours received a ¥300,000 T4 voucher.
    from tests.support import ELIGIBLE_FACTS

    scenario.open_year()
    code = scenario.next_code()
    with as_role("enterprise", code):
        registered = ledger.register_enterprise(code, "自报企业", honours=["little_giant"], **ELIGIBLE_FACTS,
                                                documents=[document("honour_certificate", honour="little_giant")])
    assert (registered.data["tier"], registered.data["honours"]) == ("T1", [{"code": "little_giant",
                                                                             "verified": False}])
    voucher_id = scenario.voucher(code)
    assert ledger.get_voucher(voucher_id).quota_fen == yuan(50_000)
    with as_role("operator"):
        verified = ledger.verify_enterprise(code, ["little_giant"], [document("honour_certificate",
                                                                               honour="little_giant")]).data
    assert (verified["tier"], verified["honours"]) == ("T4", [{"code": "little_giant", "verified": True}])
    # An issued voucher's quota does not change.
    assert ledger.get_voucher(voucher_id).quota_fen == yuan(50_000)
    views.catch_up()
    from projections.views import enterprises

    for page_size in (None, 1000):  # as followed, then rebuilt from position 0 in one page
        if page_size:
            views.rebuild(page_size=page_size)
        assert enterprises.get_enterprise(views.store, code)["tier"] == "T4"
        assert enterprises.get_honours(views.store, code) == [{"code": "little_giant", "verified": True}]
    assert_fund_identity(assert_views_match_fold(ledger, views))


def test_facts_are_corrected_by_amendments_and_refusals_are_recorded(scenario, ledger, views):
    scenario.open_year()
    code = scenario.enterprise(revenue_fen=yuan(1_000_000))  # below designated size
    with as_role("operator"), pytest.raises(errors.NotEligible) as refusal:
        ledger.issue_voucher(code, YEAR)
    position = refusal.value.details["position"]
    assert position == ledger.recorder.max_notification_id()
    views.catch_up()
    steps = trace_queries.enterprise_trace(ledger, views.store, code, YEAR)["steps"]
    refused_step = [s for s in steps if s["type"] == "Enterprise.VoucherRefused"]
    assert refused_step and refused_step[0]["position"] == position
    assert refused_step[0]["data"]["conditions"][0]["code"] == "above_designated_size"
    refused(ledger, errors.ValidationFailed, ledger.amend_enterprise, code, {"employees": -1}, "r", [])
    refused(ledger, errors.ValidationFailed, ledger.amend_enterprise, code, {"revoked": False}, "r", [])
    refused(ledger, errors.ValidationFailed, ledger.amend_enterprise, code, {}, "nothing to correct", [])
    with as_role("operator"):
        amended = ledger.amend_enterprise(code, {"revenue_fen": yuan(30_000_000)}, "统计口径更正",
                                          [document("other")]).data
    assert (amended["eligible"], amended["changed"]) == (True, ["revenue_fen"])
    assert scenario.voucher(code)
    assert_fund_identity(assert_views_match_fold(ledger, views))
