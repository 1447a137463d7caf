"""Providers, their years' totals against the cap, and products (Art. 7-8, 10, 12-15)."""

from __future__ import annotations

from typing import Any

from ledger.domain.contract import DELIVERED
from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear, remaining_cap
from ledger.rules import GENERAL, SPECIAL
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
# The special kind's share of each provider's year (rows only once a special event touches it): the
# top-level figures of vl_provider_years are sums over both kinds, the general ones their difference.
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_provider_year_special (stream_id TEXT PRIMARY KEY, "
    "exceptions BIGINT NOT NULL DEFAULT 0, reserved BIGINT NOT NULL DEFAULT 0, used BIGINT NOT NULL DEFAULT 0, "
    "settled BIGINT NOT NULL DEFAULT 0, contracts INTEGER NOT NULL DEFAULT 0)"
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


def _provider_year(db: Any, e: Any, receivable: int = 0, **deltas: int) -> None:
    """Apply the movements to the year's totals (both kinds) and, for a special event, to its special share."""
    db.add("vl_provider_years", "stream_id", str(e.originator_id), **deltas, **({"receivable": receivable} if receivable else {}))
    if getattr(e, "kind", GENERAL) == SPECIAL:  # events recorded before special vouchers carry no kind: general
        db.accumulate("vl_provider_year_special", {"stream_id": str(e.originator_id)}, **deltas)


@MODEL.handles(ProviderYear.ExceptionGranted)
def cap_exception(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, exceptions=e.amount_fen)


@MODEL.handles(ProviderYear.Reserved)
def provider_reserved(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, reserved=e.amount_fen, contracts=1)


@MODEL.handles(ProviderYear.Released)
def provider_released(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, reserved=-e.amount_fen, contracts=-1)


@MODEL.handles(ProviderYear.Used)
def provider_used(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, reserved=-e.amount_fen, used=e.amount_fen)


@MODEL.handles(ProviderYear.Settled)
def provider_settled(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, settled=e.amount_fen)


@MODEL.handles(ProviderYear.ClawedBack)
def provider_clawed_back(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e, used=-e.amount_fen, contracts=-1, receivable=e.receivable_fen)


@MODEL.handles(ProviderYear.UseReturned)
def provider_use_returned(db: Any, e: Any, position: int) -> None:
    """A contract that failed acceptance leaves the live total."""
    _provider_year(db, e, used=-e.amount_fen, contracts=-1)


@MODEL.handles(ProviderYear.Recovered)
def provider_recovered(db: Any, e: Any, position: int) -> None:
    db.add("vl_provider_years", "stream_id", str(e.originator_id), receivable=-e.amount_fen)


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


KIND_FIGURES = ("exceptions", "reserved", "used", "settled", "contracts")


def kind_totals(cap: int | None, figures: dict[str, int]) -> dict[str, Any]:
    """One kind's totals against its cap (remaining_cap None when the kind has no cap)."""
    return {"cap": cap, **figures, "remaining_cap": None if cap is None else
            remaining_cap(cap, figures["exceptions"], figures["reserved"] + figures["used"])}


# The provider's year with its special share and the year's special cap joined, in one statement (a query
# is mostly round trips: three made the totals p50 1.3-1.5 ms over HTTP, issue 21).
_PROVIDER_YEAR_WITH_SPECIAL = (
    "SELECT y.*, " + ", ".join(f"s.{f} AS special_{f}" for f in KIND_FIGURES)
    + ", p.provider_cap AS special_provider_cap FROM vl_provider_years y "
      "LEFT JOIN vl_provider_year_special s ON s.stream_id = y.stream_id "
      "LEFT JOIN vl_special_programmes p ON p.year = y.year WHERE y.provider_id = ? AND y.year = ?")


def get_provider_totals(store: ViewStore, provider_id: str, year: int) -> dict[str, Any]:
    """The year's totals over both kinds, `by_kind` per kind; `cap` and `remaining_cap` the general ones (Art. 10)."""
    row = found(store.query_one(_PROVIDER_YEAR_WITH_SPECIAL, [provider_id, year]), "signed provider year",
                f"{provider_id}/{year}")
    special = {f: int(row[f"special_{f}"] or 0) for f in KIND_FIGURES}
    general = {f: int(row[f]) - special[f] for f in KIND_FIGURES}
    special_cap = None if row["special_provider_cap"] is None else int(row["special_provider_cap"])
    by_kind = {GENERAL: kind_totals(int(row["cap"]), general), SPECIAL: kind_totals(special_cap, special)}
    return {"provider_id": provider_id, "year": year, "cap": row["cap"], "exceptions": row["exceptions"],
            "reserved": row["reserved"], "used": row["used"], "settled": row["settled"],
            "receivable": row["receivable"], "remaining_cap": by_kind[GENERAL]["remaining_cap"],
            "contracts": row["contracts"], "by_kind": by_kind}


def get_product(store: ViewStore, product_id: str) -> dict[str, Any]:
    return _product(found(store.query_one("SELECT * FROM vl_products WHERE product_id = ?", [product_id]), "product",
                          product_id))


def _product(row: dict[str, Any]) -> dict[str, Any]:
    return {"product_id": row["product_id"], "provider_id": row["provider_id"], "name": row["name"],
            "category": row["category"], "price": row["price"],
            "listed_years": [int(y) for y in row["listed_years"].split(",") if y]}


# The public catalogue (Art. 15): what an enterprise chooses from; public facts only.
EXECUTION = {f"{stage}_{measure}": 0 for stage in ("signed", "completed", "terminated") for measure in ("count", "amount")}


def catalogue(store: ViewStore, year: int) -> list[dict[str, Any]]:
    """The year's signed providers (not terminated), their listed products and their contract execution:
    counts and contract amounts (fen) signed, completed and terminated. No cap, subsidy or clawback, and
    no enterprise's identity: only what each provider did, summed."""
    providers = store.query("SELECT p.provider_id, p.name FROM vl_provider_years y JOIN vl_providers p "
                            "ON p.provider_id = y.provider_id WHERE y.year = ? AND p.status = 'signed' "
                            "ORDER BY p.provider_id", [year])
    products: dict[str, list[dict[str, Any]]] = {}
    for row in store.query("SELECT * FROM vl_products ORDER BY product_id"):
        if str(year) in row["listed_years"].split(","):
            products.setdefault(row["provider_id"], []).append(
                {"product_id": row["product_id"], "name": row["name"], "category": row["category"],
                 "price": row["price"]})
    execution: dict[str, dict[str, int]] = {}
    # Signed: the contracts that carried a subsidy (a signature sets it; one terminated unsigned has none).
    for row in store.query("SELECT provider_id, status, COUNT(*) AS n, SUM(amount) AS amount FROM vl_contracts "
                           "WHERE year = ? AND subsidy > 0 GROUP BY provider_id, status", [year]):
        totals = execution.setdefault(row["provider_id"], dict(EXECUTION))
        n, amount = int(row["n"]), int(row["amount"] or 0)
        totals["signed_count"] += n
        totals["signed_amount"] += amount
        stage = "completed" if row["status"] in DELIVERED else "terminated" if row["status"] == "terminated" else None
        if stage:
            totals[f"{stage}_count"] += n
            totals[f"{stage}_amount"] += amount
    return [{"provider_id": p["provider_id"], "name": p["name"], "products": products.get(p["provider_id"], []),
             "execution": execution.get(p["provider_id"], dict(EXECUTION))} for p in providers]


PRODUCT_SORTS = {"name": "name", "category": "category", "price": "price"}


def list_products_page(store: ViewStore, provider_id: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of a provider's products (for their reviews in the console), and how many it has."""
    rows, total = paged(store, "*", "vl_products WHERE provider_id = ?", [provider_id],
                        order_by(PRODUCT_SORTS, page.sort, "name", "product_id"), page)
    return [_product(r) for r in rows], total
