"""Enterprises, vouchers and balances (API.md "Enterprises and vouchers")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.access import require_reader
from ledger.rules import DESIGNATIONS, HONOURS, SPECIAL, VOUCHER_KINDS
from projections.views import balances
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.fields import CreditCode, Instant, QueryYear, StrictBoolean, StrictInteger, Text, Year, Yuan
from web.schemas import AS_OF, DOCUMENTS, NAME, AsOfQuery, CommandResponse, DocumentSchema


class EnterpriseSchema(Schema):
    id = CreditCode(required=True)
    name = fields.String(required=True, validate=NAME)
    employees = StrictInteger(required=True, validate=validate.Range(min=0, max=10_000_000))
    revenue = Yuan(required=True)
    registered_in_guangxi = StrictBoolean(required=True)
    legal_person = StrictBoolean(required=True)
    social_insurance = StrictBoolean(required=True)
    dishonest = StrictBoolean(required=True)
    major_violation = StrictBoolean(required=True)
    industry_aligned = StrictBoolean(required=True)
    honours = fields.List(fields.String(validate=validate.OneOf(HONOURS)), load_default=list,
                          validate=validate.Length(max=len(HONOURS)))
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class HonourStateSchema(Schema):
    code = fields.String()
    verified = fields.Boolean(metadata={"description": "declared honours count toward the tier once verified"})


class EnterpriseResponse(CommandResponse):
    id = fields.String()
    name = fields.String()
    tier = fields.String()
    eligible = fields.Boolean()
    failed_conditions = fields.List(fields.String())
    honours = fields.List(fields.Nested(HonourStateSchema))
    changed = fields.List(fields.String(), metadata={"description": "the facts an amendment corrected"})
    reason = fields.String()


class VerificationSchema(Schema):
    honours = fields.List(fields.String(validate=validate.OneOf(HONOURS)), required=True,
                          validate=validate.Length(min=1, max=len(HONOURS)))
    documents = fields.List(fields.Nested(DocumentSchema), required=True, validate=validate.Length(min=1, max=100))


class VoucherIssueSchema(Schema):
    enterprise_id = CreditCode(required=True)
    year = Year(required=True)
    kind = fields.String(load_default="general", validate=validate.OneOf(VOUCHER_KINDS))
    designation = fields.String(validate=validate.OneOf(DESIGNATIONS),
                                metadata={"description": "with kind special: the designation whose quota it carries"})

    @validates_schema
    def designation_with_special(self, data: dict, **kwargs: object) -> None:
        """A special voucher names its designation (Art. 9(二)); a general one names none."""
        if (data.get("kind") == SPECIAL) != ("designation" in data):
            raise ValidationError("a special voucher names its designation, and only it does", "designation")


class DesignationSchema(Schema):
    year = Year(required=True)
    designation = fields.String(required=True, validate=validate.OneOf(DESIGNATIONS))
    reference = Text(200, required=True, validate=NAME, metadata={"description": "the notice naming the subject"})
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class DesignationResponse(CommandResponse):
    enterprise_id = fields.String()
    year = fields.Integer()
    designation = fields.String()
    reference = fields.String()
    designations = fields.List(fields.String(), metadata={"description": "every designation of the year"})


class VoucherIssued(CommandResponse):
    voucher_id = fields.String()
    enterprise_id = fields.String()
    year = fields.Integer()
    kind = fields.String()
    tier = fields.String(metadata={"description": "general: the tier; special: the designation"})
    quota = Yuan()
    designation = fields.String(allow_none=True)


class FiguresSchema(Schema):
    as_of = fields.String(metadata={"description": "the instant asked for, when the figures are historical"})
    quota = Yuan()
    available = Yuan()
    reserved = Yuan()
    used = Yuan()
    expired = Yuan()
    clawed_back = Yuan()


class VoucherSchema(FiguresSchema):
    designation = fields.String(allow_none=True, metadata={"description": "a special voucher's designation"})
    voucher_id = fields.String()
    enterprise_id = fields.String()
    year = fields.Integer()
    kind = fields.String()
    tier = fields.String()
    status = fields.String()


class BalanceQuery(Schema):
    year = QueryYear(required=True)
    as_of = Instant(metadata=AS_OF)


class KindFiguresSchema(FiguresSchema):
    vouchers = fields.Integer()


class BalanceByKindSchema(Schema):
    general = fields.Nested(KindFiguresSchema)
    special = fields.Nested(KindFiguresSchema)


class BalanceSchema(FiguresSchema):
    enterprise_id = fields.String()
    year = fields.Integer()
    vouchers = fields.Integer()
    by_kind = fields.Nested(BalanceByKindSchema, metadata={"description": "the same figures per voucher kind"})


class EnterpriseChangesSchema(Schema):
    """The facts an amendment of an enterprise may correct; each as in its registration.

    Not a partial EnterpriseSchema: its defaults (no honours; for providers, declarations not given)
    would be taken for corrections of facts the amendment does not name.
    """

    name = fields.String(validate=NAME)
    employees = StrictInteger(validate=validate.Range(min=0, max=10_000_000))
    revenue = Yuan(attribute="revenue_fen")
    registered_in_guangxi = StrictBoolean()
    legal_person = StrictBoolean()
    social_insurance = StrictBoolean()
    dishonest = StrictBoolean()
    major_violation = StrictBoolean()
    industry_aligned = StrictBoolean()
    honours = fields.List(fields.String(validate=validate.OneOf(HONOURS)), validate=validate.Length(max=len(HONOURS)))


class EnterpriseAmendmentSchema(Schema):
    changes = fields.Nested(EnterpriseChangesSchema, required=True)
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


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
    return balances.get_enterprise_balance(fresh_views(), enterprise_id, args["year"])


@blp.post("/vouchers")
@blp.arguments(VoucherIssueSchema)
@blp.response(201, VoucherIssued)
def issue_voucher(body: dict[str, Any]) -> Any:
    return run(ledger_app().issue_voucher, body["enterprise_id"], body["year"], body["kind"], body.get("designation"))


@blp.post("/enterprises/<enterprise_id>/designations")
@blp.arguments(DesignationSchema)
@blp.response(201, DesignationResponse)
def designate_enterprise(body: dict[str, Any], enterprise_id: str) -> Any:
    """The operator records a designation for special vouchers with the notice's reference (Art. 5(二))."""
    return run(ledger_app().designate_enterprise, enterprise_id, **body)


