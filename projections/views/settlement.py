"""Settlement batches and their claims, cases and credit records, and the year's settled total (Art. 19-25).

Provider totals (settled, receivable) are kept by `projections.views.providers` from the ProviderYear
events; the year's clawed-back total by `projections.views.balances` from the vouchers' ClawedBack events.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.case import Case
from ledger.domain.contract import Contract
from ledger.domain.settlement import (
    CLAIM_APPROVED, CLAIM_PAID, CLOSED, DISPUTE_OPEN, NOTICED, OBJECTED, UPHELD, WITHDRAWN, SettlementBatch,
)
from projections.registry import handles, table

table(
    "CREATE TABLE IF NOT EXISTS vl_batches (batch_id TEXT PRIMARY KEY, year INTEGER NOT NULL, name TEXT NOT NULL, "
    "status TEXT NOT NULL, opened_by TEXT NOT NULL, opened_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT, "
    "notice_outcome TEXT, notice_note TEXT, noticed_by TEXT, noticed_at TEXT, reference TEXT, paid_by TEXT, "
    "paid_at TEXT, paid_amount BIGINT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_batches_year ON vl_batches (year)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_claims (claim_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, "
    "provider_id TEXT NOT NULL, status TEXT NOT NULL, amount BIGINT NOT NULL, contracts INTEGER NOT NULL, "
    "documents TEXT NOT NULL, claimed_by TEXT NOT NULL, claimed_at TEXT NOT NULL, reviewed_by TEXT, "
    "reviewed_at TEXT, note TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_claims_batch ON vl_claims (batch_id)",
    "CREATE INDEX IF NOT EXISTS vl_claims_provider ON vl_claims (provider_id)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_claim_contracts (claim_id TEXT NOT NULL, contract_id TEXT NOT NULL, "
    "batch_id TEXT NOT NULL, provider_id TEXT NOT NULL, amount BIGINT NOT NULL, ordinal INTEGER NOT NULL, "
    "PRIMARY KEY (claim_id, contract_id))",
    "CREATE INDEX IF NOT EXISTS vl_claim_contracts_batch ON vl_claim_contracts (batch_id)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_cases (case_id TEXT PRIMARY KEY, subject_type TEXT NOT NULL, "
    "subject_id TEXT NOT NULL, violation TEXT NOT NULL, article TEXT NOT NULL, contract_ids TEXT NOT NULL, "
    "note TEXT NOT NULL, status TEXT NOT NULL, filed_by TEXT NOT NULL, filed_at TEXT NOT NULL, "
    "sanctioned_by TEXT, sanctioned_at TEXT, sanction TEXT, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_cases_subject ON vl_cases (subject_id)",
)
table(
    "CREATE TABLE IF NOT EXISTS vl_credit_records (case_id TEXT PRIMARY KEY, subject_type TEXT NOT NULL, "
    "subject_id TEXT NOT NULL, violation TEXT NOT NULL, article TEXT NOT NULL, description TEXT NOT NULL, "
    "note TEXT NOT NULL, recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_credit_records_subject ON vl_credit_records (subject_id)",
)


# Stops (DOMAIN.md "Stops" 5, 6): why a claim was rejected, each disputed contract's state, and the
# notice's position (the audit chain's head there is read from vl_audit_chain, projections/audit/chain.py).
table("CREATE TABLE IF NOT EXISTS vl_claim_reasons (claim_id TEXT PRIMARY KEY, reason TEXT NOT NULL)")
table(
    "CREATE TABLE IF NOT EXISTS vl_claim_disputes (claim_id TEXT NOT NULL, contract_id TEXT NOT NULL, "
    "batch_id TEXT NOT NULL, status TEXT NOT NULL, resolved_by TEXT, resolved_at TEXT, note TEXT, "
    "PRIMARY KEY (claim_id, contract_id))",
    "CREATE INDEX IF NOT EXISTS vl_claim_disputes_batch ON vl_claim_disputes (batch_id)",
)
table("CREATE TABLE IF NOT EXISTS vl_batch_notices (batch_id TEXT PRIMARY KEY, position BIGINT NOT NULL)")


def _by(e: Any) -> str:
    return str((getattr(e, "actor", None) or {}).get("id", ""))


def _at(e: Any) -> str:
    return e.timestamp.isoformat()


def _batch(db: Any, e: Any, position: int, **values: Any) -> None:
    sets = "".join(f"{name} = ?, " for name in values)
    db.execute(f"UPDATE vl_batches SET {sets}position = ? WHERE batch_id = ?",
               [*values.values(), position, str(e.originator_id)])


def _close_if_nothing_to_pay(db: Any, batch_id: str) -> None:
    """A noticed batch whose approved claims are all held back or withdrawn is closed (as the aggregate does)."""
    row = db.one("SELECT COUNT(*) AS n FROM vl_claims WHERE batch_id = ? AND status = ?", [batch_id, CLAIM_APPROVED])
    if row is not None and int(row["n"]) == 0:
        db.execute("UPDATE vl_batches SET status = ? WHERE batch_id = ? AND status = ?", [CLOSED, batch_id, NOTICED])


@handles(SettlementBatch.Opened)
def batch_opened(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_batches (batch_id, year, name, status, opened_by, opened_at, paid_amount, position) "
        "VALUES (?, ?, ?, 'open', ?, ?, 0, ?)",
        [str(e.originator_id), e.year, e.name, _by(e), _at(e), position],
    )


@handles(SettlementBatch.ClaimSubmitted)
def claim_submitted(db: Any, e: Any, position: int) -> None:
    batch_id = str(e.originator_id)
    db.execute(
        "INSERT INTO vl_claims (claim_id, batch_id, provider_id, status, amount, contracts, documents, claimed_by, "
        "claimed_at, note, position) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, '', ?)",
        [e.claim_id, batch_id, e.provider_id, e.amount_fen, len(e.contract_ids),
         json.dumps(e.documents, ensure_ascii=False, sort_keys=True), _by(e), _at(e), position],
    )
    db.executemany(
        "INSERT INTO vl_claim_contracts (claim_id, contract_id, batch_id, provider_id, amount, ordinal) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(e.claim_id, contract_id, batch_id, e.provider_id, e.amounts_fen[contract_id], n)
         for n, contract_id in enumerate(e.contract_ids)],
    )
    _batch(db, e, position)


@handles(SettlementBatch.ClaimReviewed)
def claim_reviewed(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_claims SET status = ?, reviewed_by = ?, reviewed_at = ?, note = ?, position = ? "
               "WHERE claim_id = ?",
               ["approved" if e.decision == "approve" else "rejected", _by(e), _at(e), e.note, position, e.claim_id])
    if getattr(e, "reason", None):
        db.execute("INSERT INTO vl_claim_reasons (claim_id, reason) VALUES (?, ?)", [e.claim_id, e.reason])
    _batch(db, e, position)


@handles(SettlementBatch.Approved)
def batch_approved(db: Any, e: Any, position: int) -> None:
    _batch(db, e, position, status="approved", approved_by=_by(e), approved_at=_at(e))


@handles(SettlementBatch.Noticed)
def batch_noticed(db: Any, e: Any, position: int) -> None:
    disputed = getattr(e, "disputed_contract_ids", None)
    if disputed is None:  # a notice recorded before objections named contracts held whole claims back
        for claim_id in e.claim_ids:
            db.execute("UPDATE vl_claims SET status = ?, position = ? WHERE claim_id = ?",
                       [OBJECTED, position, claim_id])
    elif disputed:
        rows = db.all(f"SELECT claim_id, contract_id FROM vl_claim_contracts WHERE batch_id = ? "
                      f"AND contract_id IN ({', '.join('?' * len(disputed))})", [str(e.originator_id), *disputed])
        db.executemany("INSERT INTO vl_claim_disputes (claim_id, contract_id, batch_id, status) VALUES (?, ?, ?, ?)",
                       [(r["claim_id"], r["contract_id"], str(e.originator_id), DISPUTE_OPEN) for r in rows])
    db.execute("INSERT INTO vl_batch_notices (batch_id, position) VALUES (?, ?)", [str(e.originator_id), position])
    _batch(db, e, position, status=NOTICED, notice_outcome=e.outcome, notice_note=e.note, noticed_by=_by(e),
           noticed_at=_at(e))
    _close_if_nothing_to_pay(db, str(e.originator_id))


@handles(SettlementBatch.PaymentStarted)
def payment_started(db: Any, e: Any, position: int) -> None:
    _batch(db, e, position, status="paying", reference=e.reference)


@handles(SettlementBatch.Paid)
def batch_paid(db: Any, e: Any, position: int) -> None:
    """Held-back contracts leave their claims; approved claims with no open dispute are paid."""
    batch_id = str(e.originator_id)
    for contract_id, item in (getattr(e, "held_back", None) or {}).items():
        _remove_from_claim(db, item["claim_id"], contract_id, item["amount_fen"], position)
    db.execute("UPDATE vl_claims SET status = ?, position = ? WHERE batch_id = ? AND status = ? AND claim_id NOT IN "
               "(SELECT claim_id FROM vl_claim_disputes WHERE batch_id = ? AND status = ?)",
               [CLAIM_PAID, position, batch_id, CLAIM_APPROVED, batch_id, DISPUTE_OPEN])
    row = db.one("SELECT paid_amount FROM vl_batches WHERE batch_id = ?", [batch_id])
    _batch(db, e, position, status="paid", reference=e.reference, paid_by=_by(e), paid_at=_at(e),
           paid_amount=(int(row["paid_amount"]) if row else 0) + e.amount_fen)


def _remove_from_claim(db: Any, claim_id: str, contract_id: str, amount_fen: int, position: int) -> None:
    db.execute("DELETE FROM vl_claim_contracts WHERE claim_id = ? AND contract_id = ?", [claim_id, contract_id])
    db.execute("DELETE FROM vl_claim_disputes WHERE claim_id = ? AND contract_id = ? AND status = ?",
               [claim_id, contract_id, DISPUTE_OPEN])
    db.execute("UPDATE vl_claims SET amount = amount - ?, contracts = contracts - 1, position = ? WHERE claim_id = ?",
               [amount_fen, position, claim_id])
    db.execute("UPDATE vl_claims SET status = ? WHERE claim_id = ? AND contracts = 0", [WITHDRAWN, claim_id])


@handles(SettlementBatch.ContractWithdrawn, SettlementBatch.ContractHeldBack)
def contract_withdrawn(db: Any, e: Any, position: int) -> None:
    """A sanctioned, held or failed contract left its claim before payment."""
    _remove_from_claim(db, e.claim_id, e.contract_id, e.amount_fen, position)
    _batch(db, e, position)
    _close_if_nothing_to_pay(db, str(e.originator_id))


@handles(SettlementBatch.ObjectionResolved)
def objection_resolved(db: Any, e: Any, position: int) -> None:
    """The approver's resolution; an upheld objection takes the contract out of its claim."""
    db.execute("UPDATE vl_claim_disputes SET status = ?, resolved_by = ?, resolved_at = ?, note = ? "
               "WHERE claim_id = ? AND contract_id = ?", [e.decision, _by(e), _at(e), e.note, e.claim_id, e.contract_id])
    if e.decision == UPHELD:
        _remove_from_claim(db, e.claim_id, e.contract_id, e.amount_fen, position)
    _batch(db, e, position)
    _close_if_nothing_to_pay(db, str(e.originator_id))


