"""Year overviews for dashboards: the years opened, and money moved per month (Art. 11, 18, 20)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from ledger.access import require_reader
from ledger.rules import READERS
from projections.views import balances, monthly
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views
from web.fields import Yuan

blp = Blueprint("overview", __name__, url_prefix="/api/v1/years", description="年度概览 Year overviews")


class YearListItem(Schema):
    year = fields.Integer()
    starts_on = fields.String()
    ends_on = fields.String()
    status = fields.String()


class YearList(Schema):
    years = fields.List(fields.Nested(YearListItem))


class MonthSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM, China Standard Time (UTC+08:00)"})
    reserved = Yuan()
    released = Yuan()
    used = Yuan()
    expired = Yuan()
    clawed_back = Yuan()
    settled = Yuan()


class MonthlySchema(Schema):
    year = fields.Integer()
    months = fields.List(fields.Nested(MonthSchema), metadata={
        "description": "the year's twelve months, then any later month in which its money moved"})


@blp.get("")
@blp.response(200, YearList)
def list_years() -> Any:
    """The service years opened, newest first (approver, finance, operator, supervisor, auditor)."""
    require_reader(current_actor(), roles=READERS)
    return {"years": monthly.list_years(fresh_views())}


@blp.get("/<int:year>/monthly")
@blp.response(200, MonthlySchema)
def year_monthly(year: int) -> Any:
    """Money reserved, released, used, expired, clawed back and settled per month of a year's vouchers."""
    require_reader(current_actor(), roles=READERS)
    store = fresh_views()
    balances.get_year(store, year)  # 404 for a year never opened
    return monthly.get_monthly(store, year)
