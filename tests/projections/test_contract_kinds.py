"""A contract's kind in the contracts read model (issue 19): each contract row carries its voucher's kind
(general, special 专项券), and a year's or a party's contracts filter by it, with totals that count only
that kind; every contract state, held and failed acceptance too, filters by status. On both stores."""

from __future__ import annotations

from typing import Any

from ledger.money import yuan
from projections.views import contracts, enterprises
from projections.views.paging import Page
from tests.support import YEAR, Scenario, as_role, set_special_programme, special_holder


def world(scenario: Scenario) -> dict[str, Any]:
    """A general and a special holder, each with contracts of one provider; one general contract failed at
    acceptance and one special contract held, so the filters meet every kind and the uncommon states."""
    app = scenario.app
    scenario.open_year()
    set_special_programme(app)
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis")
    general, general_voucher = scenario.holder()
    special, special_voucher = special_holder(scenario)
    made = {
        "general": [scenario.contract(general, general_voucher, provider, product, yuan(20_000), "completed"),
                    scenario.contract(general, general_voucher, provider, product, yuan(10_000), "proposed")],
        "special": [scenario.contract(special, special_voucher, provider, product, yuan(30_000), "signed"),
                    scenario.contract(special, special_voucher, provider, product, yuan(15_000), "proposed"),
                    scenario.contract(special, special_voucher, provider, product, yuan(5_000), "proposed")],
    }
    failed = made["general"][0]
    with as_role("operator"):
        app.record_acceptance(failed, "failed", "test: the report was not delivered")
    # A second provider's completed special contract, held when the provider is terminated (Stops 1).
    banned = scenario.provider()
    held = scenario.contract(special, special_voucher, banned, scenario.product(banned, "diagnosis"), yuan(8_000),
                             "completed")
    made["special"].append(held)
    with as_role("approver"):
        app.terminate_provider(banned, "test: falsified documents")
    return {"provider": provider, "general": general, "special": special, "made": made, "failed": failed,
            "held": held}


def test_contract_rows_carry_their_vouchers_kind(scenario: Scenario, views: Any) -> None:
    made = world(scenario)["made"]
    views.catch_up()
    for kind, ids in made.items():
        for contract_id in ids:
            assert contracts.get_contract(views.store, contract_id)["kind"] == kind


def test_a_years_contracts_filter_by_kind_with_their_own_total(scenario: Scenario, views: Any) -> None:
    made = world(scenario)["made"]
    views.catch_up()
    everything, total = enterprises.contracts_page(views.store, YEAR, None, Page(100))
    assert total == len(everything) == 6 and {c["kind"] for c in everything} == {"general", "special"}
    for kind, ids in made.items():
        rows, total = enterprises.contracts_page(views.store, YEAR, None, Page(100), kind=kind)
        assert total == len(ids) and sorted(c["contract_id"] for c in rows) == sorted(ids)
        assert {c["kind"] for c in rows} == {kind}
    # Paging within a kind: two pages of the special contracts, neither repeating nor skipping a row.
    first, total = enterprises.contracts_page(views.store, YEAR, None, Page(2, 0, "amount"), kind="special")
    second, _ = enterprises.contracts_page(views.store, YEAR, None, Page(2, 2, "amount"), kind="special")
    assert total == 4 and [c["contract_id"] for c in first + second] == [made["special"][i] for i in (2, 3, 1, 0)]
    # Kind and status together.
    proposed, total = enterprises.contracts_page(views.store, YEAR, "proposed", Page(100), kind="special")
    assert total == 2 and {c["contract_id"] for c in proposed} == set(made["special"][1:3])
    assert enterprises.contracts_page(views.store, YEAR + 1, None, Page(100), kind="special") == ([], 0)


def test_a_partys_contracts_filter_by_kind(scenario: Scenario, views: Any) -> None:
    arranged = world(scenario)
    views.catch_up()
    special = contracts.list_contracts(views.store, provider_id=arranged["provider"], kind="special")
    assert sorted(c["contract_id"] for c in special) == sorted(arranged["made"]["special"][:3])
    rows, total = contracts.list_contracts_page(views.store, Page(100), provider_id=arranged["provider"],
                                                year=YEAR, kind="general")
    assert total == 2 and {c["kind"] for c in rows} == {"general"}
    assert contracts.list_contracts(views.store, enterprise_id=arranged["general"], kind="special") == []
    mine = contracts.list_contracts(views.store, enterprise_id=arranged["special"], year=YEAR, kind="special")
    assert len(mine) == 4


def test_every_contract_state_filters_the_list(scenario: Scenario, views: Any) -> None:
    arranged = world(scenario)
    views.catch_up()
    failed, total = enterprises.contracts_page(views.store, YEAR, "failed_acceptance", Page(100))
    assert total == 1 and failed[0]["contract_id"] == arranged["failed"] and failed[0]["kind"] == "general"
    held, total = enterprises.contracts_page(views.store, YEAR, "held", Page(100), kind="special")
    assert total == 1 and held[0]["contract_id"] == arranged["held"]
    assert enterprises.contracts_page(views.store, YEAR, "held", Page(100), kind="general") == ([], 0)
