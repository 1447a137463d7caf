"""Stops over HTTP (API.md "Stops and gates"; DOMAIN.md "Stops" 1, 5, 6, 10): each scenario of issue 14
with the status and code it now gets, and the fund identities checked after each."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.api.test_settlement_api import DOCS, Http, _batch, http, world  # noqa: F401 - the fixtures
from tests.application.test_settlement import World
from tests.application.test_stops import identities_hold
from tests.support import YEAR, issue_tokens




def _holder(http: Http, ledger: Any, world: World) -> tuple[str, str]:
    enterprise, voucher_id = holder = world.holder()
    http.tokens[enterprise] = issue_tokens(ledger, ("enterprise", enterprise))[enterprise]
    return holder


def _claimed(http: Http, batch_id: str, contract_id: str, decision: str = "approve", **review: Any) -> str:
    claim_id = http.post("provider", f"/settlements/{batch_id}/claims",
                         {"contract_ids": [contract_id], "documents": DOCS}, 201)["claim_id"]
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review",
              {"decision": decision, "note": "材料核对", **review})
    return claim_id


def _sanction(http: Http, subject_type: str, subject_id: str, contract_ids: list[str], **what: Any) -> dict:
    case_id = http.post("supervisor", "/cases", {"subject_type": subject_type, "subject_id": subject_id,
                                                  "violation": "fake_transaction", "contract_ids": contract_ids,
                                                  "note": "虚假交易"}, 201)["case_id"]
    return http.post("operator", f"/cases/{case_id}/sanction",
                     {"clawback_contract_ids": contract_ids, "note": "处理", **what})


def test_terminated_providers_contracts_stop_over_http(http, world, ledger, views):
    enterprise, _ = holder = _holder(http, ledger, world)
    active = world.contract(state="active", holder=holder)
    proposed = world.contract(state="proposed", holder=holder)
    completed = world.contract(holder=holder)
    done = http.post("approver", f"/providers/{world.provider}/termination", {"reason": "提供虚假材料"})
    assert sorted(done["terminated_contracts"]) == sorted([active, proposed])  # proposed: from the read model
    assert done["held_contracts"] == [completed] and done["released"] == "40000.00"
    http.post(enterprise, f"/contracts/{active}/completion", {"balance_paid": "0.00"}, 422, "PARTY_TERMINATED")
    held = http.get("auditor", f"/contracts/{completed}")
    assert held["status"] == "held" and held["hold"]["since_position"] > 0 and held["hold"]["reason"]
    batch_id = _batch(http)
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [completed], "documents": DOCS},
              422, "CONTRACT_HELD")
    http.post("operator", f"/contracts/{completed}/hold-release", {"reason": "x"}, 403, "FORBIDDEN")
    http.post("approver", f"/contracts/{completed}/hold-release", {}, 400, "VALIDATION_ERROR")
    released = http.post("approver", f"/contracts/{completed}/hold-release",
                         {"reason": "服务已真实交付", "documents": DOCS})
    assert released["status"] == "completed" and released["hold"] is None
    assert http.get("auditor", f"/contracts/{completed}")["hold"] is None
    _claimed(http, batch_id, completed)
    identities_hold(ledger, views)


def test_revoked_enterprises_other_contract_is_not_paid_over_http(http, world, ledger, views):
    enterprise, _ = holder = _holder(http, ledger, world)
    named, other = world.contract(holder=holder), world.contract(holder=holder)
    bystander = world.contract()
    batch_id = _batch(http)
    _claimed(http, batch_id, other)
    _claimed(http, batch_id, bystander)
    http.post("approver", f"/settlements/{batch_id}/approval")
    http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "no_objection"})
    done = _sanction(http, "enterprise", enterprise, [named], revoke_enterprise=True)
    assert done["stopped"]["held_contracts"] == [other]
    paid = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "桂财工兑〔2026〕1号"})
    assert paid["amount"] == "40000.00" and paid["held_back"] == {}
    assert http.get("auditor", f"/contracts/{other}")["settled"] is False
    assert http.get("auditor", f"/contracts/{bystander}")["settled"] is True
    batch = http.get("auditor", f"/settlements/{batch_id}")
    assert batch["paid"] == "40000.00" and batch["totals"]["withdrawn"]["claims"] == 1
    trace = http.get("auditor", f"/trace/contracts/{other}")
    assert {"Contract.Held", "SettlementBatch.ContractHeldBack"} <= {s["type"] for s in trace["steps"]}
    identities_hold(ledger, views)


def test_acceptance_over_http(http, world, ledger, views):
    _, voucher_id = holder = _holder(http, ledger, world)
    failed, paid = world.contract(holder=holder), world.contract()
    body = {"result": "failed", "findings": "验收抽查不通过", "documents": DOCS}
    http.post("provider", f"/contracts/{failed}/acceptance", body, 403, "FORBIDDEN")
    http.post("supervisor", f"/contracts/{failed}/acceptance", {**body, "result": "maybe"}, 400, "VALIDATION_ERROR")
    assert http.post("supervisor", f"/contracts/{failed}/acceptance", {**body, "result": "passed"})["status"] == \
        "completed"
    assert http.post("operator", f"/contracts/{failed}/acceptance", body)["status"] == "failed_acceptance"
    balance = http.get("auditor", f"/years/{YEAR}")
    assert balance["used"] == "40000.00"  # only the other holder's contract
    batch_id = _batch(http)
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [failed], "documents": DOCS},
              422, "CONTRACT_NOT_COMPLETED")
    _claimed(http, batch_id, paid)
    http.post("approver", f"/settlements/{batch_id}/approval")
    http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "no_objection"})
    http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"})
    http.post("operator", f"/contracts/{paid}/acceptance", body, 409, "ALREADY_SETTLED")
    trace = http.get("auditor", f"/trace/contracts/{failed}")
    assert {"Contract.AcceptanceChecked", "Contract.AcceptanceFailed", "Voucher.UseReturned",
            "ProviderYear.UseReturned"} <= {s["type"] for s in trace["steps"]}
    identities_hold(ledger, views)


def test_claim_rejected_as_acceptance_failure_is_not_claimed_again_over_http(http, world, ledger, views):
    contract_id = world.contract()
    batch_id = _batch(http)
    claim_id = http.post("provider", f"/settlements/{batch_id}/claims",
                         {"contract_ids": [contract_id], "documents": DOCS}, 201)["claim_id"]
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "reject"},
              400, "VALIDATION_ERROR")
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review",
              {"decision": "reject", "reason": "nonsense"}, 400, "VALIDATION_ERROR")
    rejected = http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review",
                         {"decision": "reject", "reason": "acceptance_failed", "note": "验收抽查不通过"})
    assert rejected["status"] == "rejected" and rejected["reason"] == "acceptance_failed"
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [contract_id], "documents": DOCS},
              422, "CONTRACT_NOT_COMPLETED")
    assert http.get("auditor", f"/contracts/{contract_id}")["status"] == "failed_acceptance"
    assert http.get("auditor", f"/settlements/{batch_id}")["claims"][0]["reason"] == "acceptance_failed"
    identities_hold(ledger, views)


def test_objection_over_http(http, world, ledger, views):
    disputed, upheld, kept = world.contract(), world.contract(), world.contract()
    batch_id = _batch(http)
    for contract_id in (disputed, upheld, kept):
        _claimed(http, batch_id, contract_id)
    http.post("approver", f"/settlements/{batch_id}/approval")
    noticed = http.post("operator", f"/settlements/{batch_id}/notice",
                        {"outcome": "objection", "note": "公示期收到异议", "contract_ids": [disputed, upheld]})
    assert noticed["disputed_contract_ids"] == [disputed, upheld] and noticed["amount"] == "40000.00"
    batch = http.get("auditor", f"/settlements/{batch_id}")
    assert sorted(c["dispute"] or "" for c in batch["claims"]) == ["", "open", "open"]
    # The chain head taken at the notice: its own event's position (saved with the disputed contracts).
    assert 0 < batch["notice"]["position"] <= noticed["position"] and len(batch["notice"]["hash"]) == 64
    assert batch["payable"] == "40000.00"
    listed = {b["batch_id"]: b["payable"] for b in http.get("auditor", f"/settlements?year={YEAR}")["batches"]}
    assert listed[batch_id] == "40000.00"  # the disputed claims wait
    paid = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "桂财工兑〔2026〕1号"})
    assert paid["amount"] == "40000.00"
    second = _batch(http, name="第二批")
    http.post("provider", f"/settlements/{second}/claims", {"contract_ids": [disputed], "documents": DOCS},
              422, "OBJECTION_UNRESOLVED")
    path = f"/settlements/{batch_id}/objections"
    http.post("operator", f"{path}/{disputed}/resolution", {"decision": "dismissed", "note": "x"}, 403, "FORBIDDEN")
    http.post("approver", f"{path}/{disputed}/resolution", {"decision": "maybe", "note": "x"}, 400)
    http.post("approver", f"{path}/{kept}/resolution", {"decision": "upheld", "note": "x"}, 409, "INVALID_STATE")
    assert http.post("approver", f"{path}/{upheld}/resolution",
                     {"decision": "upheld", "note": "异议属实"})["contract_status"] == "failed_acceptance"
    assert http.post("approver", f"{path}/{disputed}/resolution",
                     {"decision": "dismissed", "note": "异议不成立"})["dispute"] == "dismissed"
    again = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "桂财工兑〔2026〕2号"})
    assert again["amount"] == "40000.00"
    assert http.get("auditor", f"/contracts/{disputed}")["settled"] is True
    assert http.get("auditor", f"/contracts/{upheld}")["status"] == "failed_acceptance"
    batch = http.get("auditor", f"/settlements/{batch_id}")
    assert batch["paid"] == "80000.00"
    assert sorted(c["dispute"] or "" for c in batch["claims"]) == ["", "dismissed", "upheld"]
    trace = http.get("auditor", f"/trace/contracts/{disputed}")
    assert {"Contract.Disputed", "SettlementBatch.ObjectionResolved", "Contract.DisputeResolved"} <= \
        {s["type"] for s in trace["steps"]}
    identities_hold(ledger, views)


def test_batches_per_year_over_http(http, world, ledger, views):
    for name in ("第一批", "第二批"):
        _batch(http, name=name)
    http.post("operator", "/settlements", {"year": YEAR, "name": "第三批"}, 422, "BATCH_LIMIT")
    opened = http.post("approver", "/years", {"year": YEAR + 1, "starts_on": f"{YEAR + 1}-01-01",
                                              "ends_on": f"{YEAR + 1}-12-31", "settlement_batches": 1}, 201)
    assert opened["settlement_batches"] == 1
    assert http.get("auditor", f"/years/{YEAR + 1}")["settlement_batches"] == 1
    assert http.get("auditor", f"/years/{YEAR}")["settlement_batches"] == 2
    http.post("approver", "/years", {"year": YEAR + 2, "starts_on": f"{YEAR + 2}-01-01",
                                     "ends_on": f"{YEAR + 2}-12-31", "settlement_batches": 3}, 400, "VALIDATION_ERROR")
    _batch(http, year=YEAR + 1)
    http.post("operator", "/settlements", {"year": YEAR + 1, "name": "第二批"}, 422, "BATCH_LIMIT")
    identities_hold(ledger, views)


def test_acceptance_after_the_window_expires_the_subsidy_over_http(http, world, ledger, views, clock):
    contract_id = world.contract()
    clock.today = date(YEAR + 1, 1, 5)
    http.post("operator", f"/contracts/{contract_id}/acceptance", {"result": "failed", "findings": "不通过"})
    year = http.get("auditor", f"/years/{YEAR}")
    assert (year["used"], year["expired"]) == ("0.00", "40000.00")
    identities_hold(ledger, views)
