"""Stops and gates over HTTP (API.md "Stops and gates", DOMAIN.md "Stops" 2, 3, 4, 7, 8, 9).

The same scenarios as tests/application/test_gates.py, spoken to the API: each refusal is its code
with the API's error body, and the fund identity holds after every one that concerned money.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.business_date import BusinessClock
from service.demo import credit_code
from tests.api.support_http import ENTERPRISE_BODY, PROVIDER_BODY, STAFF, arrange, check, http  # noqa: F401
from tests.support import PROVIDER_DOCUMENTS, YEAR, document
from tests.support_fold import assert_fund_identity, fold

CERTIFICATE = document("honour_certificate", honour="little_giant")


def identity_holds(http):
    assert_fund_identity(fold(http.ledger))


def test_healthz_shows_a_fixed_business_date(client, ledger):
    assert "business_date" not in check(client.get("/healthz"), 200)
    ledger.clock = BusinessClock(date(2027, 1, 2))  # as LEDGER_BUSINESS_DATE=2027-01-02 would
    assert check(client.get("/healthz"), 200)["business_date"] == "2027-01-02"


# --- 2. a year is a calendar year ---------------------------------------------------------------------

@pytest.mark.parametrize("year, starts_on, ends_on", [
    (2029, "2026-01-01", "2026-12-31"), (2028, "2028-01-01", "2030-12-31"), (2099, "2099-01-01", "2099-12-31"),
    (2027, "2027-06-01", "2028-05-31"),
])
def test_a_year_is_a_calendar_year(http, year, starts_on, ends_on):
    body = http.post("approver", "/years", {"year": year, "starts_on": starts_on, "ends_on": ends_on}, 422,
                     "YEAR_OUT_OF_RANGE")
    assert body["error"]["details"]["today"] == ["2026-06-01"]
    http.get("auditor", f"/years/{year}", 404, "NOT_FOUND")


def test_commitment_required_is_stored_and_shown(http):
    opened = http.post("approver", "/years", {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31",
                                              "commitment_required": True})
    assert opened["commitment_required"] is True
    assert http.get("auditor", f"/years/{YEAR}")["commitment_required"] is True
    http.post("approver", "/years", {"year": YEAR + 1, "starts_on": f"{YEAR + 1}-01-01",
                                     "ends_on": f"{YEAR + 1}-12-31", "commitment_required": "yes"}, 400,
              "VALIDATION_ERROR")


# --- 3. money moves only inside the window ----------------------------------------------------------

def test_money_moves_only_inside_the_window(http, arrange, scenario, ledger, clock):
    arrange.year()
    deal = arrange.deal()
    clock.today = date(YEAR, 12, 31)
    active = scenario.contract(deal["enterprise"], deal["voucher_id"], deal["provider"], deal["consulting"],
                               20_000_00, state="active")
    signed = scenario.contract(deal["enterprise"], deal["voucher_id"], deal["provider"], deal["consulting"],
                               20_000_00, state="signed")
    clock.today = date(YEAR + 1, 1, 2)
    http.post(deal["enterprise"], f"/contracts/{active}/completion", {"balance_paid": "6000.00"}, 422, "YEAR_ENDED")
    http.post(deal["enterprise"], f"/contracts/{signed}/deposit", {"amount": "4000.00"}, 422, "YEAR_ENDED")
    assert http.get("auditor", f"/contracts/{active}")["status"] == "active"
    identity_holds(http)


# --- 4. close only after the year has ended ---------------------------------------------------------

def test_close_only_after_the_year_has_ended(http, arrange, scenario, clock):
    scenario.open_year(YEAR + 1)
    voucher_id = scenario.voucher(scenario.enterprise(("tech_sme",)), YEAR + 1)
    clock.today = date(YEAR, 12, 7)
    body = http.post("operator", f"/years/{YEAR + 1}/close", status=422, code="YEAR_NOT_ENDED")
    assert body["error"]["details"]["ends_on"] == f"{YEAR + 1}-12-31"
    assert http.get("auditor", f"/vouchers/{voucher_id}")["available"] == "100000.00"
    preview = http.get("supervisor", f"/years/{YEAR + 1}/close-preview")
    assert preview == {"year": YEAR + 1, "expired_vouchers": 1, "expired_amount": "100000.00",
                       "released_contracts": 0, "can_close": False, "closes_after": f"{YEAR + 1}-12-31"}
    for role in STAFF:
        http.get(role, f"/years/{YEAR + 1}/close-preview")
    clock.today = date(YEAR + 2, 1, 1)
    assert http.get("operator", f"/years/{YEAR + 1}/close-preview")["can_close"] is True
    closed = http.post("operator", f"/years/{YEAR + 1}/close", status=200)
    assert (closed["expired_vouchers"], closed["expired_amount"]) == (1, "100000.00")
    assert http.get("auditor", f"/years/{YEAR + 1}/close-preview")["can_close"] is False
    identity_holds(http)


def test_close_preview_is_for_readers_only(http, arrange):
    arrange.year()
    enterprise, _ = arrange.holder()
    http.get(enterprise, f"/years/{YEAR}/close-preview", 403, "FORBIDDEN")
    http.get("auditor", f"/years/{YEAR + 5}/close-preview", 404, "NOT_FOUND")


# --- 7. contract gates --------------------------------------------------------------------------------

@pytest.fixture
def market(arrange, scenario, http):
    arrange.year()
    enterprise, voucher_id = arrange.holder(("little_giant",))
    provider = arrange.provider()
    return {"enterprise": enterprise, "voucher_id": voucher_id, "provider": provider,
            "product": scenario.product(provider, "management_consulting", price_yuan=80_000)}


def proposal(market, amount, **extra):
    return {"voucher_id": market["voucher_id"], "provider_id": market["provider"], "product_id": market["product"],
            "amount": amount, **extra}


def test_contract_price_above_list(http, market):
    body = http.post(market["enterprise"], "/contracts", proposal(market, "600000.00"), 422, "PRICE_ABOVE_LIST")
    assert body["error"]["details"]["maximum"] == "80000.00"
    for quantity in (0, -1, 1.5, "8", True):
        http.post(market["enterprise"], "/contracts", proposal(market, "600000.00", quantity=quantity), 400,
                  "VALIDATION_ERROR")
    contract = http.post(market["enterprise"], "/contracts", proposal(market, "600000.00", quantity=8))
    assert contract["quantity"] == 8
    signed = http.post(market["provider"], f"/contracts/{contract['contract_id']}/signature", status=200)
    assert signed["subsidy"] == "300000.00"
    identity_holds(http)


def test_contract_with_a_related_party(http, market, scenario):
    selfish = http.subject("provider", scenario.provider(code=market["enterprise"]))
    product = scenario.product(selfish, "management_consulting")
    http.post(market["enterprise"], "/contracts", {**proposal(market, "10000.00"), "provider_id": selfish,
                                                   "product_id": product}, 422, "RELATED_PARTY")


def test_signature_with_subsidy_zero(http, arrange, scenario):
    arrange.year(other_share=0)
    deal = arrange.deal()
    contract = arrange.propose(deal, "10000.00", "consulting")
    http.post(deal["provider"], f"/contracts/{contract['contract_id']}/signature", status=422, code="SUBSIDY_ZERO")
    assert http.get("auditor", f"/contracts/{contract['contract_id']}")["status"] == "proposed"
    identity_holds(http)


# --- 8. admission gates -------------------------------------------------------------------------------

def apply(http, code, **changes):
    return http.post("operator", "/providers", {**PROVIDER_BODY, "id": code, **changes})


def compliance(http, code, status=201, error=None, year=YEAR):
    return http.post("operator", f"/providers/{code}/reviews",
                     {"year": year, "stage": "compliance", "decision": "pass", "note": ""}, status, error)


def test_provider_admission_gates(http, arrange):
    arrange.year()
    # A Beijing credit code with the flag set.
    beijing = credit_code(4242, division="110105")
    apply(http, beijing)
    body = compliance(http, beijing, 422, "NOT_ELIGIBLE")
    assert [c["code"] for c in body["error"]["details"]["conditions"]] == ["guangxi_code"]
    # No documents at all.
    bare = credit_code(4243)
    apply(http, bare, documents=[])
    body = compliance(http, bare, 422, "DOCUMENTS_MISSING")
    assert body["error"]["details"]["missing"] == ["application_form", "licence", "last_year_contracts",
                                                   "qualification", "social_insurance", "tax_registration"]
    # An older client omits the declarations: they are not given, and the compliance pass names them.
    old_client = {k: v for k, v in PROVIDER_BODY.items()
                  if k not in ("tax_compliant", "accepts_supervision", "accepts_face_value_offset")}
    silent = credit_code(4244)
    registered = http.post("operator", "/providers", {**old_client, "id": silent})
    assert registered["failed_conditions"] == ["tax_compliant", "accepts_supervision", "accepts_face_value_offset"]
    body = compliance(http, silent, 422, "NOT_ELIGIBLE")
    assert [c["code"] for c in body["error"]["details"]["conditions"]] == [
        "tax_compliant", "accepts_supervision", "accepts_face_value_offset"]
    # The provider corrects its own application by an amendment; the next compliance review passes.
    http.subject("provider", silent)
    amended = http.post(silent, f"/providers/{silent}/amendments", {
        "changes": {"tax_compliant": True, "accepts_supervision": True, "accepts_face_value_offset": True},
        "reason": "申报时漏填承诺", "documents": [document("other")]}, 200)
    assert amended["eligible"] is True
    compliance(http, silent)
    http.post(silent, f"/providers/{bare}/amendments", {"changes": {}, "reason": "r", "documents": PROVIDER_DOCUMENTS},
              403, "FORBIDDEN")
    http.post("operator", f"/providers/{bare}/amendments", {"changes": {"fixed_premises": "yes"}, "reason": "r"},
              400, "VALIDATION_ERROR")
    http.post("operator", f"/providers/{bare}/amendments", {"changes": {"banned": False}, "reason": "r"},
              400, "VALIDATION_ERROR")
    http.post("operator", f"/providers/{bare}/amendments", {"changes": {}, "reason": "补正材料",
                                                             "documents": PROVIDER_DOCUMENTS}, 200)
    compliance(http, bare)


def test_bad_credit_fails_the_next_review_and_issuance(http, arrange, scenario):
    arrange.year()
    scenario.open_year(YEAR + 1)
    provider = arrange.provider()
    enterprise = scenario.enterprise(("tech_sme",))
    for subject_type, subject_id in (("provider", provider), ("enterprise", enterprise)):
        case = http.post("supervisor", "/cases", {"subject_type": subject_type, "subject_id": subject_id,
                                                   "violation": "complaint", "contract_ids": [], "note": "投诉"})
        http.post("operator", f"/cases/{case['case_id']}/sanction", {"clawback_contract_ids": [], "note": "不良信用"},
                  200)
    body = compliance(http, provider, 422, "NOT_ELIGIBLE", year=YEAR + 1)
    assert [c["code"] for c in body["error"]["details"]["conditions"]] == ["bad_credit"]
    body = http.post("operator", "/vouchers", {"enterprise_id": enterprise, "year": YEAR + 1}, 422, "NOT_ELIGIBLE")
    assert [c["code"] for c in body["error"]["details"]["conditions"]] == ["bad_credit"]
    identity_holds(http)


def test_a_banned_providers_products_are_never_reviewed(http, arrange, scenario):
    arrange.year()
    provider = arrange.provider()
    product = scenario.product(provider, listed_for=None)
    http.post("approver", f"/providers/{provider}/termination", {"reason": "隐瞒真实情况"}, 200)
    http.post("operator", f"/products/{product}/reviews", {"year": YEAR, "stage": "expert", "decision": "pass"}, 422,
              "PROVIDER_BANNED")
    assert http.get("auditor", f"/products/{product}")["listed_years"] == []


# --- 9. facts carry evidence and can be corrected -----------------------------------------------------

def test_declared_honours_count_only_once_verified(http, arrange):
    arrange.year()
    code = credit_code(5151)
    http.subject("enterprise", code)
    for bad in ({**CERTIFICATE, "honour": None}, {k: v for k, v in CERTIFICATE.items() if k != "honour"},
                {**document("licence"), "honour": "gazelle"}, {**CERTIFICATE, "kind": "diploma"}):
        http.post(code, "/enterprises", {**ENTERPRISE_BODY, "id": code, "documents": [bad]}, 400, "VALIDATION_ERROR")
    registered = http.post(code, "/enterprises", {**ENTERPRISE_BODY, "id": code, "honours": ["little_giant"],
                                                  "documents": [CERTIFICATE]})
    assert (registered["tier"], registered["honours"]) == ("T1", [{"code": "little_giant", "verified": False}])
    voucher = http.post("operator", "/vouchers", {"enterprise_id": code, "year": YEAR})
    assert voucher["quota"] == "50000.00"  # not the ¥300,000 of T4
    http.post(code, f"/enterprises/{code}/verification", {"honours": ["little_giant"], "documents": [CERTIFICATE]},
              403, "FORBIDDEN")
    http.post("operator", f"/enterprises/{code}/verification", {"honours": ["gazelle"], "documents": [CERTIFICATE]},
              400, "VALIDATION_ERROR")
    http.post("operator", f"/enterprises/{code}/verification", {"honours": ["little_giant"]}, 400, "VALIDATION_ERROR")
    verified = http.post("operator", f"/enterprises/{code}/verification",
                         {"honours": ["little_giant"], "documents": [CERTIFICATE]}, 200)
    assert verified["tier"] == "T4"
    shown = http.get("auditor", f"/enterprises/{code}")
    assert (shown["tier"], shown["honours"]) == ("T4", [{"code": "little_giant", "verified": True}])
    assert http.get(code, f"/vouchers/{voucher['voucher_id']}")["quota"] == "50000.00"  # an issued quota stays
    identity_holds(http)


def test_amendments_and_recorded_refusals(http, arrange):
    arrange.year()
    code = credit_code(5152)
    http.post("operator", "/enterprises", {**ENTERPRISE_BODY, "id": code, "revenue": "1000000.00"})
    body = http.post("operator", "/vouchers", {"enterprise_id": code, "year": YEAR}, 422, "NOT_ELIGIBLE")
    position = body["error"]["details"]["position"]
    steps = http.get("auditor", f"/trace/enterprises/{code}?year={YEAR}")["steps"]
    assert [s["position"] for s in steps if s["type"] == "Enterprise.VoucherRefused"] == [position]
    amended = http.post("operator", f"/enterprises/{code}/amendments", {
        "changes": {"revenue": "30000000.00", "honours": ["gazelle"]}, "reason": "统计口径更正",
        "documents": [document("other")]}, 200)
    assert (amended["eligible"], amended["tier"], sorted(amended["changed"])) == (True, "T3", ["honours", "revenue_fen"])
    http.post("operator", f"/enterprises/{code}/amendments", {"changes": {"revenue": 3}, "reason": "r"}, 400,
              "VALIDATION_ERROR")
    http.subject("enterprise", code)
    http.post(code, f"/enterprises/{code}/amendments", {"changes": {"dishonest": False}, "reason": "r"}, 403,
              "FORBIDDEN")
    assert http.post("operator", "/vouchers", {"enterprise_id": code, "year": YEAR})["quota"] == "200000.00"
    identity_holds(http)
