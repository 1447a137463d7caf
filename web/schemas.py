"""The schemas several resources share: the error body, command responses, documents, as_of.

Each resource's own schemas live with its routes (web/<resource>.py); the OpenAPI document is
generated from them.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.rules import DOCUMENT_KINDS, HONOUR_CERTIFICATE, HONOURS
from web.fields import DocumentUri, Instant, PlainName, StrictInteger, Text

NAME = [validate.Length(min=1, max=200), PlainName()]


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "UPPER_SNAKE error code (API.md, Errors)"})
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "field → messages, or the rule's figures"})


class ErrorSchema(Schema):
    """The one error body of the API: {"error": {"code", "message", "details"}} (API.md, Errors)."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class CommandResponse(Schema):
    position = fields.Integer(metadata={"description": "global position of the last event the command recorded"})


class DocumentSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 hex digits"))
    size = StrictInteger(required=True, validate=validate.Range(min=0, max=10 * 1024**3))
    uri = DocumentUri(required=True)
    kind = fields.String(validate=validate.OneOf(DOCUMENT_KINDS),
                         metadata={"description": "what the document evidences (Art. 13; honour_certificate: Art. 9)"})
    honour = fields.String(validate=validate.OneOf(HONOURS), metadata={"description": "with honour_certificate"})

    @validates_schema
    def honour_with_its_certificate(self, data: dict, **kwargs: object) -> None:
        """An honour certificate names its honour (Art. 9); other documents name none."""
        if (data.get("kind") == HONOUR_CERTIFICATE) != ("honour" in data):
            raise ValidationError("an honour_certificate names its honour, and only it does", "honour")


DOCUMENTS = dict(load_default=list, validate=validate.Length(max=100))


AS_OF = {"description": "ISO 8601 instant with offset: the figures as they stood then (audit, Art. 21-24)"}


class AsOfQuery(Schema):
    as_of = Instant(metadata=AS_OF)


class ReasonSchema(Schema):
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
