"""Settlement batches (API.md "Settlement"): claims, review, approval, public notice (公示), payment (Art. 19-20)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.domain.settlement import (
    APPROVE, CLAIM_STATUSES, NO_OBJECTION, OBJECTION, REJECT, REJECTION_REASONS, RESOLUTIONS,
)
from ledger.rules import PROVIDER, READERS
from projections.views import settlement
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.fields import QueryYear, Text, Year, Yuan
from web.schemas import NAME, CommandResponse, DocumentSchema, PagedSchema, page_of, page_query, paged_body

blp = Blueprint("settlements", __name__, url_prefix="/api/v1/settlements", description="兑付结算 Settlement")

MAX_CONTRACTS = 500


class BatchOpenSchema(Schema):
    year = Year(required=True)
    name = Text(200, required=True, validate=NAME)


class BatchOpened(CommandResponse):
    batch_id = fields.String()
    year = fields.Integer()
    name = fields.String()
    status = fields.String()


class ClaimSchema(Schema):
    contract_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=MAX_CONTRACTS))
    documents = fields.List(fields.Nested(DocumentSchema), required=True, validate=validate.Length(min=1, max=100))


class ClaimResponse(CommandResponse):
    batch_id = fields.String()
    claim_id = fields.String()
    provider_id = fields.String()
    status = fields.String()
    amount = Yuan()
    contract_ids = fields.List(fields.String())
    amounts = fields.Dict(keys=fields.String(), values=Yuan())
    claimed_by = fields.String()
    reviewed_by = fields.String(allow_none=True)
    note = fields.String()
    reason = fields.String(allow_none=True)
    dispute = fields.String(allow_none=True)


class ClaimReviewSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf([APPROVE, REJECT]))
    reason = fields.String(validate=validate.OneOf(REJECTION_REASONS), load_default=None,
                           metadata={"description": "required with reject: materials (may be claimed again) or "
                                                    "acceptance_failed (the contracts fail acceptance)"})
    note = Text(2000, load_default="")


class ApprovalSchema(Schema):
    note = Text(2000, load_default="")


class ApprovalResponse(BatchOpened):
    amount = Yuan()
    claims = fields.Integer()
    note = fields.String()


class NoticeSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf([NO_OBJECTION, OBJECTION]))
    note = Text(2000, load_default="")
    claim_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=10_000),
                            metadata={"description": "claims an objection disputes: each of their contracts"})
    contract_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=10_000),
                               metadata={"description": "the contracts an objection disputes; their claims are held"})


class NoticeResponse(BatchOpened):
    outcome = fields.String()
    held_back_claim_ids = fields.List(fields.String())
    disputed_contract_ids = fields.List(fields.String())
    amount = Yuan(metadata={"description": "what the batch will pay after the notice"})


class PaymentSchema(Schema):
    reference = Text(200, required=True, validate=NAME)


class PaymentResponse(BatchOpened):
    reference = fields.String()
    amount = Yuan()
    contracts = fields.Integer()
    providers = fields.Dict(keys=fields.String(), values=Yuan())
    held_back = fields.Dict(keys=fields.String(), values=Yuan(),
                            metadata={"description": "contracts found held or failed at payment, not paid"})
    held_back_amount = Yuan()


class ResolutionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    note = Text(2000, required=True, validate=validate.Length(min=1, max=2000))


class ResolutionResponse(BatchOpened):
    contract_id = fields.String()
    claim_id = fields.String()
    decision = fields.String()
    note = fields.String()
    contract_status = fields.String()
    dispute = fields.String(allow_none=True)


class ClaimLineSchema(Schema):
    contract_id = fields.String()
    amount = Yuan()


class ClaimViewSchema(Schema):
    claim_id = fields.String()
    provider_id = fields.String()
    status = fields.String(metadata={"enum": list(CLAIM_STATUSES)})
    amount = Yuan()
    contract_ids = fields.List(fields.String())
    contracts = fields.List(fields.Nested(ClaimLineSchema))
    documents = fields.List(fields.Nested(DocumentSchema))
    claimed_by = fields.String()
    claimed_at = fields.String()
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.String(allow_none=True)
    note = fields.String()
    reason = fields.String(allow_none=True, metadata={"description": "why a rejected claim was rejected"})
    dispute = fields.String(allow_none=True, metadata={"enum": ["open", "upheld", "dismissed"],
                                                       "description": "an objection at the notice (Art. 20)"})
    disputes = fields.Dict(keys=fields.String(), values=fields.String(),
                           metadata={"description": "each disputed contract's state"})


class ChainHeadSchema(Schema):
    position = fields.Integer()
    hash = fields.String(allow_none=True)


class StatusTotalSchema(Schema):
    claims = fields.Integer()
    contracts = fields.Integer()
    amount = Yuan()


class BatchTotalsSchema(Schema):
    pending = fields.Nested(StatusTotalSchema)
    approved = fields.Nested(StatusTotalSchema)
    rejected = fields.Nested(StatusTotalSchema)
    objected = fields.Nested(StatusTotalSchema)
    paid = fields.Nested(StatusTotalSchema)
    withdrawn = fields.Nested(StatusTotalSchema)


class BatchSchema(Schema):
    batch_id = fields.String()
    year = fields.Integer()
    name = fields.String()
    status = fields.String()
    opened_by = fields.String()
    opened_at = fields.String()
    approved_by = fields.String(allow_none=True)
    approved_at = fields.String(allow_none=True)
    notice_outcome = fields.String(allow_none=True)
    notice_note = fields.String(allow_none=True)
    noticed_by = fields.String(allow_none=True)
    noticed_at = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    paid_by = fields.String(allow_none=True)
    paid_at = fields.String(allow_none=True)
    claims = fields.List(fields.Nested(ClaimViewSchema))
    notice = fields.Nested(ChainHeadSchema, allow_none=True,
                           metadata={"description": "the audit chain's head when the notice was recorded"})
    totals = fields.Nested(BatchTotalsSchema)
    claimed = Yuan()
    payable = Yuan()
    paid = Yuan()
    claims_total = fields.Integer(metadata={"description": "claims in all (as many as `claims` unless paged)"})


class BatchListQuery(page_query(settlement.BATCH_SORTS, 500, 500)):
    year = QueryYear()


class BatchSummarySchema(Schema):
    batch_id = fields.String()
    year = fields.Integer()
    name = fields.String()
    status = fields.String()
    opened_at = fields.String()
    reference = fields.String(allow_none=True)
    claims = fields.Integer()
    claimed = Yuan()
    payable = Yuan()
    paid = Yuan()


class BatchListSchema(PagedSchema):
    batches = fields.List(fields.Nested(BatchSummarySchema))


class PlanContractSchema(Schema):
    contract_id = fields.String()
    claim_id = fields.String()
    enterprise_id = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    contract_amount = Yuan(allow_none=True)
    amount = Yuan()


class PlanProviderSchema(Schema):
    provider_id = fields.String()
    name = fields.String()
    amount = Yuan()
    contracts = fields.List(fields.Nested(PlanContractSchema))


class PlanSchema(Schema):
    batch_id = fields.String()
    year = fields.Integer()
    name = fields.String()
    status = fields.String()
    amount = Yuan()
    contracts = fields.Integer()
    providers = fields.List(fields.Nested(PlanProviderSchema))


@blp.post("")
@blp.arguments(BatchOpenSchema)
@blp.response(201, BatchOpened)
def open_settlement(body: dict[str, Any]) -> Any:
    return run(ledger_app().open_settlement, body["year"], body["name"])


@blp.get("")
@blp.arguments(BatchListQuery, location="query")
@blp.response(200, BatchListSchema)
def list_batches(args: dict[str, Any]) -> Any:
    require_reader(current_actor(), roles=READERS)
    batches, total = settlement.list_batches_page(fresh_views(), args.get("year"), page_of(args))
    return {"batches": batches, **paged_body(args, total)}


@blp.post("/<batch_id>/claims")
@blp.arguments(ClaimSchema)
@blp.response(201, ClaimResponse)
def claim_settlement(body: dict[str, Any], batch_id: str) -> Any:
    return run(ledger_app().claim_settlement, batch_id, [str(c) for c in body["contract_ids"]], body["documents"])


@blp.post("/<batch_id>/claims/<claim_id>/review")
@blp.arguments(ClaimReviewSchema)
@blp.response(200, ClaimResponse)
def review_claim(body: dict[str, Any], batch_id: str, claim_id: str) -> Any:
    return run(ledger_app().review_claim, batch_id, claim_id, body["decision"], body["note"], body["reason"])


@blp.post("/<batch_id>/approval")
@blp.arguments(ApprovalSchema)
@blp.response(200, ApprovalResponse)
def approve_settlement(body: dict[str, Any], batch_id: str) -> Any:
    return run(ledger_app().approve_settlement, batch_id, body["note"])


@blp.post("/<batch_id>/notice")
@blp.arguments(NoticeSchema)
@blp.response(200, NoticeResponse)
def record_notice(body: dict[str, Any], batch_id: str) -> Any:
    return run(ledger_app().record_settlement_notice, batch_id, body["outcome"], body["note"],
               [str(c) for c in body["claim_ids"]], [str(c) for c in body["contract_ids"]])


@blp.post("/<batch_id>/objections/<contract_id>/resolution")
@blp.arguments(ResolutionSchema)
@blp.response(200, ResolutionResponse)
def resolve_objection(body: dict[str, Any], batch_id: str, contract_id: str) -> Any:
    """The approver resolves an objection to one disputed contract: upheld or dismissed (Art. 20)."""
    return run(ledger_app().resolve_objection, batch_id, contract_id, body["decision"], body["note"])


@blp.post("/<batch_id>/payment")
@blp.arguments(PaymentSchema)
@blp.response(200, PaymentResponse)
def pay_settlement(body: dict[str, Any], batch_id: str) -> Any:
    return run(ledger_app().pay_settlement, batch_id, body["reference"])


class BatchQuery(Schema):
    # A year's batch pays thousands of contracts (issue 19): the console reads its claims a page at a time.
    claims_limit = fields.Integer(validate=validate.Range(min=1, max=500),
                                  metadata={"description": "claims per page (at most 500); without it, every claim"})
    claims_offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9),
                                   metadata={"description": "claims to skip, in the order they were made"})


@blp.get("/<batch_id>")
@blp.arguments(BatchQuery, location="query")
@blp.response(200, BatchSchema)
def get_batch(args: dict[str, Any], batch_id: str) -> Any:
    """Staff, the supervisor and auditors see every claim; a provider sees the batch with its own claims only.
    Totals are over every claim the reader sees, whatever page of claims is asked for."""
    from projections.views.paging import Page

    page = Page(args["claims_limit"], args["claims_offset"]) if args.get("claims_limit") else None
    actor = current_actor()
    if actor.role == PROVIDER:
        return settlement.get_batch(fresh_views(), batch_id, provider_id=actor.subject, claims_page=page)
    require_reader(actor, roles=READERS)
    return settlement.get_batch(fresh_views(), batch_id, claims_page=page)


@blp.get("/<batch_id>/plan")
@blp.response(200, PlanSchema)
def get_plan(batch_id: str) -> Any:
    """What paying the batch would pay now, per provider and contract (staff, supervisor, auditor)."""
    require_reader(current_actor(), roles=READERS)
    return settlement.get_batch_plan(fresh_views(), batch_id)
