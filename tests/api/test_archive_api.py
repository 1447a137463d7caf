"""The service archive over HTTP (API.md "Service archive, catalogue and evaluation"; Art. 18(二), 21, 22)."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook

from ledger.money import yuan
from tests.api.support_http import Http, http  # noqa: F401 - the fixture
from tests.application.test_evaluation import GeneratedYear
from tests.support import YEAR, Scenario, bearer, document

DOC = {k: v for k, v in document("other").items() if k != "kind"}


@pytest.fixture
def world(scenario: Scenario) -> dict[str, str]:
    scenario.open_year()
    enterprise, voucher = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider)
    contract = scenario.contract(enterprise, voucher, provider, product, yuan(10_000), state="completed")
    return {"enterprise": enterprise, "provider": provider, "contract": contract}


def test_each_archive_entry_type_over_http(http: Http, world: dict[str, str]) -> None:
    enterprise = http.subject("enterprise", world["enterprise"])
    provider = http.subject("provider", world["provider"])
    survey = http.post("operator", "/archive/surveys", {"contract_id": world["contract"], "score": 5, "comments": "好"})
    assert survey["score"] == 5 and isinstance(survey["position"], int)
    http.post("operator", "/archive/surveys", {"contract_id": world["contract"], "score": 0}, 400, "VALIDATION_ERROR")
    http.post(enterprise, "/archive/surveys", {"contract_id": world["contract"], "score": 3},
              403, "FORBIDDEN")
    check = http.post("supervisor", "/archive/spot-checks", {"subject_type": "provider", "subject_id": provider,
                                                             "contract_id": world["contract"], "result": "passed",
                                                             "findings": "", "documents": [DOC]})
    assert check["year"] == YEAR
    http.post("operator", "/archive/spot-checks", {"subject_type": "provider", "subject_id": provider,
                                                   "result": "maybe"}, 400, "VALIDATION_ERROR")
    http.post(enterprise, "/archive/commitments", {"year": YEAR, "text": "承诺材料真实"})
    http.post(enterprise, "/archive/commitments", {"year": YEAR, "text": "again"}, 409, "ALREADY_EXISTS")
    report = http.post("supervisor", "/archive/supervision-reports", {
        "year": YEAR, "title": "监理报告", "documents": [DOC],
        "findings": [{"subject_type": "enterprise", "subject_id": enterprise, "contract_id": world["contract"],
                      "severity": "major", "text": "虚假交易"}]})
    http.post("operator", "/archive/supervision-reports", {"year": YEAR, "title": "x", "findings": []}, 403, "FORBIDDEN")
    case = http.post("operator", f"/archive/supervision-reports/{report['report_id']}/findings/0/case",
                     {"violation": "fake_transaction"})
    assert case["contract_ids"] == [world["contract"]] and case["finding"] == 0
    assert http.get("auditor", f"/archive/supervision-reports/{report['report_id']}")["findings"][0]["case_id"] == \
        case["case_id"]
    entries = http.get("auditor", f"/archive/enterprises/{enterprise}")["entries"]
    types = [e["type"] for e in entries]
    for kind in ("Contract.SurveyRecorded", "Enterprise.CommitmentMade", "Enterprise.FindingRecorded", "Case.Filed",
                 "Case.FindingLinked"):
        assert kind in types
    assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)
    assert "Provider.SpotChecked" in [e["type"] for e in http.get(provider, f"/archive/providers/{provider}")["entries"]]
    http.get(provider, f"/archive/enterprises/{enterprise}", 403, "FORBIDDEN")
    own = [e["type"] for e in http.get(enterprise, f"/archive/enterprises/{enterprise}")["entries"]]
    assert "Case.Filed" not in own  # a case under way is not shown to its subject
    steps = http.get("auditor", f"/trace/enterprises/{enterprise}?year={YEAR}")["steps"]
    assert {"Enterprise.CommitmentMade", "Enterprise.FindingRecorded"} <= {s["type"] for s in steps}


def test_commitment_required_gate_over_http(http: Http, scenario: Scenario) -> None:
    http.post("approver", "/years", {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31",
                                     "commitment_required": True})
    http.post("finance", f"/years/{YEAR}/budget", {"amount": "1000000.00", "reference": "预算"})
    enterprise = http.subject("enterprise", scenario.enterprise(("tech_sme",)))
    http.post("operator", "/vouchers", {"enterprise_id": enterprise, "year": YEAR, "kind": "general"}, 422,
              "COMMITMENT_MISSING")
    http.post(enterprise, "/archive/commitments", {"year": YEAR, "text": "承诺"})
    http.post("operator", "/vouchers", {"enterprise_id": enterprise, "year": YEAR, "kind": "general"})
    provider = http.subject("provider", scenario.provider(signed_for=None))
    body = {"year": YEAR, "stage": "compliance", "decision": "pass", "note": ""}
    http.post("operator", f"/providers/{provider}/reviews", body, 422, "COMMITMENT_MISSING")
    http.post(provider, "/archive/commitments", {"year": YEAR, "text": "承诺"})
    http.post("operator", f"/providers/{provider}/reviews", body, 201)


def test_archive_of_an_unknown_subject_is_404(http: Http, world: dict[str, Any]) -> None:
    http.get("auditor", "/archive/providers/91450100MA5KXXXX00", 404, "NOT_FOUND")
    http.get("auditor", "/archive/providers/91450100MA5KXXXX01", 400, "VALIDATION_ERROR")  # not a credit code


def test_grade_over_http_with_its_rule_and_as_of(http: Http, world: dict[str, str]) -> None:
    provider = http.subject("provider", world["provider"])
    http.post("operator", "/archive/surveys", {"contract_id": world["contract"], "score": 5})
    graded = http.get(provider, f"/providers/{provider}/grade?year={YEAR}")
    assert (graded["grade"], graded["score"]) == ("A", "100.00") and graded["inputs"]["surveys"] == 1
    assert graded["rule"]["components"]["satisfaction"]["weight"] == 30
    before = http.get("auditor", f"/providers/{provider}/grade?year={YEAR}&as_of=2000-01-01T00:00:00%2B08:00")
    assert before["inputs"]["surveys"] == 0 and before["inputs"]["contracts_completed"] == 0
    http.get("auditor", f"/providers/{provider}/grade?year={YEAR}&as_of=yesterday", 400, "VALIDATION_ERROR")
    enterprise = http.subject("enterprise", world["enterprise"])
    http.get(enterprise, f"/providers/{provider}/grade?year={YEAR}", 403, "FORBIDDEN")


PRIVATE = {"cap", "remaining_cap", "exceptions", "subsidy", "reserved", "used", "settled", "clawed_back",
           "receivable", "enterprise_id", "enterprises", "voucher_id"}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_catalogue_shows_enterprises_public_facts_only(http: Http, scenario: Scenario, world: dict[str, str]) -> None:
    other = http.subject("enterprise", scenario.enterprise(("tech_sme",)))
    unsigned = scenario.provider(signed_for=None)
    enterprise = world["enterprise"]
    contract = http.get("auditor", f"/contracts/{world['contract']}")
    product, voucher_id = contract["product_id"], contract["voucher_id"]
    scenario.contract(enterprise, voucher_id, world["provider"], product, yuan(20_000), state="terminated")
    body = http.get(other, f"/catalogue?year={YEAR}")
    assert body["year"] == YEAR and [p["provider_id"] for p in body["providers"]] == [world["provider"]]
    assert unsigned not in {p["provider_id"] for p in body["providers"]}
    listed = body["providers"][0]
    assert listed["grade"] in ("A", "B", "C", "D") and listed["products"][0]["product_id"] == product
    assert listed["products"][0]["price"] == "1000000.00"
    assert listed["execution"] == {"signed_count": 2, "signed_amount": "30000.00", "completed_count": 1,
                                   "completed_amount": "10000.00", "terminated_count": 1,
                                   "terminated_amount": "20000.00"}
    assert not _keys(body) & PRIVATE
    assert enterprise not in str(body)
    http.get(None, f"/catalogue?year={YEAR}", 401, "UNAUTHENTICATED")
    http.get(other, "/catalogue", 400, "VALIDATION_ERROR")


def test_evaluation_json_and_workbook_agree(http: Http, client: Any, tokens: dict[str, str],
                                            scenario: Scenario) -> None:
    generated = GeneratedYear(scenario)
    body = http.get("finance", f"/years/{YEAR}/evaluation")
    budget = body["budget"]
    assert budget["issued"].count(".") == 1 and len(budget["issued"].split(".")[1]) == 2  # yuan strings
    assert body["clawbacks"]["recovered"] == "5000.00"
    assert Decimal(budget["issued_of_budget"]) == (Decimal(budget["issued"]) / Decimal(budget["budget"])).quantize(
        Decimal("0.0001"), rounding="ROUND_DOWN")
    for who in ("approver", "supervisor", "auditor"):
        assert http.get(who, f"/years/{YEAR}/evaluation?format=json") == body
    http.get("operator", f"/years/{YEAR}/evaluation", 403, "FORBIDDEN")
    http.get(http.subject("enterprise", generated.holders[0][0]), f"/years/{YEAR}/evaluation", 403, "FORBIDDEN")
    http.get("auditor", f"/years/{YEAR + 1}/evaluation", 404, "NOT_FOUND")
    http.get("auditor", f"/years/{YEAR}/evaluation?format=pdf", 400, "VALIDATION_ERROR")
    response = client.get(f"/api/v1/years/{YEAR}/evaluation?format=xlsx", headers=bearer(tokens["auditor"]))
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(BytesIO(response.data))
    assert book.sheetnames == ["预算执行", "按档次", "按券种", "按城市", "按服务类别", "补贴比例", "服务机构集中度",
                               "满意度", "抽查与验收", "追回"]
    overview = {row[0]: row[1] for row in book["预算执行"].iter_rows(min_row=2, values_only=True)}
    for label, key in (("年度预算（元）", "budget"), ("已发放（元）", "issued"), ("已使用（元）", "used"),
                       ("已兑付（元）", "settled"), ("已作废（元）", "expired")):
        assert Decimal(str(overview[label])) == Decimal(budget[key]), label
    assert overview["生成日期（北京时间）"] is not None
    for sheet in ("按档次", "按券种", "按城市"):
        total = [r for r in book[sheet].iter_rows(min_row=2, values_only=True) if r[0] == "合计"][0]
        assert Decimal(str(total[3])) == Decimal(budget["issued"]) and Decimal(str(total[4])) == Decimal(budget["used"])
    categories = [r for r in book["按服务类别"].iter_rows(min_row=2, values_only=True) if r[0] == "合计"][0]
    assert Decimal(str(categories[2])) == sum(Decimal(r["amount"]) for r in body["by_category"])
    money = {row[0]: row[1] for row in book["追回"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(money["追回补贴"])) == Decimal(body["clawbacks"]["clawed_back"])
    assert Decimal(str(money["已收回"])) == Decimal(body["clawbacks"]["recovered"])
    assert isinstance(money["追回补贴"], (int, float))  # amounts are numbers in the sheet, not text


def test_supervision_report_shows_each_party_its_own_findings_only(http: Http, scenario: Scenario,
                                                                   world: dict[str, str]) -> None:
    enterprise = http.subject("enterprise", world["enterprise"])
    other = http.subject("enterprise", scenario.enterprise(("tech_sme",)))
    http.post("supervisor", "/archive/supervision-reports", {"year": YEAR, "title": "监理报告", "findings": [
        {"subject_type": "enterprise", "subject_id": enterprise, "contract_id": world["contract"], "severity": "minor",
         "text": "本企业的发现"},
        {"subject_type": "enterprise", "subject_id": other, "severity": "major", "text": "他人的发现"}]})
    steps = http.get(enterprise, f"/trace/contracts/{world['contract']}")["steps"]
    filed = [s for s in steps if s["type"] == "SupervisionReport.Filed"]
    assert filed and all(f["subject_id"] == enterprise for s in filed for f in s["data"]["findings"])
    assert other not in str(http.get(enterprise, f"/trace/enterprises/{enterprise}?year={YEAR}"))
    assert other not in str(http.get(enterprise, f"/archive/enterprises/{enterprise}"))


def test_catalogue_without_grades_is_the_same_list_for_choosing(http: Http, scenario: Scenario,
                                                                world: dict[str, str]) -> None:
    other = http.subject("enterprise", scenario.enterprise(("tech_sme",)))
    graded = http.get(other, f"/catalogue?year={YEAR}")
    plain = http.get(other, f"/catalogue?year={YEAR}&grades=false")
    assert [{**p, "grade": None, "score": None} for p in graded["providers"]] == plain["providers"]
    assert plain["providers"] and all(p["grade"] is None and p["score"] is None for p in plain["providers"])
    assert http.get(other, f"/catalogue?year={YEAR}&grades=true") == graded
    http.get(other, f"/catalogue?year={YEAR}&grades=maybe", 400, "VALIDATION_ERROR")
