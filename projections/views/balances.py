"""Voucher balances, enterprise balances per year and year totals (Art. 9, 11, 18)."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.rules import SETTLEMENT_BATCHES_MAX
from projections.storage.store import ViewStore
from projections.views.model import ReadModel, found

MODEL = ReadModel("balances")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_vouchers ("
    "voucher_id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL, year INTEGER NOT NULL, kind TEXT NOT NULL, "
    "tier TEXT NOT NULL, quota BIGINT NOT NULL, available BIGINT NOT NULL, reserved BIGINT NOT NULL, "
    "used BIGINT NOT NULL, expired BIGINT NOT NULL, clawed_back BIGINT NOT NULL, status TEXT NOT NULL, "
    "issued_at TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_vouchers_enterprise ON vl_vouchers (enterprise_id, year)",
    "CREATE INDEX IF NOT EXISTS vl_vouchers_year ON vl_vouchers (year)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_years ("
    "year INTEGER PRIMARY KEY, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL, parameters TEXT NOT NULL, "
    "status TEXT NOT NULL, budget BIGINT NOT NULL, issued BIGINT NOT NULL, vouchers INTEGER NOT NULL, "
    "available BIGINT NOT NULL, reserved BIGINT NOT NULL, used BIGINT NOT NULL, expired BIGINT NOT NULL, "
    "clawed_back BIGINT NOT NULL, settled BIGINT NOT NULL)"
)

FIGURES = ("available", "reserved", "used", "expired", "clawed_back")


def voucher_year(db: Any, voucher_id: Any) -> int | None:
    """A voucher's year (it never changes): remembered when issued, else read once per process."""
    key = str(voucher_id)

    def load() -> int | None:
        row = db.row("vl_vouchers", "voucher_id", key)
        return None if row is None else int(row["year"])

    return db.fact("voucher_year", key, load)


def _move(db: Any, voucher_id: Any, **deltas: int) -> None:
    """Apply the same signed movements to a voucher and to its year's totals (batched per page)."""
    db.add("vl_vouchers", "voucher_id", str(voucher_id), **deltas)
    year = voucher_year(db, voucher_id)
    if year is not None:
        db.add("vl_years", "year", year, **deltas)


@MODEL.handles(Year.Opened)
def year_opened(db: Any, e: Year.Opened, position: int) -> None:
    db.insert("vl_years", "year", year=e.year, starts_on=e.starts_on, ends_on=e.ends_on,
              parameters=json.dumps(e.parameters, sort_keys=True), status="open", budget=0, issued=0, vouchers=0,
              available=0, reserved=0, used=0, expired=0, clawed_back=0, settled=0)


@MODEL.handles(Year.BudgetAllocated)
def budget_allocated(db: Any, e: Any, position: int) -> None:
    db.add("vl_years", "year", _year_of(db, e.originator_id), budget=e.amount_fen)


def _year_of(db: Any, year_id: Any) -> int:
    # Year ids are uuid5 of the year number; the registry keeps the mapping for the other events.
    key = str(year_id)

    def load() -> int:
        row = db.row("vl_year_ids", "year_id", key)
        assert row is not None, f"unknown year stream {year_id}"
        return int(row["year"])

    return int(db.fact("year_of", key, load))


MODEL.table("CREATE TABLE IF NOT EXISTS vl_year_ids (year_id TEXT PRIMARY KEY, year INTEGER NOT NULL)")


@MODEL.handles(Year.Opened)
def year_id_known(db: Any, e: Year.Opened, position: int) -> None:
    db.insert("vl_year_ids", "year_id", year_id=str(e.originator_id), year=e.year)
    db.remember("year_of", str(e.originator_id), e.year)


@MODEL.handles(Year.QuotaCommitted)
def quota_committed(db: Any, e: Any, position: int) -> None:
    db.add("vl_years", "year", _year_of(db, e.originator_id), issued=e.quota_fen, vouchers=1)


@MODEL.handles(Year.ClosingStarted)
def year_closing(db: Any, e: Any, position: int) -> None:
    db.update("vl_years", "year", _year_of(db, e.originator_id), status="closing")


@MODEL.handles(Year.Closed)
def year_closed(db: Any, e: Any, position: int) -> None:
    db.update("vl_years", "year", _year_of(db, e.originator_id), status="closed")


@MODEL.handles(Voucher.Issued)
def voucher_issued(db: Any, e: Voucher.Issued, position: int) -> None:
    db.insert("vl_vouchers", "voucher_id", voucher_id=str(e.originator_id), enterprise_id=e.enterprise_id,
              year=e.year, kind=e.kind, tier=e.tier, quota=e.quota_fen, available=e.quota_fen, reserved=0, used=0,
              expired=0, clawed_back=0, status="active", issued_at=e.timestamp.isoformat(), position=position)
    db.remember("voucher_year", str(e.originator_id), e.year)
    db.add("vl_years", "year", e.year, available=e.quota_fen)


