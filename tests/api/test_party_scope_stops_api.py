"""HTTP: the stops' decisions keep to each party's own data (API.md "Data each party may see"; issues 14, 15).

The batch of `test_party_scope_api` again, but with the stops at work in it: an objection disputes one
of P2's contracts, P2 is terminated (its other claimed contract is held back), the dispute is
dismissed and paid by a second payment, and another contract fails acceptance. Every one of those
decisions names contracts and amounts of P2 and E2; E1 and P1 share the batch and must see none of them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.money import yuan
from tests.api.support_http import Http, http  # noqa: F401 - the fixture
from tests.audit_support import DOCS, two_parties
from tests.support import YEAR, Scenario, as_role


@pytest.fixture
def world(scenario: Scenario, ledger: Any, views: Any, http: Http) -> dict[str, Any]:  # noqa: F811
    ids = two_parties(scenario)
    voucher_1, voucher_2 = ids["voucher_1"], ids["voucher_2"]
    product_1, product_2 = ids["product_1"], ids["product_2"]
    ids["c1"] = scenario.contract(ids["e1"], voucher_1, ids["p1"], product_1, yuan(100_000), state="completed")
    ids["c2"] = scenario.contract(ids["e2"], voucher_2, ids["p2"], product_2, yuan(70_000), state="completed")
    ids["c4"] = scenario.contract(ids["e2"], voucher_2, ids["p2"], product_2, yuan(60_000), state="completed")
    ids["c5"] = scenario.contract(ids["e2"], voucher_2, ids["p2"], product_2, yuan(50_000), state="completed")
    ids["c6"] = scenario.contract(ids["e2"], voucher_2, ids["p1"], product_1, yuan(40_000), state="completed")
    with as_role("operator"):
        ids["batch"] = ledger.open_settlement(YEAR, "共享批次").data["batch_id"]
    with as_role("provider", ids["p1"]):
        ids["claim1"] = ledger.claim_settlement(ids["batch"], [ids["c1"]], DOCS).data["claim_id"]
        ids["claim3"] = ledger.claim_settlement(ids["batch"], [ids["c6"]], DOCS).data["claim_id"]
    with as_role("provider", ids["p2"]):
        ids["claim2"] = ledger.claim_settlement(ids["batch"], [ids["c2"], ids["c4"]], DOCS).data["claim_id"]
    with as_role("operator", name="centre-li"):
        ledger.review_claim(ids["batch"], ids["claim1"], "approve", "")
        ledger.review_claim(ids["batch"], ids["claim2"], "approve", "")
        ledger.review_claim(ids["batch"], ids["claim3"], "approve", "")
        ledger.record_acceptance(ids["c5"], "failed", "抽查验收不通过", [])
    with as_role("approver", name="diit-zhao"):
        ledger.approve_settlement(ids["batch"], "同意")
    with as_role("operator", name="centre-wang"):
        ledger.record_settlement_notice(ids["batch"], "objection", "公示期内有异议", contract_ids=[ids["c2"], ids["c6"]])
    with as_role("approver", name="diit-sun"):
        ledger.terminate_provider(ids["p2"], "虚假申报 (Art. 15)")
    with as_role("finance", name="finance-qian"):
        ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕9号")
    with as_role("approver", name="diit-zhao"):
        ledger.resolve_objection(ids["batch"], ids["c6"], "dismissed", "异议不成立")
    with as_role("finance", name="finance-qian"):
        ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕10号")
    views.catch_up()
    for kind, key in (("enterprise", "e1"), ("enterprise", "e2"), ("provider", "p1"), ("provider", "p2")):
        http.subject(kind, ids[key])
    return ids


# P1 contracts with E2 too (c6), so E2 is P1's counterpart there, never another party to hide from it.
OTHERS = {"e1": ("e2", "p2", "c2", "c4", "c5", "c6", "claim2"), "p1": ("p2", "c2", "c4", "c5", "claim2")}


@pytest.mark.parametrize("who", ["e1", "p1"])
def test_the_stops_decisions_leave_out_the_other_parties(world, http, who):
    whole = json.dumps(http.get("auditor", f"/trace/settlements/{world['batch']}"), ensure_ascii=False)
    assert world["c2"] in whole and world["c4"] in whole  # there to be left out
    batch = http.get("auditor", f"/settlements/{world['batch']}")
    assert batch["status"] == "paid" and batch["paid"] == "112000.00"  # c1 and c6 at 80% (diagnosis), in two payments; c2 and c4 held
    kind = "enterprises" if who.startswith("e") else "providers"
    urls = [f"/trace/{kind}/{world[who]}?year={YEAR}", f"/trace/contracts/{world['c1']}"]
    if who.startswith("p"):  # a batch view is the providers' (an enterprise reads its contracts)
        urls.append(f"/settlements/{world['batch']}")
    for url in urls:
        text = json.dumps(http.get(world[who], url), ensure_ascii=False)
        leaked = [key for key in OTHERS[who] if world[key] in text]
        assert leaked == [], (url, leaked)


@pytest.mark.parametrize("who", ["e1", "p1"])
def test_a_partys_statement_redacts_the_stops_of_others(world, http, client, who):
    response = client.get("/api/v1/export", headers={"Authorization": f"Bearer {http.tokens[world[who]]}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert [key for key in OTHERS[who] if world[key] in text] == []
    redacted = [json.loads(line) for line in text.splitlines() if '"redacted"' in line and "manifest" not in line]
    assert redacted  # the others' holds, objections and payments are there, as digests only
