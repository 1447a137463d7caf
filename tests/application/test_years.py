"""Years and budget: the approver opens a year with its annual notice, finance funds it (Art. 9-11, 17, 18)."""

import pytest

from ledger import errors
from ledger.domain.year import Year
from ledger.money import yuan
from tests.support import YEAR, as_role


def head(ledger):
    return ledger.recorder.max_notification_id() or 0


def test_year_parameters_default_to_the_measures(ledger):
    # An annual notice that names no parameter takes the measures' ceilings (DOMAIN.md table).
    with as_role("approver"):
        opened = ledger.open_year(YEAR, f"{YEAR}-01-01", f"{YEAR}-12-31").data
    assert opened["tier_quotas"] == {"T1": yuan(50_000), "T2": yuan(100_000), "T3": yuan(200_000), "T4": yuan(300_000)}
    assert (opened["diagnosis_share"], opened["other_share"], opened["deposit_share"]) == (8000, 5000, 2000)
    assert opened["provider_cap"] == yuan(5_000_000)
    assert opened["status"] == "open"


def test_a_year_may_be_stricter_than_the_measures(ledger):
    with as_role("approver"):
        opened = ledger.open_year(YEAR, f"{YEAR}-03-01", f"{YEAR}-11-30", tier_quotas={"T4": yuan(250_000)},
                                  diagnosis_share=7000, other_share=4000, deposit_share=2500,
                                  provider_cap=yuan(1_000_000)).data
    assert opened["tier_quotas"]["T4"] == yuan(250_000) and opened["tier_quotas"]["T1"] == yuan(50_000)
    assert (opened["diagnosis_share"], opened["other_share"], opened["deposit_share"]) == (7000, 4000, 2500)
    assert opened["provider_cap"] == yuan(1_000_000)


@pytest.mark.parametrize("params, field", [
    (dict(tier_quotas={"T1": yuan(50_001)}), "tier_quotas.T1"),
    (dict(tier_quotas={"T4": yuan(300_000) + 1}), "tier_quotas.T4"),
    (dict(diagnosis_share=8500), "diagnosis_share"),
    (dict(other_share=5001), "other_share"),
    (dict(deposit_share=1000), "deposit_share"),
    (dict(provider_cap=yuan(5_000_000) + 1), "provider_cap"),
])
def test_year_parameters_above_ceiling_are_refused(ledger, params, field):
    # A year may be stricter than the measures, never looser (Art. 9, 10, 17); nothing is recorded.
    before = head(ledger)
    with as_role("approver"), pytest.raises(errors.ParameterAboveCeiling) as refused:
        ledger.open_year(YEAR, f"{YEAR}-01-01", f"{YEAR}-12-31", **params)
    assert field in refused.value.details
    assert head(ledger) == before
    assert Year.create_id(YEAR) not in ledger.repository


def test_a_year_is_opened_once(ledger):
    with as_role("approver"):
        ledger.open_year(YEAR, f"{YEAR}-01-01", f"{YEAR}-12-31")
        with pytest.raises(errors.AlreadyExists):
            ledger.open_year(YEAR, f"{YEAR}-02-01", f"{YEAR}-12-31")


def test_a_year_window_ends_after_it_starts(ledger):
    with as_role("approver"), pytest.raises(errors.ValidationFailed):
        ledger.open_year(YEAR, f"{YEAR}-12-31", f"{YEAR}-01-01")


@pytest.mark.parametrize("role", ["finance", "operator", "enterprise", "provider", "supervisor", "auditor"])
def test_only_the_approver_opens_a_year(ledger, role):
    with as_role(role), pytest.raises(errors.Forbidden):
        ledger.open_year(YEAR, f"{YEAR}-01-01", f"{YEAR}-12-31")


def test_finance_allocates_the_budget_in_instalments(scenario, ledger):
    # Art. 11: the budget comes from the new-industrialisation fund, possibly in several allocations.
    scenario.open_year(budget_yuan=None)
    with as_role("finance"):
        first = ledger.allocate_budget(YEAR, yuan(1_000_000), "桂财工〔2026〕1号").data
        second = ledger.allocate_budget(YEAR, yuan(500_000), "桂财工〔2026〕2号").data
    assert first["budget"] == yuan(1_000_000) and second["budget"] == yuan(1_500_000)
    assert ledger.get_year(YEAR).budget_fen == yuan(1_500_000)


@pytest.mark.parametrize("role", ["approver", "operator", "enterprise", "supervisor"])
def test_only_finance_allocates_budget(scenario, ledger, role):
    scenario.open_year(budget_yuan=None)
    with as_role(role), pytest.raises(errors.Forbidden):
        ledger.allocate_budget(YEAR, yuan(1_000), "x")


@pytest.mark.parametrize("amount", [0, -1])
def test_budget_must_be_positive(scenario, ledger, amount):
    scenario.open_year(budget_yuan=None)
    with as_role("finance"), pytest.raises(errors.ValidationFailed):
        ledger.allocate_budget(YEAR, amount, "x")


def test_budget_for_an_unknown_year_is_not_found(ledger):
    with as_role("finance"), pytest.raises(errors.NotFound):
        ledger.allocate_budget(1999, yuan(1), "x")


def test_budget_must_be_allocated_before_vouchers_are_issued(scenario):
    scenario.open_year(budget_yuan=None)
    enterprise = scenario.enterprise()
    with pytest.raises(errors.BudgetExhausted):
        scenario.voucher(enterprise)


def test_budget_exhausted(scenario, ledger, views):
    # Σ issued ≤ budget (Art. 11, 16): ¥150,000 covers a T2 quota (¥100,000) and a T1 (¥50,000), no more.
    scenario.open_year(budget_yuan=150_000)
    scenario.holder(("tech_sme",))
    late = scenario.enterprise(("gazelle",))  # T3: ¥200,000, more than the ¥50,000 left
    before = head(ledger)
    with pytest.raises(errors.BudgetExhausted) as refused:
        scenario.voucher(late)
    assert refused.value.details == {"budget": "150000.00", "issued": "100000.00", "quota": "200000.00"}
    assert head(ledger) == before
    scenario.holder(())  # a T1 quota still fits exactly
    with pytest.raises(errors.BudgetExhausted):
        scenario.holder(())
    year = ledger.get_year(YEAR)
    assert year.issued_fen == year.budget_fen == yuan(150_000)
    views.catch_up()
    from projections.views import balances

    totals = balances.get_year(views.store, YEAR)
    assert (totals["budget"], totals["issued"], totals["unissued"], totals["vouchers"]) == (yuan(150_000), yuan(150_000), 0, 2)
