"""Test helpers: act as a role, a settable clock, and a scenario builder in the words of DOMAIN.md."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

from ledger.application import VoucherLedger
from ledger.context import Actor, acting
from service.demo import credit_code
from ledger.money import yuan
from ledger.rules import PRODUCT_REVIEW_STAGES, PROVIDER_DOCUMENT_KINDS, PROVIDER_REVIEW_STAGES

YEAR = 2026
BUSINESS_DATE = f"{YEAR}-06-01"  # LEDGER_BUSINESS_DATE of the servers and CLIs the tests start


class Clock:
    """Today's date for the ledger, settable by a test (the years' windows depend on it)."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


def business_clock() -> Clock:
    """The clock of an in-process ledger beside servers started on BUSINESS_DATE."""
    return Clock(date.fromisoformat(BUSINESS_DATE))


@contextmanager
def as_role(role: str, subject: str | None = None, name: str | None = None) -> Iterator[Any]:
    with acting(Actor(role=role, id=name or f"{role}-{subject or 'staff'}", subject=subject)) as ctx:
        yield ctx


def issue_tokens(app: VoucherLedger, *subjects: tuple[str, str]) -> dict[str, str]:
    """Tokens for every staff and reader role, plus (role, credit code) subjects: key role or code."""
    tokens = {}
    with as_role("system", name="test-cli"):
        for role in ("approver", "finance", "operator", "supervisor", "auditor"):
            tokens[role] = app.issue_credential(role, name=f"{role}-1").extra["token"]
        for role, code in subjects:
            tokens[code] = app.issue_credential(role, subject=code, name=f"{role}-{code[-4:]}").extra["token"]
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ELIGIBLE_FACTS = dict(employees=300, revenue_fen=yuan(50_000_000), registered_in_guangxi=True, legal_person=True,
                      social_insurance=True, dishonest=False, major_violation=False, industry_aligned=True)
ELIGIBLE_PROVIDER = dict(registered_in_guangxi=True, entity_type="legal_person", fixed_premises=True,
                         years_operating=5, core_staff_insured=12, clients_last_year=30,
                         revenue_last_year_fen=yuan(5_000_000), dishonest=False, tax_compliant=True,
                         accepts_supervision=True, accepts_face_value_offset=True)


def document(kind: str, **extra: Any) -> dict[str, Any]:
    """A document reference of one kind (Art. 13), never the bytes."""
    return {"name": f"{kind}.pdf", "sha256": "a" * 64, "size": 2048, "uri": f"https://docs.example.gov.cn/{kind}.pdf",
            "kind": kind, **extra}


PROVIDER_DOCUMENTS = [document(kind) for kind in PROVIDER_DOCUMENT_KINDS]  # the materials of Art. 13


class Scenario:
    """Arrange a year, enterprises, providers, products and contracts through the application."""

    def __init__(self, app: VoucherLedger) -> None:
        self.app = app
        self._serial = 1000

    def next_code(self) -> str:
        self._serial += 1
        return credit_code(self._serial)

    def open_year(self, year: int = YEAR, budget_yuan: int | None = 10_000_000, **params: Any) -> int:
        with as_role("approver"):
            self.app.open_year(year, f"{year}-01-01", f"{year}-12-31", **params)
        if budget_yuan:
            with as_role("finance"):
                self.app.allocate_budget(year, yuan(budget_yuan), f"budget-{year}")
        return year

    def enterprise(self, honours: tuple[str, ...] = (), **facts: Any) -> str:
        code = facts.pop("code", None) or self.next_code()
        with as_role("operator"):
            self.app.register_enterprise(code, f"企业{code[-6:]}", honours=list(honours), **{**ELIGIBLE_FACTS, **facts})
        return code

    def voucher(self, enterprise: str, year: int = YEAR) -> str:
        with as_role("operator"):
            return self.app.issue_voucher(enterprise, year).data["voucher_id"]

    def holder(self, honours: tuple[str, ...] = ("tech_sme",), year: int = YEAR) -> tuple[str, str]:
        """An eligible enterprise with its general voucher for the year (T2 by default)."""
        code = self.enterprise(honours)
        return code, self.voucher(code, year)

    def provider(self, signed_for: int | None = YEAR, **facts: Any) -> str:
        code = facts.pop("code", None) or self.next_code()
        documents = facts.pop("documents", PROVIDER_DOCUMENTS)
        with as_role("provider", code):
            self.app.register_provider(code, f"机构{code[-6:]}", documents=documents, **{**ELIGIBLE_PROVIDER, **facts})
        if signed_for is not None:
            self.sign_provider(code, signed_for)
        return code

    def sign_provider(self, code: str, year: int = YEAR) -> None:
        for stage, role in PROVIDER_REVIEW_STAGES:
            with as_role(role):
                self.app.review_provider(code, year, stage, "pass", "")

    def product(self, provider: str, category: str = "diagnosis", price_yuan: int = 1_000_000,
                listed_for: int | None = YEAR) -> str:
        with as_role("provider", provider):
            product_id = self.app.submit_product(provider, f"产品-{category}", category, yuan(price_yuan), "").data["product_id"]
        if listed_for is not None:
            for stage, role in PRODUCT_REVIEW_STAGES:
                with as_role(role):
                    self.app.review_product(product_id, listed_for, stage, "pass", "")
        return product_id

    def propose(self, enterprise: str, voucher_id: str, provider: str, product_id: str, amount_fen: int,
                subsidy_fen: int | None = None) -> str:
        with as_role("enterprise", enterprise):
            return self.app.propose_contract(voucher_id, provider, product_id, amount_fen, subsidy_fen).data["contract_id"]

    def sign(self, provider: str, contract_id: str) -> dict[str, Any]:
        with as_role("provider", provider):
            return self.app.sign_contract(contract_id).data

    def contract(self, enterprise: str, voucher_id: str, provider: str, product_id: str, amount_fen: int,
                 state: str = "signed") -> str:
        """A contract brought to `state`: proposed, signed, active, completed or terminated."""
        contract_id = self.propose(enterprise, voucher_id, provider, product_id, amount_fen)
        if state == "proposed":
            return contract_id
        signed = self.sign(provider, contract_id)
        if state == "terminated":
            with as_role("enterprise", enterprise):
                self.app.terminate_contract(contract_id, "cannot be completed")
            return contract_id
        if state == "signed":
            return contract_id
        with as_role("enterprise", enterprise):
            self.app.pay_deposit(contract_id, signed["deposit"])
            if state == "completed":
                self.app.complete_contract(contract_id, signed["balance_due"])
        return contract_id


