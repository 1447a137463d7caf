"""The rows of the lists a clerk works from in Excel (issue 19): vouchers and balances, contracts,
providers' totals, a batch's claims and payment list, and the year-end warning (余额预警).

Queries only, over the other models' tables (this module declares no table and handles no event);
amounts stay in fen and instants as recorded: `web/workbooks.py` writes them as yuan and Beijing time.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.settlement import CLAIM_APPROVED, CLAIM_PAID, DISPUTE_OPEN
from projections.storage.store import ViewStore
from projections.views import settlement
from projections.views.paging import Page

UNFINISHED = ("signed", "active")  # contracts whose reservation still waits for completion (Art. 18)


def vouchers(store: ViewStore, year: int) -> list[dict[str, Any]]:
    """Every voucher of the year with its holder's name and whether the holder is revoked."""
    return store.query(
        "SELECT v.*, e.name AS enterprise_name, e.revoked FROM vl_vouchers v "
        "LEFT JOIN vl_enterprises e ON e.enterprise_id = v.enterprise_id WHERE v.year = ? "
        "ORDER BY v.enterprise_id, v.kind", [year])


def contracts(store: ViewStore, year: int, status: str | None = None) -> list[dict[str, Any]]:
    """Every contract of the year (of one status), with the names of its parties and product."""
    where, params = ("WHERE c.year = ?", [year]) if status is None else ("WHERE c.year = ? AND c.status = ?",
                                                                          [year, status])
    return store.query(
        "SELECT c.*, e.name AS enterprise_name, p.name AS provider_name, d.name AS product_name, "
        "h.reason AS hold_reason FROM vl_contracts c "
        "LEFT JOIN vl_enterprises e ON e.enterprise_id = c.enterprise_id "
        "LEFT JOIN vl_providers p ON p.provider_id = c.provider_id "
        "LEFT JOIN vl_products d ON d.product_id = c.product_id "
        f"LEFT JOIN vl_contract_holds h ON h.contract_id = c.contract_id {where} ORDER BY c.proposed_at, c.contract_id",
        params)


def provider_totals(store: ViewStore, year: int) -> list[dict[str, Any]]:
    """Each provider signed for the year: its cap, exceptions and money against them."""
    return store.query(
        "SELECT y.*, p.name FROM vl_provider_years y LEFT JOIN vl_providers p ON p.provider_id = y.provider_id "
        "WHERE y.year = ? ORDER BY y.provider_id", [year])


def payment_list(store: ViewStore, batch_id: str) -> list[dict[str, Any]]:
    """What the batch pays or paid, per contract: its approved or paid claims no open objection holds."""
    return store.query(
        "SELECT l.provider_id, p.name AS provider_name, l.claim_id, l.contract_id, l.amount, k.enterprise_id, "
        "e.name AS enterprise_name, k.category, k.amount AS contract_amount, c.status AS claim_status "
        "FROM vl_claim_contracts l JOIN vl_claims c ON c.claim_id = l.claim_id "
        "LEFT JOIN vl_providers p ON p.provider_id = l.provider_id "
        "LEFT JOIN vl_contracts k ON k.contract_id = l.contract_id "
        "LEFT JOIN vl_enterprises e ON e.enterprise_id = k.enterprise_id "
        "WHERE l.batch_id = ? AND c.status IN (?, ?) AND l.claim_id NOT IN (SELECT claim_id FROM vl_claim_disputes "
        "WHERE batch_id = ? AND status = ?) ORDER BY l.provider_id, l.claim_id, l.ordinal",
        [batch_id, CLAIM_APPROVED, CLAIM_PAID, batch_id, DISPUTE_OPEN])


def batch(store: ViewStore, batch_id: str) -> dict[str, Any]:
    """The batch with its claims (404 for an unknown batch)."""
    return settlement.get_batch(store, batch_id)


_WARN_ENTERPRISES = (
    "SELECT v.enterprise_id, e.name, e.revoked, COUNT(*) AS vouchers, SUM(v.available) AS available, "
    "SUM(v.reserved) AS reserved FROM vl_vouchers v LEFT JOIN vl_enterprises e ON e.enterprise_id = v.enterprise_id "
    "WHERE v.year = ? AND v.status = 'active' AND COALESCE(e.revoked, 0) = 0 AND (v.available > 0 OR v.reserved > 0) "
    "GROUP BY v.enterprise_id, e.name, e.revoked")
_WARN_PROVIDERS = (
    "SELECT c.provider_id, p.name, COUNT(*) AS contracts, SUM(c.subsidy) AS reserved, SUM(c.amount) AS amount "
    "FROM vl_contracts c LEFT JOIN vl_providers p ON p.provider_id = c.provider_id "
    "WHERE c.year = ? AND c.status IN (?, ?) GROUP BY c.provider_id, p.name")


def year_end(store: ViewStore, year: int, page: Page | None = None) -> dict[str, Any]:
    """Money that expires at the year's end unless used (余额预警, Art. 18): per enterprise, its vouchers'
    unused balance and reserved money; per provider, its signed-but-unfinished contracts. A revoked holder
    is left out: it may no longer use its voucher, so there is no one to remind.

    `totals`: how many rows each list has and the money unused (the enterprises' available) and reserved
    (the providers' unfinished subsidies). With a `page`, each list is cut to it (issue 19: a year names
    thousands of enterprises): each query still runs once over the year, as the totals need it whole."""
    enterprises = store.query(_WARN_ENTERPRISES + " ORDER BY SUM(v.available) + SUM(v.reserved) DESC, v.enterprise_id",
                              [year])
    providers = store.query(_WARN_PROVIDERS + " ORDER BY SUM(c.subsidy) DESC, c.provider_id", [year, *UNFINISHED])
    unfinished = store.query(
        "SELECT c.contract_id, c.enterprise_id, e.name AS enterprise_name, c.provider_id, p.name AS provider_name, "
        "c.status, c.amount, c.subsidy, c.proposed_at FROM vl_contracts c "
        "LEFT JOIN vl_enterprises e ON e.enterprise_id = c.enterprise_id "
        "LEFT JOIN vl_providers p ON p.provider_id = c.provider_id WHERE c.year = ? AND c.status IN (?, ?) "
        "ORDER BY c.subsidy DESC, c.contract_id", [year, *UNFINISHED])
    totals = {"enterprises": len(enterprises), "providers": len(providers), "contracts": len(unfinished),
              "available": sum(int(r["available"]) for r in enterprises),
              "reserved": sum(int(r["reserved"]) for r in providers)}
    cut = (lambda rows: rows) if page is None else (lambda rows: rows[page.offset:page.offset + page.limit])  # noqa: E731
    return {"enterprises": cut(enterprises), "providers": cut(providers), "contracts": cut(unfinished),
            "totals": totals}
