"""Providers, their years' totals against the cap, and products (Art. 7-8, 10, 12-15)."""

from __future__ import annotations

from typing import Any

from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear, remaining_cap
from projections.storage.store import ViewStore
from projections.views.model import ReadModel, found
from projections.views.paging import Page, order_by, paged

MODEL = ReadModel("providers")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_providers (provider_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "status TEXT NOT NULL, signed_years TEXT NOT NULL, position BIGINT NOT NULL)"
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_provider_years (stream_id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, "
    "year INTEGER NOT NULL, cap BIGINT NOT NULL, exceptions BIGINT NOT NULL, reserved BIGINT NOT NULL, "
    "used BIGINT NOT NULL, settled BIGINT NOT NULL, receivable BIGINT NOT NULL, contracts INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS vl_provider_years_key ON vl_provider_years (provider_id, year)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_products (product_id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, "
    "name TEXT NOT NULL, category TEXT NOT NULL, price BIGINT NOT NULL, listed_years TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_products_provider ON vl_products (provider_id)",
)


@MODEL.handles(Provider.Applied)
def provider_applied(db: Any, e: Any, position: int) -> None:
    db.insert("vl_providers", "provider_id", provider_id=e.code, name=e.name, status="applied", signed_years="",
              position=position)


def _provider_code(db: Any, stream_id: Any) -> str:
    key = str(stream_id)
    return str(db.fact("provider_code", key, lambda: db.row("vl_provider_ids", "stream_id", key)["code"]))


MODEL.table("CREATE TABLE IF NOT EXISTS vl_provider_ids (stream_id TEXT PRIMARY KEY, code TEXT NOT NULL)")


@MODEL.handles(Provider.Applied)
def provider_id_known(db: Any, e: Any, position: int) -> None:
    db.insert("vl_provider_ids", "stream_id", stream_id=str(e.originator_id), code=e.code)
    db.remember("provider_code", str(e.originator_id), e.code)


@MODEL.handles(Provider.Signed)
def provider_signed(db: Any, e: Any, position: int) -> None:
    code = _provider_code(db, e.originator_id)
    row = db.row("vl_providers", "provider_id", code)
    years = sorted({*(int(y) for y in row["signed_years"].split(",") if y), e.year})
    db.update("vl_providers", "provider_id", code, status="signed", signed_years=",".join(map(str, years)))


@MODEL.handles(Provider.Terminated)
def provider_terminated(db: Any, e: Any, position: int) -> None:
    db.update("vl_providers", "provider_id", _provider_code(db, e.originator_id), status="terminated")


@MODEL.handles(ProviderYear.Opened)
def provider_year_opened(db: Any, e: Any, position: int) -> None:
    db.insert("vl_provider_years", "stream_id", stream_id=str(e.originator_id), provider_id=e.provider_id,
              year=e.year, cap=e.cap_fen, exceptions=0, reserved=0, used=0, settled=0, receivable=0, contracts=0)


def _provider_year(db: Any, stream_id: Any, **deltas: int) -> None:
    db.add("vl_provider_years", "stream_id", str(stream_id), **deltas)


@MODEL.handles(ProviderYear.ExceptionGranted)
def cap_exception(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, exceptions=e.amount_fen)


@MODEL.handles(ProviderYear.Reserved)
def provider_reserved(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=e.amount_fen, contracts=1)


@MODEL.handles(ProviderYear.Released)
def provider_released(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=-e.amount_fen, contracts=-1)


@MODEL.handles(ProviderYear.Used)
def provider_used(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=-e.amount_fen, used=e.amount_fen)


@MODEL.handles(ProviderYear.Settled)
def provider_settled(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, settled=e.amount_fen)


@MODEL.handles(ProviderYear.ClawedBack)
def provider_clawed_back(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, used=-e.amount_fen, contracts=-1, receivable=e.receivable_fen)


@MODEL.handles(ProviderYear.UseReturned)
def provider_use_returned(db: Any, e: Any, position: int) -> None:
    """A contract that failed acceptance leaves the live total."""
    _provider_year(db, e.originator_id, used=-e.amount_fen, contracts=-1)


@MODEL.handles(ProviderYear.Recovered)
def provider_recovered(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, receivable=-e.amount_fen)


@MODEL.handles(Provider.Amended)
def provider_amended(db: Any, e: Any, position: int) -> None:
    if "name" in e.changes:
        db.update("vl_providers", "provider_id", _provider_code(db, e.originator_id), name=e.changes["name"])


@MODEL.handles(Product.Submitted)
def product_submitted(db: Any, e: Any, position: int) -> None:
    db.insert("vl_products", "product_id", product_id=str(e.originator_id), provider_id=e.provider_id, name=e.name,
              category=e.category, price=e.price_fen, listed_years="")


@MODEL.handles(Product.Listed)
def product_listed(db: Any, e: Any, position: int) -> None:
    row = db.row("vl_products", "product_id", str(e.originator_id))
    years = sorted({*(int(y) for y in row["listed_years"].split(",") if y), e.year})
    db.update("vl_products", "product_id", str(e.originator_id), listed_years=",".join(map(str, years)))


# Queries (amounts in fen, the API's field names)

def get_provider(store: ViewStore, provider_id: str) -> dict[str, Any]:
    row = found(store.query_one("SELECT * FROM vl_providers WHERE provider_id = ?", [provider_id]), "provider", provider_id)
    return {"id": row["provider_id"], "name": row["name"], "status": row["status"],
            "signed_years": [int(y) for y in row["signed_years"].split(",") if y]}


def get_provider_totals(store: ViewStore, provider_id: str, year: int) -> dict[str, Any]:
    row = found(store.query_one("SELECT * FROM vl_provider_years WHERE provider_id = ? AND year = ?",
                                [provider_id, year]), "signed provider year", f"{provider_id}/{year}")
    return {"provider_id": provider_id, "year": year, "cap": row["cap"], "exceptions": row["exceptions"],
            "reserved": row["reserved"], "used": row["used"], "settled": row["settled"],
            "receivable": row["receivable"], "remaining_cap": remaining_cap(row["cap"], row["exceptions"],
                                                                      row["reserved"] + row["used"]),
            "contracts": row["contracts"]}


def get_product(store: ViewStore, product_id: str) -> dict[str, Any]:
    return _product(found(store.query_one("SELECT * FROM vl_products WHERE product_id = ?", [product_id]), "product",
                          product_id))


def _product(row: dict[str, Any]) -> dict[str, Any]:
    return {"product_id": row["product_id"], "provider_id": row["provider_id"], "name": row["name"],
            "category": row["category"], "price": row["price"],
            "listed_years": [int(y) for y in row["listed_years"].split(",") if y]}


PRODUCT_SORTS = {"name": "name", "category": "category", "price": "price"}


def list_products_page(store: ViewStore, provider_id: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of a provider's products (for their reviews in the console), and how many it has."""
    rows, total = paged(store, "*", "vl_products WHERE provider_id = ?", [provider_id],
                        order_by(PRODUCT_SORTS, page.sort, "name", "product_id"), page)
    return [_product(r) for r in rows], total
