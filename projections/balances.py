"""Voucher balances, enterprise balances per year and year totals (Art. 9, 11, 18)."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from projections.registry import handles, table

table(
    "CREATE TABLE IF NOT EXISTS vl_vouchers ("
    "voucher_id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL, year INTEGER NOT NULL, kind TEXT NOT NULL, "
    "tier TEXT NOT NULL, quota BIGINT NOT NULL, available BIGINT NOT NULL, reserved BIGINT NOT NULL, "
    "used BIGINT NOT NULL, expired BIGINT NOT NULL, clawed_back BIGINT NOT NULL, status TEXT NOT NULL, "
    "issued_at TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_vouchers_enterprise ON vl_vouchers (enterprise_id, year)",
    "CREATE INDEX IF NOT EXISTS vl_vouchers_year ON vl_vouchers (year)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_years ("
    "year INTEGER PRIMARY KEY, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL, parameters TEXT NOT NULL, "
    "status TEXT NOT NULL, budget BIGINT NOT NULL, issued BIGINT NOT NULL, vouchers INTEGER NOT NULL, "
    "available BIGINT NOT NULL, reserved BIGINT NOT NULL, used BIGINT NOT NULL, expired BIGINT NOT NULL, "
    "clawed_back BIGINT NOT NULL, settled BIGINT NOT NULL)"
)

FIGURES = ("available", "reserved", "used", "expired", "clawed_back")


def _move(db: Any, voucher_id: Any, **deltas: int) -> None:
    """Apply the same signed movements to a voucher and to its year's totals."""
    sets = ", ".join(f"{name} = {name} + ?" for name in deltas)
    values = list(deltas.values())
    db.execute(f"UPDATE vl_vouchers SET {sets} WHERE voucher_id = ?", [*values, str(voucher_id)])
    db.execute(
        f"UPDATE vl_years SET {sets} WHERE year = (SELECT year FROM vl_vouchers WHERE voucher_id = ?)",
        [*values, str(voucher_id)],
    )


@handles(Year.Opened)
def year_opened(db: Any, e: Year.Opened, position: int) -> None:
    db.execute(
        "INSERT INTO vl_years (year, starts_on, ends_on, parameters, status, budget, issued, vouchers, available, "
        "reserved, used, expired, clawed_back, settled) VALUES (?, ?, ?, ?, 'open', 0, 0, 0, 0, 0, 0, 0, 0, 0)",
        [e.year, e.starts_on, e.ends_on, json.dumps(e.parameters, sort_keys=True)],
    )


@handles(Year.BudgetAllocated)
def budget_allocated(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_years SET budget = budget + ? WHERE year = ?", [e.amount_fen, _year_of(db, e.originator_id)])


def _year_of(db: Any, year_id: Any) -> int:
    # Year ids are uuid5 of the year number; the registry keeps the mapping for the other events.
    row = db.one("SELECT year FROM vl_year_ids WHERE year_id = ?", [str(year_id)])
    assert row is not None, f"unknown year stream {year_id}"
    return int(row["year"])


table("CREATE TABLE IF NOT EXISTS vl_year_ids (year_id TEXT PRIMARY KEY, year INTEGER NOT NULL)")


@handles(Year.Opened)
def year_id_known(db: Any, e: Year.Opened, position: int) -> None:
    db.execute("INSERT INTO vl_year_ids (year_id, year) VALUES (?, ?)", [str(e.originator_id), e.year])


@handles(Year.QuotaCommitted)
def quota_committed(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_years SET issued = issued + ?, vouchers = vouchers + 1 WHERE year = ?",
               [e.quota_fen, _year_of(db, e.originator_id)])


@handles(Year.ClosingStarted)
def year_closing(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_years SET status = 'closing' WHERE year = ?", [_year_of(db, e.originator_id)])


@handles(Year.Closed)
def year_closed(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_years SET status = 'closed' WHERE year = ?", [_year_of(db, e.originator_id)])


@handles(Voucher.Issued)
def voucher_issued(db: Any, e: Voucher.Issued, position: int) -> None:
    db.execute(
        "INSERT INTO vl_vouchers (voucher_id, enterprise_id, year, kind, tier, quota, available, reserved, used, "
        "expired, clawed_back, status, issued_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 'active', ?, ?)",
        [str(e.originator_id), e.enterprise_id, e.year, e.kind, e.tier, e.quota_fen, e.quota_fen,
         e.timestamp.isoformat(), position],
    )
    db.execute("UPDATE vl_years SET available = available + ? WHERE year = ?", [e.quota_fen, e.year])


@handles(Voucher.Reserved)
def voucher_reserved(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=-e.amount_fen, reserved=e.amount_fen)


@handles(Voucher.Released)
def voucher_released(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=e.amount_fen, reserved=-e.amount_fen)


@handles(Voucher.Used)
def voucher_used(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, reserved=-e.amount_fen, used=e.amount_fen)


@handles(Voucher.ClawedBack)
def voucher_clawed_back(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, used=-e.amount_fen, clawed_back=e.amount_fen)


@handles(Voucher.Expired)
def voucher_expired(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=-e.amount_fen, expired=e.amount_fen)
    db.execute("UPDATE vl_vouchers SET status = 'expired' WHERE voucher_id = ?", [str(e.originator_id)])
