"""The contract view: every figure and status of each contract (Art. 17, 20, 25, 28)."""

from __future__ import annotations

from typing import Any

from ledger.domain.contract import Contract
from projections.storage.store import ViewStore
from projections.views.model import ReadModel, found
from projections.views.paging import Page, order_by, paged

MODEL = ReadModel("contracts")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_contracts (contract_id TEXT PRIMARY KEY, voucher_id TEXT NOT NULL, "
    "enterprise_id TEXT NOT NULL, provider_id TEXT NOT NULL, product_id TEXT NOT NULL, year INTEGER NOT NULL, "
    "category TEXT NOT NULL, amount BIGINT NOT NULL, subsidy_asked BIGINT, subsidy BIGINT NOT NULL, "
    "deposit BIGINT NOT NULL, balance_due BIGINT NOT NULL, deposit_paid BIGINT NOT NULL, "
    "balance_paid BIGINT NOT NULL, status TEXT NOT NULL, settled INTEGER NOT NULL, batch_id TEXT, "
    "clawed_back BIGINT NOT NULL, receivable BIGINT NOT NULL, proposed_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS vl_contracts_enterprise ON vl_contracts (enterprise_id, year)",
    "CREATE INDEX IF NOT EXISTS vl_contracts_provider ON vl_contracts (provider_id, year)",
    "CREATE INDEX IF NOT EXISTS vl_contracts_voucher ON vl_contracts (voucher_id)",
    # The year-end warning's unfinished contracts of a year (issue 19): without it, a scan of the year's contracts.
    "CREATE INDEX IF NOT EXISTS vl_contracts_year_status ON vl_contracts (year, status)",
)


# While a contract is held (DOMAIN.md "Stops" 1): why, and the position of the event that held it.
MODEL.table("CREATE TABLE IF NOT EXISTS vl_contract_holds (contract_id TEXT PRIMARY KEY, reason TEXT NOT NULL, "
      "since_position BIGINT NOT NULL)")


def _update(db: Any, e: Any, position: int, **values: Any) -> None:
    db.update("vl_contracts", "contract_id", str(e.originator_id), **values, updated_at=e.timestamp.isoformat(),
              position=position)


@MODEL.handles(Contract.Proposed)
def contract_proposed(db: Any, e: Any, position: int) -> None:
    db.insert("vl_contracts", "contract_id", contract_id=str(e.originator_id), voucher_id=e.voucher_id,
              enterprise_id=e.enterprise_id, provider_id=e.provider_id, product_id=e.product_id, year=e.year,
              category=e.category, amount=e.amount_fen, subsidy_asked=e.subsidy_asked_fen, subsidy=0, deposit=0,
              balance_due=0, deposit_paid=0, balance_paid=0, status="proposed", settled=0, batch_id=None,
              clawed_back=0, receivable=0, proposed_at=e.timestamp.isoformat(), updated_at=e.timestamp.isoformat(),
              position=position)


@MODEL.handles(Contract.Signed)
def contract_signed(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, subsidy=e.subsidy_fen, deposit=e.deposit_fen, balance_due=e.balance_due_fen,
            status="signed")


@MODEL.handles(Contract.DepositPaid)
def contract_deposit_paid(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, deposit_paid=e.amount_fen, status="active")


@MODEL.handles(Contract.Completed)
def contract_completed(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, balance_paid=e.balance_paid_fen, status="completed")


@MODEL.handles(Contract.Terminated)
def contract_terminated(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, status="terminated")


@MODEL.handles(Contract.Claimed)
def contract_claimed(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, batch_id=e.batch_id)


@MODEL.handles(Contract.ClaimReleased)
def contract_claim_released(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, batch_id=None)


@MODEL.handles(Contract.Settled)
def contract_settled(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, settled=1, batch_id=e.batch_id)


@MODEL.handles(Contract.ClawedBack)
def contract_clawed_back(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, status="clawed_back", clawed_back=e.amount_fen, receivable=e.receivable_fen)


@MODEL.handles(Contract.Held)
def contract_held(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, status="held")
    db.execute("INSERT INTO vl_contract_holds (contract_id, reason, since_position) VALUES (?, ?, ?)",
               [str(e.originator_id), e.reason, position])


@MODEL.handles(Contract.HoldReleased)
def contract_hold_released(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, status="completed")
    db.execute("DELETE FROM vl_contract_holds WHERE contract_id = ?", [str(e.originator_id)])


