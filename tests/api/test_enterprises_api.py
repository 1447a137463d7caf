"""Enterprises, vouchers and balances over HTTP (API.md "Enterprises and vouchers")."""

from __future__ import annotations

import pytest

from service.demo import credit_code
from tests.api.support_http import ENTERPRISE_BODY, PROVIDER_BODY, STAFF, arrange, http  # noqa: F401 - fixtures
from tests.support import YEAR, revoke_holder

CODE = credit_code(4242)


def register(http, code=CODE, who="operator", status=201, error=None, **changes):
    return http.post(who, "/enterprises", {**ENTERPRISE_BODY, "id": code, **changes}, status, error)


def test_register_enterprise(http):
    body = register(http)
    assert body == {"id": CODE, "name": "广西南宁精工机械有限公司", "tier": "T2", "eligible": True,
                    "failed_conditions": [], "position": body["position"],
                    "honours": [{"code": "tech_sme", "verified": True}]}


@pytest.mark.parametrize("name", ["广西南宁精工机械有限公司", "桂林「智造」电子科技（集团）股份有限公司·二厂",
                                  "北海海川食品有限公司 (Beihai) 第3分厂"])
def test_chinese_names_round_trip(http, client, name):
    # UTF-8 both ways, never \u-escaped away or mangled (API.md "Conventions").
    response = client.post("/api/v1/enterprises", json={**ENTERPRISE_BODY, "id": CODE, "name": name},
                           headers={"Authorization": f"Bearer {http.tokens['operator']}"})
    assert response.status_code == 201
    assert name.encode("utf-8") in response.data
    assert response.get_json()["name"] == name
    product_owner = http.subject("provider", credit_code(4243))
    http.post(product_owner, "/providers", {**PROVIDER_BODY, "id": product_owner, "name": name})
    assert http.get("auditor", f"/providers/{product_owner}")["name"] == name


def test_an_ineligible_enterprise_registers_with_its_failed_conditions(http):
    body = register(http, revenue="1000000.00", dishonest=True)
    assert body["eligible"] is False and body["failed_conditions"] == ["above_designated_size", "not_dishonest"]


def test_an_enterprise_registered_twice_is_409(http):
    register(http)
    register(http, status=409, error="ALREADY_EXISTS")


@pytest.mark.parametrize("code", ["91450100000000001X", "91450100000000005p", "9145010000000000", "ABC", "",
                                  " 91450100000000005P", "91450100000000005P ", 91450100000000005, None,
                                  "９１450100000000005P"])
def test_credit_code_validated(http, code):
    # Enterprise ids are unified social credit codes with a valid check character; anything else is a 400.
    details = http.post("operator", "/enterprises", {**ENTERPRISE_BODY, "id": code}, 400,
                        "VALIDATION_ERROR")["error"]["details"]
    assert "id" in details


@pytest.mark.parametrize("path", ["/enterprises/91450100000000001X/balance?year=2026",
                                  "/providers/not-a-code/totals?year=2026", "/providers/91450100000000001X"])
def test_credit_codes_in_paths_are_validated(http, path):
    http.get("auditor", path, 400, "VALIDATION_ERROR")


def test_vouchers_credit_code_is_validated(http, arrange):
    arrange.year()
    details = http.post("operator", "/vouchers", {"enterprise_id": "91450100000000001X", "year": YEAR}, 400,
                        "VALIDATION_ERROR")["error"]["details"]
    assert "enterprise_id" in details


@pytest.mark.parametrize("field, value", [
    ("employees", "300"), ("employees", 300.5), ("employees", -1), ("revenue", 50000000), ("revenue", 50000000.0),
    ("revenue", "50000000.001"), ("revenue", "-5.00"), ("revenue", "lots"), ("dishonest", "false"),
    ("legal_person", 1), ("honours", ["nobel_prize"]), ("honours", "tech_sme"), ("name", ""),
])
def test_enterprise_fields_are_strict(http, field, value):
    details = register(http, status=400, error="VALIDATION_ERROR", **{field: value})["error"]["details"]
    assert field in details


def test_missing_enterprise_fields_are_each_named(http):
    details = http.post("operator", "/enterprises", {"id": CODE}, 400, "VALIDATION_ERROR")["error"]["details"]
    assert {"name", "employees", "revenue", "registered_in_guangxi", "legal_person", "social_insurance", "dishonest",
            "major_violation", "industry_aligned"} <= set(details)


def test_an_enterprise_registers_itself_only(http):
    own = http.subject("enterprise", CODE)
    other = credit_code(4244)
    register(http, code=other, who=own, status=403, error="FORBIDDEN")
    register(http, who=own)


@pytest.mark.parametrize("role", ["approver", "finance", "supervisor", "auditor"])
def test_only_the_operator_or_the_enterprise_registers(http, role):
    register(http, who=role, status=403, error="FORBIDDEN")


def test_issue_voucher(http, arrange):
    arrange.year()
    register(http, honours=["gazelle", "tech_sme"])
    body = http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR, "kind": "general"})
    assert {k: body[k] for k in ("enterprise_id", "year", "kind", "tier", "quota")} == {
        "enterprise_id": CODE, "year": YEAR, "kind": "general", "tier": "T3", "quota": "200000.00"}
    assert isinstance(body["position"], int) and body["voucher_id"]
    # Read-your-writes: the voucher is there the moment the answer is.
    voucher = http.get("auditor", f"/vouchers/{body['voucher_id']}")
    assert voucher == {"voucher_id": body["voucher_id"], "enterprise_id": CODE, "year": YEAR, "kind": "general",
                       "tier": "T3", "quota": "200000.00", "available": "200000.00", "reserved": "0.00",
                       "used": "0.00", "expired": "0.00", "clawed_back": "0.00", "status": "active"}


