"""Marshmallow schemas of the API (API.md); the OpenAPI document is generated from them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.rules import (
    CATEGORIES, DOCUMENT_KINDS, HONOUR_CERTIFICATE, HONOURS, PROVIDER_ENTITY_TYPES, TIERS, VOUCHER_KINDS,
)
from web.fields import (
    CreditCode, DocumentUri, Instant, IsoDate, PlainName, QueryYear, Share, StrictBoolean, StrictInteger, Text, Year,
    Yuan,
)

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


class TierQuotasSchema(Schema):
    T1 = Yuan()
    T2 = Yuan()
    T3 = Yuan()
    T4 = Yuan()


class YearOpenSchema(Schema):
    year = Year(required=True)
    starts_on = IsoDate(required=True)
    ends_on = IsoDate(required=True)
    tier_quotas = fields.Nested(TierQuotasSchema)
    diagnosis_share = Share()
    other_share = Share()
    deposit_share = Share()
    provider_cap = Yuan()
    commitment_required = StrictBoolean(load_default=False)
    settlement_batches = StrictInteger(validate=validate.OneOf([1, 2]),
                                        metadata={"description": "settlement batches a year (Art. 19), default 2"})


class YearParametersSchema(CommandResponse):
    year = fields.Integer()
    starts_on = fields.String()
    ends_on = fields.String()
    status = fields.String()
    tier_quotas = fields.Dict(keys=fields.String(validate=validate.OneOf(TIERS)), values=Yuan())
    diagnosis_share = Share()
    other_share = Share()
    deposit_share = Share()
    provider_cap = Yuan()
    commitment_required = fields.Boolean()
    settlement_batches = fields.Integer()


class YearSchema(YearParametersSchema):
    as_of = fields.String(metadata={"description": "the instant asked for, when the figures are historical"})
    budget = Yuan()
    issued = Yuan()
    unissued = Yuan(metadata={"description": "budget not yet issued (budget − issued)"})
    vouchers = fields.Integer()
    available = Yuan()
    reserved = Yuan()
    used = Yuan()
    expired = Yuan()
    clawed_back = Yuan()
    settled = Yuan()


class BudgetSchema(Schema):
    amount = Yuan(required=True)
    reference = Text(200, required=True, validate=NAME)


class BudgetResponse(CommandResponse):
    year = fields.Integer()
    amount = Yuan()
    reference = fields.String()
    budget = Yuan()


class CloseResponse(CommandResponse):
    year = fields.Integer()
    expired_vouchers = fields.Integer()
    expired_amount = Yuan()
    released_contracts = fields.Integer()


class ClosePreviewSchema(Schema):
    year = fields.Integer()
    expired_vouchers = fields.Integer()
    expired_amount = Yuan()
    released_contracts = fields.Integer()
    can_close = fields.Boolean()
    closes_after = fields.String(metadata={"description": "the window's last day: the close may run from the next"})


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


class VoucherIssued(CommandResponse):
    voucher_id = fields.String()
    enterprise_id = fields.String()
    year = fields.Integer()
    kind = fields.String()
    tier = fields.String()
    quota = Yuan()


class FiguresSchema(Schema):
    as_of = fields.String(metadata={"description": "the instant asked for, when the figures are historical"})
    quota = Yuan()
    available = Yuan()
    reserved = Yuan()
    used = Yuan()
    expired = Yuan()
    clawed_back = Yuan()


class VoucherSchema(FiguresSchema):
    voucher_id = fields.String()
    enterprise_id = fields.String()
    year = fields.Integer()
    kind = fields.String()
    tier = fields.String()
    status = fields.String()


AS_OF = {"description": "ISO 8601 instant with offset: the figures as they stood then (audit, Art. 21-24)"}


class AsOfQuery(Schema):
    as_of = Instant(metadata=AS_OF)


class BalanceQuery(Schema):
    year = QueryYear(required=True)
    as_of = Instant(metadata=AS_OF)


class BalanceSchema(FiguresSchema):
    enterprise_id = fields.String()
    year = fields.Integer()
    vouchers = fields.Integer()


class ProviderSchema(Schema):
    id = CreditCode(required=True)
    name = fields.String(required=True, validate=NAME)
    registered_in_guangxi = StrictBoolean(required=True)
    entity_type = fields.String(required=True, validate=validate.OneOf(PROVIDER_ENTITY_TYPES))
    fixed_premises = StrictBoolean(required=True)
    years_operating = StrictInteger(required=True, validate=validate.Range(min=0, max=500))
    core_staff_insured = StrictInteger(required=True, validate=validate.Range(min=0, max=10_000_000))
    clients_last_year = StrictInteger(required=True, validate=validate.Range(min=0, max=10_000_000))
    revenue_last_year = Yuan(required=True)
    dishonest = StrictBoolean(required=True)
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)
    # Declarations of Art. 12; an older client that omits them has not given them.
    tax_compliant = StrictBoolean(load_default=False)
    accepts_supervision = StrictBoolean(load_default=False)
    accepts_face_value_offset = StrictBoolean(load_default=False)


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


class ProviderChangesSchema(Schema):
    """The facts an amendment of a provider may correct; each as in its application."""

    name = fields.String(validate=NAME)
    registered_in_guangxi = StrictBoolean()
    entity_type = fields.String(validate=validate.OneOf(PROVIDER_ENTITY_TYPES))
    fixed_premises = StrictBoolean()
    years_operating = StrictInteger(validate=validate.Range(min=0, max=500))
    core_staff_insured = StrictInteger(validate=validate.Range(min=0, max=10_000_000))
    clients_last_year = StrictInteger(validate=validate.Range(min=0, max=10_000_000))
    revenue_last_year = Yuan(attribute="revenue_last_year_fen")
    dishonest = StrictBoolean()
    tax_compliant = StrictBoolean()
    accepts_supervision = StrictBoolean()
    accepts_face_value_offset = StrictBoolean()


class EnterpriseAmendmentSchema(Schema):
    changes = fields.Nested(EnterpriseChangesSchema, required=True)
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class ProviderAmendmentSchema(EnterpriseAmendmentSchema):
    changes = fields.Nested(ProviderChangesSchema, required=True)


class ProviderResponse(CommandResponse):
    id = fields.String()
    name = fields.String()
    eligible = fields.Boolean()
    failed_conditions = fields.List(fields.String())
    status = fields.String()
    signed_years = fields.List(fields.Integer())
    reason = fields.String()
    changed = fields.List(fields.String(), metadata={"description": "the facts an amendment corrected"})
    terminated_contracts = fields.List(fields.String())
    held_contracts = fields.List(fields.String())
    released = Yuan()


class ReviewSchema(Schema):
    year = Year(required=True)
    stage = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(["pass", "reject"]))
    note = Text(2000, load_default="")


class ReviewResponse(CommandResponse):
    id = fields.String()
    product_id = fields.String()
    year = fields.Integer()
    stage = fields.String()
    decision = fields.String()
    next_stage = fields.String(allow_none=True)
    signed = fields.Boolean()
    listed_years = fields.List(fields.Integer())


class ReasonSchema(Schema):
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))


class CapExceptionSchema(Schema):
    year = Year(required=True)
    amount = Yuan(required=True)
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))


class CapExceptionResponse(CommandResponse):
    provider_id = fields.String()
    year = fields.Integer()
    amount = Yuan()
    reason = fields.String()
    exceptions = Yuan()


class YearQuery(Schema):
    year = QueryYear(required=True)


class ProviderTotalsQuery(YearQuery):
    as_of = Instant(metadata=AS_OF)


class ProviderTotalsSchema(Schema):
    as_of = fields.String(metadata={"description": "the instant asked for, when the figures are historical"})
    provider_id = fields.String()
    year = fields.Integer()
    cap = Yuan()
    exceptions = Yuan()
    reserved = Yuan()
    used = Yuan()
    settled = Yuan()
    receivable = Yuan()
    remaining_cap = Yuan()
    contracts = fields.Integer()


class ProductSubmitSchema(Schema):
    provider_id = CreditCode(required=True)
    name = fields.String(required=True, validate=NAME)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    price = Yuan(required=True)
    description = Text(5000, load_default="")


class ProductSchema(CommandResponse):
    product_id = fields.String()
    provider_id = fields.String()
    name = fields.String()
    category = fields.String()
    price = Yuan()
    description = fields.String()
    listed_years = fields.List(fields.Integer())


class ProductReviewSchema(ReviewSchema):
    stage = fields.String(required=True, validate=validate.OneOf(["expert", "approval", "notice"]))


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


class DepositSchema(Schema):
    amount = Yuan(required=True)


class CompletionSchema(Schema):
    balance_paid = Yuan(required=True)


class EmptySchema(Schema):
    pass


class AcceptanceSchema(Schema):
    result = fields.String(required=True, validate=validate.OneOf(["passed", "failed"]))
    findings = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=100))


class HoldReleaseSchema(ReasonSchema):
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=100))
