"""Speaking HTTP to the app as a role or a subject, checking the API's error body on every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import PROVIDER_DOCUMENTS, YEAR, Scenario, as_role, bearer

ENTERPRISE_BODY = {"name": "广西南宁精工机械有限公司", "employees": 300, "revenue": "50000000.00",
                   "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
                   "major_violation": False, "industry_aligned": True, "honours": ["tech_sme"]}
PROVIDER_BODY = {"name": "广西数智企业管理咨询有限公司", "registered_in_guangxi": True, "entity_type": "legal_person",
                 "fixed_premises": True, "years_operating": 5, "core_staff_insured": 12, "clients_last_year": 30,
                 "revenue_last_year": "5000000.00", "dishonest": False, "tax_compliant": True,
                 "accepts_supervision": True, "accepts_face_value_offset": True,
                 "documents": [{"name": "申请表.pdf", "sha256": "a" * 64, "size": 2048,
                                "uri": "https://docs.example.gov.cn/providers/application.pdf",
                                "kind": "application_form"}, *PROVIDER_DOCUMENTS[1:]]}
STAFF = ("approver", "finance", "operator", "supervisor", "auditor")


class Http:
    """`who` is a role ("operator"), a credit code (its enterprise or provider token), or None (no token)."""

    def __init__(self, client: Any, ledger: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.ledger = ledger
        self.tokens = dict(tokens)

    def subject(self, role: str, code: str) -> str:
        """A token for an enterprise or provider, bound to its credit code; the code then names it."""
        if code not in self.tokens:
            with as_role("system", name="test-cli"):
                self.tokens[code] = self.ledger.issue_credential(role, subject=code, name=f"{role}-{code[-4:]}").extra["token"]
        return code

    def request(self, method: str, who: str | None, path: str, body: Any = None, status: int = 200,
                code: str | None = None, headers: dict[str, str] | None = None, data: Any = None) -> dict[str, Any]:
        auth = bearer(self.tokens[who]) if who else {}
        kwargs: dict[str, Any] = {}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        elif body is not None:
            kwargs["json"] = body
        response = self.client.open(f"/api/v1{path}", method=method, headers={**auth, **(headers or {})}, **kwargs)
        return check(response, status, code)

    def post(self, who: str | None, path: str, body: Any = None, status: int = 201, code: str | None = None,
             **kwargs: Any) -> dict[str, Any]:
        return self.request("POST", who, path, body, status, code, **kwargs)

    def get(self, who: str | None, path: str, status: int = 200, code: str | None = None) -> dict[str, Any]:
        return self.request("GET", who, path, None, status, code)


def check(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The status, a JSON body always, and on a refusal the error body of API.md with its code."""
    assert response.mimetype == "application/json", (response.status_code, response.data[:200])
    body = response.get_json()
    assert response.status_code == status, body
    if status >= 400:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        assert isinstance(body["error"]["details"], dict)
        if code:
            assert body["error"]["code"] == code, body
    return body


@pytest.fixture
def http(client: Any, ledger: Any, tokens: dict[str, str]) -> Http:
    return Http(client, ledger, tokens)


class Slice:
    """Arrange state through the application, then speak to it over HTTP: quick arrangement, HTTP under test."""

    def __init__(self, scenario: Scenario, http: Http) -> None:
        self.scenario = scenario
        self.http = http

    def year(self, **params: Any) -> int:
        return self.scenario.open_year(**params)

    def holder(self, honours: tuple[str, ...] = ("tech_sme",)) -> tuple[str, str]:
        enterprise, voucher_id = self.scenario.holder(honours)
        self.http.subject("enterprise", enterprise)
        return enterprise, voucher_id

    def provider(self, signed_for: int | None = YEAR, **facts: Any) -> str:
        return self.http.subject("provider", self.scenario.provider(signed_for=signed_for, **facts))

    def product(self, provider: str, category: str = "diagnosis", listed_for: int | None = YEAR) -> str:
        return self.scenario.product(provider, category, listed_for=listed_for)

    def deal(self) -> dict[str, str]:
        enterprise, voucher_id = self.holder()
        provider = self.provider()
        return {"enterprise": enterprise, "voucher_id": voucher_id, "provider": provider,
                "diagnosis": self.product(provider, "diagnosis"),
                "consulting": self.product(provider, "management_consulting")}

    def propose(self, deal: dict[str, str], amount: str, product: str = "diagnosis", **extra: Any) -> dict[str, Any]:
        return self.http.post(deal["enterprise"], "/contracts", {
            "voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal[product],
            "amount": amount, **extra})


@pytest.fixture
def arrange(scenario: Scenario, http: Http) -> Slice:
    return Slice(scenario, http)
