"""Years over HTTP (API.md "Years"): the approver opens, finance funds, the operator closes."""

from __future__ import annotations

import pytest

from tests.api.support_http import STAFF, arrange, http  # noqa: F401 - fixtures
from tests.support import YEAR, year_ended

OPEN = {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31"}


def test_open_year_fills_in_the_measures_defaults(http):
    body = http.post("approver", "/years", OPEN)
    assert body == {**OPEN, "status": "open", "position": body["position"],
                    "tier_quotas": {"T1": "50000.00", "T2": "100000.00", "T3": "200000.00", "T4": "300000.00"},
                    "diagnosis_share": "0.80", "other_share": "0.50", "deposit_share": "0.20",
                    "provider_cap": "5000000.00", "commitment_required": False, "settlement_batches": 2}
    assert isinstance(body["position"], int) and body["position"] > 0


def test_open_year_with_stricter_parameters(http):
    body = http.post("approver", "/years", {**OPEN, "tier_quotas": {"T4": "250000.00"}, "diagnosis_share": "0.70",
                                            "other_share": "0.4", "deposit_share": "0.25",
                                            "provider_cap": "1000000.00"})
    assert body["tier_quotas"] == {"T1": "50000.00", "T2": "100000.00", "T3": "200000.00", "T4": "250000.00"}
    assert (body["diagnosis_share"], body["other_share"], body["deposit_share"], body["provider_cap"]) == (
        "0.70", "0.40", "0.25", "1000000.00")


@pytest.mark.parametrize("params, field", [
    ({"tier_quotas": {"T1": "50000.01"}}, "tier_quotas.T1"),
    ({"tier_quotas": {"T3": "300000.00"}}, "tier_quotas.T3"),
    ({"diagnosis_share": "0.81"}, "diagnosis_share"),
    ({"other_share": "0.60"}, "other_share"),
    ({"deposit_share": "0.10"}, "deposit_share"),
    ({"provider_cap": "5000000.01"}, "provider_cap"),
])
def test_parameter_above_ceiling_is_422(http, params, field):
    body = http.post("approver", "/years", {**OPEN, **params}, 422, "PARAMETER_ABOVE_CEILING")
    assert field in body["error"]["details"]
    http.get("approver", f"/years/{YEAR}", 404, "NOT_FOUND")


def test_a_year_opened_twice_is_409(http):
    http.post("approver", "/years", OPEN)
    http.post("approver", "/years", OPEN, 409, "ALREADY_EXISTS")


@pytest.mark.parametrize("body, field", [
    ({**OPEN, "year": "2026"}, "year"),
    ({**OPEN, "year": 2026.0}, "year"),
    ({**OPEN, "year": 1900}, "year"),
    ({**OPEN, "starts_on": "2026-02-30"}, "starts_on"),
    ({**OPEN, "ends_on": "31/12/2026"}, "ends_on"),
    ({**OPEN, "diagnosis_share": 0.8}, "diagnosis_share"),
    ({**OPEN, "diagnosis_share": "80%"}, "diagnosis_share"),
    ({**OPEN, "provider_cap": 5000000}, "provider_cap"),
    ({**OPEN, "tier_quotas": {"T1": "50000"}}, "tier_quotas"),
    ({"starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31"}, "year"),
])
def test_open_year_invalid_fields_are_400(http, body, field):
    details = http.post("approver", "/years", body, 400, "VALIDATION_ERROR")["error"]["details"]
    assert field in details


def test_a_window_that_ends_before_it_starts_is_400(http):
    http.post("approver", "/years", {**OPEN, "starts_on": f"{YEAR}-12-31", "ends_on": f"{YEAR}-01-01"}, 400,
              "VALIDATION_ERROR")


@pytest.mark.parametrize("raw", ['{"year": 2026', "not json", "[1, 2]", "null", '"2026"'])
def test_malformed_json_is_400(http, raw):
    http.post("approver", "/years", data=raw, status=400, code="VALIDATION_ERROR")


@pytest.mark.parametrize("role", ["finance", "operator", "supervisor", "auditor"])
def test_only_the_approver_opens_a_year(http, role):
    http.post(role, "/years", OPEN, 403, "FORBIDDEN")


def test_no_token_or_an_unknown_token_is_401(http, client):
    http.post(None, "/years", OPEN, 401, "UNAUTHENTICATED")
    http.tokens["stranger"] = "vl_not-a-token"
    http.post("stranger", "/years", OPEN, 401, "UNAUTHENTICATED")
    http.get(None, f"/years/{YEAR}", 401, "UNAUTHENTICATED")
    response = client.post("/api/v1/years", json=OPEN, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401


def test_budget_is_allocated_by_finance(http, arrange):
    arrange.year(budget_yuan=None)
    body = http.post("finance", f"/years/{YEAR}/budget", {"amount": "1000000.00", "reference": "桂财工〔2026〕1号"})
    assert (body["amount"], body["budget"], body["reference"]) == ("1000000.00", "1000000.00", "桂财工〔2026〕1号")
    assert isinstance(body["position"], int)
    second = http.post("finance", f"/years/{YEAR}/budget", {"amount": "0.01", "reference": "补充"})
    assert second["budget"] == "1000000.01" and second["position"] > body["position"]
    assert http.get("auditor", f"/years/{YEAR}")["budget"] == "1000000.01"  # read-your-writes


@pytest.mark.parametrize("amount", [1000000.0, 1000000, "1000000", "1000000.000", "1000000.5", "-1.00", "abc",
                                    "1e6", "", None, True])
def test_budget_amount_must_be_two_decimal_yuan(http, arrange, amount):
    arrange.year(budget_yuan=None)
    details = http.post("finance", f"/years/{YEAR}/budget", {"amount": amount, "reference": "x"}, 400,
                        "VALIDATION_ERROR")["error"]["details"]
    assert "amount" in details


def test_a_zero_budget_is_400(http, arrange):
    arrange.year(budget_yuan=None)
    http.post("finance", f"/years/{YEAR}/budget", {"amount": "0.00", "reference": "x"}, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("role", ["approver", "operator", "auditor"])
def test_only_finance_allocates_budget(http, arrange, role):
    arrange.year(budget_yuan=None)
    http.post(role, f"/years/{YEAR}/budget", {"amount": "1.00", "reference": "x"}, 403, "FORBIDDEN")


def test_budget_for_an_unknown_year_is_404(http):
    http.post("finance", "/years/2030/budget", {"amount": "1.00", "reference": "x"}, 404, "NOT_FOUND")


def test_get_year_shows_parameters_and_totals(http, arrange):
    arrange.year()
    enterprise, voucher_id = arrange.holder()
    body = http.get("supervisor", f"/years/{YEAR}")
    assert {k: body[k] for k in ("budget", "issued", "available", "reserved", "used", "expired", "clawed_back",
                                 "settled")} == {
        "budget": "10000000.00", "issued": "100000.00", "available": "100000.00", "reserved": "0.00",
        "used": "0.00", "expired": "0.00", "clawed_back": "0.00", "settled": "0.00"}
    assert body["unissued"] == "9900000.00"
    for role in STAFF:
        http.get(role, f"/years/{YEAR}")
    http.get(enterprise, f"/years/{YEAR}", 403, "FORBIDDEN")
    http.get("auditor", "/years/2031", 404, "NOT_FOUND")


def test_close_year_over_http(http, arrange):
    arrange.year()
    deal = arrange.deal()
    contract = arrange.propose(deal, "50000.00")
    http.post(deal["provider"], f"/contracts/{contract['contract_id']}/signature", status=200)
    for role in ("approver", "finance", deal["enterprise"]):
        http.post(role, f"/years/{YEAR}/close", status=403, code="FORBIDDEN")
    year_ended(http.ledger)
    closed = http.post("operator", f"/years/{YEAR}/close", status=200)
    assert (closed["expired_vouchers"], closed["expired_amount"], closed["released_contracts"]) == (1, "100000.00", 1)
    assert isinstance(closed["position"], int)
    assert http.get("auditor", f"/years/{YEAR}")["status"] == "closed"
    assert http.get(deal["enterprise"], f"/contracts/{contract['contract_id']}")["status"] == "terminated"
    http.post("operator", f"/years/{YEAR}/close", status=409, code="INVALID_STATE")
    http.post("finance", f"/years/{YEAR}/budget", {"amount": "1.00", "reference": "late"}, 422, "YEAR_CLOSED")
    http.post("operator", "/years/2031/close", status=404, code="NOT_FOUND")


def test_a_budget_beyond_what_the_ledger_can_total_is_400_and_the_views_keep_working(http, arrange):
    # Each allocation is a valid amount, but their sum must stay one the read models can hold:
    # otherwise an event no projection can apply would be stored, and every later read would fail.
    arrange.year(budget_yuan=None)
    largest = {"amount": "9999999999999999.99", "reference": "x"}
    http.post("finance", f"/years/{YEAR}/budget", largest)
    details = http.post("finance", f"/years/{YEAR}/budget", {"amount": "0.01", "reference": "x"}, 400,
                        "VALIDATION_ERROR")["error"]["details"]
    assert "amount" in details
    assert http.get("auditor", f"/years/{YEAR}")["budget"] == "9999999999999999.99"
