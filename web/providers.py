"""Providers, their reviews and caps, and products (API.md "Providers and products")."""

from __future__ import annotations

from typing import Any

from ledger.access import require_reader
from projections import queries
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, run
from web.schemas import (
    CapExceptionResponse, CapExceptionSchema, ProductReviewSchema, ProductSchema, ProductSubmitSchema,
    ProviderAmendmentSchema, ProviderResponse, ProviderSchema, ProviderTotalsQuery, ProviderTotalsSchema,
    ReasonSchema, ReviewResponse, ReviewSchema,
)

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
    return queries.get_provider(fresh_views(), provider_id)


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
    proposed = queries.proposed_contract_ids(fresh_views(), "provider", provider_id)
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
    return run(ledger_app().grant_cap_exception, provider_id, body["year"], body["amount"], body["reason"])


@blp.get("/providers/<provider_id>/totals")
@blp.arguments(ProviderTotalsQuery, location="query")
@blp.response(200, ProviderTotalsSchema)
def provider_totals(args: dict[str, Any], provider_id: str) -> Any:
    require_reader(current_actor(), provider_id=provider_id)
    if args.get("as_of") is not None:  # folded from the provider's year's own events
        return ledger_app().provider_totals_as_of(provider_id, args["year"], args["as_of"])
    return queries.get_provider_totals(fresh_views(), provider_id, args["year"])


@blp.post("/products")
@blp.arguments(ProductSubmitSchema)
@blp.response(201, ProductSchema)
def submit_product(body: dict[str, Any]) -> Any:
    return run(ledger_app().submit_product, body["provider_id"], body["name"], body["category"], body["price"],
               body["description"])


@blp.get("/products/<product_id>")
@blp.response(200, ProductSchema)
def get_product(product_id: str) -> Any:
    product = queries.get_product(fresh_views(), product_id)
    require_reader(current_actor(), provider_id=product["provider_id"])
    return product


@blp.post("/products/<product_id>/reviews")
@blp.arguments(ProductReviewSchema)
@blp.response(201, ReviewResponse)
def review_product(body: dict[str, Any], product_id: str) -> Any:
    return run(ledger_app().review_product, product_id, body["year"], body["stage"], body["decision"],
               body["note"])
