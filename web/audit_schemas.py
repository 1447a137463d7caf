"""Schemas of the audit endpoints (API.md "Audit and supervision"); the OpenAPI document comes from them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from web.fields import QueryYear


class TraceYearQuery(Schema):
    year = QueryYear(required=True)


class _Range(Schema):
    from_position = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**62))
    to_position = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**62))

    @validates_schema
    def ordered(self, data: dict, **kwargs: object) -> None:
        first, last = data.get("from_position"), data.get("to_position")
        if first is not None and last is not None and first > last:
            raise ValidationError("must not be before from_position", "to_position")


class VerifyQuery(_Range):
    pass


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
    unreadable = fields.Boolean()
    error = fields.String()


class TraceSchema(Schema):
    subject = fields.Dict(metadata={"description": "what is traced: its type and ids"})
    steps = fields.List(fields.Nested(TraceStepSchema), metadata={"description": "in position order"})


class AuditHeadSchema(Schema):
    position = fields.Integer()
    hash = fields.String(metadata={"description": "sha256 hex; 64 zeros for an empty store"})


class AuditVerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "events whose link was recomputed and matched"})
    head = fields.Nested(AuditHeadSchema)
    range = fields.Dict()
    position = fields.Integer(metadata={"description": "the first position that no longer matches"})
    reason = fields.String(metadata={"description": "altered, unreadable, deleted, unchained or link_broken"})
    stored_hash = fields.String()
    recomputed_hash = fields.String()
    expected_prev_hash = fields.String()
    stored_prev_hash = fields.String()
    error = fields.String()
