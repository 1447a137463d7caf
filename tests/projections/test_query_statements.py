"""A year's and a provider's totals are each one statement on the read models (issue 21: a query is mostly
round trips), and the joined rows still split every figure by kind (general, special 专项券). On both stores."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.money import yuan
from projections.storage.store import Db
from projections.views import balances, providers
from tests.projections.test_contract_kinds import world
from tests.support import YEAR, Scenario


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the read models run from here on (the real ones, run as before)."""
    seen: list[str] = []
    run = Db.execute

    def counted(db: Db, statement: str, params: Any = ()) -> None:
        seen.append(statement)
        run(db, statement, params)

    monkeypatch.setattr(Db, "execute", counted)
    return seen


def _special_vouchers(views: Any) -> dict[str, int]:
    rows = views.store.query("SELECT * FROM vl_vouchers WHERE year = ? AND kind = 'special'", [YEAR])
    figures = {f: sum(int(r[f]) for r in rows) for f in balances.FIGURES}
    return {"issued": sum(int(r["quota"]) for r in rows), "vouchers": len(rows), **figures}


def test_a_years_totals_are_one_statement_and_split_by_kind(scenario: Scenario, views: Any,
                                                            statements: list[str]) -> None:
    world(scenario)
    views.catch_up()
    statements.clear()
    year = balances.get_year(views.store, YEAR)
    assert len(statements) == 1
    special = year["by_kind"]["special"]
    assert {f: special[f] for f in ("issued", "vouchers", *balances.FIGURES)} == _special_vouchers(views)
    assert special["vouchers"] >= 1 and special["reserved"] > 0
    for figure in ("issued", "vouchers", *balances.FIGURES, "settled"):
        assert year["by_kind"]["general"][figure] + special[figure] == year[figure]
    assert year["special_programme"]["provider_cap"] == yuan(1_000_000)


def test_a_year_without_a_special_programme_has_an_empty_special_share(scenario: Scenario, views: Any,
                                                                        statements: list[str]) -> None:
    scenario.open_year()
    scenario.holder()
    views.catch_up()
    statements.clear()
    year = balances.get_year(views.store, YEAR)
    assert len(statements) == 1
    assert year["special_programme"] is None and set(year["by_kind"]["special"].values()) == {0}
    assert year["by_kind"]["general"]["issued"] == year["issued"] > 0


def test_a_providers_totals_are_one_statement_with_the_special_cap(scenario: Scenario, views: Any,
                                                                   statements: list[str]) -> None:
    provider = world(scenario)["provider"]
    views.catch_up()
    statements.clear()
    totals = providers.get_provider_totals(views.store, provider, YEAR)
    assert len(statements) == 1
    special, general = totals["by_kind"]["special"], totals["by_kind"]["general"]
    assert special["cap"] == yuan(1_000_000)  # the programme's provider cap (tests/support.py)
    assert special["contracts"] >= 1 and special["reserved"] > 0
    row = views.store.query_one("SELECT s.* FROM vl_provider_year_special s JOIN vl_provider_years y "
                                "ON y.stream_id = s.stream_id WHERE y.provider_id = ? AND y.year = ?", [provider, YEAR])
    assert {f: special[f] for f in providers.KIND_FIGURES} == {f: int(row[f]) for f in providers.KIND_FIGURES}
    for figure in ("reserved", "used", "settled", "contracts"):
        assert general[figure] + special[figure] == totals[figure]
    assert totals["cap"] == general["cap"] and totals["remaining_cap"] == general["remaining_cap"]
