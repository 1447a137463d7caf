"""HTTP: a changed snapshot row is never used and `/audit/verify` reports it (issue 15, 2; API.md "Audit and supervision").

The Year snapshot's `budget_fen` is raised by ¥2,100,000 in the store's own snapshots table (SQLite and
PostgreSQL); a freshly started server refuses issuance past the real budget and the auditor's
verification names the snapshot.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.year import Year
from ledger.money import yuan
from projections.runner import Views
from tests.api.support_http import Http
from tests.audit_support import edit_snapshot
from tests.support import YEAR, Scenario, as_role, issue_tokens


def test_a_raised_budget_in_a_year_snapshot_issues_nothing_and_is_reported(store: Any, clock: Any, ledger: Any):
    scenario = Scenario(ledger)
    scenario.open_year(budget_yuan=None)
    code = scenario.enterprise(("tech_sme",))
    with as_role("finance"):
        ledger.allocate_budget(YEAR, yuan(1), "budget-small")  # less than any voucher's quota
    year_id = Year.create_id(YEAR)
    ledger.take_snapshot(year_id)
    edit_snapshot(ledger, store, year_id, lambda state: state.update(budget_fen=state["budget_fen"] + yuan(2_100_000)))

    from service.bootstrap import build_app, open_ledger

    fresh = open_ledger(store, clock=clock)  # a freshly started server
    views = Views(fresh)
    try:
        http = Http(build_app(fresh, views, {"TESTING": True}).test_client(), fresh, issue_tokens(fresh))
        http.post("operator", "/vouchers", {"enterprise_id": code, "year": YEAR}, status=422, code="BUDGET_EXHAUSTED")
        assert http.get("supervisor", f"/years/{YEAR}")["budget"] == "1.00"
        verdict = http.get("auditor", "/audit/verify")
        assert (verdict["ok"], verdict["reason"], verdict["stream"]) == (False, "snapshot_mismatch", str(year_id))
        assert [(m["stream"], m["type"]) for m in verdict["snapshots"]["mismatches"]] == [(str(year_id), "Year")]
    finally:
        views.close()
        fresh.close()
