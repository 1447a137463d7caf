"""HTTP: the stops' decisions keep to each party's own data (API.md "Data each party may see"; issues 14, 15).

The batch of `test_party_scope_api` again, but with the stops at work in it: an objection disputes one
of P2's contracts, P2 is terminated (its other claimed contract is held back), the dispute is
dismissed and paid by a second payment, and another contract fails acceptance. Every one of those
decisions names contracts and amounts of P2 and E2; E1 and P1 share the batch and must see none of them.

Then the stops that the payment itself finds: a batch paid in chunks is frozen, so a party stopped while
it is `paying` keeps its contracts in their claims, and the Paid event's `held_back` names them, with their
claims and amounts; each party sees its own entries only. Last, another enterprise's contracts leaving a
claim that E1 shares (held back, withdrawn, an objection upheld) are no step of E1's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.money import yuan
from tests.api.support_http import Http, http  # noqa: F401 - the fixture
from tests.audit_support import DOCS, shared_batch, two_parties
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


# --- contracts held back by the payment itself ----------------------------------------------------------

class ProcessDied(Exception):
    """The payment's process stopped in its first chunk, after PaymentStarted was saved."""


@pytest.fixture
def held_in_payment(scenario: Scenario, ledger: Any, views: Any, http: Http,  # noqa: F811
                    monkeypatch: Any) -> dict[str, Any]:
    """A batch paid in chunks whose process died in the first chunk; E2 is revoked while it is `paying`
    (the batch is frozen, so its contracts stay in their claims), and the payment, finished with its own
    reference, holds them back itself: its Paid event's `held_back` names E2's c3 (in P1's claim, beside
    E1's c1) and c2 (P2's claim), with their claims and amounts."""
    ids = shared_batch(scenario, ledger)
    monkeypatch.setattr(ledger, "payment_chunk", 1)

    def died(*_: Any) -> None:
        raise ProcessDied

    with monkeypatch.context() as patched, as_role("finance", name="finance-qian"):
        patched.setattr(ledger, "_pay_chunk", died)
        with pytest.raises(ProcessDied):
            ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕9号")
    assert ledger.get_batch(ids["batch"]).status == "paying"
    with as_role("supervisor", name="supervisor-zhou"):
        case_id = ledger.file_case("enterprise", ids["e2"], "fake_transaction", [], "监理发现").data["case_id"]
    with as_role("operator", name="centre-sun"):
        ledger.sanction_case(case_id, [], revoke_enterprise=True, note="依第二十五条处理")
    with as_role("finance", name="finance-qian"):
        paid = ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕9号")
    assert set(paid.data["held_back"]) == {ids["c2"], ids["c3"]}  # E2's contracts, held while the batch was paying
    views.catch_up()
    for kind, key in (("enterprise", "e1"), ("enterprise", "e2"), ("provider", "p1"), ("provider", "p2")):
        http.subject(kind, ids[key])
    return ids


# What the payment held back that is not theirs: E2's contracts in P1's claim (c3) and in P2's (c2).
HELD_OTHERS = {"e1": ("e2", "p2", "c2", "c3", "claim2"), "p1": ("p2", "c2", "claim2")}
# Each party's own held-back contracts, which its Paid step keeps (P1 is c3's provider, E2 both's enterprise).
HELD_OWN = {"e1": (), "p1": ("c3",), "e2": ("c2", "c3"), "p2": ("c2",)}


def _paid_step(trace: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in trace["steps"] if s["type"] == "SettlementBatch.Paid")


