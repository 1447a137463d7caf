"""Settlement over HTTP (API.md "Settlement"): the whole path, and each refusal with its status and code."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.money import yuan
from tests.application.test_settlement import World
from tests.support import YEAR, as_role, bearer, issue_tokens

DOCS = [{"name": "结算申请表.pdf", "sha256": "b" * 64, "size": 1024, "uri": "https://docs.example.gov.cn/s/1.pdf"}]


class Http:
    """A client that speaks as a named token and checks the error body's shape on every refusal."""

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def post(self, who: str, path: str, body: Any = None, status: int = 200, code: str | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        auth = bearer(self.tokens[who]) if who else {}
        kwargs = {"json": body} if body is not None else {}
        response = self.client.post(f"/api/v1{path}", headers={**auth, **(headers or {})}, **kwargs)
        return self._check(response, status, code)

    def get(self, who: str, path: str, status: int = 200, code: str | None = None) -> dict[str, Any]:
        response = self.client.get(f"/api/v1{path}", headers=bearer(self.tokens[who]) if who else {})
        return self._check(response, status, code)

    @staticmethod
    def _check(response: Any, status: int, code: str | None) -> dict[str, Any]:
        assert response.status_code == status, response.get_json()
        body = response.get_json()
        if status >= 400:
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
            if code:
                assert body["error"]["code"] == code, body
        return body


@pytest.fixture
def world(scenario: Any) -> World:
    return World(scenario)


@pytest.fixture
def http(client: Any, ledger: Any, world: World) -> Http:
    tokens = issue_tokens(ledger, ("provider", world.provider))
    tokens["provider"] = tokens[world.provider]
    return Http(client, tokens)


def _batch(http: Http, name: str = "第一批兑付", year: int = YEAR) -> str:
    body = http.post("operator", "/settlements", {"year": year, "name": name}, 201)
    assert body["status"] == "open" and isinstance(body["position"], int)
    return body["batch_id"]


def _approved(http: Http, world: World, contracts: list[str]) -> tuple[str, str]:
    batch_id = _batch(http)
    claim_id = http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": contracts, "documents": DOCS},
                         201)["claim_id"]
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "approve", "note": ""})
    http.post("approver", f"/settlements/{batch_id}/approval")
    return batch_id, claim_id


def test_settlement_path_over_http(http, world):
    first, second = world.contract(), world.contract()
    batch_id = _batch(http)
    claimed = http.post("provider", f"/settlements/{batch_id}/claims",
                        {"contract_ids": [first, second], "documents": DOCS}, 201)
    assert claimed["amount"] == "80000.00" and claimed["status"] == "pending"
    claim_id = claimed["claim_id"]
    reviewed = http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review",
                         {"decision": "approve", "note": "材料齐全"})
    assert reviewed["status"] == "approved"
    assert http.post("approver", f"/settlements/{batch_id}/approval", {"note": "审定"})["status"] == "approved"
    noticed = http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "no_objection", "note": "无异议"})
    assert noticed["status"] == "noticed" and noticed["amount"] == "80000.00"
    plan = http.get("auditor", f"/settlements/{batch_id}/plan")
    assert plan["amount"] == "80000.00" and plan["providers"][0]["provider_id"] == world.provider
    paid = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "桂财工兑〔2026〕1号"})
    assert (paid["status"], paid["amount"], paid["reference"]) == ("paid", "80000.00", "桂财工兑〔2026〕1号")
    # Read-your-writes: the batch, the contracts, the year and the provider reflect the payment.
    batch = http.get("supervisor", f"/settlements/{batch_id}")
    assert batch["status"] == "paid" and batch["paid"] == "80000.00"
    assert batch["totals"]["paid"] == {"claims": 1, "contracts": 2, "amount": "80000.00"}
    assert batch["claims"][0]["documents"] == DOCS
    assert http.get("auditor", f"/contracts/{first}")["settled"] is True
    assert http.get("finance", f"/years/{YEAR}")["settled"] == "80000.00"
    totals = http.get("provider", f"/providers/{world.provider}/totals?year={YEAR}")
    assert (totals["settled"], totals["receivable"]) == ("80000.00", "0.00")
    listed = http.get("approver", f"/settlements?year={YEAR}")["batches"]
    assert [(b["batch_id"], b["paid"]) for b in listed] == [(batch_id, "80000.00")]


