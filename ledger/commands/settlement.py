"""Settlement batches: claims, review, approval, public notice and payment (Art. 10, 19-20).

A contract is settled at most once and never when terminated or clawed back; a provider's general
settlements never pass its annual cap plus granted exceptions, checked at approval and again, in the
same save as the settlement, at payment.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger import errors
from ledger.commands.base import CommandResult, command, require
from ledger.commands.stops import HELD_BACK, StopCommands
from ledger.domain.contract import COMPLETED, FAILED, FAILED_ACCEPTANCE, HELD, Contract
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import (
    ACCEPTANCE_FAILED, CLAIM_APPROVED, OBJECTION, PAYING, REJECTED, UPHELD, SettlementBatch,
)
from ledger.domain.year import Year
from ledger.money import format_yuan
from ledger.rules import APPROVER, FINANCE, OPERATOR, PROVIDER

# Contracts settled per transaction when a batch is paid; a batch within one chunk is paid atomically.
PAYMENT_CHUNK = 500
MAX_CONTRACTS_PER_CLAIM = 500

OBJECTION_REASON = "held back by an objection at the public notice (公示有异议, Art. 20)"
REJECTION_REASON = "claim rejected at review (审核未通过, Art. 20)"


def batch_data(batch: SettlementBatch) -> dict[str, Any]:
    return {"batch_id": str(batch.id), "year": batch.year, "name": batch.name, "status": batch.status}


def claim_data(batch: SettlementBatch, claim_id: str) -> dict[str, Any]:
    claim = batch.claims[claim_id]
    return {"batch_id": str(batch.id), "claim_id": claim_id, "provider_id": claim["provider_id"],
            "status": claim["status"], "amount": claim["amount_fen"], "contract_ids": list(claim["contract_ids"]),
            "amounts": dict(claim["amounts_fen"]), "claimed_by": claim["claimed_by"],
            "reviewed_by": claim["reviewed_by"], "note": claim["note"], "reason": claim.get("reason"),
            "dispute": SettlementBatch.dispute_of(claim)}


class SettlementCommands(StopCommands):
    """The operator opens batches and reviews claims; providers claim; DIIT approves; finance pays."""

    payment_chunk = PAYMENT_CHUNK

    @command
    def open_settlement(self, year: int, name: str) -> CommandResult:
        """Open a settlement batch for a year, at most its `settlement_batches` (Art. 19: 1-2 a year).

        The year counts its batches in the same save (BATCH_LIMIT beyond); also after the year closed.
        """
        require(OPERATOR)
        opened: Year = self._get_as(Year, Year.create_id(year), "year", year)
        if not name.strip():
            raise errors.ValidationFailed("a batch has a name", {"name": ["must not be blank"]})
        batch = SettlementBatch(year=year, name=name)
        opened.open_batch(str(batch.id))
        return self._commit(batch_data(batch), batch, opened, created=True)

    @command
    def claim_settlement(self, batch_id: Any, contract_ids: list[Any], documents: list[dict]) -> CommandResult:
        """A provider claims its completed contracts with settlement materials (Art. 20).

        Each contract must be the provider's own, of the batch's year, completed, and neither claimed,
        settled, terminated nor clawed back; the claim and the contracts are saved together, so a
        contract can be claimed by one batch only.
        """
        actor = require(PROVIDER)
        batch = self.get_batch(batch_id)
        batch.refuse_unless_open()
        ids = [str(c) for c in contract_ids]
        if len(set(ids)) != len(ids):
            raise errors.ValidationFailed("a contract is named twice", {"contract_ids": ["must not repeat"]})
        if len(ids) > MAX_CONTRACTS_PER_CLAIM:
            raise errors.ValidationFailed("too many contracts in one claim",
                                          {"contract_ids": [f"at most {MAX_CONTRACTS_PER_CLAIM}"]})
        contracts = [self.get_contract(c) for c in ids]
        for contract in contracts:
            if actor.subject != contract.provider_id:
                raise errors.Forbidden("a provider claims only its own contracts",
                                       {"contract_id": str(contract.id), "role": actor.role})
        amounts: dict[str, int] = {}
        for contract in contracts:
            contract.refuse_unclaimable(batch.year)
            amounts[str(contract.id)] = contract.subsidy_fen
        claim_id = str(uuid.uuid4())
        batch.claim(claim_id, str(actor.subject), amounts, documents)
        for contract in contracts:
            contract.mark_claimed(batch_id=str(batch.id), claim_id=claim_id)
        return self._commit(claim_data(batch, claim_id), batch, *contracts, created=True)

    @command
    def review_claim(self, batch_id: Any, claim_id: str, decision: str, note: str = "",
                     reason: str | None = None) -> CommandResult:
        """The operator reviews a claim's materials (Art. 20); a rejection says why (DOMAIN.md "Stops" 5).

        `materials`: the contracts are freed to be claimed again. `acceptance_failed`: each contract
        fails acceptance (验收抽查不通过): never claimable or payable, its subsidy leaves `used`.
        """
        actor = require(OPERATOR)
        batch = self.get_batch(batch_id)
        batch.review(str(claim_id), decision, note, actor, reason)
        changed: dict[Any, Any] = {batch.id: batch}
        claim = batch.claims[str(claim_id)]
        if claim["status"] == REJECTED:
            for contract_id in claim["contract_ids"]:
                contract = self._get(changed, Contract, contract_id)
                contract.release_claim(batch_id=str(batch.id), claim_id=str(claim_id), reason=REJECTION_REASON)
                if reason == ACCEPTANCE_FAILED:
                    self._check_acceptance(contract, FAILED, note or REJECTION_REASON, [], "claim_review", changed)
        return self._commit(claim_data(batch, str(claim_id)), *changed.values())

    def _provider_years(self, year: int, provider_ids: Any) -> dict[str, ProviderYear]:
        load = self.get_provider_year
        return {pid: load(pid, year) for pid in sorted(set(provider_ids))}

    @staticmethod
    def _contract_amounts(plan: dict[str, tuple[str, str, int]]) -> dict[str, dict[str, int]]:
        """provider → (contract id → amount) of a plan: each contract counts against its kind's cap. Grouped
        in one pass: asked provider by provider, a batch of 60,000 contracts from 2,000 providers took
        minutes to approve and to pay (the bench at scale 1)."""
        grouped: dict[str, dict[str, int]] = {}
        for contract_id, (_, provider_id, amount) in plan.items():
            grouped.setdefault(provider_id, {})[contract_id] = amount
        return grouped

    @staticmethod
    def _cap_figures(provider_year: ProviderYear, amount_fen: int) -> dict[str, int]:
        """The cap rule's figures as applied, recorded on the Approved and Paid events (Art. 10)."""
        return {"amount_fen": amount_fen, "settled_fen": provider_year.settled_fen, "cap_fen": provider_year.cap_fen,
                "exceptions_fen": provider_year.exceptions_fen}

    @command
    def approve_settlement(self, batch_id: Any, note: str = "") -> CommandResult:
        """DIIT approves the plan once no claim is pending, within each provider's cap (Art. 10, 20)."""
        actor = require(APPROVER)
        batch = self.get_batch(batch_id)
        batch.refuse_approval(actor)
        per_provider = batch.amounts_by_provider(CLAIM_APPROVED)
        providers: dict[str, dict[str, int]] = {}
        approved = {c: (claim_id, claim["provider_id"], claim["amounts_fen"][c])
                    for claim_id, claim in batch.claims_in(CLAIM_APPROVED).items() for c in claim["contract_ids"]}
        amounts = self._contract_amounts(approved)
        for pid, provider_year in self._provider_years(batch.year, per_provider).items():
            provider_year.refuse_settlement_above_cap(amounts.get(pid, {}))
            providers[pid] = self._cap_figures(provider_year, per_provider[pid])
        total = sum(per_provider.values())
        batch.approve(amount_fen=total, providers=providers, note=note)
        return self._commit({**batch_data(batch), "amount": total, "claims": len(batch.claims_in(CLAIM_APPROVED)),
                             "note": note}, batch)

    @command
    def record_settlement_notice(self, batch_id: Any, outcome: str, note: str = "",
                                 claim_ids: list[str] | None = None,
                                 contract_ids: list[str] | None = None) -> CommandResult:
        """Record the public notice (公示): an objection holds the claims of the contracts it disputes (Art. 20).

        The disputed contracts stay in their claims, which wait (dispute `open`) until the approver
        resolves each contract (`resolve_objection`); until then the contract can be claimed nowhere
        else. Naming a claim (`claim_ids`) disputes each of its contracts. The other claims go on to
        payment.
        """
        require(OPERATOR)
        batch = self.get_batch(batch_id)
        disputed = batch.refuse_notice(outcome, list(claim_ids or []), list(contract_ids or []))
        changed: list[Any] = [batch]
        for contract_id, claim_id in disputed.items():
            contract = self.get_contract(contract_id)
            contract.mark_disputed(batch_id=str(batch.id), claim_id=claim_id, note=note or OBJECTION_REASON)
            changed.append(contract)
        held_claims = sorted(set(disputed.values()))
        batch.record_notice(outcome=outcome, claim_ids=held_claims, note=note, disputed_contract_ids=list(disputed))
        return self._commit({**batch_data(batch), "outcome": outcome, "held_back_claim_ids": held_claims,
                             "disputed_contract_ids": list(disputed),
                             "amount": sum(a for _, _, a in batch.payable().values())}, *changed)

    @command
    def resolve_objection(self, batch_id: Any, contract_id: Any, decision: str, note: str) -> CommandResult:
        """The approver resolves the objection to one disputed contract (Art. 20; DOMAIN.md "Stops" 6).

        `upheld`: the contract fails acceptance as in Stops 5 and leaves its claim; `dismissed`: it is
        paid with its batch (once its claim has no open dispute left) — by the batch's payment if not
        yet recorded, else by a second payment of the batch with its own reference.
        """
        require(APPROVER)
        if not note.strip():
            raise errors.ValidationFailed("a resolution says why", {"note": ["must not be blank"]})
        batch = self.get_batch(batch_id)
        claim_id = batch.refuse_resolution(str(contract_id), decision)
        contract = self.get_contract(contract_id)
        changed: dict[Any, Any] = {batch.id: batch, contract.id: contract}
        batch.resolve_objection(claim_id=claim_id, contract_id=str(contract.id), decision=decision,
                                amount_fen=batch.claims[claim_id]["amounts_fen"][str(contract.id)], note=note)
        contract.resolve_dispute(batch_id=str(batch.id), decision=decision, note=note)
        if decision == UPHELD:
            contract.release_claim(batch_id=str(batch.id), claim_id=claim_id, reason=OBJECTION_REASON)
            self._check_acceptance(contract, FAILED, note, [], "objection", changed)
        return self._commit({**batch_data(batch), "contract_id": str(contract.id), "claim_id": claim_id,
                             "decision": decision, "note": note, "contract_status": contract.status,
                             "dispute": SettlementBatch.dispute_of(batch.claims[claim_id])}, *changed.values())

    @command
    def pay_settlement(self, batch_id: Any, reference: str) -> CommandResult:
        """Finance pays the approved claims: each contract is redeemed (兑现确认) and settled (Art. 20).

        Payment re-checks each contract at the last moment money moves (DOMAIN.md "Stops"): a held
        or failed one is held back, not paid, and the rest of the batch is; claims held by an open
        objection wait. The Paid event says what was paid and what was held back. The batch, its
        contracts and the providers' years are saved in one transaction; a batch of more than
        `payment_chunk` contracts is saved in chunks after a PaymentStarted event freezes it, and
        running the payment again with the same reference finishes an interrupted one.
        """
        actor = require(FINANCE)
        if not reference.strip():
            raise errors.ValidationFailed("a payment has its reference", {"reference": ["must not be blank"]})
        batch = self.get_batch(batch_id)
        batch.refuse_payment(actor, reference)
        plan = batch.payable()
        if batch.status != PAYING and len(plan) <= self.payment_chunk:
            provider_years = self._provider_years(batch.year, {pid for _, pid, _ in plan.values()})
            contracts, held_back = self._settle(batch, plan, sorted(plan), reference, provider_years)
            return self._record_payment(batch, plan, reference, held_back, provider_years, contracts)
        if batch.status != PAYING:
            # Check every cap before the first chunk, so a refusal leaves nothing half paid.
            per_provider = self._per_provider(plan, {})
            provider_years = self._provider_years(batch.year, per_provider)
            amounts = self._contract_amounts(plan)
            for pid, provider_year in provider_years.items():
                provider_year.refuse_settlement_above_cap(amounts.get(pid, {}))
            batch.start_payment(reference=reference, amount_fen=sum(per_provider.values()), contracts=len(plan))
            self.save(batch)
        ordered = sorted(plan)
        for start in range(0, len(ordered), self.payment_chunk):
            self._pay_chunk(batch.id, ordered[start:start + self.payment_chunk], reference)
        batch = self.get_batch(batch.id)
        held_back: dict[str, dict[str, Any]] = {}
        for contract_id in ordered:  # what the chunks held back, also those of an interrupted run
            contract = self.get_contract(contract_id)
            if (contract.settlement or {}).get("batch_id") != str(batch.id):
                held_back[contract_id] = self._held_back_item(plan, contract)
        provider_years = self._provider_years(batch.year, {pid for _, pid, _ in plan.values()})
        return self._record_payment(batch, plan, reference, held_back, provider_years, [])

    @staticmethod
    def _per_provider(plan: dict[str, tuple[str, str, int]], held_back: dict[str, Any]) -> dict[str, int]:
        per_provider: dict[str, int] = {}
        for contract_id, (_, pid, amount) in plan.items():
            if contract_id not in held_back:
                per_provider[pid] = per_provider.get(pid, 0) + amount
        return per_provider

    def _record_payment(self, batch: SettlementBatch, plan: dict[str, tuple[str, str, int]], reference: str,
                        held_back: dict[str, dict[str, Any]], provider_years: dict[str, ProviderYear],
                        contracts: list[Contract]) -> CommandResult:
        """The Paid event with what was paid per provider and what was held back, saved with the chunk."""
        per_provider = self._per_provider(plan, held_back)
        total = sum(per_provider.values())
        paid = len(plan) - len(held_back)
        batch.pay(reference=reference, amount_fen=total, contracts=paid, held_back=held_back,
                  providers={pid: self._cap_figures(provider_years[pid], amount) for pid, amount in per_provider.items()})
        data = {**batch_data(batch), "reference": reference, "amount": total, "contracts": paid,
                "providers": dict(per_provider), "held_back": {c: i["amount_fen"] for c, i in held_back.items()},
                "held_back_amount": sum(i["amount_fen"] for i in held_back.values())}
        return self._commit(data, batch, *contracts, *provider_years.values())

    @staticmethod
    def _held_back_item(plan: dict[str, tuple[str, str, int]], contract: Contract) -> dict[str, Any]:
        claim_id, _, amount = plan[str(contract.id)]
        return {"claim_id": claim_id, "amount_fen": amount, "status": contract.status}

    def _settle(self, batch: SettlementBatch, plan: dict[str, tuple[str, str, int]], contract_ids: list[str],
                reference: str, provider_years: dict[str, ProviderYear]) -> tuple[list[Contract], dict[str, Any]]:
        """Settle these contracts of the plan, skipping any this batch already settled; caps checked first.

        A contract found held or failed acceptance is held back: it leaves its claim (ClaimReleased on
        the contract, saved with the chunk) and is answered in the second value, never paid.
        """
        batch_id = str(batch.id)
        contracts = []
        changed = []
        held_back: dict[str, Any] = {}
        for contract_id in contract_ids:
            contract = self.get_contract(contract_id)
            if contract.settlement and contract.settlement.get("batch_id") == batch_id:
                continue  # settled by an earlier chunk of this payment
            claim_id, _, _ = plan[contract_id]
            if contract.status in (HELD, FAILED_ACCEPTANCE):
                held_back[contract_id] = self._held_back_item(plan, contract)
                if contract.claim == {"batch_id": batch_id, "claim_id": claim_id}:
                    contract.release_claim(batch_id=batch_id, claim_id=claim_id,
                                           reason=HELD_BACK.format(status=contract.status))
                    changed.append(contract)
                continue
            if contract.status != COMPLETED or contract.claim != {"batch_id": batch_id, "claim_id": claim_id}:
                raise errors.InvalidState("a contract of the plan is no longer claimed by it",
                                          {"contract_id": contract_id, "status": contract.status})
            contracts.append(contract)
        per_provider: dict[str, dict[str, int]] = {}
        for contract in contracts:
            per_provider.setdefault(contract.provider_id, {})[str(contract.id)] = plan[str(contract.id)][2]
        for pid, amounts in per_provider.items():
            provider_years[pid].refuse_settlement_above_cap(amounts)
        for contract in contracts:
            amount = plan[str(contract.id)][2]
            contract.settle(batch_id=batch_id, reference=reference, amount_fen=amount)
            provider_years[contract.provider_id].settle(contract_id=str(contract.id), amount_fen=amount,
                                                         batch_id=batch_id)
        return [*contracts, *changed], held_back

    def _pay_chunk(self, batch_id: UUID, contract_ids: list[str], reference: str) -> None:
        """One chunk of a large payment: its contracts and their providers' years in one transaction."""
        for _ in range(8):
            batch = self.get_batch(batch_id)
            plan = batch.payable()
            provider_years = self._provider_years(batch.year, {plan[c][1] for c in contract_ids})
            contracts, _ = self._settle(batch, plan, contract_ids, reference, provider_years)
            if not contracts:
                return
            try:
                self._commit_many([*contracts, *provider_years.values()])
                return
            except IntegrityError:
                self.conflicts_retried += 1
        raise errors.ConcurrencyConflict("contracts kept changing while the batch was paid; pay again to finish")

    @command
    def record_recovery(self, provider_id: str, year: int, amount_fen: int, reference: str) -> CommandResult:
        """Finance records money recovered from a provider after a clawback of settled subsidy (Art. 25)."""
        require(FINANCE)
        if amount_fen <= 0:
            raise errors.ValidationFailed("a recovery is positive", {"amount": ["must be greater than 0.00"]})
        if not reference.strip():
            raise errors.ValidationFailed("a recovery has its reference", {"reference": ["must not be blank"]})
        provider_year: ProviderYear = self.get_provider_year(provider_id, year)
        if amount_fen > provider_year.receivable_fen:
            raise errors.RecoveryAboveReceivable(
                f"the provider owes {format_yuan(provider_year.receivable_fen)} yuan",
                {"receivable": format_yuan(provider_year.receivable_fen), "amount": format_yuan(amount_fen)})
        provider_year.record_recovery(amount_fen=amount_fen, reference=reference)
        return self._commit({"provider_id": provider_id, "year": year, "amount": amount_fen, "reference": reference,
                             "receivable": provider_year.receivable_fen}, provider_year, created=True)