@pytest.mark.parametrize("who", ["e1", "p1"])
def test_a_payments_held_back_contracts_of_another_party_are_left_out(held_in_payment, http, client, who):
    world = held_in_payment
    whole = http.get("auditor", f"/trace/settlements/{world['batch']}")
    assert set(_paid_step(whole)["data"]["held_back"]) == {world["c2"], world["c3"]}  # there to be left out
    kind = "enterprises" if who.startswith("e") else "providers"
    urls = [f"/trace/{kind}/{world[who]}?year={YEAR}", f"/trace/contracts/{world['c1']}"]
    if who.startswith("p"):
        urls.append(f"/settlements/{world['batch']}")
    for url in urls:
        seen = http.get(world[who], url)
        text = json.dumps(seen, ensure_ascii=False)
        leaked = [key for key in HELD_OTHERS[who] if world[key] in text]
        assert leaked == [], (url, leaked)
        if url.startswith("/trace/"):
            paid = _paid_step(seen)
            assert paid["scoped"] is True
            # A contract's trace shows the payment with that contract's lines only: c1 was paid, not held.
            own = {world[c] for c in HELD_OWN[who]} if url.startswith(f"/trace/{kind}/") else set()
            assert set(paid["data"]["held_back"]) == own, url
    response = client.get("/api/v1/export", headers={"Authorization": f"Bearer {http.tokens[world[who]]}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert [key for key in HELD_OTHERS[who] if world[key] in text] == []


@pytest.mark.parametrize("who", ["e2", "p2"])
def test_a_payments_held_back_contracts_of_the_party_itself_stay_in_its_trace(held_in_payment, http, who):
    world = held_in_payment
    kind = "enterprises" if who.startswith("e") else "providers"
    paid = _paid_step(http.get(world[who], f"/trace/{kind}/{world[who]}?year={YEAR}"))
    held = paid["data"]["held_back"]
    assert set(held) == {world[c] for c in HELD_OWN[who]}
    assert held[world["c2"]]["claim_id"] == world["claim2"] and held[world["c2"]]["status"] == "held"


# --- another enterprise's contract leaving a claim shared with the viewer's ----------------------------

@pytest.fixture
def shared_claim(scenario: Scenario, ledger: Any, views: Any, http: Http) -> dict[str, Any]:  # noqa: F811
    """P1 claims E1's c1 with three of E2's contracts in one claim; each of E2's leaves it by another stop:
    c8 fails acceptance (ContractHeldBack), c7 is clawed back by a case against E2 (ContractWithdrawn), and
    an objection to c3 is upheld (ObjectionResolved). Each of those steps names the claim E1 shares."""
    ids = two_parties(scenario)
    voucher_1, voucher_2, product_1 = ids["voucher_1"], ids["voucher_2"], ids["product_1"]
    ids["c1"] = scenario.contract(ids["e1"], voucher_1, ids["p1"], product_1, yuan(100_000), state="completed")
    for key in ("c3", "c7", "c8"):
        ids[key] = scenario.contract(ids["e2"], voucher_2, ids["p1"], product_1, yuan(20_000), state="completed")
    with as_role("operator"):
        ids["batch"] = ledger.open_settlement(YEAR, "共享批次").data["batch_id"]
    with as_role("provider", ids["p1"]):
        ids["claim1"] = ledger.claim_settlement(ids["batch"], [ids[c] for c in ("c1", "c3", "c7", "c8")],
                                                DOCS).data["claim_id"]
    with as_role("operator", name="centre-li"):
        ledger.review_claim(ids["batch"], ids["claim1"], "approve", "")
        ledger.record_acceptance(ids["c8"], "failed", "抽查验收不通过", [])
    with as_role("supervisor", name="supervisor-zhou"):
        filed = ledger.file_case("enterprise", ids["e2"], "fake_transaction", [ids["c7"]], "监理发现")
        ids["case"] = filed.data["case_id"]
    with as_role("operator", name="centre-sun"):
        ledger.sanction_case(ids["case"], [ids["c7"]], note="依第二十五条处理")
    with as_role("approver", name="diit-zhao"):
        ledger.approve_settlement(ids["batch"], "同意")
    with as_role("operator", name="centre-wang"):
        ledger.record_settlement_notice(ids["batch"], "objection", "公示期内有异议", contract_ids=[ids["c3"]])
    with as_role("approver", name="diit-sun"):
        ledger.resolve_objection(ids["batch"], ids["c3"], "upheld", "异议成立")
    with as_role("finance", name="finance-qian"):
        ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕9号")
    views.catch_up()
    for kind, key in (("enterprise", "e1"), ("provider", "p1")):
        http.subject(kind, ids[key])
    return ids


LEAVING = ("SettlementBatch.ContractHeldBack", "SettlementBatch.ContractWithdrawn", "SettlementBatch.ObjectionResolved")


def test_another_enterprises_contract_leaving_a_shared_claim_is_left_out(shared_claim, http, client):
    world = shared_claim
    whole = http.get("auditor", f"/trace/settlements/{world['batch']}")
    assert {s["type"] for s in whole["steps"]} >= set(LEAVING)  # there to be left out
    others = [world[key] for key in ("e2", "c3", "c7", "c8", "case")]
    for url in (f"/trace/enterprises/{world['e1']}?year={YEAR}", f"/trace/contracts/{world['c1']}"):
        seen = http.get(world["e1"], url)
        assert not [s for s in seen["steps"] if s["type"] in LEAVING], url
        text = json.dumps(seen, ensure_ascii=False)
        assert [other for other in others if other in text] == [], url
    response = client.get("/api/v1/export", headers={"Authorization": f"Bearer {http.tokens[world['e1']]}"})
    assert response.status_code == 200
    assert [other for other in others if other in response.get_data(as_text=True)] == []
    # P1 made the claim: every contract leaving it is its own, and it sees each step whole.
    mine = http.get(world["p1"], f"/trace/providers/{world['p1']}?year={YEAR}")
    assert {s["type"] for s in mine["steps"] if not s.get("scoped")} >= set(LEAVING)


def test_a_step_about_another_enterprises_contract_in_a_shared_claim_is_not_that_enterprises(shared_claim, http,
                                                                                            views):
    # The index files these steps under the contract's own parties, so E1's traces never meet them (above);
    # asked directly, the scoping rule leaves them out too, rather than showing E1 the other's contract.
    from projections.audit import scope, trace_queries

    world = shared_claim
    whole = http.get("auditor", f"/trace/settlements/{world['batch']}")
    leaving = [s for s in whole["steps"] if s["type"] in LEAVING]
    assert {s["data"]["claim_id"] for s in leaving} == {world["claim1"]}  # the claim E1 shares
    for who, kind in (("e1", "enterprise"), ("e2", "enterprise"), ("p1", "provider")):
        viewer = scope.Viewer(kind, world[who], lambda entity: trace_queries.stream_facts(views.store, entity))
        seen = [viewer.reduce(step) for step in leaving]
        assert (seen == [None] * len(leaving)) if who == "e1" else all(seen), who
