"""Providers, reviews, termination, cap exceptions, totals and products over HTTP (API.md "Providers and products")."""

from __future__ import annotations

import pytest

from service.demo import credit_code
from ledger.money import yuan
from ledger.rules import PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES
from tests.api.support_http import PROVIDER_BODY, STAFF, arrange, http  # noqa: F401 - fixtures
from tests.support import YEAR

CODE = credit_code(5151)


def apply(http, code=CODE, who=None, status=201, error=None, **changes):
    who = who or http.subject("provider", code)
    return http.post(who, "/providers", {**PROVIDER_BODY, "id": code, **changes}, status, error)


def review(http, stage, role, decision="pass", code=CODE, status=201, error=None, year=YEAR):
    return http.post(role, f"/providers/{code}/reviews", {"year": year, "stage": stage, "decision": decision,
                                                          "note": "意见"}, status, error)


def sign(http, code=CODE):
    for stage, role in PROVIDER_REVIEW_STAGES:
        review(http, stage, role, code=code)


def test_a_provider_applies(http):
    body = apply(http)
    assert body == {"id": CODE, "name": PROVIDER_BODY["name"], "eligible": True, "failed_conditions": [],
                    "position": body["position"]}
    assert http.get(CODE, f"/providers/{CODE}") == {"id": CODE, "name": PROVIDER_BODY["name"], "status": "applied",
                                                    "signed_years": []}


def test_the_operator_registers_a_provider_but_not_an_enterprise(http):
    apply(http, who="operator")
    apply(http, code=credit_code(5152), who=http.subject("enterprise", credit_code(5152)), status=403,
          error="FORBIDDEN")
    apply(http, code=credit_code(5153), who=http.subject("provider", CODE), status=403,
          error="FORBIDDEN")  # not its own id


def test_a_provider_applies_once(http):
    apply(http)
    apply(http, status=409, error="ALREADY_EXISTS")


@pytest.mark.parametrize("field, value", [
    ("id", "91450100000000001X"), ("entity_type", "sole_trader"), ("years_operating", "5"),
    ("revenue_last_year", 5000000), ("revenue_last_year", "5000000.001"), ("fixed_premises", "yes"),
    ("documents", [{"name": "a.pdf", "sha256": "xyz", "size": 1, "uri": "https://docs.example.gov.cn/a.pdf"}]),
    ("documents", [{"name": "a.pdf", "sha256": "a" * 64, "size": -1, "uri": "https://docs.example.gov.cn/a"}]),
    ("documents", [{"name": "a.pdf", "sha256": "a" * 64, "size": 1, "uri": "ftp://x/a.pdf"}]),
    ("documents", "申请表.pdf"),
])
def test_provider_fields_are_strict(http, field, value):
    body = {**PROVIDER_BODY, "id": CODE, field: value}
    details = http.post("operator", "/providers", body, 400, "VALIDATION_ERROR")["error"]["details"]
    assert field in details


def test_review_stages_in_order_with_the_right_role(http, arrange):
    arrange.year(provider_cap=yuan(1_000_000))
    apply(http)
    for index, (stage, role) in enumerate(PROVIDER_REVIEW_STAGES):
        for wrong in (r for r in STAFF if r != role):
            review(http, stage, wrong, status=403, error="FORBIDDEN")
        review(http, stage, CODE, status=403, error="FORBIDDEN")  # never the provider itself
        for later, later_role in PROVIDER_REVIEW_STAGES[index + 1:]:
            details = review(http, later, later_role, status=422, error="STAGE_OUT_OF_ORDER")["error"]["details"]
            assert details == {"expected": stage, "stage": later}
        body = review(http, stage, role)
        assert body["stage"] == stage and isinstance(body["position"], int)
    assert body["signed"] is True and body["next_stage"] is None
    assert http.get("auditor", f"/providers/{CODE}") == {"id": CODE, "name": PROVIDER_BODY["name"],
                                                         "status": "signed", "signed_years": [YEAR]}
    totals = http.get(CODE, f"/providers/{CODE}/totals?year={YEAR}")
    assert totals["cap"] == "1000000.00" and totals["remaining_cap"] == "1000000.00" and totals["contracts"] == 0