@MODEL.handles(Contract.AcceptanceFailed)
def contract_failed_acceptance(db: Any, e: Any, position: int) -> None:
    _update(db, e, position, status="failed_acceptance", batch_id=None)
    db.execute("DELETE FROM vl_contract_holds WHERE contract_id = ?", [str(e.originator_id)])


# Queries (amounts in fen, the API's field names)

CONTRACT_FIELDS = ("contract_id", "status", "voucher_id", "enterprise_id", "provider_id", "product_id", "year",
                   "category", "amount", "subsidy", "deposit", "balance_due", "deposit_paid", "balance_paid",
                   "batch_id", "clawed_back", "receivable", "kind")

# A contract's kind is its voucher's (general, or special 专项券, issue 17), which never changes and is kept
# once, in the vouchers' rows (projections.views.balances): read by key for the rows a query returns, and
# filtered through the vouchers of that kind, so no contract row stores it twice and a store made before
# the kind was shown needs neither a rebuild nor a `migrate` (issue 19).
CONTRACT_COLUMNS = ("*, (SELECT v.kind FROM vl_vouchers v WHERE v.voucher_id = vl_contracts.voucher_id) AS kind")


def kind_clause(kind: str, year: int | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause (on vl_contracts) that keeps the contracts of vouchers of `kind` (of `year`)."""
    if year is None:
        return "voucher_id IN (SELECT voucher_id FROM vl_vouchers WHERE kind = ?)", [kind]
    return "voucher_id IN (SELECT voucher_id FROM vl_vouchers WHERE year = ? AND kind = ?)", [year, kind]


def _contract(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: row[k] for k in CONTRACT_FIELDS}, "settled": bool(row["settled"])}


def get_contract(store: ViewStore, contract_id: str) -> dict[str, Any]:
    """A contract's figures and status; while held, the hold's reason and since when (DOMAIN.md "Stops" 1)."""
    contract = _contract(found(store.query_one(f"SELECT {CONTRACT_COLUMNS} FROM vl_contracts WHERE contract_id = ?",
                                               [contract_id]), "contract", contract_id))
    hold = store.query_one("SELECT reason, since_position FROM vl_contract_holds WHERE contract_id = ?", [contract_id])
    contract["hold"] = None if hold is None else {"reason": hold["reason"],
                                                  "since_position": int(hold["since_position"])}
    return contract


def list_contracts(store: ViewStore, *, enterprise_id: str | None = None, provider_id: str | None = None,
                   year: int | None = None, status: str | None = None, limit: int = 500,
                   kind: str | None = None) -> list[dict[str, Any]]:
    return list_contracts_page(store, Page(limit, 0, "changed"), enterprise_id=enterprise_id, provider_id=provider_id,
                               year=year, status=status, kind=kind)[0]


# The orders a list of contracts may ask for (issue 19): "changed" is the position of the last event.
CONTRACT_SORTS = {"changed": "position", "amount": "amount", "subsidy": "subsidy", "status": "status",
                  "enterprise": "enterprise_id", "provider": "provider_id"}


def list_contracts_page(store: ViewStore, page: Page, *, enterprise_id: str | None = None,
                        provider_id: str | None = None, year: int | None = None,
                        status: str | None = None, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """One page of the contracts of a party (and year, status, voucher kind), and how many there are in all."""
    clauses, params = [], []
    for column, value in (("enterprise_id", enterprise_id), ("provider_id", provider_id), ("year", year),
                          ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if kind is not None:
        clause, values = kind_clause(kind, year)
        clauses.append(clause)
        params.extend(values)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows, total = paged(store, CONTRACT_COLUMNS, "vl_contracts" + where, params,
                        order_by(CONTRACT_SORTS, page.sort, "changed", "contract_id"), page)
    return [_contract(r) for r in rows], total


def proposed_contract_ids(store: ViewStore, party: str, party_id: str) -> list[str]:
    """A party's proposed contracts, for the stop of a terminated provider or revoked enterprise.

    Proposed contracts reserve nothing, so no aggregate lists them (ledger/commands/stops.py says
    why a read-model lookup is enough: such a contract can never be signed afterwards).
    """
    column = "provider_id" if party == "provider" else "enterprise_id"
    rows = store.query(f"SELECT contract_id FROM vl_contracts WHERE {column} = ? AND status = 'proposed' "
                       "ORDER BY position", [party_id])
    return [r["contract_id"] for r in rows]
