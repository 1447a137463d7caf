"""The console's read models: money per month, and enterprises by code and name (issue 6).

Each is compared with a fresh walk over the notification log, survives a rebuild from position 0,
and runs on both backends.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from service.demo import credit_code, load_demo
from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.voucher import Voucher
from projections.views import balances, enterprises, monthly
from tests.support import YEAR, as_role, revoke_holder, year_ended

MOVED_BY = {Voucher.Reserved: "reserved", Voucher.Released: "released", Voucher.Used: "used",
            Voucher.Expired: "expired", Voucher.ClawedBack: "clawed_back", Contract.Settled: "settled"}


def months_from_the_log(ledger: Any) -> dict[tuple[int, str], dict[str, int]]:
    """Σ amount per (service year, China-time month, movement), straight from the stored events."""
    voucher_year: dict[str, int] = {}
    contract_year: dict[str, int] = {}
    totals: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(monthly.MOVEMENTS, 0))
    for notification in ledger.recorder.select_notifications(start=1, limit=1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if isinstance(event, Voucher.Issued):
            voucher_year[str(event.originator_id)] = event.year
        elif isinstance(event, Contract.Proposed):
            contract_year[str(event.originator_id)] = event.year
        movement = MOVED_BY.get(type(event))
        if movement and event.amount_fen:
            years = contract_year if movement == "settled" else voucher_year
            key = (years[str(event.originator_id)], monthly.month_of(event.timestamp))
            totals[key][movement] += event.amount_fen
    return dict(totals)


def months_in_the_view(store: Any, years: set[int]) -> dict[tuple[int, str], dict[str, int]]:
    found = {}
    for year in years:
        for month in monthly.get_monthly(store, year)["months"]:
            amounts = {k: month[k] for k in monthly.MOVEMENTS}
            if any(amounts.values()):
                found[(year, month["month"])] = amounts
    return found


def test_a_month_is_counted_in_china_standard_time() -> None:
    # 16:30 UTC on 31 January is already 1 February in Nanning.
    assert monthly.month_of(datetime(2026, 1, 31, 16, 30, tzinfo=timezone.utc)) == "2026-02"
    assert monthly.month_of(datetime(2026, 1, 31, 15, 59, tzinfo=timezone.utc)) == "2026-01"


def test_money_per_month_equals_the_log_and_adds_up_to_the_year(ledger: Any, views: Any) -> None:
    load_demo(ledger, YEAR)  # reservations, releases, uses, a clawback and a paid batch
    with as_role("operator"):
        year_ended(ledger)
        ledger.close_year(YEAR)  # and the year-end expiry
    views.catch_up()
    expected = months_from_the_log(ledger)
    assert {k for k, v in expected.items() for m in v.values() if m}, "the demo moved money"
    assert months_in_the_view(views.store, {YEAR}) == expected

    year = balances.get_year(views.store, YEAR)
    months = monthly.get_monthly(views.store, YEAR)["months"]
    total = {k: sum(m[k] for m in months) for k in monthly.MOVEMENTS}
    assert total["reserved"] - total["released"] - total["used"] == year["reserved"] == 0
    assert total["used"] - total["clawed_back"] == year["used"]
    assert total["expired"] == year["expired"] > 0
    assert total["settled"] == year["settled"] > 0

    views.rebuild()
    assert months_in_the_view(views.store, {YEAR}) == expected


def test_a_year_without_movements_has_twelve_empty_months(scenario: Any, views: Any) -> None:
    scenario.open_year()
    views.catch_up()
    months = monthly.get_monthly(views.store, YEAR)["months"]
    assert [m["month"] for m in months] == [f"{YEAR}-{n:02d}" for n in range(1, 13)]
    assert all(m[k] == 0 for m in months for k in monthly.MOVEMENTS)
    assert monthly.list_years(views.store) == [{"year": YEAR, "starts_on": f"{YEAR}-01-01",
                                                "ends_on": f"{YEAR}-12-31", "status": "open"}]


def test_enterprises_by_code_and_name_equal_the_log(ledger: Any, views: Any) -> None:
    load_demo(ledger, YEAR)
    other = credit_code(102)
    revoke_holder(ledger, other)
    views.catch_up()
    registered = {}
    for notification in ledger.recorder.select_notifications(start=1, limit=1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if isinstance(event, Enterprise.Registered):
            registered[event.code] = event.name
    found = enterprises.search_enterprises(views.store, "9145")
    assert {e["id"]: e["name"] for e in found} == registered
    assert {e["id"] for e in found if e["revoked"]} == {credit_code(101), other}

    assert [e["id"] for e in enterprises.search_enterprises(views.store, credit_code(108)[:-1].lower())] == [credit_code(108)]
    assert [e["name"] for e in enterprises.search_enterprises(views.store, "玉柴")] == ["玉林市玉柴配件制造有限公司"]
    assert enterprises.search_enterprises(views.store, "%") == []
    assert enterprises.get_enterprise(views.store, credit_code(108))["tier"] == "T4"

    views.rebuild()
    assert {e["id"]: e["revoked"] for e in enterprises.search_enterprises(views.store, "9145")} == {
        e["id"]: e["revoked"] for e in found}
