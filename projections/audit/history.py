"""A year's totals as they stood at any past instant (`GET /years/{year}?as_of=`, Art. 21-24).

Part of the one sequential projection: after every event that concerns a year (found through the
trace index's subjects), if the year's totals in `vl_years` changed, the new figures are kept with
the event's position and time. The figures at an instant are those of the last such row recorded
at or before it. Vouchers, balances and provider totals at an instant are folded from their own
aggregates instead (`ledger/as_of.py`); a year's totals sum every voucher of the year, too many to
fold on request.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ledger import errors
from projections.audit import trace
from projections.storage.store import ViewStore
from projections.views import balances
from projections.views.model import ReadModel

MODEL = ReadModel("history")

FIGURES = ("budget", "issued", "vouchers", "available", "reserved", "used", "expired", "clawed_back", "settled")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_year_history (year INTEGER NOT NULL, position BIGINT NOT NULL, "
    "at_us BIGINT NOT NULL, status TEXT NOT NULL, "
    + ", ".join(f"{name} BIGINT NOT NULL" for name in FIGURES)
    + ", PRIMARY KEY (year, position))",
    "CREATE INDEX IF NOT EXISTS vl_year_history_at ON vl_year_history (year, at_us, position)",
    clustered=True,
)

# The special kind's share, kept alike when it changes (the general share: the totals minus it).
SPECIAL_FIGURES = balances.SPECIAL_YEAR_FIGURES
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_year_history_special (year INTEGER NOT NULL, position BIGINT NOT NULL, "
    "at_us BIGINT NOT NULL, " + ", ".join(f"{name} BIGINT NOT NULL" for name in SPECIAL_FIGURES)
    + ", PRIMARY KEY (year, position))",
    "CREATE INDEX IF NOT EXISTS vl_year_history_special_at ON vl_year_history_special (year, at_us, position)",
    clustered=True,
)
_INSERT_SPECIAL = (f"INSERT INTO vl_year_history_special (year, position, at_us, {', '.join(SPECIAL_FIGURES)}) "
                   f"VALUES (?, ?, ?, {', '.join('?' * len(SPECIAL_FIGURES))})")

_INSERT = (f"INSERT INTO vl_year_history (year, position, at_us, status, {', '.join(FIGURES)}) "
           f"VALUES (?, ?, ?, ?, {', '.join('?' * len(FIGURES))})")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def micros(instant: datetime) -> int:
    """Microseconds since the epoch (UTC): exact, and ordered like the instants."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["status"], *(int(row[name]) for name in FIGURES))


@MODEL.handles_all
def year_changed(db: Any, event: Any, position: int) -> None:
    """Keep the year's totals after this event, if it changed them."""
    for year in trace.years_of(db, event, position):
        if not year.isdigit():
            continue
        row = db.row("vl_years", "year", int(year))  # with the page's pending changes (projections/storage/batch.py)
        if row is None:
            continue
        now = _figures(row)
        key = ("year_history", year)
        if key not in db.page:  # the last kept figures, read once per page
            last = db.one(f"SELECT status, {', '.join(FIGURES)} FROM vl_year_history WHERE year = ? "
                          "ORDER BY position DESC LIMIT 1", [int(year)])
            db.page[key] = None if last is None else _figures(last)
        if db.page[key] != now:
            db.defer(_INSERT, (int(year), position, micros(event.timestamp), *now))
            db.page[key] = now
        _special_changed(db, int(year), event, position)


def _special_changed(db: Any, year: int, event: Any, position: int) -> None:
    """Keep the year's special share after this event, if it changed it (no row: no special voucher yet)."""
    row = db.row("vl_year_special", "year", year)
    if row is None:
        return
    now = tuple(int(row[name]) for name in SPECIAL_FIGURES)
    key = ("year_history_special", year)
    if key not in db.page:
        last = db.one(f"SELECT {', '.join(SPECIAL_FIGURES)} FROM vl_year_history_special WHERE year = ? "
                      "ORDER BY position DESC LIMIT 1", [year])
        db.page[key] = None if last is None else tuple(int(last[name]) for name in SPECIAL_FIGURES)
    if db.page[key] != now:
        db.defer(_INSERT_SPECIAL, (year, position, micros(event.timestamp), *now))
        db.page[key] = now


def get_year_as_of(store: ViewStore, year: int, at: datetime) -> dict[str, Any]:
    """The year's parameters and totals as they stood at `at` (404 if it was not yet opened)."""
    current = balances.get_year(store, year)
    row = store.query_one(f"SELECT status, {', '.join(FIGURES)} FROM vl_year_history WHERE year = ? AND at_us <= ? "
                          "ORDER BY at_us DESC, position DESC LIMIT 1", [year, micros(at)])
    if row is None:
        raise errors.NotFound(f"year {year} was not open at {at.isoformat()}", {"year": year, "as_of": at.isoformat()})
    figures = {name: int(row[name]) for name in FIGURES}
    special = store.query_one(f"SELECT {', '.join(SPECIAL_FIGURES)} FROM vl_year_history_special WHERE year = ? "
                              "AND at_us <= ? ORDER BY at_us DESC, position DESC LIMIT 1", [year, micros(at)])
    return {**current, **figures, "by_kind": balances.split_by_kind(figures, special), "status": row["status"], "unissued": figures["budget"] - figures["issued"],
            "as_of": at.isoformat()}
