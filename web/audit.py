"""Audit and supervision (API.md "Audit and supervision"; Art. 21-24): traces, the chain, the export.

Traces are open to staff, the supervisor and auditors, and to an enterprise or provider for its
own, scoped to what it may see (API.md "Data each party may see", projections/audit/scope.py); the
chain's head and the export to the supervisor and auditors, and to an enterprise or provider its
own statement (资金凭证: every position, the others' lines redacted); verification to auditors.
Nothing here writes: the supervisor's one write, filing a case, lives with the cases.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger import errors
from ledger.access import require_reader
from ledger.rules import AUDITOR, ENTERPRISE, PROVIDER, SUPERVISOR, valid_credit_code
from projections.audit import chain, export, scope, snapshots, trace_queries
from web import memory
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app
from web.fields import QueryYear


class TraceYearQuery(Schema):
    year = QueryYear(required=True)
    # A party's year is thousands of steps (issue 19): the console reads it a page at a time.
    limit = fields.Integer(validate=validate.Range(min=1, max=500),
                           metadata={"description": "steps per page (at most 500); without it, every step"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9),
                            metadata={"description": "steps to skip, in position order"})


class _Range(Schema):
    from_position = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**62))
    to_position = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**62))

    @validates_schema
    def ordered(self, data: dict, **kwargs: object) -> None:
        first, last = data.get("from_position"), data.get("to_position")
        if first is not None and last is not None and first > last:
            raise ValidationError("must not be before from_position", "to_position")


class VerifyQuery(_Range):
    head = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be a sha256 hex digest (64 lower-case hex digits)"),
                         metadata={"description": "a head hash published earlier (公示): the chain must carry it"})
    position = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**62),
                              metadata={"description": "the published head's position"})

    @validates_schema
    def head_for_position(self, data: dict, **kwargs: object) -> None:
        if data.get("position") is not None and data.get("head") is None:
            raise ValidationError("position is given with head", "position")


class ExportQuery(_Range):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(["jsonl", "csv"]))
    year = QueryYear()


class ActorSchema(Schema):
    role = fields.String()
    id = fields.String()


class TraceStepSchema(Schema):
    position = fields.Integer()
    recorded_at = fields.String(allow_none=True)
    stream = fields.String(allow_none=True)
    stream_type = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    type = fields.String(allow_none=True, metadata={"description": "event class, e.g. Voucher.Reserved"})
    actor = fields.Nested(ActorSchema)
    data = fields.Dict(metadata={"description": "the event's other fields as recorded: amounts in integer fen "
                                                "(`*_fen`), rule parameters applied, document references"})
    hash = fields.String(allow_none=True, metadata={"description": "the event's link in the audit hash chain"})
    scoped = fields.Boolean(metadata={"description": "a shared step shown with the reader's own lines only "
                                                     "(API.md \"Data each party may see\"), or in a contract's "
                                                     "trace a batch-wide step with that contract's lines only "
                                                     "(the whole step: the batch's trace): `hash` is the whole "
                                                     "record's"})
    unreadable = fields.Boolean()
    error = fields.String()


class TraceSchema(Schema):
    subject = fields.Dict(metadata={"description": "what is traced: its type and ids"})
    steps = fields.List(fields.Nested(TraceStepSchema), metadata={"description": "in position order"})
    total = fields.Integer(metadata={"description": "steps in the whole trace (as many as `steps` unless paged)"})
    offset = fields.Integer(metadata={"description": "steps skipped (a party's year, paged)"})
    limit = fields.Integer(allow_none=True, metadata={"description": "the page's size; null: every step"})


class AuditHeadSchema(Schema):
    position = fields.Integer()
    hash = fields.String(metadata={"description": "sha256 hex; 64 zeros for an empty store"})


class AuditVerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "events whose link was recomputed and matched"})
    head = fields.Nested(AuditHeadSchema)
    range = fields.Dict()
    position = fields.Integer(metadata={"description": "the first position that no longer matches"})
    reason = fields.String(metadata={"description": "altered, unreadable, deleted, unchained, link_broken, old_form, "
                                                    "head_mismatch, head_not_found or snapshot_mismatch"})
    stored_hash = fields.String()
    recomputed_hash = fields.String()
    expected_prev_hash = fields.String()
    stored_prev_hash = fields.String()
    error = fields.String()
    published_head = fields.Dict(metadata={"description": "where the published head was found"})
    published_hash = fields.String()
    chain_hash = fields.String()
    snapshots = fields.Dict(metadata={"description": "snapshots and cached aggregates checked against their events: "
                                                     "`checked`, `cached`, `mismatches` [{stream, version, type, found_by}]"})
    stream = fields.String(metadata={"description": "the aggregate of the first snapshot or cached state that differs"})
    version = fields.Integer(metadata={"description": "its version"})


blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="审计与监督 Audit and supervision")

OVERSIGHT = (SUPERVISOR, AUDITOR)


def _credit_code(value: str, field: str) -> str:
    if not valid_credit_code(value):
        raise errors.ValidationFailed("invalid credit code", {field: [
            "must be an 18-character unified social credit code with a valid check character"]})
    return value


def _viewer(actor: Any) -> scope.Viewer | None:
    """An enterprise or provider reads its traces scoped to itself; readers of every subject read them whole."""
    store = fresh_views()
    return scope.viewer_of(actor, lambda entity: trace_queries.stream_facts(store, entity))


@blp.get("/trace/contracts/<contract_id>")
@blp.response(200, TraceSchema)
def trace_contract(contract_id: str) -> Any:
    """A contract's every step, back to identity, voucher and budget, forward to payment and sanction."""
    actor = current_actor()
    result = trace_queries.contract_trace(ledger_app(), fresh_views(), contract_id)
    subject = result["subject"]
    require_reader(actor, enterprise_id=subject["enterprise_id"], provider_id=subject["provider_id"])
    return trace_queries.scoped(result, _viewer(actor), fresh_views())


