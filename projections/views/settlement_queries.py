"""Queries over settlement batches, cases and credit records; amounts in fen, the API's field names."""

from __future__ import annotations

import json
from typing import Any

from ledger import errors
from ledger.domain.settlement import CLAIM_APPROVED, CLAIM_PAID, CLAIM_STATUSES, DISPUTE_OPEN, SettlementBatch
from projections.storage.store import ViewStore

BATCH_FIELDS = ("batch_id", "year", "name", "status", "opened_by", "opened_at", "approved_by", "approved_at",
                "notice_outcome", "notice_note", "noticed_by", "noticed_at", "reference", "paid_by", "paid_at")


def _found(row: dict[str, Any] | None, what: str, key: object) -> dict[str, Any]:
    if row is None:
        raise errors.NotFound(f"no {what} {key}", {"id": str(key)})
    return row


def _claims(store: ViewStore, batch_id: str, provider_id: str | None) -> list[dict[str, Any]]:
    with store.read() as db:
        if provider_id is None:
            claims = db.all("SELECT * FROM vl_claims WHERE batch_id = ? ORDER BY claimed_at, claim_id", [batch_id])
        else:
            claims = db.all("SELECT * FROM vl_claims WHERE batch_id = ? AND provider_id = ? "
                            "ORDER BY claimed_at, claim_id", [batch_id, provider_id])
        lines = db.all("SELECT claim_id, contract_id, amount FROM vl_claim_contracts WHERE batch_id = ? "
                       "ORDER BY claim_id, ordinal", [batch_id])
        disputes = db.all("SELECT claim_id, contract_id, status FROM vl_claim_disputes WHERE batch_id = ?", [batch_id])
        reasons = {r["claim_id"]: r["reason"] for r in db.all(
            "SELECT r.claim_id, r.reason FROM vl_claim_reasons r JOIN vl_claims c ON c.claim_id = r.claim_id "
            "WHERE c.batch_id = ?", [batch_id])}
    disputed: dict[str, dict[str, str]] = {}
    for d in disputes:
        disputed.setdefault(d["claim_id"], {})[d["contract_id"]] = d["status"]
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_claim.setdefault(line["claim_id"], []).append({"contract_id": line["contract_id"], "amount": line["amount"]})
    return [{"claim_id": c["claim_id"], "provider_id": c["provider_id"], "status": c["status"], "amount": c["amount"],
             "contract_ids": [line["contract_id"] for line in by_claim.get(c["claim_id"], [])],
             "contracts": by_claim.get(c["claim_id"], []), "documents": json.loads(c["documents"]),
             "claimed_by": c["claimed_by"], "claimed_at": c["claimed_at"], "reviewed_by": c["reviewed_by"],
             "reviewed_at": c["reviewed_at"], "note": c["note"], "reason": reasons.get(c["claim_id"]),
             "dispute": SettlementBatch.dispute_of({"disputed": disputed.get(c["claim_id"])}),
             "disputes": disputed.get(c["claim_id"], {})} for c in claims]


