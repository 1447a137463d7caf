"""The OpenAPI document (issue 20): valid for a maintained validator, an operationId on every operation
derived from its endpoint, the Idempotency-Key header on every POST, each operation's error responses
with their codes (the 409/422 codes API.md lists per endpoint among them), and the headers the API sends:
X-Ledger-Views-Lag on a command's 2xx, Retry-After on a 503."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from ledger import errors
from tests.api.support_http import Http, http  # noqa: F401 - the fixture
from tests.support import YEAR, year_ended
from web.errors import STATUS_BY_CODE
from web.openapi import ERROR_CODES

METHODS = ("get", "post", "put", "patch", "delete")


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS}


def codes_at(operation: dict[str, Any], status: int) -> list[str]:
    return operation["responses"].get(str(status), {}).get("x-error-codes", [])


def test_the_document_is_valid_openapi(client):
    validate(client.get("/api/v1/openapi.json").get_json())  # raises on any violation of OpenAPI 3.0


def test_every_operation_has_an_operation_id_from_its_endpoint(client, flask_app):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = operations(document)
    ids = [operation.get("operationId") for operation in documented.values()]
    assert None not in ids and len(ids) == len(set(ids))
    # Derived, not written by hand: every API route of the app, whoever added it, has `<blueprint>_<view>`.
    for rule in flask_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint.startswith("api-docs"):
            continue
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in (rule.methods or set()) & {m.upper() for m in METHODS}:
            assert documented[(method.lower(), path)]["operationId"] == rule.endpoint.replace(".", "_")


def test_every_post_declares_the_idempotency_key_and_its_reuse(client):
    for (method, path), operation in operations(client.get("/api/v1/openapi.json").get_json()).items():
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if method == "post":
            assert headers["Idempotency-Key"]["required"] is False, path
            assert "IDEMPOTENCY_KEY_REUSED" in codes_at(operation, 422), path
            assert "PAYLOAD_TOO_LARGE" in codes_at(operation, 413), path
        else:
            assert "Idempotency-Key" not in headers, path


def test_every_operation_declares_its_error_responses_and_codes(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for (method, path), operation in operations(document).items():
        assert codes_at(operation, 400) == ["VALIDATION_ERROR"], path
        assert codes_at(operation, 401) == ["UNAUTHENTICATED"], path
        assert codes_at(operation, 403) == ["FORBIDDEN"], path
        assert codes_at(operation, 404) == (["NOT_FOUND"] if "{" in path else []), path
        assert codes_at(operation, 503) == ["SERVICE_UNAVAILABLE"], path
        assert "Retry-After" in operation["responses"]["503"]["headers"], path
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                examples = response["content"]["application/json"]["examples"]
                assert set(examples) == set(response["x-error-codes"]), (path, status)
                for code, example in examples.items():
                    assert example["value"]["error"]["code"] == code
            if status.startswith("2") and method != "get":
                assert "X-Ledger-Views-Lag" in response["headers"], (path, status)
    # The codes API.md lists for an endpoint, each under its status.
    by_id = {operation["operationId"]: operation for operation in operations(document).values()}
    signature = by_id["contracts_sign_contract"]
    assert {"VOUCHER_EXHAUSTED", "SUBSIDY_ABOVE_SHARE", "PROVIDER_NOT_SIGNED", "PRODUCT_NOT_LISTED",
            "PROVIDER_CAP_EXCEEDED", "HOLDER_REVOKED", "YEAR_CLOSED", "YEAR_NOT_STARTED", "YEAR_ENDED",
            "SUBSIDY_ZERO"} <= set(codes_at(signature, 422))
    assert codes_at(by_id["enterprises_issue_voucher"], 409) == ["ALREADY_ISSUED"]
    assert {"NOT_ELIGIBLE", "BUDGET_EXHAUSTED", "HOLDER_REVOKED"} <= set(codes_at(by_id["enterprises_issue_voucher"], 422))
    assert codes_at(by_id["years_open_year"], 409) == ["ALREADY_EXISTS"]
    assert codes_at(by_id["settlements_claim_settlement"], 409) == ["ALREADY_CLAIMED", "INVALID_STATE"]
    assert "NOTICE_PENDING" in codes_at(by_id["settlements_pay_settlement"], 422)


def test_the_declared_codes_are_codes_the_ledger_has():
    known = {cls.code for cls in errors.error_classes()}
    for endpoint, codes in ERROR_CODES.items():
        assert set(codes) <= known, endpoint


def test_a_refusal_is_answered_with_a_status_and_code_the_document_declares(http: Http, client, scenario, ledger):
    # The close before the year has ended (Art. 18) and a second close: both as documented for the operation.
    scenario.open_year()
    document = client.get("/api/v1/openapi.json").get_json()
    close = document["paths"]["/api/v1/years/{year}/close"]["post"]
    refused = http.post("operator", f"/years/{YEAR}/close", status=422, code="YEAR_NOT_ENDED")
    assert refused["error"]["code"] in codes_at(close, STATUS_BY_CODE.get("YEAR_NOT_ENDED", 422))
    year_ended(ledger)
    http.post("operator", f"/years/{YEAR}/close", status=200)
    again = http.post("operator", f"/years/{YEAR}/close", status=409, code="INVALID_STATE")
    assert again["error"]["code"] in codes_at(close, 409)
