"""Cases, sanctions, credit records and recoveries (API.md "Sanctions"; Art. 22, 25)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger import errors
from ledger.access import require_reader
from ledger.rules import CASE_SUBJECT_TYPES, READERS, VIOLATIONS
from projections.views import contracts, settlement
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.fields import CreditCode, StrictBoolean, Text, Year, Yuan
from web.schemas import NAME, CommandResponse, PagedSchema, page_of, page_query, paged_body

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="违规处理与信用记录 Cases, sanctions and credit")

MAX_CONTRACTS = 500


class CaseFileSchema(Schema):
    subject_type = fields.String(required=True, validate=validate.OneOf(CASE_SUBJECT_TYPES))
    subject_id = CreditCode(required=True)
    violation = fields.String(required=True, validate=validate.OneOf(VIOLATIONS))
    contract_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=MAX_CONTRACTS))
    note = Text(5000, load_default="")


class CaseFiled(CommandResponse):
    case_id = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    violation = fields.String()
    article = fields.String()
    contract_ids = fields.List(fields.String())
    note = fields.String()
    status = fields.String()
    filed_by = fields.String()


class SanctionSchema(Schema):
    clawback_contract_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=MAX_CONTRACTS))
    revoke_enterprise = StrictBoolean(load_default=False)
    terminate_provider = StrictBoolean(load_default=False)
    note = Text(5000, load_default="")


class ContractOutcomeSchema(Schema):
    contract_id = fields.String()
    previous_status = fields.String()
    outcome = fields.String(metadata={"enum": ["stopped", "released", "clawed_back", "receivable"]})
    amount = Yuan()
    receivable = Yuan()
    settled = fields.Boolean()


class CreditRecordSchema(Schema):
    case_id = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    violation = fields.String()
    article = fields.String()
    description = fields.String()
    note = fields.String()
    recorded_by = fields.String()
    recorded_at = fields.String()


class StoppedSchema(Schema):
    terminated_contracts = fields.List(fields.String())
    held_contracts = fields.List(fields.String())
    released = Yuan()


class SanctionResponse(CaseFiled):
    contracts = fields.List(fields.Nested(ContractOutcomeSchema))
    released = Yuan()
    clawed_back = Yuan()
    receivable = Yuan()
    enterprise_revoked = fields.Boolean()
    provider_terminated = fields.Boolean()
    credit_record = fields.Nested(CreditRecordSchema)
    stopped = fields.Nested(StoppedSchema, metadata={"description": "the party's other contracts, stopped in the "
                                                                    "same save (DOMAIN.md Stops 1)"})


class SanctionViewSchema(Schema):
    contracts = fields.List(fields.Nested(ContractOutcomeSchema))
    released = Yuan()
    clawed_back = Yuan()
    receivable = Yuan()
    revoke_enterprise = fields.Boolean()
    terminate_provider = fields.Boolean()
    note = fields.String()


class CaseSchema(Schema):
    case_id = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    violation = fields.String()
    article = fields.String()
    contract_ids = fields.List(fields.String())
    note = fields.String()
    status = fields.String()
    filed_by = fields.String()
    filed_at = fields.String()
    sanctioned_by = fields.String(allow_none=True)
    sanctioned_at = fields.String(allow_none=True)
    sanction = fields.Nested(SanctionViewSchema, allow_none=True)


class CaseListQuery(page_query(settlement.CASE_SORTS, 500, 500)):
    subject_id = CreditCode()


class CaseListSchema(PagedSchema):
    cases = fields.List(fields.Nested(CaseSchema))


class CreditRecordsSchema(Schema):
    subject_id = fields.String()
    records = fields.List(fields.Nested(CreditRecordSchema))


class RecoverySchema(Schema):
    year = Year(required=True)
    amount = Yuan(required=True)
    reference = Text(200, required=True, validate=NAME)


class RecoveryResponse(CommandResponse):
    provider_id = fields.String()
    year = fields.Integer()
    amount = Yuan()
    reference = fields.String()
    receivable = Yuan(metadata={"description": "what the provider still owes for the year"})


@blp.post("/cases")
@blp.arguments(CaseFileSchema)
@blp.response(201, CaseFiled)
def file_case(body: dict[str, Any]) -> Any:
    return run(ledger_app().file_case, body["subject_type"], body["subject_id"], body["violation"],
               [str(c) for c in body["contract_ids"]], body["note"])


@blp.get("/cases")
@blp.arguments(CaseListQuery, location="query")
@blp.response(200, CaseListSchema)
def list_cases(args: dict[str, Any]) -> Any:
    require_reader(current_actor(), roles=READERS)
    cases, total = settlement.list_cases_page(fresh_views(), args.get("subject_id"), page_of(args))
    return {"cases": cases, **paged_body(args, total)}


@blp.post("/cases/<case_id>/sanction")
@blp.arguments(SanctionSchema)
@blp.response(200, SanctionResponse)
def sanction_case(body: dict[str, Any], case_id: str) -> Any:
    proposed: list[str] = []
    if body["revoke_enterprise"] or body["terminate_provider"]:  # the party's proposed contracts stop too
        try:
            case = settlement.get_case(fresh_views(), case_id)
            proposed = contracts.proposed_contract_ids(fresh_views(), case["subject_type"], case["subject_id"])
        except errors.NotFound:
            pass  # the command answers for an unknown case
    return run(ledger_app().sanction_case, case_id, [str(c) for c in body["clawback_contract_ids"]],
               body["revoke_enterprise"], body["terminate_provider"], body["note"], proposed)


@blp.get("/cases/<case_id>")
@blp.response(200, CaseSchema)
def get_case(case_id: str) -> Any:
    """Staff, the supervisor and auditors: a case under way is not shown to its subject."""
    require_reader(current_actor(), roles=READERS)
    return settlement.get_case(fresh_views(), case_id)


@blp.get("/credit-records/<subject_id>")
@blp.response(200, CreditRecordsSchema)
def credit_records(subject_id: str) -> Any:
    """The bad credit records in a subject's service archive (readers, and the subject itself)."""
    require_reader(current_actor(), enterprise_id=subject_id, provider_id=subject_id)
    return {"subject_id": subject_id, "records": settlement.list_credit_records(fresh_views(), subject_id)}


@blp.post("/providers/<provider_id>/recoveries")
@blp.arguments(RecoverySchema)
@blp.response(201, RecoveryResponse)
def record_recovery(body: dict[str, Any], provider_id: str) -> Any:
    return run(ledger_app().record_recovery, provider_id, body["year"], body["amount"], body["reference"])