@blp.get("/vouchers/<voucher_id>")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, VoucherSchema)
def get_voucher(args: dict[str, Any], voucher_id: str) -> Any:
    if args.get("as_of") is not None:
        voucher = ledger_app().voucher_as_of(voucher_id, args["as_of"])
    else:
        voucher = balances.get_voucher(fresh_views(), voucher_id)
    require_reader(current_actor(), enterprise_id=voucher["enterprise_id"])
    return voucher


class SubsidyPreviewQuery(Schema):
    product_id = fields.UUID(required=True)
    amount = Yuan(required=True, metadata={"description": "the contract amount"})
    subsidy = Yuan(metadata={"description": "the subsidy the enterprise would ask, if any"})


class SubsidyPreviewSchema(Schema):
    voucher_id = fields.String()
    product_id = fields.String()
    category = fields.String()
    amount = Yuan()
    share = fields.String(metadata={"description": "the year's share for the product's category (Art. 10)"})
    share_maximum = Yuan(metadata={"description": "share × amount, rounded down to the fen"})
    available = Yuan(metadata={"description": "what the voucher has available now"})
    asked = Yuan(allow_none=True)
    subsidy = Yuan(metadata={"description": "what the provider's signature would reserve now"})


@blp.get("/vouchers/<voucher_id>/subsidy-preview")
@blp.arguments(SubsidyPreviewQuery, location="query")
@blp.response(200, SubsidyPreviewSchema)
def preview_subsidy(args: dict[str, Any], voucher_id: str) -> Any:
    """What signing a contract of this amount for this product would reserve on the voucher (Art. 10, 17):
    shown to the enterprise before it proposes (issue 19). 422 SUBSIDY_ABOVE_SHARE, VOUCHER_EXHAUSTED,
    PRODUCT_NOT_LISTED, CATEGORY_OUT_OF_SCOPE (a special voucher), SUBSIDY_ZERO; 400 VALIDATION_ERROR for an amount of 0.00."""
    ledger = ledger_app()
    require_reader(current_actor(), enterprise_id=ledger.get_voucher(voucher_id).enterprise_id)
    return ledger.preview_subsidy(voucher_id, args["product_id"], args["amount"], args.get("subsidy"))
