"""Special vouchers over HTTP (API.md "Special vouchers"): each rule by its status and code, on both stores."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.support_http import Http, Slice, arrange, http  # noqa: F401
from tests.support import YEAR

PROGRAMME = {"quotas": {"key_project": "500000.00", "lead_enterprise": "300000.00"},
             "categories": ["diagnosis", "digital_transformation"], "provider_cap": "1000000.00",
             "reference": "桂工信〔2026〕专项1号"}
SUBJECT = {"name": "广西重点项目业主有限公司", "employees": 5000, "revenue": "900000000.00",
           "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
           "major_violation": False, "industry_aligned": True, "honours": []}


def put_programme(http: Http, body: dict[str, Any] | None = None, status: int = 200, code: str | None = None) -> Any:
    return http.request("PUT", "approver", f"/years/{YEAR}/special-programme", body or PROGRAMME, status, code)


def subject(http: Http, arrange: Slice, **facts: Any) -> str:  # noqa: F811
    code = facts.pop("id", None) or arrange.scenario.next_code()
    http.post("operator", "/enterprises", {"id": code, **SUBJECT, **facts})
    return http.subject("enterprise", code)


def designate(http: Http, code: str, designation: str = "key_project") -> dict[str, Any]:
    return http.post("operator", f"/enterprises/{code}/designations",
                     {"year": YEAR, "designation": designation, "reference": "桂工信〔2026〕重点项目名单"})


def issue(http: Http, code: str, designation: str = "key_project", status: int = 201,
          error: str | None = None) -> dict[str, Any]:
    return http.post("operator", "/vouchers", {"enterprise_id": code, "year": YEAR, "kind": "special",
                                               "designation": designation}, status, error)


def test_special_programme_is_set_once_before_the_first_special_voucher(http, arrange):  # noqa: F811
    arrange.year()
    body = put_programme(http)
    assert (body["quotas"]["key_project"], body["provider_cap"], body["categories"]) == (
        "500000.00", "1000000.00", ["diagnosis", "digital_transformation"])
    assert http.get("auditor", f"/years/{YEAR}")["special_programme"]["reference"] == PROGRAMME["reference"]
    code = subject(http, arrange)
    designate(http, code)
    issue(http, code)
    put_programme(http, {**PROGRAMME, "provider_cap": None}, 409, "INVALID_STATE")
    assert http.get("approver", f"/years/{YEAR}")["special_programme"]["provider_cap"] == "1000000.00"


def test_special_programme_is_the_approvers_and_well_formed(http, arrange):  # noqa: F811
    arrange.year()
    http.request("PUT", "operator", f"/years/{YEAR}/special-programme", PROGRAMME, 403, "FORBIDDEN")
    details = put_programme(http, {**PROGRAMME, "quotas": {"champion": "1.00"}, "provider_cap": -1}, 400,
                            "VALIDATION_ERROR")["error"]["details"]
    assert {"quotas", "provider_cap"} <= set(details)
    put_programme(http, {**PROGRAMME, "categories": []}, 400, "VALIDATION_ERROR")


def test_special_voucher_from_designation_to_issuance(http, arrange):  # noqa: F811
    arrange.year()
    put_programme(http)
    code = subject(http, arrange)
    assert designate(http, code)["designations"] == ["key_project"]
    voucher = issue(http, code)
    assert (voucher["kind"], voucher["designation"], voucher["quota"]) == ("special", "key_project", "500000.00")
    shown = http.get(code, f"/vouchers/{voucher['voucher_id']}")
    assert (shown["kind"], shown["available"]) == ("special", "500000.00")


def test_no_special_programme(http, arrange):  # noqa: F811
    arrange.year()
    code = subject(http, arrange)
    designate(http, code)
    issue(http, code, status=422, error="NO_SPECIAL_PROGRAMME")


def test_not_designated(http, arrange):  # noqa: F811
    arrange.year()
    put_programme(http)
    code = subject(http, arrange)
    designate(http, code, "lead_enterprise")
    issue(http, code, "key_project", 422, "NOT_DESIGNATED")


@pytest.mark.parametrize("facts", [{"id": "91110000600037341L"}, {"dishonest": True}, {"legal_person": False}])
def test_not_eligible_for_a_special_voucher(http, arrange, facts):  # noqa: F811
    arrange.year()
    put_programme(http)
    code = subject(http, arrange, **facts)
    designate(http, code)
    details = issue(http, code, status=422, error="NOT_ELIGIBLE")["error"]["details"]
    assert details["conditions"] and "position" in details


def test_designations_are_the_operators(http, arrange):  # noqa: F811
    arrange.year()
    code = subject(http, arrange)
    http.post(code, f"/enterprises/{code}/designations",
              {"year": YEAR, "designation": "key_project", "reference": "self"}, 403, "FORBIDDEN")
    http.post("operator", f"/enterprises/{code}/designations",
              {"year": YEAR, "designation": "champion", "reference": "x"}, 400, "VALIDATION_ERROR")


@pytest.fixture
def special_deal(http, arrange) -> dict[str, str]:  # noqa: F811
    """General cap ¥100,000, special cap ¥1,000,000; a key-project holder and a signed provider."""
    arrange.year(provider_cap=10_000_000)
    put_programme(http)
    code = subject(http, arrange)
    designate(http, code)
    provider = arrange.provider()
    return {"enterprise": code, "voucher_id": issue(http, code)["voucher_id"], "provider": provider,
            "diagnosis": arrange.product(provider, "diagnosis"), "legal": arrange.product(provider, "legal")}


def sign(http: Http, deal: dict[str, str], contract: dict[str, Any], status: int = 200,  # noqa: F811
         code: str | None = None) -> dict[str, Any]:
    return http.post(deal["provider"], f"/contracts/{contract['contract_id']}/signature", status=status, code=code)


def test_category_out_of_scope(http, arrange, special_deal):  # noqa: F811
    contract = arrange.propose(special_deal, "10000.00", "legal")
    assert sign(http, special_deal, contract, 422, "CATEGORY_OUT_OF_SCOPE")["error"]["details"]["category"] == "legal"


def test_provider_filling_its_general_cap_still_takes_special_contracts_up_to_the_special_cap(
        http, arrange, special_deal):  # noqa: F811
    d = special_deal
    general = {**d, **dict(zip(("enterprise", "voucher_id"), arrange.holder(("little_giant",))))}
    sign(http, d, arrange.propose(general, "125000.00"))  # ¥100,000: the general cap
    refused = sign(http, d, arrange.propose(general, "10000.00"), 422, "PROVIDER_CAP_EXCEEDED")
    assert refused["error"]["details"]["kind"] == "general"
    assert sign(http, d, arrange.propose(d, "1000000.00", subsidy="500000.00"))["subsidy"] == "500000.00"
    totals = http.get(d["provider"], f"/providers/{d['provider']}/totals?year={YEAR}")
    assert (totals["cap"], totals["remaining_cap"], totals["reserved"]) == ("100000.00", "0.00", "600000.00")
    assert totals["by_kind"]["special"] == {"cap": "1000000.00", "exceptions": "0.00", "reserved": "500000.00",
                                            "used": "0.00", "settled": "0.00", "remaining_cap": "500000.00",
                                            "contracts": 1}


def test_provider_filling_its_special_cap_still_takes_general_contracts(http, arrange):  # noqa: F811
    arrange.year(provider_cap=10_000_000)
    put_programme(http, {**PROGRAMME, "provider_cap": "50000.00"})
    code = subject(http, arrange)
    designate(http, code)
    provider = arrange.provider()
    d = {"enterprise": code, "voucher_id": issue(http, code)["voucher_id"], "provider": provider,
         "diagnosis": arrange.product(provider, "diagnosis")}
    sign(http, d, arrange.propose(d, "62500.00"))  # ¥50,000: the special cap
    late = arrange.propose(d, "10000.00")
    assert sign(http, d, late, 422, "PROVIDER_CAP_EXCEEDED")["error"]["details"]["kind"] == "special"
    general = {**d, **dict(zip(("enterprise", "voucher_id"), arrange.holder()))}
    assert sign(http, d, arrange.propose(general, "100000.00"))["subsidy"] == "80000.00"
    granted = http.post("approver", f"/providers/{provider}/cap-exceptions",
                        {"year": YEAR, "amount": "10000.00", "reason": "phase 2", "kind": "special"})
    assert (granted["kind"], granted["exceptions"]) == ("special", "10000.00")
    assert sign(http, d, late)["subsidy"] == "8000.00"
    totals = http.get("auditor", f"/providers/{provider}/totals?year={YEAR}")
    assert (totals["exceptions"], totals["by_kind"]["general"]["exceptions"]) == ("10000.00", "0.00")


def test_cap_exceptions_default_to_the_general_cap(http, arrange):  # noqa: F811
    arrange.year()
    provider = arrange.provider()
    granted = http.post("approver", f"/providers/{provider}/cap-exceptions",
                        {"year": YEAR, "amount": "10000.00", "reason": "in principle"})
    assert granted["kind"] == "general"
    http.post("approver", f"/providers/{provider}/cap-exceptions",
              {"year": YEAR, "amount": "1.00", "reason": "x", "kind": "bonus"}, 400, "VALIDATION_ERROR")


def yuan_sum(*amounts: str) -> str:
    return f"{sum(int(a.replace('.', '')) for a in amounts) / 100:.2f}"


def test_by_kind_sums_to_the_totals(http, arrange, special_deal):  # noqa: F811
    d = special_deal
    general = {**d, **dict(zip(("enterprise", "voucher_id"), arrange.holder()))}
    contract = arrange.propose(d, "100000.00")
    signed = sign(http, d, contract)
    http.post(d["enterprise"], f"/contracts/{contract['contract_id']}/deposit", {"amount": signed["deposit"]}, 200)
    http.post(d["enterprise"], f"/contracts/{contract['contract_id']}/completion",
              {"balance_paid": signed["balance_due"]}, 200)
    sign(http, d, arrange.propose(general, "20000.00"))
    year = http.get("supervisor", f"/years/{YEAR}")
    for figure in ("issued", "available", "reserved", "used", "expired", "clawed_back", "settled"):
        assert year[figure] == yuan_sum(year["by_kind"]["general"][figure], year["by_kind"]["special"][figure])
    assert (year["by_kind"]["special"]["used"], year["by_kind"]["general"]["reserved"]) == ("80000.00", "16000.00")
    totals = http.get(d["provider"], f"/providers/{d['provider']}/totals?year={YEAR}")
    for figure in ("exceptions", "reserved", "used", "settled"):
        assert totals[figure] == yuan_sum(totals["by_kind"]["general"][figure], totals["by_kind"]["special"][figure])
    assert totals["remaining_cap"] == totals["by_kind"]["general"]["remaining_cap"] == "84000.00"
    balance = http.get(d["enterprise"], f"/enterprises/{d['enterprise']}/balance?year={YEAR}")
    assert balance["by_kind"]["special"]["used"] == balance["used"] == "80000.00"
    assert balance["by_kind"]["general"]["vouchers"] == 0


def test_party_scope_holds_for_special_figures_and_designations(http, arrange, special_deal):  # noqa: F811
    d = special_deal
    other, _ = arrange.holder()
    http.get(other, f"/enterprises/{d['enterprise']}/balance?year={YEAR}", 403, "FORBIDDEN")
    http.get(other, f"/vouchers/{d['voucher_id']}", 403, "FORBIDDEN")
    http.get(d["enterprise"], f"/years/{YEAR}", 403, "FORBIDDEN")
    http.request("PUT", d["enterprise"], f"/years/{YEAR}/special-programme", PROGRAMME, 403, "FORBIDDEN")
    trace = http.get(d["enterprise"], f"/trace/enterprises/{d['enterprise']}?year={YEAR}")
    assert "Enterprise.Designated" in {s["type"] for s in trace["steps"]}


def test_special_events_are_exported_and_chained_like_every_other(http, arrange, special_deal):  # noqa: F811
    response = http.client.get("/api/v1/export?format=jsonl", headers={
        "Authorization": f"Bearer {http.tokens['auditor']}"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    types = {line.get("type") for line in lines}
    assert {"Year.SpecialProgrammeSet", "Enterprise.Designated", "Year.QuotaCommitted"} <= types
    assert lines[-1]["manifest"]["count"] == len(lines) - 1
    verified = http.get("auditor", "/audit/verify")
    assert verified["ok"] is True and verified["checked"] == len(lines) - 1
    year_trace = http.get("auditor", f"/trace/enterprises/{special_deal['enterprise']}?year={YEAR}")
    issued = [s for s in year_trace["steps"] if s["type"] == "Voucher.Issued"]
    assert issued and issued[0]["data"]["kind"] == "special" and issued[0]["data"]["designation"] == "key_project"


def test_subsidy_preview_of_a_special_voucher_is_refused_out_of_scope(http, special_deal):  # noqa: F811
    # Art. 6(二): what the signature would refuse (test_category_out_of_scope), the preview refuses too.
    path = f"/vouchers/{special_deal['voucher_id']}/subsidy-preview?amount=10000.00&product_id="
    body = http.get(special_deal["enterprise"], path + special_deal["legal"], 422, "CATEGORY_OUT_OF_SCOPE")
    assert body["error"]["details"]["category"] == "legal"
    assert http.get(special_deal["enterprise"], path + special_deal["diagnosis"])["subsidy"] == "8000.00"
