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


def page_query(sorts: dict[str, str], default_limit: int, max_limit: int) -> type[Schema]:
    """The query of a paged list (issue 19): `limit`, `offset` and `sort` (one of `sorts`, "-" for descending)."""
    keys = sorted(sorts)
    return Schema.from_dict({
        "limit": fields.Integer(load_default=default_limit, validate=validate.Range(min=1, max=max_limit),
                                metadata={"description": f"rows per page (at most {max_limit})"}),
        "offset": fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9),
                                 metadata={"description": "rows to skip: the next page starts at offset + limit"}),
        "sort": fields.String(load_default=None, validate=validate.OneOf(keys + ["-" + k for k in keys]),
                              metadata={"description": "order: " + ", ".join(keys) + "; a leading - reverses it"}),
    })


class PagedSchema(Schema):
    """The fields a paged list adds beside its rows: how many there are in all and which slice this is."""

    total = fields.Integer(metadata={"description": "rows the query finds in all"})
    limit = fields.Integer()
    offset = fields.Integer()
    sort = fields.String(allow_none=True)


def page_of(args: dict) -> "Page":
    """The page a list query asks for."""
    from projections.views.paging import Page

    return Page(args["limit"], args["offset"], args.get("sort"))


def paged_body(args: dict, total: int) -> dict:
    """The paging fields of a list's response."""
    return {"total": total, "limit": args["limit"], "offset": args["offset"], "sort": args.get("sort")}