def year_ended(app: VoucherLedger, year: int = YEAR) -> None:
    """The business date moves to the day after the year's window, so the close may run (Art. 18)."""
    app.clock.today = max(app.clock.today, date(year + 1, 1, 1))


def revoke_holder(app: VoucherLedger, code: str, note: str = "test: eligibility revoked (Art. 25)") -> None:
    """Revoke an enterprise's eligibility through the application's own aggregate and save.

    Sanctions (issue 4) bring the real command; until then the operator records the revocation
    directly, so tests can create the HOLDER_REVOKED state.
    """
    with as_role("operator"):
        enterprise = app.get_enterprise(code)
        enterprise.revoke(case_id="test-case", violation="fake_transaction", note=note)
        app.save(enterprise)


# Special vouchers (issue 17): the year's programme, designations and special vouchers.
SPECIAL_QUOTAS = {"key_project": yuan(500_000), "lead_enterprise": yuan(300_000)}
SPECIAL_CATEGORIES = ["diagnosis", "digital_transformation", "tech_innovation"]


def set_special_programme(app: VoucherLedger, year: int = YEAR, quotas: dict[str, int] | None = None,
                          categories: list[str] | None = None, provider_cap_fen: int | None = yuan(1_000_000),
                          reference: str = "桂工信〔2026〕专项1号") -> Any:
    with as_role("approver"):
        return app.set_special_programme(year, dict(SPECIAL_QUOTAS if quotas is None else quotas),
                                         list(SPECIAL_CATEGORIES if categories is None else categories),
                                         provider_cap_fen, reference)


def special_holder(scenario: Scenario, designation: str = "key_project", year: int = YEAR,
                   **facts: Any) -> tuple[str, str]:
    """A designated subject (not an SME: 5,000 staff) with its special voucher for the year."""
    app = scenario.app
    code = scenario.enterprise(**{"employees": 5_000, "revenue_fen": yuan(900_000_000), **facts})
    with as_role("operator"):
        app.designate_enterprise(code, year, designation, "桂工信〔2026〕重点项目名单")
        return code, app.issue_voucher(code, year, "special", designation).data["voucher_id"]


def hooked_ledger(method: str) -> type[VoucherLedger]:
    """A ledger class whose `hook`, once set, runs as `method` is next entered, then disarms: how a test
    lets another server commit in the middle of a command (or break something under it)."""

    def run_the_hook_first(self: Any, *args: Any, **kwargs: Any) -> Any:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return getattr(VoucherLedger, method)(self, *args, **kwargs)

    # `name`: the library names an application's tables after its class otherwise.
    return type(f"Hooked_{method}", (VoucherLedger,), {"name": "VoucherLedger", "hook": None,
                                                       method: run_the_hook_first})
