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
    CLAIM_APPROVED, CLAIM_PAID, CLAIM_STATUSES, CLOSED, DISPUTE_OPEN, NOTICED, OBJECTED, UPHELD, WITHDRAWN,
    SettlementBatch,
)
from projections.storage.store import ViewStore
from projections.views.model import ReadModel, found
from projections.views.paging import Page, order_by, paged

MODEL = ReadModel("settlement")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_batches (batch_id TEXT PRIMARY KEY, year INTEGER NOT NULL, name TEXT NOT NULL, "
    "status TEXT NOT NULL, opened_by TEXT NOT NULL, opened_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT, "
    "notice_outcome TEXT, notice_note TEXT, noticed_by TEXT, noticed_at TEXT, reference TEXT, paid_by TEXT, "
    "paid_at TEXT, paid_amount BIGINT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_batches_year ON vl_batches (year)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_claims (claim_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, "
    "provider_id TEXT NOT NULL, status TEXT NOT NULL, amount BIGINT NOT NULL, contracts INTEGER NOT NULL, "
    "documents TEXT NOT NULL, claimed_by TEXT NOT NULL, claimed_at TEXT NOT NULL, reviewed_by TEXT, "
    "reviewed_at TEXT, note TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_claims_batch ON vl_claims (batch_id)",
    "CREATE INDEX IF NOT EXISTS vl_claims_provider ON vl_claims (provider_id)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_claim_contracts (claim_id TEXT NOT NULL, contract_id TEXT NOT NULL, "
    "batch_id TEXT NOT NULL, provider_id TEXT NOT NULL, amount BIGINT NOT NULL, ordinal INTEGER NOT NULL, "
    "PRIMARY KEY (claim_id, contract_id))",
    "CREATE INDEX IF NOT EXISTS vl_claim_contracts_batch ON vl_claim_contracts (batch_id)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_cases (case_id TEXT PRIMARY KEY, subject_type TEXT NOT NULL, "
    "subject_id TEXT NOT NULL, violation TEXT NOT NULL, article TEXT NOT NULL, contract_ids TEXT NOT NULL, "
    "note TEXT NOT NULL, status TEXT NOT NULL, filed_by TEXT NOT NULL, filed_at TEXT NOT NULL, "
    "sanctioned_by TEXT, sanctioned_at TEXT, sanction TEXT, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_cases_subject ON vl_cases (subject_id)",
)
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_credit_records (case_id TEXT PRIMARY KEY, subject_type TEXT NOT NULL, "
    "subject_id TEXT NOT NULL, violation TEXT NOT NULL, article TEXT NOT NULL, description TEXT NOT NULL, "
    "note TEXT NOT NULL, recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_credit_records_subject ON vl_credit_records (subject_id)",
)


# Stops (DOMAIN.md "Stops" 5, 6): why a claim was rejected, each disputed contract's state, and the
# notice's position (the audit chain's head there is read from vl_audit_chain, projections/audit/chain.py).
MODEL.table("CREATE TABLE IF NOT EXISTS vl_claim_reasons (claim_id TEXT PRIMARY KEY, reason TEXT NOT NULL)")
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_claim_disputes (claim_id TEXT NOT NULL, contract_id TEXT NOT NULL, "
    "batch_id TEXT NOT NULL, status TEXT NOT NULL, resolved_by TEXT, resolved_at TEXT, note TEXT, "
    "PRIMARY KEY (claim_id, contract_id))",
    "CREATE INDEX IF NOT EXISTS vl_claim_disputes_batch ON vl_claim_disputes (batch_id)",
)
MODEL.table("CREATE TABLE IF NOT EXISTS vl_batch_notices (batch_id TEXT PRIMARY KEY, position BIGINT NOT NULL)")


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


@MODEL.handles(SettlementBatch.Opened)
def batch_opened(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_batches (batch_id, year, name, status, opened_by, opened_at, paid_amount, position) "
        "VALUES (?, ?, ?, 'open', ?, ?, 0, ?)",
        [str(e.originator_id), e.year, e.name, _by(e), _at(e), position],
    )


