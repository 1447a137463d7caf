"""Cases and sanctions over HTTP (API.md "Sanctions"), with credit records and recoveries."""

from __future__ import annotations

from typing import Any

import pytest

from service.demo import credit_code
from tests.api.test_settlement_api import DOCS, Http
from tests.application.test_settlement import World, settle
from tests.support import YEAR, as_role, issue_tokens


@pytest.fixture
def world(scenario: Any) -> World:
    return World(scenario)


@pytest.fixture
def holder(world: World) -> tuple[str, str]:
    return world.holder()


@pytest.fixture
def http(client: Any, ledger: Any, world: World, holder: tuple[str, str]) -> Http:
    enterprise = holder[0]
    tokens = issue_tokens(ledger, ("provider", world.provider), ("enterprise", enterprise))
    tokens["provider"], tokens["enterprise"] = tokens[world.provider], tokens[enterprise]
    return Http(client, tokens)


def _case(http: Http, subject_id: str, contracts: list[str], subject_type: str = "enterprise",
          violation: str = "fake_transaction", who: str = "supervisor") -> str:
    body = http.post(who, "/cases", {"subject_type": subject_type, "subject_id": subject_id, "violation": violation,
                                     "contract_ids": contracts, "note": "监理报告第3号"}, 201)
    assert body["status"] == "filed" and isinstance(body["position"], int)
    return body["case_id"]


def test_sanction_claws_back_revokes_and_records_credit(http, world, holder, ledger, scenario):
    enterprise, voucher_id = holder
    reserved, used, settled = (world.contract(state="active", holder=holder), world.contract(holder=holder),
                               world.contract(holder=holder))
    settle(ledger, world.provider, [settled])
    case_id = _case(http, enterprise, [reserved, used, settled])
    done = http.post("operator", f"/cases/{case_id}/sanction",
                     {"clawback_contract_ids": [reserved, used, settled], "revoke_enterprise": True,
                      "terminate_provider": False, "note": "追回补贴，取消领券资格"})
    assert done["status"] == "sanctioned"
    assert (done["released"], done["clawed_back"], done["receivable"]) == ("40000.00", "80000.00", "40000.00")
    assert [c["outcome"] for c in done["contracts"]] == ["released", "clawed_back", "receivable"]
    assert done["credit_record"]["article"] == "Art. 25(2)"
    # The views answer at once (read-your-writes).
    assert http.get("auditor", f"/contracts/{reserved}")["status"] == "terminated"
    assert http.get("auditor", f"/contracts/{used}")["status"] == "clawed_back"
    voucher = http.get("enterprise", f"/vouchers/{voucher_id}")
    assert (voucher["reserved"], voucher["used"], voucher["clawed_back"]) == ("0.00", "0.00", "80000.00")
    totals = http.get("provider", f"/providers/{world.provider}/totals?year={YEAR}")
    assert (totals["settled"], totals["receivable"]) == ("40000.00", "40000.00")
    year = http.get("auditor", f"/years/{YEAR}")
    assert (year["settled"], year["clawed_back"]) == ("40000.00", "80000.00")
    case = http.get("supervisor", f"/cases/{case_id}")
    assert case["status"] == "sanctioned" and case["sanction"]["receivable"] == "40000.00"
    assert [c["case_id"] for c in http.get("auditor", f"/cases?subject_id={enterprise}")["cases"]] == [case_id]
    records = http.get("enterprise", f"/credit-records/{enterprise}")["records"]
    assert [(r["case_id"], r["violation"]) for r in records] == [(case_id, "fake_transaction")]
    # Revoked: no voucher for the next year (HOLDER_REVOKED).
    scenario.open_year(YEAR + 1)
    http.post("operator", "/vouchers", {"enterprise_id": enterprise, "year": YEAR + 1}, 422, "HOLDER_REVOKED")


def test_recovery_of_a_receivable(http, world, holder, ledger):
    enterprise, _ = holder
    contract_id = world.contract(holder=holder)
    settle(ledger, world.provider, [contract_id])
    case_id = _case(http, enterprise, [contract_id])
    http.post("operator", f"/cases/{case_id}/sanction", {"clawback_contract_ids": [contract_id]})
    path = f"/providers/{world.provider}/recoveries"
    http.post("finance", path, {"year": YEAR, "amount": "40000.01", "reference": "缴款书"}, 422,
              "RECOVERY_ABOVE_RECEIVABLE")
    recovered = http.post("finance", path, {"year": YEAR, "amount": "40000.00", "reference": "缴款书"}, 201)
    assert recovered["receivable"] == "0.00"
    assert http.get("auditor", f"/providers/{world.provider}/totals?year={YEAR}")["receivable"] == "0.00"
    http.post("operator", path, {"year": YEAR, "amount": "1.00", "reference": "x"}, 403, "FORBIDDEN")
    http.post("finance", path, {"year": YEAR, "amount": 1, "reference": "x"}, 400, "VALIDATION_ERROR")
    http.post("finance", f"/providers/{enterprise}/recoveries", {"year": YEAR, "amount": "1.00", "reference": "x"},
              404, "NOT_FOUND")