@pytest.mark.parametrize("body, field", [
    ({"year": YEAR, "stage": "compliance", "decision": "maybe"}, "decision"),
    ({"year": "2026", "stage": "compliance", "decision": "pass"}, "year"),
    ({"year": YEAR, "decision": "pass"}, "stage"),
])
def test_review_fields_are_strict(http, arrange, body, field):
    arrange.year()
    apply(http)
    assert field in http.post("operator", f"/providers/{CODE}/reviews", body, 400,
                              "VALIDATION_ERROR")["error"]["details"]


def test_not_eligible_at_compliance_lists_every_condition(http, arrange):
    arrange.year()
    apply(http, years_operating=1, clients_last_year=2, dishonest=True)
    details = review(http, "compliance", "operator", status=422, error="NOT_ELIGIBLE")["error"]["details"]
    assert [c["code"] for c in details["conditions"]] == ["years_operating", "clients_last_year", "not_dishonest"]
    review(http, "compliance", "operator", decision="reject")
    review(http, "initial", "approver", status=409, error="INVALID_STATE")


def test_reviews_of_unknown_provider_or_year_are_404(http, arrange):
    arrange.year()
    review(http, "compliance", "operator", code=credit_code(5199), status=404, error="NOT_FOUND")
    apply(http)
    review(http, "compliance", "operator", year=2033, status=404, error="NOT_FOUND")


def test_termination_bans_for_good(http, arrange):
    arrange.year()
    apply(http)
    sign(http)
    for role in ("operator", "finance", CODE):
        http.post(role, f"/providers/{CODE}/termination", {"reason": "x"}, 403, "FORBIDDEN")
    http.post("approver", f"/providers/{CODE}/termination", {}, 400, "VALIDATION_ERROR")
    body = http.post("approver", f"/providers/{CODE}/termination", {"reason": "提供虚假材料 (Art. 15)"}, 200)
    assert body["status"] == "terminated" and isinstance(body["position"], int)
    assert http.get("auditor", f"/providers/{CODE}")["status"] == "terminated"
    review(http, "compliance", "operator", status=422, error="PROVIDER_BANNED")
    apply(http, status=422, error="PROVIDER_BANNED")
    http.post(CODE, "/products", {"provider_id": CODE, "name": "新", "category": "legal", "price": "1.00"}, 422,
              "PROVIDER_BANNED")
    http.post("approver", f"/providers/{CODE}/termination", {"reason": "again"}, 409, "INVALID_STATE")
    http.post("approver", f"/providers/{credit_code(5198)}/termination", {"reason": "x"}, 404, "NOT_FOUND")


def test_cap_exceptions(http, arrange):
    arrange.year(provider_cap=yuan(100_000))
    apply(http)
    sign(http)
    body = http.post("approver", f"/providers/{CODE}/cap-exceptions",
                     {"year": YEAR, "amount": "50000.00", "reason": "重点项目"})
    assert (body["amount"], body["exceptions"], body["reason"]) == ("50000.00", "50000.00", "重点项目")
    assert isinstance(body["position"], int)
    totals = http.get("auditor", f"/providers/{CODE}/totals?year={YEAR}")
    assert (totals["cap"], totals["exceptions"], totals["remaining_cap"]) == ("100000.00", "50000.00", "150000.00")
    for role in ("operator", "finance", CODE):
        http.post(role, f"/providers/{CODE}/cap-exceptions", {"year": YEAR, "amount": "1.00", "reason": "x"}, 403,
                  "FORBIDDEN")
    for amount in (50000.0, "50000", "-1.00", "0.001"):
        http.post("approver", f"/providers/{CODE}/cap-exceptions", {"year": YEAR, "amount": amount, "reason": "x"},
                  400, "VALIDATION_ERROR")
    http.post("approver", f"/providers/{CODE}/cap-exceptions", {"year": YEAR, "amount": "1.00"}, 400,
              "VALIDATION_ERROR")
    http.post("approver", f"/providers/{CODE}/cap-exceptions", {"year": 2033, "amount": "1.00", "reason": "x"}, 404,
              "NOT_FOUND")


