"""Enterprises, vouchers and balances (API.md "Enterprises and vouchers")."""

from __future__ import annotations

from typing import Any

from ledger.access import require_reader
from projections import queries
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.schemas import (
    AsOfQuery, BalanceQuery, BalanceSchema, EnterpriseAmendmentSchema, EnterpriseResponse, EnterpriseSchema,
    VerificationSchema, VoucherIssued, VoucherIssueSchema, VoucherSchema,
)

blp = Blueprint("enterprises", __name__, url_prefix="/api/v1", description="用券主体与补贴券 Enterprises and vouchers")


@blp.post("/enterprises")
@blp.arguments(EnterpriseSchema)
@blp.response(201, EnterpriseResponse)
def register_enterprise(body: dict[str, Any]) -> Any:
    return run(ledger_app().register_enterprise, body.pop("id"), body.pop("name"),
               revenue_fen=body.pop("revenue"), **body)


@blp.post("/enterprises/<enterprise_id>/verification")
@blp.arguments(VerificationSchema)
@blp.response(200, EnterpriseResponse)
def verify_enterprise(body: dict[str, Any], enterprise_id: str) -> Any:
    """The operator verifies declared honours against evidence documents (Art. 9, 17)."""
    return run(ledger_app().verify_enterprise, enterprise_id, body["honours"], body["documents"])


@blp.post("/enterprises/<enterprise_id>/amendments")
@blp.arguments(EnterpriseAmendmentSchema)
@blp.response(200, EnterpriseResponse)
def amend_enterprise(body: dict[str, Any], enterprise_id: str) -> Any:
    """The operator corrects an enterprise's facts, with reason and evidence (Art. 17, 23)."""
    return run(ledger_app().amend_enterprise, enterprise_id, body["changes"], body["reason"], body["documents"])


@blp.get("/enterprises/<enterprise_id>/balance")
@blp.arguments(BalanceQuery, location="query")
@blp.response(200, BalanceSchema)
def enterprise_balance(args: dict[str, Any], enterprise_id: str) -> Any:
    require_reader(current_actor(), enterprise_id=enterprise_id)
    if args.get("as_of") is not None:  # as it stood then, folded from the vouchers' own events
        return ledger_app().enterprise_balance_as_of(enterprise_id, args["year"], args["as_of"])
    return queries.get_enterprise_balance(fresh_views(), enterprise_id, args["year"])


@blp.post("/vouchers")
@blp.arguments(VoucherIssueSchema)
@blp.response(201, VoucherIssued)
def issue_voucher(body: dict[str, Any]) -> Any:
    return run(ledger_app().issue_voucher, body["enterprise_id"], body["year"], body["kind"])


@blp.get("/vouchers/<voucher_id>")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, VoucherSchema)
def get_voucher(args: dict[str, Any], voucher_id: str) -> Any:
    if args.get("as_of") is not None:
        voucher = ledger_app().voucher_as_of(voucher_id, args["as_of"])
    else:
        voucher = queries.get_voucher(fresh_views(), voucher_id)
    require_reader(current_actor(), enterprise_id=voucher["enterprise_id"])
    return voucher
