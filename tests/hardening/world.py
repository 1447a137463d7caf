"""A populated ledger for the hardening tests, and requests generated from the route table.

The world holds two of each subject — the one a subject token owns ("own") and another one
("other") — a contract in each state, a token for every role, and, when their endpoints exist,
a settlement batch with a claim and a sanction case. Everything a generated request refers to
belongs to the *own* enterprise and provider, so the "other" tokens must always be refused.

Requests are generated from the Flask url_map and the OpenAPI document, so endpoints added later
are covered without touching this module: path arguments are resolved by the collection segment
before them (`/contracts/<x>` → a contract), bodies and query strings are built from the documented
schemas with the field-name hints below.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from ledger.money import yuan
from tests.support import YEAR, Scenario, bearer, issue_tokens

API_PREFIX = "/api/v1"
PUBLIC_RULES = {"/api/v1/openapi.json"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# The collection segment before a path argument names what the argument refers to.
SEGMENT_REFS = {
    "years": "year", "enterprises": "enterprise", "vouchers": "voucher", "providers": "provider",
    "products": "product", "contracts": "contract", "settlements": "batch", "batches": "batch",
    "claims": "claim", "cases": "case", "credentials": "credential", "credit-records": "subject",
    "objections": "contract", "webhooks": "webhook", "supervision-reports": "report", "findings": "finding",
}

# Body and query fields whose value must name something in the world (or be a sensible constant).
FIELD_HINTS: dict[str, Any] = {
    "year": "@year", "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31",
    "enterprise_id": "@enterprise", "provider_id": "@provider", "voucher_id": "@voucher",
    "product_id": "@product", "contract_id": "@contract", "batch_id": "@batch", "claim_id": "@claim",
    "case_id": "@case", "subject_id": "@enterprise", "subject_type": "enterprise",
    "contract_ids": ["@contract_completed"], "clawback_contract_ids": [], "claim_ids": ["@claim"],
    "kind": "general", "format": "jsonl",
}


def rule_key(method: str, rule: str) -> str:
    """`POST /api/v1/cases/{}/sanction`: the table key of a route, blind to argument names."""
    return f"{method} {re.sub(r'<[^<>]+>', '{}', rule)}"


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    key: str


def api_routes(flask_app: Any) -> list[Route]:
    """Every method of every rule under /api/v1 (HEAD and OPTIONS are Flask's own)."""
    routes = []
    for rule in flask_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        for method in sorted((rule.methods or set()) & set(METHODS)):
            routes.append(Route(method, rule.rule, rule_key(method, rule.rule)))
    return sorted(routes, key=lambda r: (r.rule, r.method))


@dataclass
class World:
    """Ids of the populated ledger and a token per principal."""

    app: Any
    flask_app: Any
    refs: dict[str, Any]
    tokens: dict[str, str]
    openapi: dict[str, Any] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.flask_app.test_client()

    def resolve(self, value: Any) -> Any:
        """Replace "@name" references (also inside lists and dicts) by the world's ids."""
        if isinstance(value, str) and value.startswith("@"):
            if self.refs.get(value[1:]) is None:
                raise LookupError(f"the world has no {value[1:]}")
            return self.refs[value[1:]]
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def headers(self, principal: str) -> dict[str, str]:
        if principal == "anonymous":
            return {}
        if principal == "unknown_token":
            return bearer("vl_" + "x" * 43)
        return bearer(self.tokens[principal])

    # -- generated requests ------------------------------------------------------------------

    def path_for(self, rule: str, overrides: dict[str, Any] | None = None) -> str:
        """The rule with each argument replaced by the world's id named by the segment before it."""
        overrides = overrides or {}
        parts = rule.split("/")
        out = []
        for i, part in enumerate(parts):
            match = re.fullmatch(r"<(?:[^:<>]+:)?([^<>]+)>", part)
            if not match:
                out.append(part)
                continue
            ref = SEGMENT_REFS.get(parts[i - 1]) if i else None
            if ref is None:
                raise LookupError(f"{rule}: no reference known for the argument after /{parts[i - 1]}/: "
                                  "add it to SEGMENT_REFS in tests/hardening/world.py")
            out.append(str(self.resolve(overrides.get(ref, f"@{ref}"))))
        return "/".join(out)

    def operation(self, method: str, rule: str) -> dict[str, Any]:
        path_item = self.openapi.get("paths", {}).get(openapi_path(rule), {})
        return {**path_item.get(method.lower(), {}), "_path_parameters": path_item.get("parameters", [])}

    def body_for(self, method: str, rule: str, overrides: dict[str, Any] | None = None) -> Any:
        """A body the endpoint's documented schema accepts, with hints and overrides applied."""
        operation = self.operation(method, rule)
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            return None
        body = example_for(self.openapi, content.get("schema", {}), name="")
        if isinstance(body, dict):
            body.update(overrides or {})
        return self.resolve(body)

    def query_for(self, method: str, rule: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        operation = self.operation(method, rule)
        query = {}
        for parameter in operation.get("parameters", []):
            parameter = deref(self.openapi, parameter)
            if parameter.get("in") == "query" and parameter.get("required"):
                query[parameter["name"]] = example_for(self.openapi, parameter.get("schema", {}), parameter["name"])
        query.update(overrides or {})
        return self.resolve(query)

    def request(self, principal: str, method: str, rule: str, *, path: dict | None = None, body: dict | None = None,
                query: dict | None = None, headers: dict | None = None) -> Any:
        url = self.path_for(rule, path)
        payload = self.body_for(method, rule, body)
        response = self.client.open(url, method=method, headers={**self.headers(principal), **(headers or {})},
                                    json=payload, query_string=self.query_for(method, rule, query))
        response.get_data()  # read streamed answers (the export) to the end inside this call
        return response

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def deref(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example_for(doc: dict[str, Any], schema: dict[str, Any], name: str) -> Any:
    """A value the schema accepts: the field-name hint if there is one, else the simplest valid value."""
    schema = deref(doc, schema)
    # A hint the field's own values refuse names something else ("kind" of a voucher, not of a document).
    if name in FIELD_HINTS and FIELD_HINTS[name] in schema.get("enum", [FIELD_HINTS[name]]):
        return FIELD_HINTS[name]
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema:
        return example_for(doc, schema["allOf"][0], name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {key: example_for(doc, sub, key) for key, sub in schema.get("properties", {}).items()
                if key in required or key in FIELD_HINTS}
    if kind == "array":
        if schema.get("minItems", 0) > 0:
            return [example_for(doc, schema.get("items", {}), "")]
        return []
    if kind == "boolean":
        return False
    if kind == "integer":
        low, high = schema.get("minimum", 1), schema.get("maximum", 10**9)
        return max(low, min(1, high))
    if kind == "number":
        return 1
    pattern = schema.get("pattern", "")
    if r"\.[0-9]{2}$" in pattern:
        return "100.00"
    if pattern.startswith("^(0|1)"):
        return "0.50"
    if schema.get("format") == "date":
        return f"{YEAR}-06-01"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date-time":
        return f"{YEAR}-06-01T00:00:00+08:00"
    if pattern.startswith("^[0-9a-f]{64}"):
        return "0" * 64
    if pattern.startswith("^(https?"):
        return "https://docs.example.org/hardening.pdf"
    return "硬化测试 hardening"


def build_world(app: Any, flask_app: Any) -> World:
    """Two enterprises and two providers, contracts in every state, tokens for every principal."""
    scenario = Scenario(app)
    scenario.open_year(budget_yuan=10_000_000)
    enterprise, voucher = scenario.holder(("little_giant",))  # T4: 300 000 yuan, room for many contracts
    other_enterprise, other_voucher = scenario.holder(("little_giant",))
    provider = scenario.provider()
    other_provider = scenario.provider()
    product = scenario.product(provider, category="management_consulting", price_yuan=20_000)
    other_product = scenario.product(other_provider, category="management_consulting", price_yuan=20_000)
    contracts = {
        state: scenario.contract(enterprise, voucher, provider, product, yuan(20_000), state=state)
        for state in ("proposed", "signed", "active", "completed", "terminated")
    }
    claimable = scenario.contract(enterprise, voucher, provider, product, yuan(20_000), state="completed")
    other_contract = scenario.contract(other_enterprise, other_voucher, other_provider, other_product, yuan(20_000),
                                       state="completed")
    tokens = issue_tokens(app, ("enterprise", enterprise), ("enterprise", other_enterprise),
                          ("provider", provider), ("provider", other_provider))
    tokens["enterprise"] = tokens.pop(enterprise)
    tokens["enterprise_other"] = tokens.pop(other_enterprise)
    tokens["provider"] = tokens.pop(provider)
    tokens["provider_other"] = tokens.pop(other_provider)
    refs: dict[str, Any] = {
        "year": YEAR, "enterprise": enterprise, "other_enterprise": other_enterprise, "voucher": voucher,
        "other_voucher": other_voucher, "provider": provider, "other_provider": other_provider,
        "product": product, "other_product": other_product, "contract": contracts["signed"],
        "other_contract": other_contract, "claimable_contract": claimable,
        **{f"contract_{state}": cid for state, cid in contracts.items()},
        "batch": None, "claim": None, "case": None, "credential": str(uuid.uuid4()), "subject": enterprise,
        "webhook": None, "report": None, "finding": 0,
    }
    world = World(app=app, flask_app=flask_app, refs=refs, tokens=tokens)
    world.openapi = world.client.get("/api/v1/openapi.json").get_json()
    _settlement_and_case(world)
    return world


def _created_id(response: Any, *names: str) -> str | None:
    body = response.get_json(silent=True) or {}
    for name in names:
        if body.get(name):
            return str(body[name])
    return None


def _settlement_and_case(world: World) -> None:
    """A batch with a claim and a filed case, through the API, when those endpoints exist."""
    rules = {r.key for r in api_routes(world.flask_app)}
    if "POST /api/v1/settlements" in rules:
        response = world.request("operator", "POST", "/api/v1/settlements")
        world.refs["batch"] = _created_id(response, "batch_id", "id")
        assert world.refs["batch"], f"could not open a settlement batch: {response.status_code} {response.get_json()}"
        if "POST /api/v1/settlements/{}/claims" in rules:
            response = world.request("provider", "POST", "/api/v1/settlements/<batch_id>/claims",
                                     body={"contract_ids": ["@claimable_contract"]})
            world.refs["claim"] = _created_id(response, "claim_id", "id")
            assert world.refs["claim"], f"could not file a claim: {response.status_code} {response.get_json()}"
    if "POST /api/v1/webhooks" in rules:
        response = world.request("operator", "POST", "/api/v1/webhooks", body={
            "url": "https://treasury.example.gov.cn/hook", "secret": "s3cret-of-the-treasury-0123456789"})
        world.refs["webhook"] = _created_id(response, "id")
        assert world.refs["webhook"], f"could not subscribe a webhook: {response.status_code} {response.get_json()}"
    if "POST /api/v1/archive/supervision-reports" in rules:
        response = world.request("supervisor", "POST", "/api/v1/archive/supervision-reports", body={
            "year": YEAR, "title": "季度监理报告", "findings": [{
                "subject_type": "provider", "subject_id": "@provider", "severity": "major", "text": "服务记录不全"}]})
        world.refs["report"] = _created_id(response, "report_id")
        assert world.refs["report"], f"could not file a report: {response.status_code} {response.get_json()}"
    if "POST /api/v1/cases" in rules:
        response = world.request("operator", "POST", "/api/v1/cases")
        world.refs["case"] = _created_id(response, "case_id", "id")
        assert world.refs["case"], f"could not file a case: {response.status_code} {response.get_json()}"


def principals() -> Iterator[str]:
    yield from ("anonymous", "unknown_token", "approver", "finance", "operator", "supervisor", "auditor",
                "enterprise", "enterprise_other", "provider", "provider_other")
