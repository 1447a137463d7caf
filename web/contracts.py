"""Contracts: reservation, deduction, release (API.md "Contracts")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.rules import VOUCHER_KINDS
from projections.views import contracts
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.fields import CreditCode, StrictInteger, Text, Yuan
from web.schemas import CommandResponse, DocumentSchema, ReasonSchema


class ContractProposeSchema(Schema):
    voucher_id = fields.UUID(required=True)
    provider_id = CreditCode(required=True)
    product_id = fields.UUID(required=True)
    amount = Yuan(required=True)
    subsidy = Yuan()
    quantity = StrictInteger(load_default=1, validate=validate.Range(min=1, max=10_000),
                             metadata={"description": "units of the product; amount ≤ listed price × quantity"})


class HoldSchema(Schema):
    reason = fields.String()
    since_position = fields.Integer()


class ContractSchema(CommandResponse):
    contract_id = fields.String()
    status = fields.String()
    voucher_id = fields.String()
    enterprise_id = fields.String()
    provider_id = fields.String()
    product_id = fields.String()
    year = fields.Integer()
    category = fields.String()
    amount = Yuan()
    subsidy = Yuan()
    deposit = Yuan()
    balance_due = Yuan()
    deposit_paid = Yuan()
    balance_paid = Yuan()
    settled = fields.Boolean()
    quantity = fields.Integer()
    batch_id = fields.String(allow_none=True)
    clawed_back = Yuan()
    receivable = Yuan()
    hold = fields.Nested(HoldSchema, allow_none=True,
                         metadata={"description": "while held (冻结): why, and the position of the event that held it"})
    kind = fields.String(metadata={"enum": list(VOUCHER_KINDS),
                                   "description": "its voucher's kind (专项券: special); in read answers (GET)"})


class DepositSchema(Schema):
    amount = Yuan(required=True)


class CompletionSchema(Schema):
    balance_paid = Yuan(required=True)


class AcceptanceSchema(Schema):
    result = fields.String(required=True, validate=validate.OneOf(["passed", "failed"]))
    findings = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=100))


class HoldReleaseSchema(ReasonSchema):
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=100))


blp = Blueprint("contracts", __name__, url_prefix="/api/v1/contracts", description="服务合同 Contracts")


@blp.post("")
@blp.arguments(ContractProposeSchema)
@blp.response(201, ContractSchema)
def propose_contract(body: dict[str, Any]) -> Any:
    return run(ledger_app().propose_contract, body["voucher_id"], body["provider_id"], body["product_id"],
               body["amount"], body.get("subsidy"), body["quantity"])


@blp.post("/<contract_id>/signature")
@blp.response(200, ContractSchema)
def sign_contract(contract_id: str) -> Any:
    return run(ledger_app().sign_contract, contract_id)


@blp.post("/<contract_id>/deposit")
@blp.arguments(DepositSchema)
@blp.response(200, ContractSchema)
def pay_deposit(body: dict[str, Any], contract_id: str) -> Any:
    return run(ledger_app().pay_deposit, contract_id, body["amount"])


@blp.post("/<contract_id>/completion")
@blp.arguments(CompletionSchema)
@blp.response(200, ContractSchema)
def complete_contract(body: dict[str, Any], contract_id: str) -> Any:
    return run(ledger_app().complete_contract, contract_id, body["balance_paid"])


@blp.post("/<contract_id>/termination")
@blp.arguments(ReasonSchema)
@blp.response(200, ContractSchema)
def terminate_contract(body: dict[str, Any], contract_id: str) -> Any:
    return run(ledger_app().terminate_contract, contract_id, body["reason"])


@blp.get("/<contract_id>")
@blp.response(200, ContractSchema)
def get_contract(contract_id: str) -> Any:
    contract = contracts.get_contract(fresh_views(), contract_id)
    require_reader(current_actor(), enterprise_id=contract["enterprise_id"], provider_id=contract["provider_id"])
    return contract


@blp.post("/<contract_id>/acceptance")
@blp.arguments(AcceptanceSchema)
@blp.response(200, ContractSchema)
def record_acceptance(body: dict[str, Any], contract_id: str) -> Any:
    """An acceptance check (验收, Art. 21, 28): operator or supervisor; failed → failed_acceptance."""
    return run(ledger_app().record_acceptance, contract_id, body["result"], body["findings"], body["documents"])


@blp.post("/<contract_id>/hold-release")
@blp.arguments(HoldReleaseSchema)
@blp.response(200, ContractSchema)
def release_hold(body: dict[str, Any], contract_id: str) -> Any:
    """The approver ends a hold: the service was truly delivered (DOMAIN.md "Stops" 1)."""
    return run(ledger_app().release_hold, contract_id, body["reason"], body["documents"])
