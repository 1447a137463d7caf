"""Years: the approver opens, finance funds, the operator closes (API.md "Years")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.rules import CATEGORIES, DESIGNATIONS, READERS, TIERS
from projections.audit import history
from projections.views import balances
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.fields import IsoDate, Share, StrictBoolean, StrictInteger, Text, Year, Yuan
from web.schemas import DOCUMENTS, NAME, AsOfQuery, CommandResponse, DocumentSchema


class TierQuotasSchema(Schema):
    T1 = Yuan()
    T2 = Yuan()
    T3 = Yuan()
    T4 = Yuan()


class YearOpenSchema(Schema):
    year = Year(required=True)
    starts_on = IsoDate(required=True)
    ends_on = IsoDate(required=True)
    tier_quotas = fields.Nested(TierQuotasSchema)
    diagnosis_share = Share()
    other_share = Share()
    deposit_share = Share()
    provider_cap = Yuan()
    commitment_required = StrictBoolean(load_default=False)
    settlement_batches = StrictInteger(validate=validate.OneOf([1, 2]),
                                        metadata={"description": "settlement batches a year (Art. 19), default 2"})


class SpecialProgrammeSchema(Schema):
    """The year's special programme (专项券年度方案), Art. 6(二), 9(二), 10."""

    quotas = fields.Dict(keys=fields.String(validate=validate.OneOf(DESIGNATIONS)), values=Yuan(), required=True,
                         validate=validate.Length(min=1), metadata={"description": "quota per designation"})
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True,
                             validate=validate.Length(min=1, max=len(CATEGORIES)))
    provider_cap = Yuan(required=True, allow_none=True,
                        metadata={"description": "special subsidy per provider and year; null: no cap"})
    reference = Text(200, required=True, validate=NAME, metadata={"description": "the annual notice (年度申报通知)"})


class SpecialProgrammeBody(SpecialProgrammeSchema):
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class SpecialProgrammeResponse(SpecialProgrammeSchema, CommandResponse):
    year = fields.Integer()


class YearParametersSchema(CommandResponse):
    year = fields.Integer()
    starts_on = fields.String()
    ends_on = fields.String()
    status = fields.String()
    tier_quotas = fields.Dict(keys=fields.String(validate=validate.OneOf(TIERS)), values=Yuan())
    diagnosis_share = Share()
    other_share = Share()
    deposit_share = Share()
    provider_cap = Yuan()
    commitment_required = fields.Boolean()
    settlement_batches = fields.Integer()
    special_programme = fields.Nested(SpecialProgrammeSchema, allow_none=True)


class KindTotalsSchema(Schema):
    """One kind's share of the year's figures (the budget is one for both kinds)."""

    vouchers = fields.Integer()
    issued = Yuan()
    available = Yuan()
    reserved = Yuan()
    used = Yuan()
    expired = Yuan()
    clawed_back = Yuan()
    settled = Yuan()


class ByKindSchema(Schema):
    general = fields.Nested(KindTotalsSchema)
    special = fields.Nested(KindTotalsSchema)


class YearSchema(YearParametersSchema, KindTotalsSchema):
    as_of = fields.String(metadata={"description": "the instant asked for, when the figures are historical"})
    budget = Yuan()
    unissued = Yuan(metadata={"description": "budget not yet issued (budget − issued)"})
    by_kind = fields.Nested(ByKindSchema, metadata={"description": "the same figures per voucher kind"})


class BudgetSchema(Schema):
    amount = Yuan(required=True)
    reference = Text(200, required=True, validate=NAME)


class BudgetResponse(CommandResponse):
    year = fields.Integer()
    amount = Yuan()
    reference = fields.String()
    budget = Yuan()


class CloseResponse(CommandResponse):
    year = fields.Integer()
    expired_vouchers = fields.Integer()
    expired_amount = Yuan()
    released_contracts = fields.Integer()


class ClosePreviewSchema(Schema):
    year = fields.Integer()
    expired_vouchers = fields.Integer()
    expired_amount = Yuan()
    released_contracts = fields.Integer()
    can_close = fields.Boolean()
    closes_after = fields.String(metadata={"description": "the window's last day: the close may run from the next"})


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
    if args.get("as_of") is not None:  # the year's totals as they stood then (projections/audit/history.py)
        return history.get_year_as_of(fresh_views(), year, args["as_of"])
    return balances.get_year(fresh_views(), year)


@blp.get("/<int:year>/close-preview")
@blp.response(200, ClosePreviewSchema)
def close_preview(year: int) -> Any:
    """What the close would expire and release, and from which day it may run (Art. 18)."""
    require_reader(current_actor(), roles=READERS)
    ledger = ledger_app()
    return balances.close_preview(fresh_views(), ledger.get_year(year), ledger.today())


@blp.post("/<int:year>/close")
@blp.response(200, CloseResponse)
def close_year(year: int) -> Any:
    return run(ledger_app().close_year, year)


@blp.put("/<int:year>/special-programme")
@blp.arguments(SpecialProgrammeBody)
@blp.response(200, SpecialProgrammeResponse)
def set_special_programme(body: dict[str, Any], year: int) -> Any:
    """The approver sets the year's special programme, once before the first special voucher (Art. 9(二))."""
    return run(ledger_app().set_special_programme, year, **body)