@MODEL.handles(SettlementBatch.ClaimSubmitted)
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


@MODEL.handles(SettlementBatch.ClaimReviewed)
def claim_reviewed(db: Any, e: Any, position: int) -> None:
    db.execute("UPDATE vl_claims SET status = ?, reviewed_by = ?, reviewed_at = ?, note = ?, position = ? "
               "WHERE claim_id = ?",
               ["approved" if e.decision == "approve" else "rejected", _by(e), _at(e), e.note, position, e.claim_id])
    if getattr(e, "reason", None):
        db.execute("INSERT INTO vl_claim_reasons (claim_id, reason) VALUES (?, ?)", [e.claim_id, e.reason])
    _batch(db, e, position)


@MODEL.handles(SettlementBatch.Approved)
def batch_approved(db: Any, e: Any, position: int) -> None:
    _batch(db, e, position, status="approved", approved_by=_by(e), approved_at=_at(e))


@MODEL.handles(SettlementBatch.Noticed)
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


@MODEL.handles(SettlementBatch.PaymentStarted)
def payment_started(db: Any, e: Any, position: int) -> None:
    _batch(db, e, position, status="paying", reference=e.reference)


@MODEL.handles(SettlementBatch.Paid)
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


@MODEL.handles(SettlementBatch.ContractWithdrawn, SettlementBatch.ContractHeldBack)
def contract_withdrawn(db: Any, e: Any, position: int) -> None:
    """A sanctioned, held or failed contract left its claim before payment."""
    _remove_from_claim(db, e.claim_id, e.contract_id, e.amount_fen, position)
    _batch(db, e, position)
    _close_if_nothing_to_pay(db, str(e.originator_id))


@MODEL.handles(SettlementBatch.ObjectionResolved)
def objection_resolved(db: Any, e: Any, position: int) -> None:
    """The approver's resolution; an upheld objection takes the contract out of its claim."""
    db.execute("UPDATE vl_claim_disputes SET status = ?, resolved_by = ?, resolved_at = ?, note = ? "
               "WHERE claim_id = ? AND contract_id = ?", [e.decision, _by(e), _at(e), e.note, e.claim_id, e.contract_id])
    if e.decision == UPHELD:
        _remove_from_claim(db, e.claim_id, e.contract_id, e.amount_fen, position)
    _batch(db, e, position)
    _close_if_nothing_to_pay(db, str(e.originator_id))


@MODEL.handles(Contract.Settled)
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


@MODEL.handles(Case.Filed)
def case_filed(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_cases (case_id, subject_type, subject_id, violation, article, contract_ids, note, status, "
        "filed_by, filed_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, 'filed', ?, ?, ?)",
        [str(e.originator_id), e.subject_type, e.subject_id, e.violation, e.article, json.dumps(list(e.contract_ids)),
         e.note, _by(e), _at(e), position],
    )


@MODEL.handles(Case.Sanctioned)
def case_sanctioned(db: Any, e: Any, position: int) -> None:
    sanction = {"contracts": e.contracts, "released": e.released_fen, "clawed_back": e.clawed_back_fen,
                "receivable": e.receivable_fen, "revoke_enterprise": e.revoke_enterprise,
                "terminate_provider": e.terminate_provider, "note": e.note}
    db.execute("UPDATE vl_cases SET status = 'sanctioned', sanctioned_by = ?, sanctioned_at = ?, sanction = ?, "
               "position = ? WHERE case_id = ?",
               [_by(e), _at(e), json.dumps(sanction, ensure_ascii=False, sort_keys=True), position,
                str(e.originator_id)])


@MODEL.handles(Case.CreditRecorded)
def credit_recorded(db: Any, e: Any, position: int) -> None:
    db.execute(
        "INSERT INTO vl_credit_records (case_id, subject_type, subject_id, violation, article, description, note, "
        "recorded_by, recorded_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [str(e.originator_id), e.subject_type, e.subject_id, e.violation, e.article, e.description, e.note, _by(e),
         _at(e), position],
    )


# Queries over batches, cases and credit records (amounts in fen, the API's field names)

