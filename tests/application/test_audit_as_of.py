"""Figures as they stood at a past instant (`as_of`; Art. 21-24): before and after each command.

Vouchers, enterprise balances and provider totals are folded from their aggregates' own events;
a year's totals come from the history kept by the projection. Asked at "now", every one of them
equals the read model it shadows.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ledger import errors
from ledger.money import yuan
from projections.audit import history
from projections.views import balances, providers
from tests.audit_support import now
from tests.support import YEAR, as_role, year_ended

SHANGHAI = timezone(timedelta(hours=8))


def test_voucher_as_of_before_and_after_a_reservation(scenario, ledger):
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis", 100_000)
    before_issue = now()
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    contract_id = scenario.propose(enterprise, voucher_id, provider, product, yuan(100_000))
    before_signing = now()
    scenario.sign(provider, contract_id)
    after_signing = now()
    # Before signing the whole T2 quota was available; after it, ¥80,000 was reserved (Art. 17).
    then = ledger.voucher_as_of(voucher_id, before_signing)
    assert (then["available"], then["reserved"], then["status"]) == (yuan(100_000), 0, "active")
    later = ledger.voucher_as_of(voucher_id, after_signing)
    assert (later["available"], later["reserved"]) == (yuan(20_000), yuan(80_000))
    assert later["as_of"] == after_signing.isoformat()
    # Before issuance there was no voucher.
    with pytest.raises(errors.NotFound):
        ledger.voucher_as_of(voucher_id, before_issue)


def test_instants_compare_across_offsets(scenario, ledger):
    scenario.open_year()
    enterprise = scenario.enterprise(("tech_sme",))
    before = now()
    voucher_id = scenario.voucher(enterprise)
    # The same instant written in China Standard Time.
    with pytest.raises(errors.NotFound):
        ledger.voucher_as_of(voucher_id, before.astimezone(SHANGHAI))
    assert ledger.voucher_as_of(voucher_id, now().astimezone(SHANGHAI))["available"] == yuan(100_000)


def test_enterprise_balance_as_of_before_and_after_a_deduction(scenario, ledger, views):
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis", 100_000)
    before_issue = now()
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    contract_id = scenario.contract(enterprise, voucher_id, provider, product, yuan(100_000), state="active")
    before_completion = now()
    with as_role("enterprise", enterprise):
        scenario.app.complete_contract(contract_id, 0)
    after_completion = now()
    empty = ledger.enterprise_balance_as_of(enterprise, YEAR, before_issue)
    assert (empty["vouchers"], empty["quota"], empty["available"]) == (0, 0, 0)
    then = ledger.enterprise_balance_as_of(enterprise, YEAR, before_completion)
    assert (then["reserved"], then["used"]) == (yuan(80_000), 0)
    later = ledger.enterprise_balance_as_of(enterprise, YEAR, after_completion)
    assert (later["vouchers"], later["reserved"], later["used"], later["available"]) == (1, 0, yuan(80_000),
                                                                                      yuan(20_000))
    views.catch_up()
    current = balances.get_enterprise_balance(views.store, enterprise, YEAR)
    assert {k: later[k] for k in current} == current


def test_provider_totals_as_of_before_and_after_a_termination(scenario, ledger, views):
    scenario.open_year()
    before_signing_provider = now()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis", 100_000)
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    contract_id = scenario.contract(enterprise, voucher_id, provider, product, yuan(100_000), state="signed")
    before_termination = now()
    with as_role("enterprise", enterprise):
        scenario.app.terminate_contract(contract_id, "cannot be completed")
    after_termination = now()
    then = ledger.provider_totals_as_of(provider, YEAR, before_termination)
    assert (then["reserved"], then["contracts"], then["remaining_cap"]) == (yuan(80_000), 1,
                                                                            yuan(5_000_000) - yuan(80_000))
    later = ledger.provider_totals_as_of(provider, YEAR, after_termination)
    assert (later["reserved"], later["contracts"], later["remaining_cap"]) == (0, 0, yuan(5_000_000))
    with pytest.raises(errors.NotFound):
        ledger.provider_totals_as_of(provider, YEAR, before_signing_provider)
    views.catch_up()
    current = providers.get_provider_totals(views.store, provider, YEAR)
    assert {k: later[k] for k in current} == current


def test_year_as_of_before_and_after_budget_and_issuance(scenario, ledger, views):
    before_opening = now()
    scenario.open_year(budget_yuan=None)
    before_budget = now()
    with as_role("finance"):
        ledger.allocate_budget(YEAR, yuan(1_000_000), "桂财工〔2026〕1号")
    before_issue = now()
    scenario.holder(("little_giant",))
    after_issue = now()
    views.catch_up()
    opened = history.get_year_as_of(views.store, YEAR, before_budget)
    assert (opened["budget"], opened["issued"], opened["status"]) == (0, 0, "open")
    funded = history.get_year_as_of(views.store, YEAR, before_issue)
    assert (funded["budget"], funded["issued"], funded["unissued"]) == (yuan(1_000_000), 0, yuan(1_000_000))
    issued = history.get_year_as_of(views.store, YEAR, after_issue)
    assert (issued["issued"], issued["available"], issued["vouchers"]) == (yuan(300_000), yuan(300_000), 1)
    assert issued["unissued"] == yuan(700_000)
    with pytest.raises(errors.NotFound):
        history.get_year_as_of(views.store, YEAR, before_opening)
    current = balances.get_year(views.store, YEAR)
    assert {k: issued[k] for k in current} == current


def test_year_as_of_sees_the_close(scenario, ledger, views):
    scenario.open_year()
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    before_close = now()
    with as_role("operator"):
        year_ended(ledger)
        ledger.close_year(YEAR)
    after_close = now()
    views.catch_up()
    open_then = history.get_year_as_of(views.store, YEAR, before_close)
    assert (open_then["status"], open_then["available"], open_then["expired"]) == ("open", yuan(100_000), 0)
    closed = history.get_year_as_of(views.store, YEAR, after_close)
    assert (closed["status"], closed["available"], closed["expired"]) == ("closed", 0, yuan(100_000))
    assert ledger.voucher_as_of(voucher_id, before_close)["status"] == "active"
    assert ledger.voucher_as_of(voucher_id, after_close)["status"] == "expired"


def test_long_streams_are_searched_by_version(scenario, ledger):
    """A provider's year with more events than are read whole is found by binary search."""
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, "management_consulting", 1_000)
    enterprise, voucher_id = scenario.holder(("little_giant",))
    marks: list[tuple[datetime, int]] = []
    for _ in range(40):  # 40 contracts of ¥100 subsidy: reserved then released, two events each
        contract_id = scenario.contract(enterprise, voucher_id, provider, product, yuan(200), state="signed")
        marks.append((now(), 1))
        with as_role("enterprise", enterprise):
            ledger.terminate_contract(contract_id, "withdrawn")
        marks.append((now(), 0))
    for instant, live in marks[::7]:
        totals = ledger.provider_totals_as_of(provider, YEAR, instant)
        assert (totals["contracts"], totals["reserved"]) == (live, yuan(100) * live)
