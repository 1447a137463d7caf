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
                                                     "(API.md \"Data each party may see\"): `hash` is the whole record's"})
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