def test_without_a_token_it_is_401(http, world):
    http.post("", "/settlements", {"year": YEAR, "name": "x"}, 401, "UNAUTHENTICATED")
    batch_id = _batch(http)
    http.get("", f"/settlements/{batch_id}", 401, "UNAUTHENTICATED")


def test_wrong_role_or_owner_is_403(http, world, scenario, ledger):
    http.post("provider", "/settlements", {"year": YEAR, "name": "x"}, 403, "FORBIDDEN")
    batch_id = _batch(http)
    rival = scenario.provider(signed_for=YEAR)
    enterprise, voucher = holder = world.holder()
    contract_id = world.contract(holder=holder)
    more = issue_tokens(ledger, ("provider", rival), ("enterprise", enterprise))
    http.tokens.update(rival=more[rival], enterprise=more[enterprise])
    http.post("rival", f"/settlements/{batch_id}/claims", {"contract_ids": [contract_id], "documents": DOCS}, 403,
              "FORBIDDEN")
    http.post("operator", f"/settlements/{batch_id}/claims", {"contract_ids": [contract_id], "documents": DOCS}, 403)
    http.get("enterprise", f"/settlements/{batch_id}", 403, "FORBIDDEN")
    http.post("approver", f"/settlements/{batch_id}/payment", {"reference": "x"}, 403, "FORBIDDEN")


def test_provider_sees_only_its_own_claims(http, world, scenario, ledger):
    rival = scenario.provider(signed_for=YEAR)
    rival_product = scenario.product(rival, "diagnosis", 50_000)
    http.tokens["rival"] = issue_tokens(ledger, ("provider", rival))[rival]
    batch_id = _batch(http)
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [world.contract()], "documents": DOCS},
              201)
    http.post("rival", f"/settlements/{batch_id}/claims",
              {"contract_ids": [world.contract(provider=rival, product=rival_product)], "documents": DOCS}, 201)
    assert [c["provider_id"] for c in http.get("provider", f"/settlements/{batch_id}")["claims"]] == [world.provider]
    assert len(http.get("auditor", f"/settlements/{batch_id}")["claims"]) == 2


def test_a_batchs_claims_are_read_a_page_at_a_time_with_totals_over_every_claim(http, world, scenario, ledger):
    """Issue 19: a year's batch pays thousands of contracts; its page of claims carries only those claims'
    contracts, while totals, claimed and payable stay the whole batch's (and a provider's, its own)."""
    rival = scenario.provider(signed_for=YEAR)
    rival_product = scenario.product(rival, "diagnosis", 50_000)
    http.tokens["rival"] = issue_tokens(ledger, ("provider", rival))[rival]
    batch_id = _batch(http)
    for _ in range(2):
        http.post("provider", f"/settlements/{batch_id}/claims",
                  {"contract_ids": [world.contract(), world.contract()], "documents": DOCS}, 201)
    http.post("rival", f"/settlements/{batch_id}/claims",
              {"contract_ids": [world.contract(provider=rival, product=rival_product)], "documents": DOCS}, 201)
    for who, count in (("auditor", 3), ("provider", 2)):
        whole = http.get(who, f"/settlements/{batch_id}")
        assert whole["claims_total"] == len(whole["claims"]) == count
        pages = [http.get(who, f"/settlements/{batch_id}?claims_limit=2&claims_offset={offset}")
                 for offset in range(0, count, 2)]
        assert [c for page in pages for c in page["claims"]] == whole["claims"], who
        for page in pages:
            assert {k: v for k, v in page.items() if k != "claims"} == {k: v for k, v in whole.items() if k != "claims"}
    for bad in ("claims_limit=0", "claims_limit=501", "claims_offset=-1"):
        http.get("auditor", f"/settlements/{batch_id}?{bad}", 400)


