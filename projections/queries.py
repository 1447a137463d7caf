"""Queries over the read models; amounts in fen, shaped with the API's field names."""

from __future__ import annotations

import json
from typing import Any

from ledger import errors
from ledger.domain.provider_year import remaining_cap
from ledger.rules import SETTLEMENT_BATCHES_MAX
from projections.store import ViewStore

FIGURES = ("available", "reserved", "used", "expired", "clawed_back")


def _found(row: dict[str, Any] | None, what: str, key: object) -> dict[str, Any]:
    if row is None:
        raise errors.NotFound(f"no {what} {key}", {"id": str(key)})
    return row


def get_voucher(store: ViewStore, voucher_id: str) -> dict[str, Any]:
    row = _found(store.query_one("SELECT * FROM vl_vouchers WHERE voucher_id = ?", [voucher_id]), "voucher", voucher_id)
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
    row = _found(store.query_one("SELECT * FROM vl_years WHERE year = ?", [year]), "year", year)
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


def get_provider(store: ViewStore, provider_id: str) -> dict[str, Any]:
    row = _found(store.query_one("SELECT * FROM vl_providers WHERE provider_id = ?", [provider_id]), "provider", provider_id)
    return {"id": row["provider_id"], "name": row["name"], "status": row["status"],
            "signed_years": [int(y) for y in row["signed_years"].split(",") if y]}


def get_provider_totals(store: ViewStore, provider_id: str, year: int) -> dict[str, Any]:
    row = _found(store.query_one("SELECT * FROM vl_provider_years WHERE provider_id = ? AND year = ?",
                                 [provider_id, year]), "signed provider year", f"{provider_id}/{year}")
    return {"provider_id": provider_id, "year": year, "cap": row["cap"], "exceptions": row["exceptions"],
            "reserved": row["reserved"], "used": row["used"], "settled": row["settled"],
            "receivable": row["receivable"], "remaining_cap": remaining_cap(row["cap"], row["exceptions"], row["reserved"] + row["used"]),
            "contracts": row["contracts"]}


def get_product(store: ViewStore, product_id: str) -> dict[str, Any]:
    row = _found(store.query_one("SELECT * FROM vl_products WHERE product_id = ?", [product_id]), "product", product_id)
    return {"product_id": row["product_id"], "provider_id": row["provider_id"], "name": row["name"],
            "category": row["category"], "price": row["price"],
            "listed_years": [int(y) for y in row["listed_years"].split(",") if y]}


CONTRACT_FIELDS = ("contract_id", "status", "voucher_id", "enterprise_id", "provider_id", "product_id", "year",
                   "category", "amount", "subsidy", "deposit", "balance_due", "deposit_paid", "balance_paid",
                   "batch_id", "clawed_back", "receivable")


def _contract(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: row[k] for k in CONTRACT_FIELDS}, "settled": bool(row["settled"])}


def get_contract(store: ViewStore, contract_id: str) -> dict[str, Any]:
    """A contract's figures and status; while held, the hold's reason and since when (DOMAIN.md "Stops" 1)."""
    contract = _contract(_found(store.query_one("SELECT * FROM vl_contracts WHERE contract_id = ?", [contract_id]),
                                "contract", contract_id))
    hold = store.query_one("SELECT reason, since_position FROM vl_contract_holds WHERE contract_id = ?", [contract_id])
    contract["hold"] = None if hold is None else {"reason": hold["reason"],
                                                  "since_position": int(hold["since_position"])}
    return contract


def list_contracts(store: ViewStore, *, enterprise_id: str | None = None, provider_id: str | None = None,
                   year: int | None = None, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    clauses, params = [], []
    for column, value in (("enterprise_id", enterprise_id), ("provider_id", provider_id), ("year", year),
                          ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = store.query(f"SELECT * FROM vl_contracts {where} ORDER BY position LIMIT {int(limit)}", params)
    return [_contract(r) for r in rows]


def idempotent_position(store: ViewStore, record_id: str) -> int | None:
    row = store.query_one("SELECT position FROM vl_idempotency WHERE record_id = ?", [record_id])
    return None if row is None else int(row["position"])


def proposed_contract_ids(store: ViewStore, party: str, party_id: str) -> list[str]:
    """A party's proposed contracts, for the stop of a terminated provider or revoked enterprise.

    Proposed contracts reserve nothing, so no aggregate lists them (ledger/commands/stops.py says
    why a read-model lookup is enough: such a contract can never be signed afterwards).
    """
    column = "provider_id" if party == "provider" else "enterprise_id"
    rows = store.query(f"SELECT contract_id FROM vl_contracts WHERE {column} = ? AND status = 'proposed' "
                       "ORDER BY position", [party_id])
    return [r["contract_id"] for r in rows]
