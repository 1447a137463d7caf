"""Providers, their reviews and caps, and products (API.md "Providers and products")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.rules import CATEGORIES, GENERAL, PROVIDER_ENTITY_TYPES, VOUCHER_KINDS
from projections.views import contracts, providers
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.enterprises import EnterpriseAmendmentSchema
from web.fields import CreditCode, Instant, QueryYear, StrictBoolean, StrictInteger, Text, Year, Yuan
from web.schemas import (
    AS_OF, DOCUMENTS, NAME, CommandResponse, DocumentSchema, PagedSchema, ReasonSchema, page_of, page_query, paged_body,
)


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


class CapExceptionSchema(Schema):
    year = Year(required=True)
    amount = Yuan(required=True)
    reason = Text(2000, required=True, validate=validate.Length(min=1, max=2000))
    kind = fields.String(load_default=GENERAL, validate=validate.OneOf(VOUCHER_KINDS),
                         metadata={"description": "the cap excepted from: general (default) or special"})


class CapExceptionResponse(CommandResponse):
    provider_id = fields.String()
    year = fields.Integer()
    amount = Yuan()
    reason = fields.String()
    kind = fields.String()
    exceptions = Yuan()


class YearQuery(Schema):
    year = QueryYear(required=True)


class ProviderTotalsQuery(YearQuery):
    as_of = Instant(metadata=AS_OF)


class ProviderKindTotalsSchema(Schema):
    cap = Yuan(allow_none=True)
    exceptions = Yuan()
    reserved = Yuan()
    used = Yuan()
    settled = Yuan()
    remaining_cap = Yuan(allow_none=True)
    contracts = fields.Integer()


class ProviderByKindSchema(Schema):
    general = fields.Nested(ProviderKindTotalsSchema)
    special = fields.Nested(ProviderKindTotalsSchema)


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
    by_kind = fields.Nested(ProviderByKindSchema, metadata={
        "description": "the same figures per voucher kind; special cap and remaining_cap null when uncapped"})


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


blp = Blueprint("providers", __name__, url_prefix="/api/v1", description="服务机构与服务产品 Providers and products")


@blp.post("/providers")
@blp.arguments(ProviderSchema)
@blp.response(201, ProviderResponse)
def register_provider(body: dict[str, Any]) -> Any:
    return run(ledger_app().register_provider, body.pop("id"), body.pop("name"),
               revenue_last_year_fen=body.pop("revenue_last_year"), **body)


@blp.get("/providers/<provider_id>")
@blp.response(200, ProviderResponse)
def get_provider(provider_id: str) -> Any:
    require_reader(current_actor(), provider_id=provider_id)
    return providers.get_provider(fresh_views(), provider_id)


@blp.post("/providers/<provider_id>/reviews")
@blp.arguments(ReviewSchema)
@blp.response(201, ReviewResponse)
def review_provider(body: dict[str, Any], provider_id: str) -> Any:
    return run(ledger_app().review_provider, provider_id, body["year"], body["stage"], body["decision"],
               body["note"])


@blp.post("/providers/<provider_id>/termination")
@blp.arguments(ReasonSchema)
@blp.response(200, ProviderResponse)
def terminate_provider(body: dict[str, Any], provider_id: str) -> Any:
    proposed = contracts.proposed_contract_ids(fresh_views(), "provider", provider_id)
    return run(ledger_app().terminate_provider, provider_id, body["reason"], proposed)


@blp.post("/providers/<provider_id>/amendments")
@blp.arguments(ProviderAmendmentSchema)
@blp.response(200, ProviderResponse)
def amend_provider(body: dict[str, Any], provider_id: str) -> Any:
    """The operator, or the provider for its own, corrects its facts or adds materials (Art. 13, 23)."""
    return run(ledger_app().amend_provider, provider_id, body["changes"], body["reason"], body["documents"])


@blp.post("/providers/<provider_id>/cap-exceptions")
@blp.arguments(CapExceptionSchema)
@blp.response(201, CapExceptionResponse)
def grant_cap_exception(body: dict[str, Any], provider_id: str) -> Any:
    return run(ledger_app().grant_cap_exception, provider_id, body["year"], body["amount"], body["reason"], body["kind"])


@blp.get("/providers/<provider_id>/totals")
@blp.arguments(ProviderTotalsQuery, location="query")
@blp.response(200, ProviderTotalsSchema)
def provider_totals(args: dict[str, Any], provider_id: str) -> Any:
    require_reader(current_actor(), provider_id=provider_id)
    if args.get("as_of") is not None:  # folded from the provider's year's own events
        return ledger_app().provider_totals_as_of(provider_id, args["year"], args["as_of"])
    return providers.get_provider_totals(fresh_views(), provider_id, args["year"])


@blp.post("/products")
@blp.arguments(ProductSubmitSchema)
@blp.response(201, ProductSchema)
def submit_product(body: dict[str, Any]) -> Any:
    return run(ledger_app().submit_product, body["provider_id"], body["name"], body["category"], body["price"],
               body["description"])


@blp.get("/products/<product_id>")
@blp.response(200, ProductSchema)
def get_product(product_id: str) -> Any:
    product = providers.get_product(fresh_views(), product_id)
    require_reader(current_actor(), provider_id=product["provider_id"])
    return product


@blp.post("/products/<product_id>/reviews")
@blp.arguments(ProductReviewSchema)
@blp.response(201, ReviewResponse)
def review_product(body: dict[str, Any], product_id: str) -> Any:
    return run(ledger_app().review_product, product_id, body["year"], body["stage"], body["decision"],
               body["note"])


class ProductListSchema(PagedSchema):
    provider_id = fields.String()
    products = fields.List(fields.Nested(ProductSchema))


@blp.get("/providers/<provider_id>/products")
@blp.arguments(page_query(providers.PRODUCT_SORTS, 100, 500), location="query")
@blp.response(200, ProductListSchema)
def list_products(args: dict[str, Any], provider_id: str) -> Any:
    """A provider's products with the years each is listed (readers, and the provider itself; issue 19)."""
    require_reader(current_actor(), provider_id=provider_id)
    store = fresh_views()
    providers.get_provider(store, provider_id)  # 404 for an unknown provider
    products, total = providers.list_products_page(store, provider_id, page_of(args))
    return {"provider_id": provider_id, "products": products, **paged_body(args, total)}
