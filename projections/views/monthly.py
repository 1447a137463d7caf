"""Money moved per service year and calendar month, for the console's chart (Art. 18, 20, 25).

Each voucher movement counts in the month (China Standard Time, UTC+08:00) its event was recorded:
reserved at signing, released at termination, used at completion, expired at year end, clawed back
by a sanction; settled counts the subsidy paid to providers in a settlement batch. A settlement may
fall after the year's end, so a year's months can run into the next calendar year.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ledger.domain.contract import Contract
from ledger.domain.voucher import Voucher
from projections.views.balances import voucher_year
from projections.views.model import ReadModel
from projections.views.settlement import batch_year

MODEL = ReadModel("monthly")

CHINA_TIME = timezone(timedelta(hours=8), "CST")
MOVEMENTS = ("reserved", "released", "used", "expired", "clawed_back", "settled")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_monthly (year INTEGER NOT NULL, month TEXT NOT NULL, "
    "reserved BIGINT NOT NULL DEFAULT 0, released BIGINT NOT NULL DEFAULT 0, used BIGINT NOT NULL DEFAULT 0, "
    "expired BIGINT NOT NULL DEFAULT 0, clawed_back BIGINT NOT NULL DEFAULT 0, settled BIGINT NOT NULL DEFAULT 0, "
    "PRIMARY KEY (year, month))"
)


def month_of(timestamp: datetime) -> str:
    """The calendar month of an instant in China Standard Time, "YYYY-MM"."""
    return timestamp.astimezone(CHINA_TIME).strftime("%Y-%m")


def _add(db: Any, year: int, timestamp: datetime, movement: str, amount_fen: int) -> None:
    assert movement in MOVEMENTS
    # An upsert per (year, month), summed over the page and written once (projections/storage/batch.py).
    db.accumulate("vl_monthly", {"year": year, "month": month_of(timestamp)}, **{movement: amount_fen})


def _voucher_year(db: Any, voucher_id: Any) -> int:
    # The voucher row is written by projections.views.balances when the voucher is issued, an earlier event.
    year = voucher_year(db, voucher_id)
    assert year is not None, f"unknown voucher {voucher_id}"
    return year


def _voucher_movement(movement: str) -> Any:
    def handler(db: Any, e: Any, position: int) -> None:
        if e.amount_fen:
            _add(db, _voucher_year(db, e.originator_id), e.timestamp, movement, e.amount_fen)

    handler.__name__ = f"monthly_{movement}"
    return handler


MODEL.handles(Voucher.Reserved)(_voucher_movement("reserved"))
MODEL.handles(Voucher.Released)(_voucher_movement("released"))
MODEL.handles(Voucher.Used)(_voucher_movement("used"))
MODEL.handles(Voucher.Expired)(_voucher_movement("expired"))
MODEL.handles(Voucher.ClawedBack)(_voucher_movement("clawed_back"))


@MODEL.handles(Voucher.UseReturned)
def monthly_use_returned(db: Any, e: Any, position: int) -> None:
    """A failed acceptance (DOMAIN.md "Stops" 5): money back to available counts as released, else expired."""
    if e.amount_fen:
        movement = "released" if e.returned_to == "available" else "expired"
        _add(db, _voucher_year(db, e.originator_id), e.timestamp, movement, e.amount_fen)


@MODEL.handles(Contract.Settled)
def monthly_settled(db: Any, e: Any, position: int) -> None:
    year = batch_year(db, e.batch_id)  # a contract is settled only by a batch of its own year
    assert year is not None, f"unknown batch {e.batch_id}"
    if e.amount_fen:
        _add(db, year, e.timestamp, "settled", e.amount_fen)


def get_monthly(store: Any, year: int) -> dict[str, Any]:
    """Every month of the year (zeros where nothing moved), then any later month with movements."""
    rows = {r["month"]: r for r in store.query("SELECT * FROM vl_monthly WHERE year = ? ORDER BY month", [year])}
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    months += sorted(m for m in rows if m not in months)
    return {"year": year, "months": [
        {"month": m, **{k: int(rows[m][k]) if m in rows else 0 for k in MOVEMENTS}} for m in months]}


def list_years(store: Any) -> list[dict[str, Any]]:
    """Every service year opened, newest first, with its window and status (for choosing one)."""
    rows = store.query("SELECT year, starts_on, ends_on, status FROM vl_years ORDER BY year DESC")
    return [dict(r) for r in rows]
