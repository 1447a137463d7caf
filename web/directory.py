"""Looking subjects up: enterprises by credit code or name with their vouchers and contracts, providers
and their contracts (Art. 17, 21, 23: staff, the supervisor and auditors read everything; an
enterprise or provider reads only its own).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger import errors
from ledger.access import require_reader
from ledger.domain.contract import (ACTIVE, CLAWED_BACK, COMPLETED, FAILED_ACCEPTANCE, HELD, PROPOSED, SIGNED,
                                    TERMINATED)
from ledger.rules import READERS, VOUCHER_KINDS, valid_credit_code
from projections.views import balances, contracts, enterprises, providers
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views
from web.contracts import ContractSchema
from web.enterprises import HonourStateSchema, VoucherSchema
from web.fields import QueryYear
from web.schemas import PagedSchema, page_of, page_query, paged_body

# Every state a contract can be in (API.md: statuses add held and failed_acceptance), each a valid filter.
CONTRACT_STATUSES = (PROPOSED, SIGNED, ACTIVE, COMPLETED, TERMINATED, CLAWED_BACK, HELD, FAILED_ACCEPTANCE)

blp = Blueprint("directory", __name__, url_prefix="/api/v1", description="主体查询 Looking up enterprises and providers")


Q = dict(required=True, validate=validate.Length(min=1, max=100),
         metadata={"description": "the start of a credit code, or part of a name"})


class SearchQuery(page_query(enterprises.ENTERPRISE_SORTS, enterprises.SEARCH_LIMIT, 500)):
    q = fields.String(**Q)


class ProviderSearchQuery(page_query(enterprises.PROVIDER_SORTS, enterprises.SEARCH_LIMIT, 500)):
    q = fields.String(**Q)


class ContractListQuery(page_query(contracts.CONTRACT_SORTS, 100, 500)):
    year = QueryYear(required=True)
    status = fields.String(validate=validate.OneOf(CONTRACT_STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=36),
                      metadata={"description": "the start of a contract id (issue 19)"})
    kind = fields.String(validate=validate.OneOf(VOUCHER_KINDS),
                         metadata={"description": "the kind of the contract's voucher: general or special (专项券)"})


class OptionalYearQuery(Schema):
    year = QueryYear()


class ProviderContractsQuery(page_query(contracts.CONTRACT_SORTS, 500, 500)):
    year = QueryYear()


class EnterpriseSummary(Schema):
    id = fields.String()
    name = fields.String()
    tier = fields.String()
    revoked = fields.Boolean()
    registered_at = fields.String()


class EnterpriseSearchResult(PagedSchema):
    q = fields.String()
    enterprises = fields.List(fields.Nested(EnterpriseSummary))


class ProviderSummary(Schema):
    id = fields.String()
    name = fields.String()
    status = fields.String()
    signed_years = fields.List(fields.Integer())


class ProviderSearchResult(PagedSchema):
    q = fields.String()
    providers = fields.List(fields.Nested(ProviderSummary))


class NamedContractSchema(ContractSchema):
    enterprise_name = fields.String(allow_none=True)
    provider_name = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)


class EnterpriseDetail(EnterpriseSummary):
    honours = fields.List(fields.Nested(HonourStateSchema))
    vouchers = fields.List(fields.Nested(VoucherSchema))
    contracts = fields.List(fields.Nested(NamedContractSchema))


class ContractList(PagedSchema):
    year = fields.Integer()
    status = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    contracts = fields.List(fields.Nested(NamedContractSchema))


class ProviderContracts(PagedSchema):
    provider_id = fields.String()
    year = fields.Integer(allow_none=True)
    contracts = fields.List(fields.Nested(NamedContractSchema))


def _credit_code(value: str, field: str) -> str:
    if not valid_credit_code(value):
        raise errors.ValidationFailed("invalid credit code", {field: [
            "must be an 18-character unified social credit code with a valid check character"]})
    return value


def _named(store: Any, contracts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label each contract with the names of its enterprise, provider and product."""
    labels = {
        "enterprise": enterprises.names(store, "vl_enterprises", "enterprise_id", {c["enterprise_id"] for c in contracts}),
        "provider": enterprises.names(store, "vl_providers", "provider_id", {c["provider_id"] for c in contracts}),
        "product": enterprises.names(store, "vl_products", "product_id", {c["product_id"] for c in contracts}),
    }
    return [{**c, **{f"{kind}_name": labels[kind].get(c[f"{kind}_id"]) for kind in labels}} for c in contracts]


