"""What the generated OpenAPI document says beyond the schemas: operationIds, headers, error responses.

flask-smorest writes each operation from its `@blp.arguments`/`@blp.response` decorators; this apispec
plugin completes every operation as it is registered, so an endpoint added later gets the same without
touching this module:
- `operationId`: the Flask endpoint, `<blueprint>_<view function>` (`years_close_year`), unique by
  construction (one rule per endpoint in flask-smorest);
- the `Idempotency-Key` request header on every POST (API.md "Idempotency");
- the `X-Ledger-Views-Lag` response header on a command's 2xx, and `Retry-After` on the 503;
- the error responses with their codes: 400/401/403 and 503 everywhere, 404 where the path names
  something, 413 and 422 `IDEMPOTENCY_KEY_REUSED` on POSTs, and the 409/422 codes API.md lists per
  endpoint (ERROR_CODES below, keyed by endpoint; codes map to statuses through web/errors.py's table).
"""

from __future__ import annotations

import functools
from typing import Any

from apispec import BasePlugin

from ledger.errors import error_classes
from web.errors import STATUS_BY_CODE

# The rule codes each endpoint may answer beyond the common ones (API.md, per endpoint; DOMAIN.md "Stops").
# Statuses come from web/errors.py (409 for state conflicts, 422 for rules). An endpoint not listed has
# only the common error responses.
ERROR_CODES: dict[str, tuple[str, ...]] = {
    "years.open_year": ("PARAMETER_ABOVE_CEILING", "YEAR_OUT_OF_RANGE", "ALREADY_EXISTS"),
    "years.allocate_budget": ("YEAR_CLOSED",),
    "years.close_year": ("YEAR_NOT_ENDED", "INVALID_STATE"),
    "enterprises.register_enterprise": ("ALREADY_EXISTS",),
    "enterprises.verify_enterprise": ("DOCUMENTS_MISSING",),
    "enterprises.issue_voucher": ("NOT_ELIGIBLE", "BUDGET_EXHAUSTED", "HOLDER_REVOKED", "YEAR_CLOSED",
                                  "ALREADY_ISSUED", "NOT_DESIGNATED", "NO_SPECIAL_PROGRAMME", "COMMITMENT_MISSING"),
    "providers.register_provider": ("ALREADY_EXISTS",),
    "providers.review_provider": ("STAGE_OUT_OF_ORDER", "NOT_ELIGIBLE", "PROVIDER_BANNED", "DOCUMENTS_MISSING",
                                  "COMMITMENT_MISSING"),
    "providers.terminate_provider": ("INVALID_STATE",),
    "providers.grant_cap_exception": ("YEAR_CLOSED",),
    "providers.review_product": ("STAGE_OUT_OF_ORDER", "PROVIDER_BANNED"),
    "contracts.propose_contract": ("PRICE_ABOVE_LIST", "RELATED_PARTY", "HOLDER_REVOKED", "PROVIDER_NOT_SIGNED",
                                   "PRODUCT_NOT_LISTED", "YEAR_CLOSED", "PARTY_TERMINATED"),
    "contracts.sign_contract": ("VOUCHER_EXHAUSTED", "SUBSIDY_ABOVE_SHARE", "PROVIDER_NOT_SIGNED",
                                "PRODUCT_NOT_LISTED", "PROVIDER_CAP_EXCEEDED", "HOLDER_REVOKED", "YEAR_CLOSED",
                                "YEAR_NOT_STARTED", "YEAR_ENDED", "SUBSIDY_ZERO", "PARTY_TERMINATED",
                                "INVALID_STATE", "CATEGORY_OUT_OF_SCOPE"),
    "contracts.pay_deposit": ("WRONG_AMOUNT", "YEAR_ENDED", "PARTY_TERMINATED", "INVALID_STATE"),
    "contracts.complete_contract": ("WRONG_AMOUNT", "YEAR_ENDED", "PARTY_TERMINATED", "INVALID_STATE"),
    "contracts.terminate_contract": ("INVALID_STATE",),
    "contracts.record_acceptance": ("ALREADY_SETTLED", "INVALID_STATE"),
    "contracts.release_hold": ("INVALID_STATE",),
    "settlements.open_settlement": ("BATCH_LIMIT", "INVALID_STATE"),
    "settlements.claim_settlement": ("CONTRACT_NOT_COMPLETED", "CONTRACT_HELD", "OBJECTION_UNRESOLVED",
                                     "YEAR_MISMATCH", "ALREADY_CLAIMED", "INVALID_STATE"),
    "settlements.review_claim": ("SEGREGATION_OF_DUTIES", "INVALID_STATE"),
    "settlements.approve_settlement": ("CLAIMS_PENDING", "CONTRACT_HELD", "SEGREGATION_OF_DUTIES", "INVALID_STATE"),
    "settlements.record_notice": ("INVALID_STATE",),
    "settlements.resolve_objection": ("INVALID_STATE",),
    "settlements.pay_settlement": ("NOTICE_PENDING", "CONTRACT_HELD", "OBJECTION_UNRESOLVED",
                                   "SEGREGATION_OF_DUTIES", "INVALID_STATE"),
    "cases.sanction_case": ("SEGREGATION_OF_DUTIES", "INVALID_STATE"),
    "cases.record_recovery": ("RECOVERY_ABOVE_RECEIVABLE",),
    # Special vouchers (API.md "Special vouchers") and the service archive (API.md "Service archive").
    "years.set_special_programme": ("INVALID_STATE",),
    "archive.record_survey": ("CONTRACT_NOT_COMPLETED", "ALREADY_EXISTS"),
    "archive.make_commitment": ("ALREADY_EXISTS",),
    "archive.refer_finding": ("ALREADY_EXISTS",),
    # What a proposal's signature would reserve (issue 19): refused as the signature would be.
    "enterprises.preview_subsidy": ("SUBSIDY_ABOVE_SHARE", "VOUCHER_EXHAUSTED", "PRODUCT_NOT_LISTED", "CATEGORY_OUT_OF_SCOPE",
                                    "SUBSIDY_ZERO"),
}

IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "repeating a POST with the same key and body returns the first response and changes nothing; "
                   "the same key with another body is a 422 IDEMPOTENCY_KEY_REUSED",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200}, "example": "pay-2026-batch-1-7f3a",
}
LAG_HEADER = {"X-Ledger-Views-Lag": {
    "description": "present when the read models are this many positions behind the command, which is committed "
                   "(the next query waits for them)", "schema": {"type": "integer", "minimum": 1}}}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before repeating the request",
                                      "schema": {"type": "integer", "minimum": 0}}}

# The common statuses, their meaning and the code their body carries (API.md "Conventions").
COMMON = {
    400: ("malformed JSON, a missing or invalid field, parameter or header", ("VALIDATION_ERROR",)),
    401: ("no token, or an unknown, expired or revoked one", ("UNAUTHENTICATED",)),
    403: ("the token's role may not do this, or its subject is not the owner", ("FORBIDDEN",)),
    404: ("an id in the path names nothing", ("NOT_FOUND",)),
    413: ("the body is larger than the API accepts", ("PAYLOAD_TOO_LARGE",)),
    503: ("the database is unreachable or the read models could not catch up in time; nothing was recorded",
          ("SERVICE_UNAVAILABLE",)),
}
REASONS = {409: "a duplicate or a state conflict", 422: "a rule of the measures refuses it"}


def operation_id(endpoint: str, method: str, methods: int) -> str:
    """`years.close_year` → `years_close_year` (the method appended only if one view serves several)."""
    base = endpoint.replace(".", "_")
    return base if methods == 1 else f"{base}_{method}"


@functools.cache  # every app build asks for each code's meaning several hundred times
def _when(code: str) -> str:
    """What a code means, from its error class's one-line "Raised when ..." docstring (ledger/errors.py)."""
    found = [cls for cls in error_classes() if cls.code == code and cls.__doc__]
    return found[0].__doc__.strip().splitlines()[0] if found else code


def _error(description: str, codes: tuple[str, ...]) -> dict[str, Any]:
    first = codes[0]
    return {
        "description": f"{description}: {', '.join(codes)}",
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "examples": {code: {"summary": _when(code),
                                "value": {"error": {"code": code, "message": _when(code).removeprefix("Raised when "),
                                                    "details": {}}}}
                         for code in codes},
        }},
        "x-error-codes": list(codes),
        **({"headers": RETRY_AFTER_HEADER} if first == "SERVICE_UNAVAILABLE" else {}),
    }


def error_responses(endpoint: str, method: str, has_path_ids: bool) -> dict[str, dict[str, Any]]:
    """The error responses of one operation, by status."""
    statuses: dict[int, tuple[str, ...]] = {400: COMMON[400][1], 401: COMMON[401][1], 403: COMMON[403][1]}
    if has_path_ids:
        statuses[404] = COMMON[404][1]
    if method == "post":
        statuses[413] = COMMON[413][1]
    for code in ERROR_CODES.get(endpoint, ()):
        status = STATUS_BY_CODE.get(code, 422)
        statuses[status] = (*statuses.get(status, ()), code)
    if method == "post":
        statuses[422] = (*statuses.get(422, ()), "IDEMPOTENCY_KEY_REUSED")
    statuses[503] = COMMON[503][1]
    return {str(status): _error(COMMON[status][0] if status in COMMON else REASONS[status], codes)
            for status, codes in sorted(statuses.items())}


class OperationsPlugin(BasePlugin):
    """Completes each operation flask-smorest registers (see the module's docstring)."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        methods = [m for m in operations if m in ("get", "post", "put", "patch", "delete")]
        for method in methods:
            operation = operations[method]
            operation.setdefault("operationId", operation_id(rule.endpoint, method, len(methods)))
            responses = operation.setdefault("responses", {})
            if method == "post":  # API.md: "any POST may carry Idempotency-Key"
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_HEADER))
            if method in ("post", "put", "patch", "delete"):  # a command: its 2xx may say the views lag
                for status, response in responses.items():
                    if str(status).startswith("2") and isinstance(response, dict) and "$ref" not in response:
                        response.setdefault("headers", {}).update(LAG_HEADER)
            for status, response in error_responses(rule.endpoint, method, bool(rule.arguments)).items():
                if status not in responses or "$ref" in responses[status]:  # flask-smorest's generic 400
                    responses[status] = response
