"""Providers, their years' totals against the cap, and products (Art. 7-8, 10, 12-15)."""

from __future__ import annotations

from typing import Any

from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear
from projections.registry import handles, table

table(
    "CREATE TABLE IF NOT EXISTS vl_providers (provider_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "status TEXT NOT NULL, signed_years TEXT NOT NULL, position BIGINT NOT NULL)"
)
table(
    "CREATE TABLE IF NOT EXISTS vl_provider_years (stream_id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, "
    "year INTEGER NOT NULL, cap BIGINT NOT NULL, exceptions BIGINT NOT NULL, reserved BIGINT NOT NULL, "
    "used BIGINT NOT NULL, settled BIGINT NOT NULL, receivable BIGINT NOT NULL, contracts INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS vl_provider_years_key ON vl_provider_years (provider_id, year)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_products (product_id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, "
    "name TEXT NOT NULL, category TEXT NOT NULL, price BIGINT NOT NULL, listed_years TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_products_provider ON vl_products (provider_id)",
)


@handles(Provider.Applied)
def provider_applied(db: Any, e: Any, position: int) -> None:
    db.execute("INSERT INTO vl_providers (provider_id, name, status, signed_years, position) VALUES (?, ?, 'applied', '', ?)",
               [e.code, e.name, position])


def _provider_code(db: Any, stream_id: Any) -> str:
    return str(db.one("SELECT code FROM vl_provider_ids WHERE stream_id = ?", [str(stream_id)])["code"])


table("CREATE TABLE IF NOT EXISTS vl_provider_ids (stream_id TEXT PRIMARY KEY, code TEXT NOT NULL)")


@handles(Provider.Applied)
def provider_id_known(db: Any, e: Any, position: int) -> None:
    db.execute("INSERT INTO vl_provider_ids (stream_id, code) VALUES (?, ?)", [str(e.originator_id), e.code])


@handles(Provider.Signed)
def provider_signed(db: Any, e: Any, position: int) -> None:
    code = _provider_code(db, e.originator_id)
    row = db.one("SELECT signed_years FROM vl_providers WHERE provider_id = ?", [code])
    years = sorted({*(int(y) for y in row["signed_years"].split(",") if y), e.year})
    db.execute("UPDATE vl_providers SET status = 'signed', signed_years = ? WHERE provider_id = ?",
               [",".join(map(str, years)), code])


@handles(Provider.Terminated)
def provider_terminated(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_providers SET status = 'terminated' WHERE provider_id = ?", [_provider_code(db, e.originator_id)])


@handles(ProviderYear.Opened)
def provider_year_opened(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_provider_years (stream_id, provider_id, year, cap, exceptions, reserved, used, settled, "
        "receivable, contracts) VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, 0)",
        [str(e.originator_id), e.provider_id, e.year, e.cap_fen],
    )


def _provider_year(db: Any, stream_id: Any, **deltas: int) -> None:
    sets = ", ".join(f"{name} = {name} + ?" for name in deltas)
    db.execute(f"UPDATE vl_provider_years SET {sets} WHERE stream_id = ?", [*deltas.values(), str(stream_id)])


@handles(ProviderYear.ExceptionGranted)
def cap_exception(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, exceptions=e.amount_fen)


@handles(ProviderYear.Reserved)
def provider_reserved(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=e.amount_fen, contracts=1)


@handles(ProviderYear.Released)
def provider_released(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=-e.amount_fen, contracts=-1)


@handles(ProviderYear.Used)
def provider_used(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, reserved=-e.amount_fen, used=e.amount_fen)


@handles(ProviderYear.Settled)
def provider_settled(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, settled=e.amount_fen)


@handles(ProviderYear.ClawedBack)
def provider_clawed_back(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, used=-e.amount_fen, contracts=-1, receivable=e.receivable_fen)


@handles(ProviderYear.Recovered)
def provider_recovered(db: Any, e: Any, position: int) -> None:
    _provider_year(db, e.originator_id, receivable=-e.amount_fen)


@handles(Product.Submitted)
def product_submitted(db: Any, e: Any, position: int) -> None:
    db.execute("INSERT INTO vl_products (product_id, provider_id, name, category, price, listed_years) "
               "VALUES (?, ?, ?, ?, ?, '')", [str(e.originator_id), e.provider_id, e.name, e.category, e.price_fen])


@handles(Product.Listed)
def product_listed(db: Any, e: Any, position: int) -> None:
    row = db.one("SELECT listed_years FROM vl_products WHERE product_id = ?", [str(e.originator_id)])
    years = sorted({*(int(y) for y in row["listed_years"].split(",") if y), e.year})
    db.execute("UPDATE vl_products SET listed_years = ? WHERE product_id = ?",
               [",".join(map(str, years)), str(e.originator_id)])