def test_ineligible_with_reasons_is_422(http, arrange):
    arrange.year()
    register(http, employees=2000, revenue="450000000.00", social_insurance=False, industry_aligned=False)
    details = http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 422,
                        "NOT_ELIGIBLE")["error"]["details"]
    assert [c["code"] for c in details["conditions"]] == ["sme", "social_insurance", "industry_aligned"]
    assert all(set(c) == {"code", "article", "message"} for c in details["conditions"])


def test_budget_exhausted_is_422(http, arrange):
    arrange.year(budget_yuan=150_000)
    register(http)
    register(http, code=credit_code(4245), honours=["little_giant"])
    http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR})
    details = http.post("operator", "/vouchers", {"enterprise_id": credit_code(4245), "year": YEAR}, 422,
                        "BUDGET_EXHAUSTED")["error"]["details"]
    assert details == {"budget": "150000.00", "issued": "100000.00", "quota": "300000.00"}
    assert http.get("finance", f"/years/{YEAR}")["issued"] == "100000.00"


def test_duplicate_voucher_is_409(http, arrange):
    arrange.year()
    register(http)
    first = http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR})
    details = http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 409,
                        "ALREADY_ISSUED")["error"]["details"]
    assert details["voucher_id"] == first["voucher_id"]


def test_revoked_holder_gets_no_voucher(http, arrange, ledger):
    arrange.year()
    register(http)
    revoke_holder(ledger, CODE)
    http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 422, "HOLDER_REVOKED")


@pytest.mark.parametrize("body, field", [
    ({"enterprise_id": CODE, "year": "2026"}, "year"),
    ({"enterprise_id": CODE, "year": YEAR, "kind": "bonus"}, "kind"),
    # a special voucher is issued now, but only under a designation (issue 17)
    ({"enterprise_id": CODE, "year": YEAR, "kind": "special"}, "designation"),
    ({"year": YEAR}, "enterprise_id"),
])
def test_issue_voucher_invalid_fields_are_400(http, arrange, body, field):
    arrange.year()
    assert field in http.post("operator", "/vouchers", body, 400, "VALIDATION_ERROR")["error"]["details"]


def test_issue_voucher_unknown_enterprise_or_year_is_404(http, arrange):
    arrange.year()
    http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 404, "NOT_FOUND")
    register(http)
    http.post("operator", "/vouchers", {"enterprise_id": CODE, "year": 2040}, 404, "NOT_FOUND")


@pytest.mark.parametrize("role", ["approver", "finance", "supervisor", "auditor"])
def test_only_the_operator_issues_vouchers(http, arrange, role):
    arrange.year()
    register(http)
    http.post(role, "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 403, "FORBIDDEN")


def test_an_enterprise_cannot_issue_itself_a_voucher(http, arrange):
    arrange.year()
    register(http)
    http.post(http.subject("enterprise", CODE), "/vouchers", {"enterprise_id": CODE, "year": YEAR}, 403, "FORBIDDEN")


def test_voucher_readers(http, arrange):
    arrange.year()
    enterprise, voucher_id = arrange.holder()
    other, _ = arrange.holder()
    provider = arrange.provider()
    for role in STAFF:
        http.get(role, f"/vouchers/{voucher_id}")
    assert http.get(enterprise, f"/vouchers/{voucher_id}")["enterprise_id"] == enterprise
    http.get(other, f"/vouchers/{voucher_id}", 403, "FORBIDDEN")
    http.get(provider, f"/vouchers/{voucher_id}", 403, "FORBIDDEN")
    http.get(None, f"/vouchers/{voucher_id}", 401, "UNAUTHENTICATED")
    http.get("auditor", "/vouchers/00000000-0000-0000-0000-000000000000", 404, "NOT_FOUND")
    http.get("auditor", "/vouchers/not-a-voucher", 404, "NOT_FOUND")


def test_enterprise_balance(http, arrange, scenario):
    arrange.year()
    enterprise, voucher_id = arrange.holder(("little_giant",))
    other, _ = arrange.holder()
    deal = {"enterprise": enterprise, "voucher_id": voucher_id, "provider": arrange.provider()}
    deal["diagnosis"] = arrange.product(deal["provider"])
    arrange.propose(deal, "100000.00")
    contract = arrange.propose(deal, "100000.00")
    http.post(deal["provider"], f"/contracts/{contract['contract_id']}/signature", status=200)
    body = http.get(enterprise, f"/enterprises/{enterprise}/balance?year={YEAR}")
    by_kind = body.pop("by_kind")
    assert body == {"enterprise_id": enterprise, "year": YEAR, "vouchers": 1, "quota": "300000.00",
                    "available": "220000.00", "reserved": "80000.00", "used": "0.00", "expired": "0.00",
                    "clawed_back": "0.00"}
    assert by_kind["general"] == {k: v for k, v in body.items() if k not in ("enterprise_id", "year")}
    assert set(by_kind["special"].values()) == {0, "0.00"}
    for role in STAFF:
        http.get(role, f"/enterprises/{enterprise}/balance?year={YEAR}")
    http.get(other, f"/enterprises/{enterprise}/balance?year={YEAR}", 403, "FORBIDDEN")
    http.get(deal["provider"], f"/enterprises/{enterprise}/balance?year={YEAR}", 403, "FORBIDDEN")
    http.get(enterprise, f"/enterprises/{enterprise}/balance", 400, "VALIDATION_ERROR")
    http.get(enterprise, f"/enterprises/{enterprise}/balance?year=twenty", 400, "VALIDATION_ERROR")
    # A year without vouchers: zeros, not an error.
    assert http.get(enterprise, f"/enterprises/{enterprise}/balance?year=2030")["vouchers"] == 0
