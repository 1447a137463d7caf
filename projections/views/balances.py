"""Voucher balances, enterprise balances per year and year totals (Art. 9, 11, 18)."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.rules import GENERAL, SETTLEMENT_BATCHES_MAX, SPECIAL, VOUCHER_KINDS
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

# Each year's special programme (JSON of the API's fields, fen); its provider cap (NULL: none) is also
# the special cap of every provider's year (projections.views.providers).
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_special_programmes (year INTEGER PRIMARY KEY, programme TEXT NOT NULL, "
    "provider_cap BIGINT, position BIGINT NOT NULL)"
)

FIGURES = ("available", "reserved", "used", "expired", "clawed_back")
# The special kind's share of each year's totals (a row once a special voucher is issued); the general
# share is vl_years' total minus it.
SPECIAL_YEAR_FIGURES = ("issued", "vouchers", *FIGURES, "settled")
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_year_special (year INTEGER PRIMARY KEY, "
    + ", ".join(f"{f} BIGINT NOT NULL DEFAULT 0" for f in SPECIAL_YEAR_FIGURES) + ")"
)


def voucher_year(db: Any, voucher_id: Any) -> int | None:
    """A voucher's year (it never changes): remembered when issued, else read once per process."""
    key = str(voucher_id)

    def load() -> int | None:
        row = db.row("vl_vouchers", "voucher_id", key)
        return None if row is None else int(row["year"])

    return db.fact("voucher_year", key, load)


def voucher_kind(db: Any, voucher_id: Any) -> str | None:
    """A voucher's kind (it never changes): remembered when issued, else read once per process."""
    key = str(voucher_id)

    def load() -> str | None:
        row = db.row("vl_vouchers", "voucher_id", key)
        return None if row is None else str(row["kind"])

    return db.fact("voucher_kind", key, load)


def _move(db: Any, voucher_id: Any, **deltas: int) -> None:
    """Apply the same signed movements to a voucher and to its year's totals (batched per page)."""
    db.add("vl_vouchers", "voucher_id", str(voucher_id), **deltas)
    year = voucher_year(db, voucher_id)
    if year is not None:
        db.add("vl_years", "year", year, **deltas)
        if voucher_kind(db, voucher_id) == SPECIAL:
            db.accumulate("vl_year_special", {"year": year}, **deltas)


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


@MODEL.handles(Year.SpecialProgrammeSet)
def special_programme_set(db: Any, e: Any, position: int) -> None:
    """The programme may be set again until the first special voucher: the last one stands."""
    year = _year_of(db, e.originator_id)
    programme = json.dumps({"quotas": e.quotas_fen, "categories": e.categories, "provider_cap": e.provider_cap_fen,
                            "reference": e.reference}, sort_keys=True, ensure_ascii=False)
    if db.row("vl_special_programmes", "year", year) is None:
        db.insert("vl_special_programmes", "year", year=year, programme=programme, provider_cap=e.provider_cap_fen,
                  position=position)
    else:
        db.update("vl_special_programmes", "year", year, programme=programme, provider_cap=e.provider_cap_fen,
                  position=position)


@MODEL.handles(Year.QuotaCommitted)
def quota_committed(db: Any, e: Any, position: int) -> None:
    db.add("vl_years", "year", _year_of(db, e.originator_id), issued=e.quota_fen, vouchers=1)
    if getattr(e, "kind", GENERAL) == SPECIAL:  # commitments recorded before special vouchers carry no kind
        db.accumulate("vl_year_special", {"year": _year_of(db, e.originator_id)}, issued=e.quota_fen, vouchers=1)


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
    db.remember("voucher_kind", str(e.originator_id), e.kind)
    db.add("vl_years", "year", e.year, available=e.quota_fen)
    if e.kind == SPECIAL:
        db.accumulate("vl_year_special", {"year": e.year}, available=e.quota_fen)


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


