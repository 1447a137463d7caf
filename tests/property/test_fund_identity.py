"""Property: whatever sequence of commands runs, the fund identity of DOMAIN.md holds after every step.

A hypothesis state machine opens and funds years, registers enterprises (random honours and
eligibility) and providers, issues vouchers, signs providers, lists products, proposes, signs,
pays, completes and terminates contracts, grants cap exceptions, moves the clock and closes years;
it also sets special programmes, designates subjects and issues special vouchers (issue 17), whose
contracts run through the same rules, and the identities are checked per kind (the fold's by_kind).
Any command may be refused by a rule (a LedgerError): that is an allowed outcome. After every step:
Σ issued ≤ budget; every voucher's quota = available + reserved + used + clawed_back + expired with
each term ≥ 0; each provider's live subsidy ≤ cap + exceptions; each contract's deposit + subsidy
+ balance = amount; and the read models equal a fresh fold over all events.

Each example gets a fresh store: a new SQLite file, or the test's own PostgreSQL database emptied.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test,
)

from ledger.errors import LedgerError
from ledger.persistence import Store, parse_database_url
from ledger.money import yuan
from ledger.rules import CATEGORIES, DESIGNATIONS, HONOURS, PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES, VOUCHER_KINDS
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.conftest import make_store
from tests.support import ELIGIBLE_FACTS, ELIGIBLE_PROVIDER, PROVIDER_DOCUMENTS, Clock, Scenario, as_role
from tests.support_fold import assert_fund_identity, assert_views_match_fold

YEARS = (2026, 2027)
MOSTLY_THIS_YEAR = st.sampled_from((2026, 2026, 2026, 2027))  # 2026 is the year whose window is open
TODAYS = (date(2025, 12, 31), date(2026, 6, 1), date(2027, 1, 1))
AMOUNTS = (1, 99, 33_333, yuan(10_000), yuan(60_000), yuan(125_000), yuan(400_000))
SUBSIDIES = (None, None, None, 1, yuan(5_000), yuan(50_000))
CAPS = (yuan(50_000), yuan(120_000), yuan(5_000_000))
BUDGETS = (yuan(150_000), yuan(600_000), yuan(3_000_000))
INDEX = st.integers(min_value=0, max_value=10_000)
SPECIAL_CAPS = (None, yuan(40_000), yuan(200_000))
SPECIAL_QUOTAS = (yuan(20_000), yuan(150_000), yuan(500_000))

ENTERPRISE_FACTS = st.fixed_dictionaries({
    "employees": st.sampled_from((10, 300, 999, 1000, 5000)),
    "revenue_fen": st.sampled_from((yuan(10_000_000), yuan(20_000_000), yuan(50_000_000), yuan(500_000_000))),
    "registered_in_guangxi": st.just(True) | st.booleans(),
    "legal_person": st.just(True) | st.booleans(),
    "social_insurance": st.just(True) | st.booleans(),
    "dishonest": st.just(False) | st.booleans(),
    "major_violation": st.just(False),
    "industry_aligned": st.just(True) | st.booleans(),
})


def pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)]


class FreshStores:
    """A fresh store per example: a new SQLite file; or, on PostgreSQL, the test's database with every
    table emptied (TRUNCATE ... RESTART IDENTITY: to the ledger indistinguishable from a new database,
    at a fraction of the cost of CREATE DATABASE and the tables' DDL for each of dozens of examples)."""

    def __init__(self, backend: str, tmp_path_factory: Any) -> None:
        self.backend = backend
        self.tmp_path_factory = tmp_path_factory
        self._database: Any = None
        if backend == "postgres":
            self._database = make_store("postgres", tmp_path_factory.mktemp("pg"))
            self.postgres: Store = next(self._database)
            app = open_ledger(self.postgres)  # create every table once
            Views(app).close()
            app.close()

    def fresh(self) -> tuple[Store, bool]:
        """A store with nothing in it, and whether its tables still need creating."""
        if self.backend == "sqlite":
            return parse_database_url(f"sqlite:///{self.tmp_path_factory.mktemp('fund')}/ledger.db"), True
        with psycopg.connect(self.postgres.url, autocommit=True) as conn:
            tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")
        return self.postgres, False

    def close(self) -> None:
        if self._database is not None:
            self._database.close()  # drops the database


class FundMachine(RuleBasedStateMachine):
    """One store, one ledger, one set of views per example; every rule is a command of the ledger."""

    stores: FreshStores

    def __init__(self) -> None:
        super().__init__()
        store, create_table = self.stores.fresh()
        self.clock = Clock(date(2026, 6, 1))
        self.app = open_ledger(store, clock=self.clock, create_table=create_table)
        self.views = Views(self.app, create_table=create_table)
        self.scenario = Scenario(self.app)
        self.enterprises: list[str] = []
        self.vouchers: list[str] = []
        self.providers: list[str] = []
        self.products: list[str] = []
        self.contracts: list[str] = []
        self.refusals: dict[str, int] = {}

    def teardown(self) -> None:
        self.views.close()
        self.app.close()

    def attempt(self, role: str, subject: str | None, command: Any, *args: Any) -> Any:
        """Run a command; a refusal by a rule is an allowed outcome, counted for the record."""
        try:
            with as_role(role, subject):
                return command(*args)
        except LedgerError as refused:
            self.refusals[refused.code] = self.refusals.get(refused.code, 0) + 1
            return None

    @initialize(cap=st.sampled_from(CAPS), budget=st.sampled_from(BUDGETS), honours=st.lists(
        st.sampled_from(HONOURS), max_size=2), category=st.sampled_from(CATEGORIES))
    def a_year_under_way(self, cap: int, budget: int, honours: list[str], category: str) -> None:
        # Start from a funded year with a holder and a signed provider offering a listed product, so
        # that most examples reach contracts; the rules below add to it in any order.
        self.open_year(YEARS[0], cap)
        self.fund(YEARS[0], budget)
        self.open_year(YEARS[1], cap)  # next year's notice is out, its window not yet open
        self.register_enterprise(honours, {}, YEARS[0])
        self.register_provider(True, YEARS[0])
        self.submit_product(0, category, YEARS[0], True)
        self.set_special_programme(YEARS[0], SPECIAL_CAPS[1], [category, "diagnosis"], SPECIAL_QUOTAS[1])
        self.designate_and_issue_special(0, YEARS[0], "key_project", True)  # the holder's special voucher too

    @rule(year=st.sampled_from(YEARS), cap=st.sampled_from(CAPS))
    def open_year(self, year: int, cap: int) -> None:
        self.attempt("approver", None, self.app.open_year, year, f"{year}-01-01", f"{year}-12-31", None, None,
                     None, None, cap)

    @rule(year=st.sampled_from(YEARS), amount=st.sampled_from(BUDGETS))
    def fund(self, year: int, amount: int) -> None:
        self.attempt("finance", None, self.app.allocate_budget, year, amount, f"budget-{year}")

    @rule(honours=st.lists(st.sampled_from(HONOURS), max_size=3),
          facts=st.sampled_from(({}, {}, {})) | ENTERPRISE_FACTS,  # mostly eligible, sometimes anything
          voucher_for=st.sampled_from((None, 2026, 2026, 2027)))
    def register_enterprise(self, honours: list[str], facts: dict[str, Any], voucher_for: int | None) -> None:
        code = self.scenario.next_code()
        if self.attempt("operator", None, self.app.register_enterprise, code, f"企业{code[-4:]}",
                        *[{**ELIGIBLE_FACTS, **facts}[k] for k in (
                            "employees", "revenue_fen", "registered_in_guangxi", "legal_person", "social_insurance",
                            "dishonest", "major_violation", "industry_aligned")], honours):
            self.enterprises.append(code)
            if voucher_for is not None:
                self.issue_voucher(len(self.enterprises) - 1, voucher_for)

    @rule(index=INDEX, year=st.sampled_from(YEARS))
    def issue_voucher(self, index: int, year: int) -> None:
        if self.enterprises:
            issued = self.attempt("operator", None, self.app.issue_voucher, pick(self.enterprises, index), year)
            if issued:
                self.vouchers.append(issued.data["voucher_id"])

    @rule(year=st.sampled_from(YEARS), cap=st.sampled_from(SPECIAL_CAPS),
          categories=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4), quota=st.sampled_from(SPECIAL_QUOTAS))
    def set_special_programme(self, year: int, cap: int | None, categories: list[str], quota: int) -> None:
        self.attempt("approver", None, self.app.set_special_programme, year,
                     {"key_project": quota, "lead_enterprise": quota // 2}, categories, cap, "专项方案")

    @rule(index=INDEX, year=st.sampled_from(YEARS), designation=st.sampled_from(DESIGNATIONS[:3]),
          issue=st.just(True) | st.booleans())
    def designate_and_issue_special(self, index: int, year: int, designation: str, issue: bool) -> None:
        """Designate a subject (any facts: special eligibility differs) and mostly issue its special voucher."""
        if not self.enterprises:
            return
        code = pick(self.enterprises, index)
        self.attempt("operator", None, self.app.designate_enterprise, code, year, designation, "认定名单")
        if issue:
            issued = self.attempt("operator", None, self.app.issue_voucher, code, year, "special", designation)
            if issued:
                self.vouchers.append(issued.data["voucher_id"])

    @rule(eligible=st.booleans() | st.just(True), signed_for=st.sampled_from((None, 2026, 2026, 2027)))
    def register_provider(self, eligible: bool, signed_for: int | None) -> None:
        code = self.scenario.next_code()
        facts = {**ELIGIBLE_PROVIDER, **({} if eligible else {"clients_last_year": 3})}
        if self.attempt("provider", code, self.app.register_provider, code, f"机构{code[-4:]}",
                        *[facts[k] for k in ("registered_in_guangxi", "entity_type", "fixed_premises",
                                             "years_operating", "core_staff_insured", "clients_last_year",
                                             "revenue_last_year_fen", "dishonest")],
                        # Art. 13's materials and Art. 12's declarations: without them no provider passed compliance
                        # and no contract was ever signed here (found with issue 17)
                        PROVIDER_DOCUMENTS, True, True, True):
            self.providers.append(code)
            if signed_for is not None:
                self.sign_provider(len(self.providers) - 1, signed_for)

    @rule(index=INDEX, year=st.sampled_from(YEARS))
    def sign_provider(self, index: int, year: int) -> None:
        if self.providers:
            code = pick(self.providers, index)
            for stage, role in PROVIDER_REVIEW_STAGES:
                if self.attempt(role, None, self.app.review_provider, code, year, stage, "pass", "") is None:
                    break

    @rule(index=INDEX, category=st.sampled_from(CATEGORIES), year=MOSTLY_THIS_YEAR, listed=st.just(True) | st.booleans())
    def submit_product(self, index: int, category: str, year: int, listed: bool) -> None:
        if not self.providers:
            return
        provider = pick(self.providers, index)
        # Priced above the largest amount proposed, so that contracts pass PRICE_ABOVE_LIST and reach signing.
        submitted = self.attempt("provider", provider, self.app.submit_product, provider, f"产品-{category}", category,
                                 yuan(500_000), "")
        if submitted:
            product_id = submitted.data["product_id"]
            self.products.append(product_id)
            for stage, role in PRODUCT_REVIEW_STAGES if listed else ():
                self.attempt(role, None, self.app.review_product, product_id, year, stage, "pass", "")

    @rule(voucher=INDEX, provider=INDEX, product=INDEX, amount=st.sampled_from(AMOUNTS),
          subsidy=st.sampled_from(SUBSIDIES), until=st.sampled_from(("proposed", "signed", "active", "completed")))
    def propose(self, voucher: int, provider: int, product: int, amount: int, subsidy: int | None,
                until: str) -> None:
        """Propose a contract and take it as far as `until`, each step refusable on its own."""
        if not (self.vouchers and self.providers and self.products):
            return
        voucher_id = pick(self.vouchers, voucher)
        holder = self.app.get_voucher(voucher_id).enterprise_id
        # Mostly a product of the chosen provider, so that signatures get through.
        product_id = pick(self.products, product)
        provider_id = self.app.get_product(product_id).provider_id if provider % 4 else pick(self.providers, provider)
        proposed = self.attempt("enterprise", holder, self.app.propose_contract, voucher_id, provider_id, product_id,
                                amount, subsidy if subsidy is None or subsidy <= amount else None)
        if not proposed:
            return
        self.contracts.append(proposed.data["contract_id"])
        index = len(self.contracts) - 1
        steps = {"proposed": (), "signed": (self.sign,), "active": (self.sign, self.pay_deposit),
                 "completed": (self.sign, self.pay_deposit, self.complete)}[until]
        for step in steps:
            step(index) if step == self.sign else step(index, True)

    def contract(self, index: int) -> Any:
        return self.app.get_contract(pick(self.contracts, index))

    @rule(index=INDEX)
    def sign(self, index: int) -> None:
        if self.contracts:
            contract = self.contract(index)
            self.attempt("provider", contract.provider_id, self.app.sign_contract, contract.id)

    @rule(index=INDEX, exact=st.booleans() | st.just(True))
    def pay_deposit(self, index: int, exact: bool) -> None:
        if self.contracts:
            contract = self.contract(index)
            self.attempt("enterprise", contract.enterprise_id, self.app.pay_deposit, contract.id,
                         contract.deposit_fen if exact else contract.deposit_fen + 1)

    @rule(index=INDEX, exact=st.booleans() | st.just(True))
    def complete(self, index: int, exact: bool) -> None:
        if self.contracts:
            contract = self.contract(index)
            self.attempt("enterprise", contract.enterprise_id, self.app.complete_contract, contract.id,
                         contract.balance_due_fen if exact else contract.balance_due_fen + 100)

    @rule(index=INDEX, by=st.sampled_from(("enterprise", "provider", "operator")))
    def terminate(self, index: int, by: str) -> None:
        if self.contracts:
            contract = self.contract(index)
            subject = {"enterprise": contract.enterprise_id, "provider": contract.provider_id}.get(by)
            self.attempt(by, subject, self.app.terminate_contract, contract.id, "无法完成 (Art. 28)")

    @rule(index=INDEX, year=st.sampled_from(YEARS), amount=st.sampled_from((yuan(10_000), yuan(100_000))),
          kind=st.sampled_from(VOUCHER_KINDS))
    def grant_cap_exception(self, index: int, year: int, amount: int, kind: str) -> None:
        if self.providers:
            self.attempt("approver", None, self.app.grant_cap_exception, pick(self.providers, index), year, amount,
                         "原则上 (Art. 10)", kind)

    @precondition(lambda self: len(self.contracts) >= 4)  # close once the year has seen some use
    @rule(year=MOSTLY_THIS_YEAR)
    def close_year(self, year: int) -> None:
        self.attempt("operator", None, self.app.close_year, year)

    @rule(today=st.sampled_from(TODAYS))
    def move_clock(self, today: date) -> None:
        self.clock.today = today

    @invariant()
    def the_fund_adds_up_and_the_views_equal_a_fresh_fold(self) -> None:
        folded = assert_views_match_fold(self.app, self.views)
        assert_fund_identity(folded)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_fund_identity_holds_after_every_step(backend, tmp_path_factory):
    stores = FreshStores(backend, tmp_path_factory)
    try:
        machine = type(f"FundMachine_{backend}", (FundMachine,), {"stores": stores})
        run_state_machine_as_test(machine, settings=settings(
            max_examples=25, stateful_step_count=30, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    finally:
        stores.close()