BATCH_FIELDS = ("batch_id", "year", "name", "status", "opened_by", "opened_at", "approved_by", "approved_at",
                "notice_outcome", "notice_note", "noticed_by", "noticed_at", "reference", "paid_by", "paid_at")


def _claims(store: ViewStore, batch_id: str, provider_id: str | None,
            page: Page | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the claims asked for, with their contracts; every claim's status, amount, dispute and contract count).

    With a `page`, only that page's claims carry their contracts: a batch of a year pays thousands of
    contracts (issue 19), and the totals need only each claim's count of them.
    """
    with store.read() as db:
        if provider_id is None:
            claims = db.all("SELECT * FROM vl_claims WHERE batch_id = ? ORDER BY claimed_at, claim_id", [batch_id])
        else:
            claims = db.all("SELECT * FROM vl_claims WHERE batch_id = ? AND provider_id = ? "
                            "ORDER BY claimed_at, claim_id", [batch_id, provider_id])
        shown = claims if page is None else claims[page.offset:page.offset + page.limit]
        if page is None:
            lines = db.all("SELECT claim_id, contract_id, amount FROM vl_claim_contracts WHERE batch_id = ? "
                           "ORDER BY claim_id, ordinal", [batch_id])
            counts: dict[str, int] = {}
        else:
            ids = [c["claim_id"] for c in shown]
            lines = db.all("SELECT claim_id, contract_id, amount FROM vl_claim_contracts WHERE batch_id = ? AND "
                           f"claim_id IN ({', '.join('?' * len(ids))}) ORDER BY claim_id, ordinal",
                           [batch_id, *ids]) if ids else []
            counts = {r["claim_id"]: int(r["n"]) for r in db.all(
                "SELECT claim_id, COUNT(*) AS n FROM vl_claim_contracts WHERE batch_id = ? GROUP BY claim_id",
                [batch_id])}
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

    def dispute(claim_id: str) -> Any:
        return SettlementBatch.dispute_of({"disputed": disputed.get(claim_id)})

    built = [{"claim_id": c["claim_id"], "provider_id": c["provider_id"], "status": c["status"], "amount": c["amount"],
              "contract_ids": [line["contract_id"] for line in by_claim.get(c["claim_id"], [])],
              "contracts": by_claim.get(c["claim_id"], []), "documents": json.loads(c["documents"]),
              "claimed_by": c["claimed_by"], "claimed_at": c["claimed_at"], "reviewed_by": c["reviewed_by"],
              "reviewed_at": c["reviewed_at"], "note": c["note"], "reason": reasons.get(c["claim_id"]),
              "dispute": dispute(c["claim_id"]), "disputes": disputed.get(c["claim_id"], {})} for c in shown]
    if page is None:
        return built, [{**c, "contract_count": len(c["contract_ids"])} for c in built]
    return built, [{"status": c["status"], "amount": c["amount"], "dispute": dispute(c["claim_id"]),
                    "contract_count": counts.get(c["claim_id"], 0)} for c in claims]


def totals_of(claims: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per claim status: how many claims, contracts and how much money."""
    totals = {status: {"claims": 0, "contracts": 0, "amount": 0} for status in CLAIM_STATUSES}
    for claim in claims:
        bucket = totals[claim["status"]]
        bucket["claims"] += 1
        bucket["contracts"] += claim["contract_count"]
        bucket["amount"] += claim["amount"]
    return totals


def get_batch(store: ViewStore, batch_id: str, provider_id: str | None = None,
              claims_page: Page | None = None) -> dict[str, Any]:
    """A batch with its claims (all, or one provider's; every one, or a page of them) and totals per claim
    status, always over every claim (`claims_total` says how many).

    A provider's view is its own (API.md "Data each party may see"): its claims, and totals and
    `paid` over those alone, never the batch-wide figures.
    """
    row = found(store.query_one("SELECT * FROM vl_batches WHERE batch_id = ?", [batch_id]), "settlement batch",
                batch_id)
    claims, every = _claims(store, batch_id, provider_id, claims_page)
    totals = totals_of(every)
    # Payable: the approved claims no objection holds (DOMAIN.md "Stops" 6). A provider sees its own paid.
    payable = sum(c["amount"] for c in every if c["status"] == CLAIM_APPROVED and c["dispute"] != DISPUTE_OPEN)
    paid = row["paid_amount"] if provider_id is None else totals[CLAIM_PAID]["amount"]
    return {**{k: row[k] for k in BATCH_FIELDS}, "claims": claims, "totals": totals, "notice": _notice(store, batch_id),
            "claimed": sum(c["amount"] for c in every), "payable": payable, "paid": paid, "claims_total": len(every)}


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
    return list_batches_page(store, year, Page(ALL))[0]


ALL = 2**31  # "no limit" for the lists the CLI and the exports read whole
BATCH_SORTS = {"opened": "year, opened_at", "name": "name", "status": "status", "claimed": "claimed",
               "payable": "payable", "paid": "paid_amount"}
CASE_SORTS = {"filed": "filed_at", "status": "status", "subject": "subject_id", "violation": "violation"}


def list_batches_page(store: ViewStore, year: int | None, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of the batches (of a year) with their claimed, payable and paid money, and their number."""
    where, params = ("WHERE b.year = ?", [year]) if year is not None else ("", [])
    source = (
        "(SELECT b.batch_id, b.year, b.name, b.status, b.opened_at, b.reference, b.paid_amount, "
        "COUNT(c.claim_id) AS claims, COALESCE(SUM(c.amount), 0) AS claimed, "
        f"COALESCE(SUM(CASE WHEN c.status = '{CLAIM_APPROVED}' AND c.claim_id NOT IN (SELECT d.claim_id FROM "
        f"vl_claim_disputes d WHERE d.status = '{DISPUTE_OPEN}') THEN c.amount ELSE 0 END), 0) AS payable "
        f"FROM vl_batches b LEFT JOIN vl_claims c ON c.batch_id = b.batch_id {where} "
        "GROUP BY b.batch_id, b.year, b.name, b.status, b.opened_at, b.reference, b.paid_amount) x")
    rows, total = paged(store, "*", source, params, order_by(BATCH_SORTS, page.sort, "opened", "batch_id"), page)
    return [{"batch_id": r["batch_id"], "year": r["year"], "name": r["name"], "status": r["status"],
             "opened_at": r["opened_at"], "reference": r["reference"], "claims": int(r["claims"]),
             "claimed": int(r["claimed"]), "payable": int(r["payable"]), "paid": int(r["paid_amount"])}
            for r in rows], total


def get_batch_plan(store: ViewStore, batch_id: str) -> dict[str, Any]:
    """What paying the batch would pay now: per provider, each contract of its approved claims."""
    batch = found(store.query_one("SELECT * FROM vl_batches WHERE batch_id = ?", [batch_id]), "settlement batch",
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
    return _case(found(store.query_one("SELECT * FROM vl_cases WHERE case_id = ?", [case_id]), "case", case_id))


def list_cases(store: ViewStore, subject_id: str | None = None) -> list[dict[str, Any]]:
    return list_cases_page(store, subject_id, Page(ALL))[0]


def list_cases_page(store: ViewStore, subject_id: str | None, page: Page) -> tuple[list[dict[str, Any]], int]:
    """One page of the cases (of one subject), and how many there are."""
    where, params = (" WHERE subject_id = ?", [subject_id]) if subject_id is not None else ("", [])
    rows, total = paged(store, "*", "vl_cases" + where, params, order_by(CASE_SORTS, page.sort, "filed", "case_id"),
                        page)
    return [_case(r) for r in rows], total


def list_credit_records(store: ViewStore, subject_id: str) -> list[dict[str, Any]]:
    """The bad credit records (不良信用记录) in a subject's service archive, oldest first."""
    rows = store.query("SELECT * FROM vl_credit_records WHERE subject_id = ? ORDER BY position", [subject_id])
    return [{k: r[k] for k in ("case_id", "subject_type", "subject_id", "violation", "article", "description",
                               "note", "recorded_by", "recorded_at")} for r in rows]
