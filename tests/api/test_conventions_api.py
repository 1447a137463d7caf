"""The API's conventions (API.md): Idempotency-Key, `position`, read-your-writes, errors, /healthz, OpenAPI."""

from __future__ import annotations

import pytest

from service.bootstrap import open_ledger
from service.demo import credit_code
from tests.api.support_http import ENTERPRISE_BODY, PROVIDER_BODY, arrange, check, http  # noqa: F401 - fixtures
from tests.support import YEAR, as_role, bearer, year_ended

CODE = credit_code(6161)


def head(ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def post_with_key(client, token, path, body, key):
    headers = {**bearer(token), "Idempotency-Key": key}
    return client.post(f"/api/v1{path}", json=body, headers=headers)


def test_idempotency_replay_returns_the_first_response_and_changes_nothing(http, client, ledger, arrange):
    arrange.year()
    token = http.tokens["operator"]
    assert post_with_key(client, token, "/enterprises", {**ENTERPRISE_BODY, "id": CODE}, "reg-1").status_code == 201
    first = post_with_key(client, token, "/vouchers", {"enterprise_id": CODE, "year": YEAR}, "issue-1")
    assert first.status_code == 201
    before = head(ledger)
    again = post_with_key(client, token, "/vouchers", {"year": YEAR, "enterprise_id": CODE}, "issue-1")  # same JSON
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.get_json()["position"] == first.get_json()["position"]
    assert head(ledger) == before
    assert http.get("auditor", f"/years/{YEAR}")["issued"] == "100000.00"


def test_idempotency_replay_of_a_200_command(http, client, ledger, arrange):
    arrange.year()
    deal = arrange.deal()
    proposed = arrange.propose(deal, "10000.00")
    path = f"/contracts/{proposed['contract_id']}/signature"
    first = client.post(f"/api/v1{path}", headers={**bearer(http.tokens[deal["provider"]]), "Idempotency-Key": "s"})
    before = head(ledger)
    again = client.post(f"/api/v1{path}", headers={**bearer(http.tokens[deal["provider"]]), "Idempotency-Key": "s"})
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() and head(ledger) == before
    # Without the key, a repeat is a new request, refused on the contract's state.
    check(client.post(f"/api/v1{path}", headers=bearer(http.tokens[deal["provider"]])), 409, "INVALID_STATE")


def test_idempotency_key_reused(http, client, ledger, arrange):
    arrange.year(budget_yuan=None)
    token = http.tokens["finance"]
    assert post_with_key(client, token, f"/years/{YEAR}/budget", {"amount": "100.00", "reference": "a"},
                         "k").status_code == 201
    before = head(ledger)
    reused = post_with_key(client, token, f"/years/{YEAR}/budget", {"amount": "200.00", "reference": "a"}, "k")
    body = check(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    assert body["error"]["details"] == {"key": "k"}
    # The same key on another path is another request too.
    check(post_with_key(client, token, "/years/2027/budget", {"amount": "100.00", "reference": "a"}, "k"), 422,
          "IDEMPOTENCY_KEY_REUSED")
    assert head(ledger) == before
    assert http.get("finance", f"/years/{YEAR}")["budget"] == "100.00"


def test_idempotency_keys_are_per_client(http, client, ledger, arrange):
    arrange.year(budget_yuan=None)
    with as_role("system"):
        second_clerk = ledger.issue_credential("finance", name="finance-2").extra["token"]
    body = {"amount": "100.00", "reference": "a"}
    assert post_with_key(client, http.tokens["finance"], f"/years/{YEAR}/budget", body, "k").status_code == 201
    assert post_with_key(client, second_clerk, f"/years/{YEAR}/budget", body, "k").status_code == 201
    assert http.get("finance", f"/years/{YEAR}")["budget"] == "200.00"


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_a_bad_idempotency_key_is_400(http, client, arrange, key):
    arrange.year(budget_yuan=None)
    check(post_with_key(client, http.tokens["finance"], f"/years/{YEAR}/budget",
                        {"amount": "1.00", "reference": "a"}, key), 400, "VALIDATION_ERROR")


def test_position_on_every_command_response_and_read_your_writes(http, ledger):
    # Each command answers the global position of its last event; a query sent after the answer sees it.
    positions = []

    def command(who, path, body=None, status=201):
        answer = http.post(who, path, body, status)
        assert isinstance(answer["position"], int) and answer["position"] == head(ledger)
        positions.append(answer["position"])
        return answer

    command("approver", "/years", {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31",
                                   "provider_cap": "500000.00"})
    assert http.get("auditor", f"/years/{YEAR}")["provider_cap"] == "500000.00"
    command("finance", f"/years/{YEAR}/budget", {"amount": "500000.00", "reference": "r"})
    assert http.get("auditor", f"/years/{YEAR}")["budget"] == "500000.00"
    command("operator", "/enterprises", {**ENTERPRISE_BODY, "id": CODE})
    voucher = command("operator", "/vouchers", {"enterprise_id": CODE, "year": YEAR})
    assert http.get("auditor", f"/vouchers/{voucher['voucher_id']}")["available"] == "100000.00"
    provider = http.subject("provider", credit_code(6162))
    command(provider, "/providers", {**PROVIDER_BODY, "id": provider})
    for stage, role in (("compliance", "operator"), ("initial", "approver"), ("expert", "operator"),
                        ("approval", "approver"), ("notice", "operator")):
        command(role, f"/providers/{provider}/reviews", {"year": YEAR, "stage": stage, "decision": "pass"})
    assert http.get("auditor", f"/providers/{provider}")["signed_years"] == [YEAR]
    command("approver", f"/providers/{provider}/cap-exceptions", {"year": YEAR, "amount": "1.00", "reason": "r"})
    product = command(provider, "/products", {"provider_id": provider, "name": "诊断", "category": "diagnosis",
                                              "price": "1000.00"})
    for stage, role in (("expert", "operator"), ("approval", "approver"), ("notice", "operator")):
        command(role, f"/products/{product['product_id']}/reviews", {"year": YEAR, "stage": stage, "decision": "pass"})
    assert http.get("auditor", f"/products/{product['product_id']}")["listed_years"] == [YEAR]
    enterprise = http.subject("enterprise", CODE)
    contract = command(enterprise, "/contracts", {"voucher_id": voucher["voucher_id"], "provider_id": provider,
                                                  "product_id": product["product_id"], "amount": "1000.00"})
    path = f"/contracts/{contract['contract_id']}"
    command(provider, f"{path}/signature", status=200)
    assert http.get(enterprise, path)["status"] == "signed"
    command(enterprise, f"{path}/deposit", {"amount": "200.00"}, 200)
    command(enterprise, f"{path}/completion", {"balance_paid": "0.00"}, 200)
    assert http.get(enterprise, f"/enterprises/{CODE}/balance?year={YEAR}")["used"] == "800.00"
    second = command(enterprise, "/contracts", {"voucher_id": voucher["voucher_id"], "provider_id": provider,
                                                "product_id": product["product_id"], "amount": "1000.00"})
    command(enterprise, f"/contracts/{second['contract_id']}/termination", {"reason": "r"}, 200)
    year_ended(http.ledger)
    command("operator", f"/years/{YEAR}/close", status=200)
    assert http.get("auditor", f"/years/{YEAR}")["status"] == "closed"
    other = credit_code(6163)
    command("operator", "/providers", {**PROVIDER_BODY, "id": other})
    command("approver", f"/providers/{other}/termination", {"reason": "r"}, 200)
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_reads_see_writes_made_by_another_process(http, ledger, arrange):
    # Events written outside this web process are caught up before a query answers.
    arrange.year()
    enterprise = arrange.scenario.enterprise()
    with as_role("operator"):
        voucher_id = ledger.issue_voucher(enterprise, YEAR).data["voucher_id"]
    assert http.get("auditor", f"/vouchers/{voucher_id}")["quota"] == "50000.00"


def test_a_command_acts_on_what_another_process_committed_before_it_arrived(http, ledger, arrange, clock):
    # The command's first attempt trusts the check of the log its authentication made once the request had
    # arrived (issue 21): a provider another server terminated since this one cached it is refused.
    arrange.year()
    deal = arrange.deal()
    arrange.propose(deal, "10000.00")  # this server now has the provider in its aggregate cache
    other = open_ledger(ledger.store, clock=clock)  # another server process on the same store
    try:
        with as_role("approver"):
            other.terminate_provider(deal["provider"], "terminated on the other server")
    finally:
        other.close()
    http.post(deal["enterprise"], "/contracts", {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"],
                                                 "product_id": deal["diagnosis"], "amount": "10000.00"},
              422, code="PARTY_TERMINATED")


def test_errors_are_json_never_html(http, client):
    check(client.get("/api/v1/no-such-thing", headers=bearer(http.tokens["auditor"])), 404, "NOT_FOUND")
    check(client.delete(f"/api/v1/years/{YEAR}", headers=bearer(http.tokens["approver"])), 405)
    response = client.post("/api/v1/years", data="x" * (2 * 1024 * 1024), content_type="application/json",
                           headers=bearer(http.tokens["approver"]))
    check(response, 413)


def test_healthz(client, backend):
    response = client.get("/healthz")
    body = check(response, 200)
    assert body["status"] == "ok" and body["store"] == backend
    assert isinstance(body["position"], int)


def test_openapi_lists_every_path(client):
    document = check(client.get("/api/v1/openapi.json"), 200)
    assert document["openapi"].startswith("3.")
    expected = {
        "/api/v1/years": {"post"}, "/api/v1/years/{year}": {"get"}, "/api/v1/years/{year}/budget": {"post"},
        "/api/v1/years/{year}/close": {"post"}, "/api/v1/enterprises": {"post"},
        "/api/v1/enterprises/{enterprise_id}/balance": {"get"}, "/api/v1/vouchers": {"post"},
        "/api/v1/vouchers/{voucher_id}": {"get"}, "/api/v1/providers": {"post"},
        "/api/v1/providers/{provider_id}": {"get"}, "/api/v1/providers/{provider_id}/reviews": {"post"},
        "/api/v1/providers/{provider_id}/termination": {"post"},
        "/api/v1/providers/{provider_id}/cap-exceptions": {"post"},
        "/api/v1/providers/{provider_id}/totals": {"get"}, "/api/v1/products": {"post"},
        "/api/v1/products/{product_id}": {"get"}, "/api/v1/products/{product_id}/reviews": {"post"},
        "/api/v1/contracts": {"post"}, "/api/v1/contracts/{contract_id}": {"get"},
        "/api/v1/contracts/{contract_id}/signature": {"post"}, "/api/v1/contracts/{contract_id}/deposit": {"post"},
        "/api/v1/contracts/{contract_id}/completion": {"post"},
        "/api/v1/contracts/{contract_id}/termination": {"post"},
    }
    for path, methods in expected.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), path
    # Generated from the schemas: money is a two-decimal string there too.
    schemas = document["components"]["schemas"]
    assert schemas["Budget"]["properties"]["amount"]["type"] == "string"
    assert "bearer" in document["components"]["securitySchemes"]
