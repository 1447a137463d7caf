"""Years: the approver opens, finance funds, the operator closes (API.md "Years")."""

from __future__ import annotations

from typing import Any

from ledger.access import require_reader
from ledger.rules import READERS
from projections import history, queries
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.schemas import (
    AsOfQuery, BudgetResponse, BudgetSchema, ClosePreviewSchema, CloseResponse, YearOpenSchema, YearParametersSchema,
    YearSchema,
)

blp = Blueprint("years", __name__, url_prefix="/api/v1/years", description="服务年度 Service years")


@blp.post("")
@blp.arguments(YearOpenSchema)
@blp.response(201, YearParametersSchema)
def open_year(body: dict[str, Any]) -> Any:
    return run(ledger_app().open_year, **body)


@blp.post("/<int:year>/budget")
@blp.arguments(BudgetSchema)
@blp.response(201, BudgetResponse)
def allocate_budget(body: dict[str, Any], year: int) -> Any:
    return run(ledger_app().allocate_budget, year, body["amount"], body["reference"])


@blp.get("/<int:year>")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, YearSchema)
def get_year(args: dict[str, Any], year: int) -> Any:
    require_reader(current_actor(), roles=READERS)
    if args.get("as_of") is not None:  # the year's totals as they stood then (projections/history.py)
        return history.get_year_as_of(fresh_views(), year, args["as_of"])
    return queries.get_year(fresh_views(), year)


@blp.get("/<int:year>/close-preview")
@blp.response(200, ClosePreviewSchema)
def close_preview(year: int) -> Any:
    """What the close would expire and release, and from which day it may run (Art. 18)."""
    require_reader(current_actor(), roles=READERS)
    ledger = ledger_app()
    return queries.close_preview(fresh_views(), ledger.get_year(year), ledger.today())


@blp.post("/<int:year>/close")
@blp.response(200, CloseResponse)
def close_year(year: int) -> Any:
    return run(ledger_app().close_year, year)