def test_unknown_batch_or_claim_is_404(http, world):
    missing = "00000000-0000-0000-0000-000000000000"
    http.get("auditor", f"/settlements/{missing}", 404, "NOT_FOUND")
    http.get("auditor", "/settlements/not-a-uuid", 404, "NOT_FOUND")
    http.post("provider", f"/settlements/{missing}/claims", {"contract_ids": [world.contract()], "documents": DOCS},
              404, "NOT_FOUND")
    batch_id = _batch(http)
    http.post("operator", f"/settlements/{batch_id}/claims/{missing}/review", {"decision": "approve"}, 404, "NOT_FOUND")
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [missing], "documents": DOCS}, 404)
    http.post("operator", "/settlements", {"year": 2099, "name": "x"}, 404, "NOT_FOUND")


def test_claimed_twice_is_409_and_review_twice_is_409(http, world):
    contract_id = world.contract()
    batch_id, claim_id = _approved(http, world, [contract_id])
    other = _batch(http, "第二批")
    body = http.post("provider", f"/settlements/{other}/claims", {"contract_ids": [contract_id], "documents": DOCS},
                     409, "ALREADY_CLAIMED")
    assert body["error"]["details"]["batch_id"] == batch_id
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "reject"}, 409,
              "INVALID_STATE")


def test_rule_refusals_are_422_with_their_codes(http, world, scenario):
    active = world.contract(state="active")
    batch_id = _batch(http)
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [active], "documents": DOCS}, 422,
              "CONTRACT_NOT_COMPLETED")
    http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [world.contract()], "documents": DOCS},
              201)
    http.post("approver", f"/settlements/{batch_id}/approval", None, 422, "CLAIMS_PENDING")
    http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "x"}, 422, "NOTICE_PENDING")
    scenario.open_year(YEAR + 1)
    next_year = _batch(http, "明年第一批", YEAR + 1)
    http.post("provider", f"/settlements/{next_year}/claims", {"contract_ids": [world.contract()], "documents": DOCS},
              422, "YEAR_MISMATCH")


def test_segregation_of_duties_is_422_and_names_the_rule(http, world, ledger):
    # Zhang holds an operator seat and an approver seat: he reviews, so he may not approve.
    with as_role("system", name="test-cli"):
        http.tokens["zhang-operator"] = ledger.issue_credential("operator", name="zhang").extra["token"]
        http.tokens["zhang-approver"] = ledger.issue_credential("approver", name="zhang").extra["token"]
    batch_id = _batch(http)
    claim_id = http.post("provider", f"/settlements/{batch_id}/claims",
                         {"contract_ids": [world.contract()], "documents": DOCS}, 201)["claim_id"]
    http.post("zhang-operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "approve"})
    body = http.post("zhang-approver", f"/settlements/{batch_id}/approval", None, 422, "SEGREGATION_OF_DUTIES")
    assert "segregation of duties" in body["error"]["details"]["rule"]
    assert body["error"]["details"]["conflicts"] == ["reviewed"]
    http.post("approver", f"/settlements/{batch_id}/approval")


def test_provider_cap_refusal_is_422(http, scenario, ledger, clock):
    clock.today = date(YEAR + 1, 6, 1)
    capped = World(scenario, year=YEAR + 1, provider_cap=yuan(40_000))
    http.tokens["capped"] = issue_tokens(ledger, ("provider", capped.provider))[capped.provider]
    first = capped.contract()
    batch_id = _batch(http, "第一批", YEAR + 1)
    claim_id = http.post("capped", f"/settlements/{batch_id}/claims", {"contract_ids": [first], "documents": DOCS},
                         201)["claim_id"]
    http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "approve"})
    # The first ¥40,000 fills the ¥40,000 cap exactly and is paid.
    http.post("approver", f"/settlements/{batch_id}/approval")
    http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "no_objection"})
    http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"})
    # The contract is clawed back after payment, a second one fills the freed live cap: its
    # settlement would make ¥80,000 settled against a ¥40,000 cap.
    enterprise = ledger.get_contract(first).enterprise_id
    case_id = http.post("supervisor", "/cases", {"subject_type": "enterprise", "subject_id": enterprise,
                                                 "violation": "fake_transaction", "contract_ids": [first]},
                        201)["case_id"]
    http.post("operator", f"/cases/{case_id}/sanction", {"clawback_contract_ids": [first]})
    second = capped.contract()
    later = _batch(http, "第二批", YEAR + 1)
    claim_id = http.post("capped", f"/settlements/{later}/claims", {"contract_ids": [second], "documents": DOCS},
                         201)["claim_id"]
    http.post("operator", f"/settlements/{later}/claims/{claim_id}/review", {"decision": "approve"})
    http.post("approver", f"/settlements/{later}/approval", None, 422, "PROVIDER_CAP_EXCEEDED")