@handles(Contract.Settled)
def year_settled(db: Any, e: Any, position: int) -> None:
    """The year's settled total: Σ settled ≤ Σ used + Σ clawed back (DOMAIN.md, fund identity)."""
    year = batch_year(db, e.batch_id)  # a contract is settled only by a batch of its own year
    if year is not None:
        db.add("vl_years", "year", year, settled=e.amount_fen)  # batched per page (projections/storage/batch.py)


def batch_year(db: Any, batch_id: Any) -> int | None:
    """A batch's year (it never changes), read once per process."""
    key = str(batch_id)

    def load() -> int | None:
        row = db.row("vl_batches", "batch_id", key)
        return None if row is None else int(row["year"])

    return db.fact("batch_year", key, load)


@handles(Case.Filed)
def case_filed(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_cases (case_id, subject_type, subject_id, violation, article, contract_ids, note, status, "
        "filed_by, filed_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, 'filed', ?, ?, ?)",
        [str(e.originator_id), e.subject_type, e.subject_id, e.violation, e.article, json.dumps(list(e.contract_ids)),
         e.note, _by(e), _at(e), position],
    )


@handles(Case.Sanctioned)
def case_sanctioned(db: Any, e: Any, position: int) -> None:
    sanction = {"contracts": e.contracts, "released": e.released_fen, "clawed_back": e.clawed_back_fen,
                "receivable": e.receivable_fen, "revoke_enterprise": e.revoke_enterprise,
                "terminate_provider": e.terminate_provider, "note": e.note}
    db.execute("UPDATE vl_cases SET status = 'sanctioned', sanctioned_by = ?, sanctioned_at = ?, sanction = ?, "
               "position = ? WHERE case_id = ?",
               [_by(e), _at(e), json.dumps(sanction, ensure_ascii=False, sort_keys=True), position,
                str(e.originator_id)])


@handles(Case.CreditRecorded)
def credit_recorded(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_credit_records (case_id, subject_type, subject_id, violation, article, description, note, "
        "recorded_by, recorded_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [str(e.originator_id), e.subject_type, e.subject_id, e.violation, e.article, e.description, e.note, _by(e),
         _at(e), position],
    )