@blp.get("/trace/enterprises/<enterprise_id>")
@blp.arguments(TraceYearQuery, location="query")
@blp.response(200, TraceSchema)
def trace_enterprise(args: dict[str, Any], enterprise_id: str) -> Any:
    """An enterprise's year, step by step."""
    actor = current_actor()
    require_reader(actor, enterprise_id=_credit_code(enterprise_id, "enterprise_id"))
    return _year_trace(trace_queries.enterprise_trace, actor, enterprise_id, args)


@blp.get("/trace/providers/<provider_id>")
@blp.arguments(TraceYearQuery, location="query")
@blp.response(200, TraceSchema)
def trace_provider(args: dict[str, Any], provider_id: str) -> Any:
    """A provider's year, step by step."""
    actor = current_actor()
    require_reader(actor, provider_id=_credit_code(provider_id, "provider_id"))
    return _year_trace(trace_queries.provider_trace, actor, provider_id, args)


def _year_trace(trace: Any, actor: Any, code: str, args: dict[str, Any]) -> Any:
    """A party's year, whole or a page of it. Readers of every subject read it whole; a party reads its own
    year scoped to itself (steps of others left out before paging, by the index: `_year_trace`)."""
    return trace(ledger_app(), fresh_views(), code, args["year"], args["offset"], args.get("limit"),
                 viewer=_viewer(actor))


@blp.get("/trace/settlements/<batch_id>")
@blp.response(200, TraceSchema)
def trace_settlement(batch_id: str) -> Any:
    """A settlement batch, step by step (it belongs to no one enterprise or provider: readers only)."""
    require_reader(current_actor())
    return trace_queries.settlement_trace(ledger_app(), fresh_views(), batch_id)


@blp.get("/audit/head")
@blp.response(200, AuditHeadSchema)
def audit_head() -> Any:
    """The chain's head now: publish it with each public notice (公示)."""
    require_reader(current_actor(), roles=OVERSIGHT)
    return chain.head(fresh_views())


@blp.get("/audit/verify")
@blp.arguments(VerifyQuery, location="query")
@blp.response(200, AuditVerifySchema)
def audit_verify(args: dict[str, Any]) -> Any:
    """Recompute the chain from the stored events, against a published head if given; check every
    snapshot and cached aggregate against its events; name the first position that no longer matches."""
    require_reader(current_actor(), roles=(AUDITOR,))
    try:
        app = ledger_app()
        result = chain.verify(app, fresh_views(), args.get("from_position"), args.get("to_position"),
                              head_hash=args.get("head"), head_position=args.get("position"))
        return snapshots.with_snapshots(app, result)
    finally:
        memory.give_back()  # the whole log went through this thread's heap


@blp.get("/export")
@blp.arguments(ExportQuery, location="query")
@blp.doc(responses={"200": {"description": "JSONL or CSV, streamed; the manifest is the last line",
                            "content": {"application/x-ndjson": {}, "text/csv": {}}}})
def export_events(args: dict[str, Any]) -> Any:
    """Stream the events with their chain links, in position order, the manifest last; an enterprise or
    provider gets its own statement (资金凭证): every position, the lines that are not wholly its own redacted."""
    actor = current_actor()
    party = (actor.role, actor.subject) if actor.role in (ENTERPRISE, PROVIDER) and actor.subject else None
    if party is None:
        require_reader(actor, roles=OVERSIGHT)
    fmt = args["format"]
    store = fresh_views()
    chunks = export.export_chunks(ledger_app(), store, fmt, year=args.get("year"), party=party,
                                  from_position=args.get("from_position"), to_position=args.get("to_position"))
    name = ("voucher-ledger-export" + (f"-{party[1]}" if party else "") + (f"-{args['year']}" if args.get("year")
                                                                            else "") + f".{fmt}")
    # The chunks need no request context (the store and the application are passed in), so the
    # stream runs on after the view returns, a page at a time.
    response = Response(chunks, status=200, mimetype=None, content_type=export.MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    response.call_on_close(memory.give_back)  # once streamed, or the client gone: web/memory.py
    return response