@pytest.mark.parametrize("path, body, field", [
    ("/settlements", {"year": "2026", "name": "x"}, "year"),
    ("/settlements", {"year": YEAR}, "name"),
    ("/settlements", {"year": YEAR, "name": ""}, "name"),
    ("/settlements/{batch}/claims", {"contract_ids": ["nope"], "documents": DOCS}, "contract_ids"),
    ("/settlements/{batch}/claims", {"contract_ids": []}, "contract_ids"),
    ("/settlements/{batch}/claims", {"contract_ids": ["00000000-0000-0000-0000-000000000000"], "documents": []},
     "documents"),
    ("/settlements/{batch}/claims", {"contract_ids": ["00000000-0000-0000-0000-000000000000"],
                                     "documents": [{"name": "x", "sha256": "short", "size": 1, "uri": "ftp://x"}]},
     "documents"),
    ("/settlements/{batch}/notice", {"outcome": "maybe"}, "outcome"),
    ("/settlements/{batch}/payment", {}, "reference"),
    ("/settlements/{batch}/payment", {"reference": 12}, "reference"),
])
def test_malformed_bodies_are_400(http, world, path, body, field):
    batch_id = _batch(http)
    who = {"claims": "provider", "notice": "operator", "payment": "finance"}.get(path.rsplit("/", 1)[-1], "operator")
    response = http.post(who, path.format(batch=batch_id), body, 400, "VALIDATION_ERROR")
    assert field in response["error"]["details"]


def test_objection_without_disputed_claims_is_400_and_with_them_holds_back_only_those(http, world, scenario, ledger):
    kept, disputed = world.contract(), world.contract()
    batch_id = _batch(http)
    claims = [http.post("provider", f"/settlements/{batch_id}/claims", {"contract_ids": [c], "documents": DOCS},
                        201)["claim_id"] for c in (kept, disputed)]
    for claim_id in claims:
        http.post("operator", f"/settlements/{batch_id}/claims/{claim_id}/review", {"decision": "approve"})
    http.post("approver", f"/settlements/{batch_id}/approval")
    http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "objection"}, 400, "VALIDATION_ERROR")
    noticed = http.post("operator", f"/settlements/{batch_id}/notice",
                        {"outcome": "objection", "note": "举报", "claim_ids": [claims[1]]})
    assert noticed["held_back_claim_ids"] == [claims[1]] and noticed["amount"] == "40000.00"
    paid = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"})
    assert paid["amount"] == "40000.00"
    statuses = {c["claim_id"]: c["status"] for c in http.get("auditor", f"/settlements/{batch_id}")["claims"]}
    # The disputed claim waits in the batch, approved, its dispute open (DOMAIN.md "Stops" 6).
    assert statuses == {claims[0]: "paid", claims[1]: "approved"}
    disputes = {c["claim_id"]: c["dispute"] for c in http.get("auditor", f"/settlements/{batch_id}")["claims"]}
    assert disputes == {claims[0]: None, claims[1]: "open"}


def test_repeated_payment_with_its_idempotency_key_is_answered_once(http, world):
    batch_id, _ = _approved(http, world, [world.contract()])
    http.post("operator", f"/settlements/{batch_id}/notice", {"outcome": "no_objection"})
    key = {"Idempotency-Key": "pay-batch-1"}
    first = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"}, headers=key)
    again = http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"}, headers=key)
    assert again == first
    http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "other"}, 422, "IDEMPOTENCY_KEY_REUSED",
              headers=key)
    http.post("finance", f"/settlements/{batch_id}/payment", {"reference": "r"}, 409, "INVALID_STATE")
