"""Settlement batches (集中兑付结算): how public money finally reaches providers (Art. 19-20).

A batch is opened by the operator for one year (1-2 a year, Art. 19). Providers claim completed
contracts with their settlement materials; the operator reviews every claim; DIIT approves the plan
only when no claim is pending; the public notice (公示) outcome is recorded, and an objection holds
back only the disputed claims; finance records the payment, which marks each contract of the paid
claims redeemed (兑现确认) and settled.

Segregation of duties: nobody approves or pays a batch in which they claimed or reviewed a claim,
nobody pays what they approved, and nobody reviews their own claim. Who did what is read from the
actor stamped on each event (`LedgerAggregate`), never from a separate field a caller could set.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.context import Actor
from ledger.domain.base import LedgerAggregate
from ledger.domain.packed import PackedDict

# Batch statuses, in order. `paying` is the short window of a payment saved in chunks; `closed` is a
# batch whose every approved claim was held back by an objection or withdrawn by a sanction.
OPEN, APPROVED, NOTICED, PAYING, PAID, CLOSED = "open", "approved", "noticed", "paying", "paid", "closed"
BATCH_STATUSES = (OPEN, APPROVED, NOTICED, PAYING, PAID, CLOSED)
# Claim statuses.
PENDING, CLAIM_APPROVED, REJECTED, OBJECTED, CLAIM_PAID, WITHDRAWN = (
    "pending", "approved", "rejected", "objected", "paid", "withdrawn",
)
CLAIM_STATUSES = (PENDING, CLAIM_APPROVED, REJECTED, OBJECTED, CLAIM_PAID, WITHDRAWN)
APPROVE, REJECT = "approve", "reject"
NO_OBJECTION, OBJECTION = "no_objection", "objection"
# Why a claim is rejected (DOMAIN.md "Stops" 5): incomplete materials free the contracts to be claimed
# again; a failed acceptance makes them fail acceptance (never claimable or payable).
MATERIALS, ACCEPTANCE_FAILED = "materials", "acceptance_failed"
REJECTION_REASONS = (MATERIALS, ACCEPTANCE_FAILED)
# A disputed contract's state in its claim (DOMAIN.md "Stops" 6); a claim's `dispute` sums them up.
DISPUTE_OPEN, UPHELD, DISMISSED = "open", "upheld", "dismissed"
RESOLUTIONS = (UPHELD, DISMISSED)

SOD_RULE = ("segregation of duties (职责分离): nobody approves or pays a settlement batch in which they claimed "
            "or reviewed a claim, nobody pays what they approved, and nobody reviews their own claim")


def _actor_id(actor: dict | None) -> str:
    return (actor or {}).get("id", "")


class SettlementBatch(LedgerAggregate):
    """One settlement batch of a year: its claims, their review, the plan's approval, notice and payment.

    `claims` maps claim id → {provider_id, contract_ids, amounts_fen (per contract), amount_fen,
    documents (name, sha256, size, uri), status, claimed_by, reviewed_by, note}.
    """

    @event("Opened")
    def __init__(self, year: int, name: str) -> None:
        self.year = year
        self.name = name
        self.status = OPEN
        # Packed: a command's copy of the batch unpickles only the claims it reads (ledger/domain/packed.py).
        self.claims: PackedDict = PackedDict()
        self.approval: dict[str, Any] | None = None  # {"by", "amount_fen"}
        self.notice: dict[str, Any] | None = None  # {"outcome", "claim_ids", "note", "by"}
        self.payment: dict[str, Any] | None = None  # {"reference", "amount_fen", "by"}

    # --- claims (结算申请) -------------------------------------------------------------------------

    def refuse_unless_open(self) -> None:
        if self.status != OPEN:
            raise errors.InvalidState(f"the batch is {self.status}: claims are submitted and reviewed while it is open",
                                      {"status": self.status, "expected": [OPEN]})

    def claim(self, claim_id: str, provider_id: str, amounts_fen: dict[str, int], documents: list[dict]) -> None:
        """A provider claims completed contracts with its settlement materials (Art. 20)."""
        self.refuse_unless_open()
        if not amounts_fen:
            raise errors.ValidationFailed("a claim names at least one contract",
                                          {"contract_ids": ["must not be empty"]})
        if not documents:
            raise errors.ValidationFailed("a claim carries its settlement materials (结算材料, Art. 20)",
                                          {"documents": ["must not be empty"]})
        self._claimed(claim_id=claim_id, provider_id=provider_id, contract_ids=list(amounts_fen),
                      amounts_fen=dict(amounts_fen), amount_fen=sum(amounts_fen.values()), documents=documents)

    @event("ClaimSubmitted")
    def _claimed(self, claim_id: str, provider_id: str, contract_ids: list, amounts_fen: dict, amount_fen: int,
                 documents: list, actor: dict | None = None) -> None:
        """A claim of these contracts, each at its used subsidy, with the materials' references."""
        # `actor` is the event's own stamp (LedgerAggregate), handed back on apply and on every replay.
        self.claims[claim_id] = {
            "provider_id": provider_id, "contract_ids": list(contract_ids), "amounts_fen": dict(amounts_fen),
            "amount_fen": amount_fen, "documents": list(documents), "status": PENDING,
            "claimed_by": _actor_id(actor), "reviewed_by": None, "note": "",
        }

    def get_claim(self, claim_id: str) -> dict[str, Any]:
        claim = self.claims.get(str(claim_id))
        if claim is None:
            raise errors.NotFound(f"no claim {claim_id} in this batch", {"id": str(claim_id)})
        return claim

    def review(self, claim_id: str, decision: str, note: str, reviewer: Actor, reason: str | None = None) -> None:
        """The operator reviews a claim's materials: approve or reject, saying why (Art. 20: 核对无误; Art. 21, 28)."""
        self.refuse_unless_open()
        claim = self.get_claim(claim_id)
        if claim["status"] != PENDING:
            raise errors.InvalidState(f"the claim is already {claim['status']}", {"status": claim["status"]})
        if decision not in (APPROVE, REJECT):
            raise errors.ValidationFailed("decide approve or reject", {"decision": ["must be approve or reject"]})
        if decision == REJECT and reason not in REJECTION_REASONS:
            raise errors.ValidationFailed("a rejection says why: materials or acceptance_failed",
                                          {"reason": [f"required with reject, one of {list(REJECTION_REASONS)}"]})
        if decision == APPROVE and reason is not None:
            raise errors.ValidationFailed("only a rejection has a reason", {"reason": ["only with reject"]})
        if reviewer.id == claim["claimed_by"]:
            raise errors.SegregationOfDuties(
                "nobody reviews their own claim", {"rule": SOD_RULE, "actor_id": reviewer.id, "claim_id": str(claim_id),
                                                    "conflicts": ["claimed"]})
        self._reviewed(claim_id=str(claim_id), decision=decision, note=note, reason=reason)

    @event("ClaimReviewed")
    def _reviewed(self, claim_id: str, decision: str, note: str, reason: str | None = None,
                  actor: dict | None = None) -> None:
        """The operator's decision on a claim and, for a rejection, why; the reviewer is the event's actor."""
        claim = self.claims[claim_id]
        claim["status"] = CLAIM_APPROVED if decision == APPROVE else REJECTED
        claim["reviewed_by"] = _actor_id(actor)
        claim["note"] = note
        claim["reason"] = reason

    def claims_in(self, *statuses: str) -> dict[str, dict[str, Any]]:
        return {cid: c for cid, c in self.claims.items() if c["status"] in statuses}

    def amounts_by_provider(self, *statuses: str) -> dict[str, int]:
        """Σ amount per provider over the claims in these statuses."""
        totals: dict[str, int] = {}
        for claim in self.claims_in(*statuses).values():
            totals[claim["provider_id"]] = totals.get(claim["provider_id"], 0) + claim["amount_fen"]
        return totals

    @staticmethod
    def dispute_of(claim: dict[str, Any]) -> str | None:
        """A claim's dispute: `open` while any of its disputed contracts is unresolved, else how they ended."""
        states = set((claim.get("disputed") or {}).values())
        if not states:
            return None
        if DISPUTE_OPEN in states:
            return DISPUTE_OPEN
        return DISMISSED if DISMISSED in states else UPHELD

    def payable(self) -> dict[str, tuple[str, str, int]]:
        """contract id → (claim id, provider id, amount) of every approved claim with no open dispute.

        What payment would pay: a claim held by an objection waits for the approver's resolution (Art. 20).
        """
        return {contract_id: (claim_id, claim["provider_id"], claim["amounts_fen"][contract_id])
                for claim_id, claim in self.claims_in(CLAIM_APPROVED).items()
                if self.dispute_of(claim) != DISPUTE_OPEN for contract_id in claim["contract_ids"]}

    def disputed_claims(self) -> list[str]:
        return sorted(cid for cid, claim in self.claims_in(CLAIM_APPROVED).items()
                      if self.dispute_of(claim) == DISPUTE_OPEN)

    # --- segregation of duties (职责分离) ---------------------------------------------------------

    def refuse_conflict_of_duties(self, actor: Actor, step: str) -> None:
        """Nobody approves or pays what they claimed or reviewed; nobody pays what they approved."""
        conflicts: list[str] = []
        claim_ids: list[str] = []
        for claim_id, claim in self.claims.items():
            roles = [what for what, who in (("claimed", claim["claimed_by"]), ("reviewed", claim["reviewed_by"]))
                     if who and who == actor.id]
            if roles:
                claim_ids.append(claim_id)
                conflicts.extend(r for r in roles if r not in conflicts)
        if step == "pay" and self.approval and self.approval["by"] == actor.id:
            conflicts.append("approved")
        if conflicts:
            raise errors.SegregationOfDuties(
                f"{actor.id} may not {step} this batch: they {' and '.join(conflicts)} it",
                {"rule": SOD_RULE, "actor_id": actor.id, "step": step, "conflicts": conflicts,
                 "claim_ids": sorted(claim_ids)})

    # --- approval of the plan (结算方案审定) -------------------------------------------------------

    def refuse_approval(self, approver: Actor) -> None:
        """DIIT approves the plan only when every claim has been reviewed (Art. 20)."""
        if self.status != OPEN:
            raise errors.InvalidState(f"the batch is already {self.status}",
                                      {"status": self.status, "expected": [OPEN]})
        pending = sorted(self.claims_in(PENDING))
        if pending:
            raise errors.ClaimsPending(f"{len(pending)} claim(s) still await review", {"claim_ids": pending})
        if not self.claims_in(CLAIM_APPROVED):
            raise errors.InvalidState("the plan has no approved claim to approve", {"claims": len(self.claims)})
        self.refuse_conflict_of_duties(approver, "approve")

    @event("Approved")
    def approve(self, amount_fen: int, providers: dict, note: str, actor: dict | None = None) -> None:
        """The plan is approved; `providers` records, per provider, the amount and the cap it was checked against."""
        self.status = APPROVED
        self.approval = {"by": _actor_id(actor), "amount_fen": amount_fen}

    # --- public notice (公示) ---------------------------------------------------------------------

    def refuse_notice(self, outcome: str, claim_ids: list[str], contract_ids: list[str] | None = None) -> dict[str, str]:
        """The notice follows approval; an objection names the disputed contracts (or whole claims).

        Answers disputed contract id → its claim id. Every disputed contract must be in an approved
        claim of this batch; naming a claim disputes each of its contracts.
        """
        if self.status != APPROVED:
            raise errors.InvalidState(f"the notice follows the plan's approval; the batch is {self.status}",
                                      {"status": self.status, "expected": [APPROVED]})
        if outcome not in (NO_OBJECTION, OBJECTION):
            raise errors.ValidationFailed("bad outcome", {"outcome": ["must be no_objection or objection"]})
        named_claims = list(dict.fromkeys(str(c) for c in claim_ids))
        named_contracts = list(dict.fromkeys(str(c) for c in contract_ids or []))
        if outcome == NO_OBJECTION and (named_claims or named_contracts):
            raise errors.ValidationFailed("contracts are disputed only by an objection",
                                          {"contract_ids": ["must be empty when there is no objection"]})
        if outcome == OBJECTION and not (named_claims or named_contracts):
            # An objection holds back only what it disputes (Art. 20): one that names nothing could
            # hold back nothing or everything, so the operator must say which contracts it concerns.
            raise errors.ValidationFailed("an objection names the disputed contracts",
                                          {"contract_ids": ["name the contracts the objection disputes"]})
        disputed: dict[str, str] = {}
        for claim_id in named_claims:
            claim = self.get_claim(claim_id)
            if claim["status"] != CLAIM_APPROVED:
                raise errors.InvalidState(f"claim {claim_id} is {claim['status']}, not in the approved plan",
                                          {"claim_id": claim_id, "status": claim["status"]})
            disputed.update({c: claim_id for c in claim["contract_ids"]})
        approved = {c: cid for cid, claim in self.claims_in(CLAIM_APPROVED).items() for c in claim["contract_ids"]}
        for contract_id in named_contracts:
            if contract_id not in approved:
                raise errors.InvalidState(f"contract {contract_id} is not in an approved claim of this batch",
                                          {"contract_id": contract_id})
            disputed[contract_id] = approved[contract_id]
        return disputed

    @event("Noticed")
    def record_notice(self, outcome: str, claim_ids: list, note: str, disputed_contract_ids: list | None = None,
                      actor: dict | None = None) -> None:
        """The notice period ended: with no objection, or with objections disputing these contracts.

        The claims of disputed contracts are held (dispute `open`) until the approver resolves each
        contract. A notice recorded before contracts were named (`disputed_contract_ids` None) held
        back whole claims (`objected`), whose contracts were freed for a later batch.
        """
        if disputed_contract_ids is None:
            for claim_id in claim_ids:
                self.claims[claim_id]["status"] = OBJECTED
        else:
            for claim_id in claim_ids:
                claim = self.claims[claim_id]
                claim["disputed"] = {c: DISPUTE_OPEN for c in disputed_contract_ids if c in claim["contract_ids"]}
        self.notice = {"outcome": outcome, "claim_ids": list(claim_ids), "note": note, "by": _actor_id(actor),
                       "contract_ids": list(disputed_contract_ids or [])}
        self.status = NOTICED if self.claims_in(CLAIM_APPROVED) else CLOSED

    def refuse_resolution(self, contract_id: str, decision: str) -> str:
        """The approver resolves an open dispute of this batch; answers the contract's claim id."""
        if decision not in RESOLUTIONS:
            raise errors.ValidationFailed("an objection is upheld or dismissed",
                                          {"decision": [f"must be one of {list(RESOLUTIONS)}"]})
        if self.status == PAYING:
            raise errors.InvalidState("the batch is being paid; resolve the objection once the payment is recorded",
                                      {"batch_id": str(self.id), "status": self.status})
        for claim_id, claim in self.claims.items():
            if (claim.get("disputed") or {}).get(contract_id) == DISPUTE_OPEN:
                return claim_id
        raise errors.InvalidState(f"contract {contract_id} has no open objection in this batch",
                                  {"contract_id": contract_id})

    @event("ObjectionResolved")
    def resolve_objection(self, claim_id: str, contract_id: str, decision: str, amount_fen: int, note: str) -> None:
        """Upheld: the contract leaves its claim (it failed acceptance); dismissed: it is paid with the batch."""
        claim = self.claims[claim_id]
        claim["disputed"][contract_id] = decision
        if decision == UPHELD:
            self._remove(claim_id, contract_id, amount_fen)

    # --- payment (兑付) ---------------------------------------------------------------------------

    def refuse_payment(self, payer: Actor, reference: str) -> None:
        """Finance pays only after the notice ended; a payment in chunks resumes with its own reference.

        A paid batch is paid again for the claims whose dispute was dismissed after its payment
        (a second payment with its own reference, DOMAIN.md "Stops" 6).
        """
        if self.status in (OPEN, APPROVED):
            raise errors.NoticePending("the plan's public notice (公示) has not ended with its outcome recorded",
                                       {"status": self.status})
        if self.status == PAYING:
            assert self.payment is not None
            if self.payment["reference"] != reference:
                raise errors.InvalidState("a payment with another reference is being recorded for this batch",
                                          {"reference": self.payment["reference"]})
        elif self.status not in (NOTICED, PAID):
            raise errors.InvalidState(f"the batch is {self.status}", {"status": self.status, "expected": [NOTICED]})
        if not self.payable():
            if self.disputed_claims():
                raise errors.ObjectionUnresolved("every claim left to pay is held by an unresolved objection (Art. 20)",
                                                 {"claim_ids": self.disputed_claims()})
            raise errors.InvalidState("nothing is left to pay in this batch", {"status": self.status})
        self.refuse_conflict_of_duties(payer, "pay")

    @event("PaymentStarted")
    def start_payment(self, reference: str, amount_fen: int, contracts: int, actor: dict | None = None) -> None:
        """A large batch is paid in chunks: from here on its claims are frozen until it is paid."""
        self.status = PAYING
        self.payment = {"reference": reference, "amount_fen": amount_fen, "by": _actor_id(actor)}

    @event("Paid")
    def pay(self, reference: str, amount_fen: int, providers: dict, contracts: int, held_back: dict | None = None,
            actor: dict | None = None) -> None:
        """Finance disbursed the approved claims; each of their contracts is redeemed (兑现确认) and settled.

        `providers` records, per provider, the amount paid and the cap figures after payment;
        `held_back` the contracts payment found held or failed (contract id → {claim_id, amount_fen,
        status}): they leave their claims unpaid. Claims held by an open objection stay approved.
        """
        for contract_id, item in (held_back or {}).items():
            self._remove(item["claim_id"], contract_id, item["amount_fen"])
        for claim in self.claims_in(CLAIM_APPROVED).values():
            if self.dispute_of(claim) != DISPUTE_OPEN:
                claim["status"] = CLAIM_PAID
        self.payment = {"reference": reference, "amount_fen": amount_fen, "by": _actor_id(actor)}
        self.status = PAID

    # --- sanctions ---------------------------------------------------------------------------------

    def withdraw(self, claim_id: str, contract_id: str, case_id: str) -> None:
        """A sanctioned contract leaves its claim before payment, so it is never paid (Art. 25)."""
        if self.status == PAYING:
            raise errors.InvalidState("the batch is being paid; sanction the contract once the payment is recorded",
                                      {"batch_id": str(self.id), "status": self.status})
        claim = self.get_claim(claim_id)
        if contract_id not in claim["contract_ids"] or claim["status"] not in (PENDING, CLAIM_APPROVED):
            return
        self._withdrawn(claim_id=str(claim_id), contract_id=contract_id,
                        amount_fen=claim["amounts_fen"][contract_id], case_id=case_id)

    @event("ContractWithdrawn")
    def _withdrawn(self, claim_id: str, contract_id: str, amount_fen: int, case_id: str) -> None:
        """A sanctioned contract left its claim; a claim left with no contract is withdrawn."""
        self._remove(claim_id, contract_id, amount_fen)

    def hold_back(self, claim_id: str, contract_id: str, reason: str) -> bool:
        """A contract that stopped (held, failed acceptance) leaves its claim before payment (Stops 1, 5).

        A batch being paid is left alone: payment re-checks each contract and holds it back itself.
        Answers whether the contract left the claim.
        """
        claim = self.claims.get(claim_id)
        if (self.status == PAYING or claim is None or contract_id not in claim["contract_ids"]
                or claim["status"] not in (PENDING, CLAIM_APPROVED)):
            return False
        self._held_back(claim_id=claim_id, contract_id=contract_id, amount_fen=claim["amounts_fen"][contract_id],
                        reason=reason)
        return True

    @event("ContractHeldBack")
    def _held_back(self, claim_id: str, contract_id: str, amount_fen: int, reason: str) -> None:
        """A held or failed contract left its claim unpaid; a claim left with no contract is withdrawn."""
        self._remove(claim_id, contract_id, amount_fen)

    def _remove(self, claim_id: str, contract_id: str, amount_fen: int) -> None:
        claim = self.claims[claim_id]
        if (claim.get("disputed") or {}).get(contract_id) == DISPUTE_OPEN:
            del claim["disputed"][contract_id]  # stopped otherwise: nothing is left for the approver to resolve
        claim["contract_ids"].remove(contract_id)
        del claim["amounts_fen"][contract_id]
        claim["amount_fen"] -= amount_fen
        if not claim["contract_ids"]:
            claim["status"] = WITHDRAWN
        if self.status in (NOTICED,) and not self.claims_in(CLAIM_APPROVED):
            self.status = CLOSED