def test_totals_readers(http, arrange):
    arrange.year()
    apply(http)
    sign(http)
    other = arrange.provider()
    enterprise, _ = arrange.holder()
    for role in STAFF:
        http.get(role, f"/providers/{CODE}/totals?year={YEAR}")
    assert set(http.get(CODE, f"/providers/{CODE}/totals?year={YEAR}")) >= {
        "cap", "exceptions", "reserved", "used", "settled", "remaining_cap", "contracts"}
    http.get(other, f"/providers/{CODE}/totals?year={YEAR}", 403, "FORBIDDEN")
    http.get(enterprise, f"/providers/{CODE}/totals?year={YEAR}", 403, "FORBIDDEN")
    http.get(CODE, f"/providers/{CODE}/totals", 400, "VALIDATION_ERROR")
    http.get("auditor", f"/providers/{CODE}/totals?year=2033", 404, "NOT_FOUND")
    http.get("auditor", f"/providers/{credit_code(5197)}", 404, "NOT_FOUND")


def product_review(http, product_id, stage, role, status=201, error=None, year=YEAR):
    return http.post(role, f"/products/{product_id}/reviews", {"year": year, "stage": stage, "decision": "pass"},
                     status, error)


def test_products_reviewed_and_listed(http, arrange):
    arrange.year()
    apply(http)
    sign(http)
    body = http.post(CODE, "/products", {"provider_id": CODE, "name": "企业数字化诊断", "category": "diagnosis",
                                         "price": "100000.00", "description": "标准化诊断服务"})
    product_id = body["product_id"]
    assert (body["category"], body["price"], body["listed_years"]) == ("diagnosis", "100000.00", [])
    for index, (stage, role) in enumerate(PRODUCT_REVIEW_STAGES):
        for wrong in (r for r in ("approver", "operator", "finance") if r != role):
            product_review(http, product_id, stage, wrong, 403, "FORBIDDEN")
        for later, later_role in PRODUCT_REVIEW_STAGES[index + 1:]:
            product_review(http, product_id, later, later_role, 422, "STAGE_OUT_OF_ORDER")
        reviewed = product_review(http, product_id, stage, role)
        assert isinstance(reviewed["position"], int)
    assert reviewed["listed_years"] == [YEAR]
    product = http.get(CODE, f"/products/{product_id}")
    assert (product["name"], product["listed_years"]) == ("企业数字化诊断", [YEAR])
    product_review(http, product_id, "compliance", "operator", 400, "VALIDATION_ERROR")
    product_review(http, product_id, "expert", "operator", 409, "INVALID_STATE")
    product_review(http, "00000000-0000-0000-0000-000000000000", "expert", "operator", 404, "NOT_FOUND")


def test_product_submission_rules(http, arrange):
    arrange.year()
    apply(http)
    other = arrange.provider()
    good = {"provider_id": CODE, "name": "法律顾问", "category": "legal", "price": "20000.00"}
    http.post(other, "/products", good, 403, "FORBIDDEN")
    http.post("operator", "/products", good, 403, "FORBIDDEN")
    for field, value in (("category", "litigation"), ("price", 20000.0), ("price", "20000"), ("price", "-1.00"),
                         ("provider_id", "91450100000000001X"), ("name", "")):
        assert field in http.post(CODE, "/products", {**good, field: value}, 400,
                                  "VALIDATION_ERROR")["error"]["details"]
    product_id = http.post(CODE, "/products", good)["product_id"]
    http.get(other, f"/products/{product_id}", 403, "FORBIDDEN")
    http.get("supervisor", f"/products/{product_id}")
    http.get("auditor", "/products/00000000-0000-0000-0000-000000000000", 404, "NOT_FOUND")


def test_cap_exceptions_beyond_what_the_ledger_can_total_are_400(http, arrange):
    arrange.year()
    apply(http)
    sign(http)
    path = f"/providers/{CODE}/cap-exceptions"
    http.post("approver", path, {"year": YEAR, "amount": "9999999999999999.99", "reason": "x"})
    http.post("approver", path, {"year": YEAR, "amount": "0.01", "reason": "x"}, 400, "VALIDATION_ERROR")
    assert http.get("auditor", f"/providers/{CODE}/totals?year={YEAR}")["exceptions"] == "9999999999999999.99"
