"""The enterprises (用券主体) by credit code and name, and the console's other look-ups (Art. 5, 9, 16, 25)."""

from __future__ import annotations

import json
from typing import Any

from ledger import errors
from ledger.domain.enterprise import Enterprise
from ledger.rules import tier_for
from projections.views.contracts import CONTRACT_COLUMNS, CONTRACT_SORTS, _contract, kind_clause
from projections.views.model import ReadModel
from projections.views.paging import Page, order_by, paged

MODEL = ReadModel("enterprises")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_enterprises (enterprise_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, "
    "name TEXT NOT NULL, tier TEXT NOT NULL, revoked INTEGER NOT NULL, registered_at TEXT NOT NULL, "
    "position BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS vl_enterprises_stream ON vl_enterprises (stream_id)",
)

# Each enterprise's honours and whether each is verified (Art. 9; DOMAIN.md "Stops" 9), as JSON.
MODEL.table("CREATE TABLE IF NOT EXISTS vl_enterprise_honours (stream_id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL, "
      "honours TEXT NOT NULL)")

SEARCH_LIMIT = 50
# The newest contracts of a year, for the dashboard, without sorting the whole contracts table.
MODEL.indexes.append("CREATE INDEX IF NOT EXISTS vl_contracts_year_position ON vl_contracts (year, position)")


@MODEL.handles(Enterprise.Registered)
def enterprise_registered(db: Any, e: Any, position: int) -> None:
    verified = e.honours if getattr(e, "verified_honours", None) is None else e.verified_honours
    db.insert("vl_enterprises", "enterprise_id", enterprise_id=e.code, stream_id=str(e.originator_id), name=e.name,
              tier=tier_for(verified), revoked=0, registered_at=e.timestamp.isoformat(), position=position)
    db.insert("vl_enterprise_honours", "stream_id", stream_id=str(e.originator_id), enterprise_id=e.code,
              honours=json.dumps([{"code": h, "verified": h in verified} for h in e.honours]))


def _set_honours(db: Any, e: Any, honours: list[dict[str, Any]]) -> None:
    db.update("vl_enterprise_honours", "stream_id", str(e.originator_id), honours=json.dumps(honours))
    db.execute("UPDATE vl_enterprises SET tier = ? WHERE stream_id = ?", [e.tier, str(e.originator_id)])


@MODEL.handles(Enterprise.HonoursVerified)
def enterprise_honours_verified(db: Any, e: Any, position: int) -> None:
    row = db.row("vl_enterprise_honours", "stream_id", str(e.originator_id))
    _set_honours(db, e, [{**h, "verified": h["verified"] or h["code"] in e.honours} for h in json.loads(row["honours"])])


@MODEL.handles(Enterprise.Amended)
def enterprise_amended(db: Any, e: Any, position: int) -> None:
    if "name" in e.changes:
        db.execute("UPDATE vl_enterprises SET name = ? WHERE stream_id = ?", [e.changes["name"], str(e.originator_id)])
    if "honours" in e.changes:  # honours the operator sets are verified by that act
        _set_honours(db, e, [{"code": h, "verified": True} for h in sorted(set(e.changes["honours"]))])


def get_honours(store: Any, enterprise_id: str) -> list[dict[str, Any]]:
    row = store.query_one("SELECT honours FROM vl_enterprise_honours WHERE enterprise_id = ?", [enterprise_id])
    return json.loads(row["honours"]) if row else []


@MODEL.handles(Enterprise.Revoked)
def enterprise_revoked(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_enterprises SET revoked = 1 WHERE stream_id = ?", [str(e.originator_id)])


def _enterprise(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["enterprise_id"], "name": row["name"], "tier": row["tier"], "revoked": bool(row["revoked"]),
            "registered_at": row["registered_at"]}


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (wildcards in the query are escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_enterprises(store: Any, q: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Enterprises whose credit code starts with `q` (any case) or whose name contains it."""
    return search_enterprises_page(store, q, Page(limit))[0]


# The orders a search may ask for (issue 19); the credit code breaks ties.
ENTERPRISE_SORTS = {"id": "enterprise_id", "name": "name", "tier": "tier", "registered_at": "registered_at"}
PROVIDER_SORTS = {"id": "provider_id", "name": "name", "status": "status"}


def search_enterprises_page(store: Any, q: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of the enterprises `q` finds, and how many it finds in all."""
    q = q.strip()
    rows, total = paged(store, "*", "vl_enterprises WHERE enterprise_id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\'",
                        [_like(q.upper())[1:], _like(q)], order_by(ENTERPRISE_SORTS, page.sort, "id", "enterprise_id"),
                        page)
    return [_enterprise(r) for r in rows], total


def search_providers(store: Any, q: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Providers whose credit code starts with `q` (any case) or whose name contains it."""
    return search_providers_page(store, q, Page(limit))[0]


def search_providers_page(store: Any, q: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of the providers `q` finds, and how many it finds in all."""
    q = q.strip()
    rows, total = paged(store, "provider_id, name, status, signed_years",
                        "vl_providers WHERE provider_id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\'",
                        [_like(q.upper())[1:], _like(q)], order_by(PROVIDER_SORTS, page.sort, "id", "provider_id"), page)
    return [{"id": r["provider_id"], "name": r["name"], "status": r["status"],
             "signed_years": [int(y) for y in r["signed_years"].split(",") if y]} for r in rows], total


def get_enterprise(store: Any, enterprise_id: str) -> dict[str, Any]:
    row = store.query_one("SELECT * FROM vl_enterprises WHERE enterprise_id = ?", [enterprise_id])
    if row is None:
        raise errors.NotFound(f"no enterprise {enterprise_id}", {"id": enterprise_id})
    return _enterprise(row)


def names(store: Any, table_name: str, key: str, ids: set[str]) -> dict[str, str]:
    """Names of the given enterprises, providers or products, for labelling lists."""
    assert (table_name, key) in {("vl_enterprises", "enterprise_id"), ("vl_providers", "provider_id"),
                                 ("vl_products", "product_id")}
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = store.query(f"SELECT {key} AS id, name FROM {table_name} WHERE {key} IN ({marks})", sorted(ids))
    return {r["id"]: r["name"] for r in rows}


def latest_contracts(store: Any, year: int, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """A year's contracts most recently changed first, of one status if given."""
    return contracts_page(store, year, status, Page(limit))[0]


def contracts_page(store: Any, year: int, status: str | None, page: Page,
                   id_prefix: str | None = None, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """One page of a year's contracts (of one status and voucher kind, whose id starts with `id_prefix`),
    and their number."""
    clauses, params = ["year = ?"], [year]
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if kind is not None:
        clause, values = kind_clause(kind, year)
        clauses.append(clause)
        params.extend(values)
    if id_prefix:
        clauses.append("contract_id LIKE ? ESCAPE '\\'")
        params.append(_like(id_prefix.lower())[1:])
    rows, total = paged(store, CONTRACT_COLUMNS, f"vl_contracts WHERE {' AND '.join(clauses)}", params,
                        order_by(CONTRACT_SORTS, page.sort, "-changed", "contract_id"), page)
    return [_contract(r) for r in rows], total