@blp.get("/enterprises")
@blp.arguments(SearchQuery, location="query")
@blp.response(200, EnterpriseSearchResult)
def search_enterprises(args: dict[str, Any]) -> Any:
    """Enterprises whose credit code starts with `q` or whose name contains it (staff, supervisor, auditor)."""
    require_reader(current_actor(), roles=READERS)
    found, total = enterprises.search_enterprises_page(fresh_views(), args["q"], page_of(args))
    return {"q": args["q"], "enterprises": found, **paged_body(args, total)}


@blp.get("/enterprises/<enterprise_id>")
@blp.arguments(OptionalYearQuery, location="query")
@blp.response(200, EnterpriseDetail)
def get_enterprise(args: dict[str, Any], enterprise_id: str) -> Any:
    """An enterprise with its vouchers and contracts, of one year if `year` is given."""
    _credit_code(enterprise_id, "enterprise_id")
    require_reader(current_actor(), enterprise_id=enterprise_id)
    store = fresh_views()
    enterprise = enterprises.get_enterprise(store, enterprise_id)
    year = args.get("year")
    return {**enterprise, "honours": enterprises.get_honours(store, enterprise_id),
            "vouchers": balances.list_vouchers(store, enterprise_id, year),
            "contracts": _named(store, contracts.list_contracts(store, enterprise_id=enterprise_id, year=year))}


@blp.get("/providers")
@blp.arguments(ProviderSearchQuery, location="query")
@blp.response(200, ProviderSearchResult)
def search_providers(args: dict[str, Any]) -> Any:
    """Providers whose credit code starts with `q` or whose name contains it (staff, supervisor, auditor)."""
    require_reader(current_actor(), roles=READERS)
    found, total = enterprises.search_providers_page(fresh_views(), args["q"], page_of(args))
    return {"q": args["q"], "providers": found, **paged_body(args, total)}


@blp.get("/providers/<provider_id>/contracts")
@blp.arguments(ProviderContractsQuery, location="query")
@blp.response(200, ProviderContracts)
def provider_contracts(args: dict[str, Any], provider_id: str) -> Any:
    """A provider's contracts, of one year if `year` is given."""
    _credit_code(provider_id, "provider_id")
    require_reader(current_actor(), provider_id=provider_id)
    store = fresh_views()
    providers.get_provider(store, provider_id)  # 404 for an unknown provider
    year = args.get("year")
    found, total = contracts.list_contracts_page(store, page_of(args), provider_id=provider_id, year=year)
    return {"provider_id": provider_id, "year": year, "contracts": _named(store, found), **paged_body(args, total)}


@blp.get("/contracts")
@blp.arguments(ContractListQuery, location="query")
@blp.response(200, ContractList)
def list_contracts(args: dict[str, Any]) -> Any:
    """A year's contracts, most recently changed first unless `sort` says otherwise (staff, supervisor, auditor)."""
    require_reader(current_actor(), roles=READERS)
    store = fresh_views()
    found, total = enterprises.contracts_page(store, args["year"], args.get("status"), page_of(args), args.get("q"),
                                              args.get("kind"))
    return {"year": args["year"], "status": args.get("status"), "kind": args.get("kind"),
            "contracts": _named(store, found), **paged_body(args, total)}