def totals_of(claims: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per claim status: how many claims, contracts and how much money."""
    totals = {status: {"claims": 0, "contracts": 0, "amount": 0} for status in CLAIM_STATUSES}
    for claim in claims:
        bucket = totals[claim["status"]]
        bucket["claims"] += 1
        bucket["contracts"] += len(claim["contract_ids"])
        bucket["amount"] += claim["amount"]
    return totals


def get_batch(store: ViewStore, batch_id: str, provider_id: str | None = None) -> dict[str, Any]:
    """A batch with its claims (all, or one provider's) and totals per claim status.

    A provider's view is its own (API.md "Data each party may see"): its claims, and totals and
    `paid` over those alone, never the batch-wide figures.
    """
    row = _found(store.query_one("SELECT * FROM vl_batches WHERE batch_id = ?", [batch_id]), "settlement batch",
                 batch_id)
    claims = _claims(store, batch_id, provider_id)
    totals = totals_of(claims)
    # Payable: the approved claims no objection holds (DOMAIN.md "Stops" 6). A provider sees its own paid.
    payable = sum(c["amount"] for c in claims if c["status"] == CLAIM_APPROVED and c["dispute"] != DISPUTE_OPEN)
    paid = row["paid_amount"] if provider_id is None else totals[CLAIM_PAID]["amount"]
    return {**{k: row[k] for k in BATCH_FIELDS}, "claims": claims, "totals": totals, "notice": _notice(store, batch_id),
            "claimed": sum(c["amount"] for c in claims), "payable": payable, "paid": paid}


def _notice(store: ViewStore, batch_id: str) -> dict[str, Any] | None:
    """The notice's chain head: its event's position and the audit chain's hash there (DOMAIN.md "Stops" 6)."""
    row = store.query_one("SELECT n.position, a.hash FROM vl_batch_notices n LEFT JOIN vl_audit_chain a "
                          "ON a.position = n.position WHERE n.batch_id = ?", [batch_id])
    return None if row is None else {"position": int(row["position"]), "hash": row["hash"]}


def batch_provider(store: ViewStore, batch_id: str, claim_id: str) -> str | None:
    row = store.query_one("SELECT provider_id FROM vl_claims WHERE batch_id = ? AND claim_id = ?", [batch_id, claim_id])
    return None if row is None else str(row["provider_id"])


def list_batches(store: ViewStore, year: int | None = None) -> list[dict[str, Any]]:
    """Every batch (of a year), with its claimed, payable and paid money."""
    where, params = ("WHERE b.year = ?", [year]) if year is not None else ("", [])
    rows = store.query(
        "SELECT b.batch_id, b.year, b.name, b.status, b.opened_at, b.reference, b.paid_amount, "
        "COUNT(c.claim_id) AS claims, COALESCE(SUM(c.amount), 0) AS claimed, "
        f"COALESCE(SUM(CASE WHEN c.status = '{CLAIM_APPROVED}' AND c.claim_id NOT IN (SELECT d.claim_id FROM "
        f"vl_claim_disputes d WHERE d.status = '{DISPUTE_OPEN}') THEN c.amount ELSE 0 END), 0) AS payable "
        f"FROM vl_batches b LEFT JOIN vl_claims c ON c.batch_id = b.batch_id {where} "
        "GROUP BY b.batch_id, b.year, b.name, b.status, b.opened_at, b.reference, b.paid_amount "
        "ORDER BY b.year, b.opened_at", params)
    return [{"batch_id": r["batch_id"], "year": r["year"], "name": r["name"], "status": r["status"],
             "opened_at": r["opened_at"], "reference": r["reference"], "claims": int(r["claims"]),
             "claimed": int(r["claimed"]), "payable": int(r["payable"]), "paid": int(r["paid_amount"])} for r in rows]


def get_batch_plan(store: ViewStore, batch_id: str) -> dict[str, Any]:
    """What paying the batch would pay now: per provider, each contract of its approved claims."""
    batch = _found(store.query_one("SELECT * FROM vl_batches WHERE batch_id = ?", [batch_id]), "settlement batch",
                   batch_id)
    rows = store.query(
        "SELECT l.provider_id, p.name AS provider_name, l.claim_id, l.contract_id, l.amount, k.enterprise_id, "
        "k.category, k.amount AS contract_amount FROM vl_claim_contracts l "
        "JOIN vl_claims c ON c.claim_id = l.claim_id "
        "LEFT JOIN vl_providers p ON p.provider_id = l.provider_id "
        "LEFT JOIN vl_contracts k ON k.contract_id = l.contract_id "
        "WHERE l.batch_id = ? AND c.status = ? AND l.claim_id NOT IN (SELECT claim_id FROM vl_claim_disputes "
        "WHERE batch_id = ? AND status = ?) ORDER BY l.provider_id, l.claim_id, l.ordinal",
        [batch_id, CLAIM_APPROVED, batch_id, DISPUTE_OPEN])
    providers: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = providers.setdefault(r["provider_id"], {"provider_id": r["provider_id"],
                                                        "name": r["provider_name"] or "", "amount": 0,
                                                        "contracts": []})
        entry["amount"] += r["amount"]
        entry["contracts"].append({"contract_id": r["contract_id"], "claim_id": r["claim_id"],
                                   "enterprise_id": r["enterprise_id"], "category": r["category"],
                                   "contract_amount": r["contract_amount"], "amount": r["amount"]})
    return {"batch_id": batch_id, "year": batch["year"], "name": batch["name"], "status": batch["status"],
            "providers": list(providers.values()), "amount": sum(p["amount"] for p in providers.values()),
            "contracts": len(rows)}


def _case(row: dict[str, Any]) -> dict[str, Any]:
    sanction = json.loads(row["sanction"]) if row["sanction"] else None
    return {"case_id": row["case_id"], "subject_type": row["subject_type"], "subject_id": row["subject_id"],
            "violation": row["violation"], "article": row["article"], "contract_ids": json.loads(row["contract_ids"]),
            "note": row["note"], "status": row["status"], "filed_by": row["filed_by"], "filed_at": row["filed_at"],
            "sanctioned_by": row["sanctioned_by"], "sanctioned_at": row["sanctioned_at"], "sanction": sanction}


def get_case(store: ViewStore, case_id: str) -> dict[str, Any]:
    return _case(_found(store.query_one("SELECT * FROM vl_cases WHERE case_id = ?", [case_id]), "case", case_id))


def list_cases(store: ViewStore, subject_id: str | None = None) -> list[dict[str, Any]]:
    if subject_id is None:
        rows = store.query("SELECT * FROM vl_cases ORDER BY filed_at, case_id")
    else:
        rows = store.query("SELECT * FROM vl_cases WHERE subject_id = ? ORDER BY filed_at, case_id", [subject_id])
    return [_case(r) for r in rows]


def list_credit_records(store: ViewStore, subject_id: str) -> list[dict[str, Any]]:
    """The bad credit records (不良信用记录) in a subject's service archive, oldest first."""
    rows = store.query("SELECT * FROM vl_credit_records WHERE subject_id = ? ORDER BY position", [subject_id])
    return [{k: r[k] for k in ("case_id", "subject_type", "subject_id", "violation", "article", "description",
                               "note", "recorded_by", "recorded_at")} for r in rows]