@MODEL.handles(ProviderYear.Settled)
def special_year_settled(db: Any, e: Any, position: int) -> None:
    """A special contract's settlement, in its year's special share (the total: projections.views.settlement)."""
    if getattr(e, "kind", GENERAL) == SPECIAL:
        row = db.row("vl_provider_years", "stream_id", str(e.originator_id))
        if row is not None:
            db.accumulate("vl_year_special", {"year": int(row["year"])}, settled=e.amount_fen)


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


KIND_SUMS = ("COUNT(*) AS vouchers, COALESCE(SUM(quota), 0) AS quota, "
             + ", ".join(f"COALESCE(SUM({f}), 0) AS {f}" for f in FIGURES))


def _by_kind(store: ViewStore, where: str, args: list[Any]) -> dict[str, dict[str, int]]:
    """The vouchers' figures summed per kind (zeros for a kind with none), from the vouchers' rows."""
    rows = store.query(f"SELECT kind, {KIND_SUMS} FROM vl_vouchers WHERE {where} GROUP BY kind", args)
    sums = {r["kind"]: {k: int(v) for k, v in r.items() if k != "kind"} for r in rows}
    return {kind: sums.get(kind, {"vouchers": 0, "quota": 0, **{f: 0 for f in FIGURES}}) for kind in VOUCHER_KINDS}


def get_enterprise_balance(store: ViewStore, enterprise_id: str, year: int) -> dict[str, Any]:
    """The enterprise's vouchers of the year summed, and per kind in `by_kind`."""
    by_kind = _by_kind(store, "enterprise_id = ? AND year = ?", [enterprise_id, year])
    totals = {k: sum(figures[k] for figures in by_kind.values()) for k in by_kind[GENERAL]}
    return {"enterprise_id": enterprise_id, "year": year, **totals, "by_kind": by_kind}


def split_by_kind(totals: dict[str, Any], special_row: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """The year's figures per kind from its totals and its special share (general: the difference)."""
    special = {f: int(special_row[f]) if special_row else 0 for f in SPECIAL_YEAR_FIGURES}
    return {GENERAL: {f: int(totals[f]) - special[f] for f in SPECIAL_YEAR_FIGURES}, SPECIAL: special}


# A year's row with its special programme and special share joined, in one statement: a query is mostly
# round trips (issue 21: three statements made /years/{year} p50 1.3-1.5 ms over HTTP).
_YEAR_WITH_SPECIAL = (
    "SELECT y.*, p.programme AS special_programme_json, s.year AS special_year, "
    + ", ".join(f"s.{f} AS special_{f}" for f in SPECIAL_YEAR_FIGURES)
    + " FROM vl_years y LEFT JOIN vl_special_programmes p ON p.year = y.year "
      "LEFT JOIN vl_year_special s ON s.year = y.year WHERE y.year = ?")


def get_year(store: ViewStore, year: int) -> dict[str, Any]:
    row = found(store.query_one(_YEAR_WITH_SPECIAL, [year]), "year", year)
    params = json.loads(row["parameters"])
    programme = row["special_programme_json"]
    special_row = (None if row["special_year"] is None
                   else {f: row[f"special_{f}"] for f in SPECIAL_YEAR_FIGURES})
    return {
        "year": row["year"], "starts_on": row["starts_on"], "ends_on": row["ends_on"], "status": row["status"],
        "tier_quotas": params["tier_quotas_fen"], "diagnosis_share": params["diagnosis_share_bp"],
        "other_share": params["other_share_bp"], "deposit_share": params["deposit_share_bp"],
        "provider_cap": params["provider_cap_fen"], "commitment_required": params.get("commitment_required", False),
        "settlement_batches": params.get("settlement_batches", SETTLEMENT_BATCHES_MAX),
        "budget": row["budget"], "issued": row["issued"], "unissued": row["budget"] - row["issued"],
        "vouchers": row["vouchers"], **{f: row[f] for f in (*FIGURES, "settled")},
        "special_programme": None if programme is None else json.loads(programme),
        "by_kind": split_by_kind(row, special_row),
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