def test_terminated_provider_is_banned(http, world, ledger):
    case_id = _case(http, world.provider, [], subject_type="provider", violation="non_cooperation", who="operator")
    with as_role("system", name="test-cli"):
        http.tokens["centre-2"] = ledger.issue_credential("operator", name="centre-2").extra["token"]
    done = http.post("centre-2", f"/cases/{case_id}/sanction", {"terminate_provider": True})
    assert done["provider_terminated"] is True
    http.post("operator", f"/providers/{world.provider}/reviews",
              {"year": YEAR, "stage": "compliance", "decision": "pass"}, 422, "PROVIDER_BANNED")


def test_without_a_token_it_is_401(http, holder):
    http.post("", "/cases", {"subject_type": "enterprise", "subject_id": holder[0], "violation": "transfer"}, 401,
              "UNAUTHENTICATED")
    http.get("", f"/credit-records/{holder[0]}", 401, "UNAUTHENTICATED")


def test_wrong_role_or_subject_is_403(http, world, holder):
    enterprise = holder[0]
    body = {"subject_type": "enterprise", "subject_id": enterprise, "violation": "transfer"}
    http.post("enterprise", "/cases", body, 403, "FORBIDDEN")
    http.post("finance", "/cases", body, 403, "FORBIDDEN")
    case_id = _case(http, enterprise, [])
    http.post("supervisor", f"/cases/{case_id}/sanction", {}, 403, "FORBIDDEN")
    http.get("enterprise", f"/cases/{case_id}", 403, "FORBIDDEN")
    http.get("provider", f"/credit-records/{enterprise}", 403, "FORBIDDEN")


def test_unknown_case_or_subject_is_404(http, world):
    http.post("operator", "/cases/00000000-0000-0000-0000-000000000000/sanction", {}, 404, "NOT_FOUND")
    http.get("auditor", "/cases/00000000-0000-0000-0000-000000000000", 404, "NOT_FOUND")
    http.post("supervisor", "/cases", {"subject_type": "enterprise", "subject_id": credit_code(9999),
                                       "violation": "transfer"}, 404, "NOT_FOUND")


def test_second_sanction_is_409_and_the_filer_may_not_sanction(http, holder, ledger):
    enterprise = holder[0]
    own = _case(http, enterprise, [], who="operator")
    body = http.post("operator", f"/cases/{own}/sanction", {}, 422, "SEGREGATION_OF_DUTIES")
    assert "segregation of duties" in body["error"]["details"]["rule"]
    case_id = _case(http, enterprise, [])
    http.post("operator", f"/cases/{case_id}/sanction", {})
    http.post("operator", f"/cases/{case_id}/sanction", {}, 409, "INVALID_STATE")


def test_claw_back_of_a_contract_with_nothing_left_is_409(http, world, holder):
    enterprise = holder[0]
    terminated = world.contract(state="terminated", holder=holder)
    case_id = _case(http, enterprise, [terminated])
    http.post("operator", f"/cases/{case_id}/sanction", {"clawback_contract_ids": [terminated]}, 409,
              "INVALID_STATE")


def test_clawed_back_contract_is_no_longer_claimable_over_http(http, world, holder):
    enterprise = holder[0]
    contract_id = world.contract(holder=holder)
    http.post("operator", f"/cases/{_case(http, enterprise, [contract_id])}/sanction",
              {"clawback_contract_ids": [contract_id]})
    batch_id = http.post("operator", "/settlements", {"year": YEAR, "name": "第一批"}, 201)["batch_id"]
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [contract_id], "documents": DOCS}, 422,
              "CONTRACT_NOT_COMPLETED")


@pytest.mark.parametrize("body, field", [
    ({"subject_type": "person", "subject_id": "{e}", "violation": "transfer"}, "subject_type"),
    ({"subject_type": "enterprise", "subject_id": "123", "violation": "transfer"}, "subject_id"),
    ({"subject_type": "enterprise", "subject_id": "{e}", "violation": "speeding"}, "violation"),
    ({"subject_type": "enterprise", "subject_id": "{e}", "violation": "transfer", "contract_ids": ["x"]},
     "contract_ids"),
    ({"subject_type": "enterprise", "subject_id": "{e}"}, "violation"),
])
def test_malformed_case_is_400(http, holder, body, field):
    body = {k: (v.format(e=holder[0]) if isinstance(v, str) else v) for k, v in body.items()}
    assert field in http.post("supervisor", "/cases", body, 400, "VALIDATION_ERROR")["error"]["details"]


@pytest.mark.parametrize("body, field", [
    ({"revoke_enterprise": "yes"}, "revoke_enterprise"),
    ({"terminate_provider": 1}, "terminate_provider"),
    ({"clawback_contract_ids": "all"}, "clawback_contract_ids"),
])
def test_malformed_sanction_is_400(http, holder, body, field):
    case_id = _case(http, holder[0], [])
    assert field in http.post("operator", f"/cases/{case_id}/sanction", body, 400,
                              "VALIDATION_ERROR")["error"]["details"]


def test_sanction_that_does_not_fit_the_subject_is_400(http, world, holder):
    case_id = _case(http, holder[0], [])
    http.post("operator", f"/cases/{case_id}/sanction", {"terminate_provider": True}, 400, "VALIDATION_ERROR")
    other = world.contract()
    http.post("supervisor", "/cases", {"subject_type": "enterprise", "subject_id": holder[0],
                                       "violation": "transfer", "contract_ids": [other]}, 400, "VALIDATION_ERROR")
