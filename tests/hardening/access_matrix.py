"""Who may call what: the expectation table of the access-control matrix, from API.md.

One entry per route (`METHOD /api/v1/path/{}/...`, argument names left out). `allowed` names the
roles that may call it; `enterprise` and `provider` mean "for its own subject" — the same token
bound to another credit code is refused. An entry may list variants when the body decides the role
(review stages). A route under /api/v1 with no entry here fails the matrix test: add new endpoints
to this table as API.md describes them.

Entries for endpoints that do not exist yet are kept, so the table reads as the whole contract;
the matrix test reports them instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

APPROVER, FINANCE, OPERATOR = "approver", "finance", "operator"
SUPERVISOR, AUDITOR = "supervisor", "auditor"
ENTERPRISE, PROVIDER = "enterprise", "provider"
STAFF = frozenset({APPROVER, FINANCE, OPERATOR})
READERS = STAFF | {SUPERVISOR, AUDITOR}  # API.md: "queries are open to staff, supervisor and auditor"
ROLES = (APPROVER, FINANCE, OPERATOR, SUPERVISOR, AUDITOR, ENTERPRISE, PROVIDER)


@dataclass(frozen=True)
class Expect:
    """The roles allowed on a route (subject roles: for their own), with request overrides."""

    allowed: frozenset[str]
    unowned: frozenset[str] = frozenset()  # subject roles allowed on any subject (the answer is scoped)
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    path: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def E(*roles: Any, unowned: tuple[str, ...] = (), body: dict | None = None, query: dict | None = None,
      path: dict | None = None, label: str = "") -> Expect:
    allowed: set[str] = set()
    for role in roles:
        allowed |= {role} if isinstance(role, str) else set(role)
    unknown = (allowed | set(unowned)) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return Expect(frozenset(allowed | set(unowned)), frozenset(unowned), body or {}, query or {}, path or {}, label)


EXPECTATIONS: dict[str, list[Expect]] = {
    # Years — approver opens, finance funds, operator closes
    "POST /api/v1/years": [E(APPROVER)],
    "POST /api/v1/years/{}/budget": [E(FINANCE)],
    "GET /api/v1/years/{}": [E(READERS)],
    "GET /api/v1/years": [E(READERS)],
    "GET /api/v1/years/{}/monthly": [E(READERS)],
    "POST /api/v1/years/{}/close": [E(OPERATOR)],
    "GET /api/v1/years/{}/close-preview": [E(READERS)],
    # Enterprises and vouchers
    "POST /api/v1/enterprises": [E(OPERATOR, ENTERPRISE, body={"id": "@enterprise"})],
    "GET /api/v1/enterprises/{}/balance": [E(READERS, ENTERPRISE)],
    "POST /api/v1/vouchers": [E(OPERATOR)],
    # Special vouchers (API.md "Special vouchers"): the approver sets the programme, the operator designates
    "PUT /api/v1/years/{}/special-programme": [E(APPROVER, body={
        "quotas": {"key_project": "500000.00"}, "categories": ["diagnosis"], "provider_cap": None, "reference": "专项方案"})],
    "POST /api/v1/enterprises/{}/designations": [E(OPERATOR, body={
        "designation": "key_project", "reference": "认定名单"})],
    "GET /api/v1/vouchers/{}": [E(READERS, ENTERPRISE)],
    "GET /api/v1/vouchers/{}/subsidy-preview": [E(READERS, ENTERPRISE, query={"product_id": "@product", "amount": "1000.00"})],
    "GET /api/v1/enterprises": [E(READERS)],  # search by code or name
    "GET /api/v1/enterprises/{}": [E(READERS, ENTERPRISE)],
    "POST /api/v1/enterprises/{}/verification": [E(OPERATOR, body={"honours": ["little_giant"]})],
    "POST /api/v1/enterprises/{}/amendments": [E(OPERATOR, body={"changes": {"name": "更正后的名称"}})],
    # Providers and products; review stages decide the role (API.md: compliance operator, initial
    # approver, expert operator, approval approver, notice operator)
    "POST /api/v1/providers": [E(OPERATOR, PROVIDER, body={"id": "@provider"})],
    "GET /api/v1/providers/{}": [E(READERS, PROVIDER)],
    "POST /api/v1/providers/{}/reviews": [
        E(OPERATOR, body={"stage": "compliance"}, label="compliance"),
        E(APPROVER, body={"stage": "initial"}, label="initial"),
        E(OPERATOR, body={"stage": "expert"}, label="expert"),
        E(APPROVER, body={"stage": "approval"}, label="approval"),
        E(OPERATOR, body={"stage": "notice"}, label="notice"),
    ],
    "POST /api/v1/providers/{}/termination": [E(APPROVER)],
    "POST /api/v1/providers/{}/amendments": [E(OPERATOR, PROVIDER, body={"changes": {"name": "更正后的名称"}})],  # "operator; the provider for its own"
    "POST /api/v1/providers/{}/cap-exceptions": [E(APPROVER)],
    "GET /api/v1/providers/{}/totals": [E(READERS, PROVIDER)],
    "GET /api/v1/providers": [E(READERS)],  # search by code or name
    "GET /api/v1/providers/{}/contracts": [E(READERS, PROVIDER)],
    "POST /api/v1/products": [E(PROVIDER)],
    "GET /api/v1/products/{}": [E(READERS, PROVIDER)],
    "POST /api/v1/products/{}/reviews": [
        E(OPERATOR, body={"stage": "expert"}, label="expert"),
        E(APPROVER, body={"stage": "approval"}, label="approval"),
        E(OPERATOR, body={"stage": "notice"}, label="notice"),
    ],
    # Contracts
    "POST /api/v1/contracts": [E(ENTERPRISE)],
    "POST /api/v1/contracts/{}/signature": [E(PROVIDER, path={"contract": "@contract_proposed"})],
    "POST /api/v1/contracts/{}/deposit": [E(ENTERPRISE, path={"contract": "@contract_signed"})],
    "POST /api/v1/contracts/{}/completion": [E(ENTERPRISE, path={"contract": "@contract_active"})],
    "POST /api/v1/contracts/{}/termination": [E(OPERATOR, ENTERPRISE, PROVIDER)],  # "operator, or either party"
    "GET /api/v1/contracts/{}": [E(READERS, ENTERPRISE, PROVIDER)],
    "GET /api/v1/contracts": [E(READERS)],  # a year's contracts
    # Stops (API.md "Stops and gates"): acceptance by the operator or the supervisor, holds released by the approver
    "POST /api/v1/contracts/{}/acceptance": [E(OPERATOR, SUPERVISOR, path={"contract": "@contract_completed"})],
    "POST /api/v1/contracts/{}/hold-release": [E(APPROVER)],
    # Settlement
    "POST /api/v1/settlements": [E(OPERATOR)],
    "POST /api/v1/settlements/{}/claims": [E(PROVIDER, body={"contract_ids": ["@contract_completed"]})],
    "POST /api/v1/settlements/{}/claims/{}/review": [E(OPERATOR)],
    "POST /api/v1/settlements/{}/approval": [E(APPROVER)],
    "POST /api/v1/settlements/{}/notice": [E(OPERATOR)],
    "POST /api/v1/settlements/{}/payment": [E(FINANCE)],
    "POST /api/v1/settlements/{}/objections/{}/resolution": [E(APPROVER)],
    # A provider sees any batch, with its own claims only.
    "GET /api/v1/settlements/{}": [E(READERS, unowned=(PROVIDER,))],
    "GET /api/v1/settlements": [E(READERS)],
    "GET /api/v1/settlements/{}/plan": [E(READERS)],
    # Sanctions: the supervisor may file a case, never change fund state otherwise
    "POST /api/v1/cases": [E(OPERATOR, SUPERVISOR)],
    "POST /api/v1/cases/{}/sanction": [E(OPERATOR)],
    "GET /api/v1/cases": [E(READERS)],
    "GET /api/v1/cases/{}": [E(READERS)],  # a case under way is not shown to its subject
    "GET /api/v1/credit-records/{}": [
        E(READERS, ENTERPRISE, path={"subject": "@enterprise"}, label="enterprise"),
        E(READERS, PROVIDER, path={"subject": "@provider"}, label="provider"),
    ],
    "POST /api/v1/providers/{}/recoveries": [E(FINANCE)],  # a receivable repaid after a clawback
    # Audit and supervision
    "GET /api/v1/trace/contracts/{}": [E(READERS, ENTERPRISE, PROVIDER)],
    "GET /api/v1/trace/enterprises/{}": [E(READERS, ENTERPRISE)],
    "GET /api/v1/trace/providers/{}": [E(READERS, PROVIDER)],
    "GET /api/v1/trace/settlements/{}": [E(READERS)],
    # An enterprise or provider gets its own statement (资金凭证): every position, others' lines redacted.
    "GET /api/v1/export": [E(SUPERVISOR, AUDITOR, unowned=(ENTERPRISE, PROVIDER))],
    "GET /api/v1/audit/head": [E(SUPERVISOR, AUDITOR)],
    "GET /api/v1/audit/verify": [E(AUDITOR)],
    # Who am I: any valid token.
    "GET /api/v1/me": [E(READERS, unowned=(ENTERPRISE, PROVIDER))],
    # Following the ledger: the feed (and the machine role `integration`, tests/api/test_feed_api.py); webhooks.
    "GET /api/v1/events": [E(SUPERVISOR, AUDITOR)],
    "POST /api/v1/webhooks": [E(OPERATOR, body={"url": "https://treasury.example.gov.cn/hook",
                                                "secret": "s3cret-of-the-treasury-0123456789"})],
    "GET /api/v1/webhooks": [E(READERS)],
    "GET /api/v1/webhooks/{}/deliveries": [E(READERS)],
    # The console does the work (issue 19): a provider's products, workbooks, the year-end warning, notices.
    "GET /api/v1/providers/{}/products": [E(READERS, PROVIDER)],
    "GET /api/v1/workbooks/vouchers": [E(READERS)],
    "GET /api/v1/workbooks/contracts": [E(READERS)],
    "GET /api/v1/workbooks/provider-totals": [E(READERS)],
    "GET /api/v1/workbooks/settlements/{}": [E(READERS)],
    "GET /api/v1/workbooks/year-end": [E(READERS)],
    "GET /api/v1/year-end": [E(READERS)],
    "GET /api/v1/notices/providers": [E(READERS)],
    "GET /api/v1/notices/products": [E(READERS)],
    "GET /api/v1/notices/settlements/{}": [E(READERS)],
    # Service archive, catalogue and evaluation (API.md "Service archive"): the operator keeps the archive, the
    # supervisor adds spot checks and reports (not fund state), each subject commits for itself; the catalogue
    # is for every role; the evaluation for DIIT, Finance and oversight.
    "POST /api/v1/archive/surveys": [E(OPERATOR, body={"contract_id": "@contract_completed"})],
    "POST /api/v1/archive/spot-checks": [E(OPERATOR, SUPERVISOR)],
    "POST /api/v1/archive/commitments": [E(ENTERPRISE, PROVIDER, unowned=(ENTERPRISE, PROVIDER))],
    "POST /api/v1/archive/supervision-reports": [E(SUPERVISOR)],
    "GET /api/v1/archive/supervision-reports/{}": [E(READERS)],
    "POST /api/v1/archive/supervision-reports/{}/findings/{}/case": [E(OPERATOR)],
    "GET /api/v1/archive/enterprises/{}": [E(READERS, ENTERPRISE)],
    "GET /api/v1/archive/providers/{}": [E(READERS, PROVIDER)],
    "GET /api/v1/providers/{}/grade": [E(READERS, PROVIDER)],
    "GET /api/v1/catalogue": [E(READERS, unowned=(ENTERPRISE, PROVIDER))],
    "GET /api/v1/years/{}/evaluation": [E(APPROVER, FINANCE, SUPERVISOR, AUDITOR)],
}

# The commands the supervisor may give (API.md "Sanctions": cases are filed by operator or supervisor;
# "Stops and gates": the acceptance check, 验收, is recorded by the operator or the supervisor, Art. 21).
# The service archive's spot checks and reports are the supervisor's own records (Art. 21, 22).
SUPERVISOR_COMMANDS = frozenset({"POST /api/v1/cases", "POST /api/v1/contracts/{}/acceptance",
                                 "POST /api/v1/archive/spot-checks", "POST /api/v1/archive/supervision-reports"})