@MODEL.handles(Voucher.Reserved)
def voucher_reserved(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=-e.amount_fen, reserved=e.amount_fen)


@MODEL.handles(Voucher.Released)
def voucher_released(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=e.amount_fen, reserved=-e.amount_fen)


@MODEL.handles(Voucher.Used)
def voucher_used(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, reserved=-e.amount_fen, used=e.amount_fen)


@MODEL.handles(Voucher.ClawedBack)
def voucher_clawed_back(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, used=-e.amount_fen, clawed_back=e.amount_fen)


@MODEL.handles(Voucher.UseReturned)
def voucher_use_returned(db: Any, e: Any, position: int) -> None:
    """A contract failed acceptance: its used subsidy goes back to available, or to expired after the window."""
    _move(db, e.originator_id, used=-e.amount_fen, **{e.returned_to: e.amount_fen})


@MODEL.handles(Voucher.Expired)
def voucher_expired(db: Any, e: Any, position: int) -> None:
    _move(db, e.originator_id, available=-e.amount_fen, expired=e.amount_fen)
    db.update("vl_vouchers", "voucher_id", str(e.originator_id), status="expired")


# Queries (amounts in fen, the API's field names)

def get_voucher(store: ViewStore, voucher_id: str) -> dict[str, Any]:
    row = found(store.query_one("SELECT * FROM vl_vouchers WHERE voucher_id = ?", [voucher_id]), "voucher", voucher_id)
    return {k: row[k] for k in ("voucher_id", "enterprise_id", "year", "kind", "tier", "quota", *FIGURES, "status")}


def list_vouchers(store: ViewStore, enterprise_id: str, year: int | None = None) -> list[dict[str, Any]]:
    if year is None:
        rows = store.query("SELECT * FROM vl_vouchers WHERE enterprise_id = ? ORDER BY year, kind", [enterprise_id])
    else:
        rows = store.query("SELECT * FROM vl_vouchers WHERE enterprise_id = ? AND year = ? ORDER BY kind",
                           [enterprise_id, year])
    return [{k: r[k] for k in ("voucher_id", "enterprise_id", "year", "kind", "tier", "quota", *FIGURES, "status")}
            for r in rows]


def get_enterprise_balance(store: ViewStore, enterprise_id: str, year: int) -> dict[str, Any]:
    row = store.query_one(
        "SELECT COUNT(*) AS vouchers, COALESCE(SUM(quota), 0) AS quota, "
        + ", ".join(f"COALESCE(SUM({f}), 0) AS {f}" for f in FIGURES)
        + " FROM vl_vouchers WHERE enterprise_id = ? AND year = ?",
        [enterprise_id, year],
    )
    assert row is not None
    return {"enterprise_id": enterprise_id, "year": year, **{k: int(v) for k, v in row.items()}}


def get_year(store: ViewStore, year: int) -> dict[str, Any]:
    row = found(store.query_one("SELECT * FROM vl_years WHERE year = ?", [year]), "year", year)
    params = json.loads(row["parameters"])
    return {
        "year": row["year"], "starts_on": row["starts_on"], "ends_on": row["ends_on"], "status": row["status"],
        "tier_quotas": params["tier_quotas_fen"], "diagnosis_share": params["diagnosis_share_bp"],
        "other_share": params["other_share_bp"], "deposit_share": params["deposit_share_bp"],
        "provider_cap": params["provider_cap_fen"], "commitment_required": params.get("commitment_required", False),
        "settlement_batches": params.get("settlement_batches", SETTLEMENT_BATCHES_MAX),
        "budget": row["budget"], "issued": row["issued"], "unissued": row["budget"] - row["issued"],
        "vouchers": row["vouchers"], **{f: row[f] for f in (*FIGURES, "settled")},
    }


def close_preview(store: ViewStore, year: Any, today: Any) -> dict[str, Any]:
    """What closing `year` (the Year aggregate) would do now, as the close itself counts it (Art. 18).

    Every voucher of the year expires what it has available and what its open reservations release;
    each signed or active contract is terminated. `can_close` is the Year's own rule on the business date.
    """
    vouchers = store.query_one(
        "SELECT COUNT(*) AS n, COALESCE(SUM(available + reserved + expired), 0) AS amount FROM vl_vouchers "
        "WHERE year = ?", [year.year])
    contracts = store.query_one("SELECT COUNT(*) AS n FROM vl_contracts WHERE year = ? AND status IN ('signed', 'active')",
                                [year.year])
    assert vouchers is not None and contracts is not None
    return {"year": year.year, "expired_vouchers": int(vouchers["n"]), "expired_amount": int(vouchers["amount"]),
            "released_contracts": int(contracts["n"]), "can_close": year.can_close(today),
            "closes_after": year.closes_after.isoformat()}
