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
from ledger.commands.base import CommandBase, CommandResult, command, require
from ledger.domain.contract import COMPLETED, Contract
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import (
    CLAIM_APPROVED, OBJECTION, PAYING, SettlementBatch,
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
            "reviewed_by": claim["reviewed_by"], "note": claim["note"]}


class SettlementCommands(CommandBase):
    """The operator opens batches and reviews claims; providers claim; DIIT approves; finance pays."""

    payment_chunk = PAYMENT_CHUNK

    def get_batch(self, batch_id: Any) -> SettlementBatch:
        return self._get_as(SettlementBatch, batch_id, "settlement batch")

    def _contract(self, contract_id: Any) -> Contract:
        return self._get_as(Contract, contract_id, "contract")

    @command
    def open_settlement(self, year: int, name: str) -> CommandResult:
        """Open a settlement batch for a year (Art. 19: 1-2 batches a year); also after the year closed."""
        require(OPERATOR)
        self._get_as(Year, Year.create_id(year), "year", year)
        if not name.strip():
            raise errors.ValidationFailed("a batch has a name", {"name": ["must not be blank"]})
        batch = SettlementBatch(year=year, name=name)
        return self._commit(batch_data(batch), batch, status=201)

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
        contracts = [self._contract(c) for c in ids]
        for contract in contracts:
            if actor.subject != contract.provider_id:
                raise errors.Forbidden("a provider claims only its own contracts",
                                       {"contract_id": str(contract.id), "role": actor.role})
        amounts: dict[str, int] = {}
        for contract in contracts:
            self._refuse_unclaimable(contract, batch)
            amounts[str(contract.id)] = contract.subsidy_fen
        claim_id = str(uuid.uuid4())
        batch.claim(claim_id, str(actor.subject), amounts, documents)
        for contract in contracts:
            contract.mark_claimed(batch_id=str(batch.id), claim_id=claim_id)
        return self._commit(claim_data(batch, claim_id), batch, *contracts, status=201)

    @staticmethod
    def _refuse_unclaimable(contract: Contract, batch: SettlementBatch) -> None:
        """Claimable: completed, of the batch's year, never claimed or settled (Art. 18-20, 25, 28)."""
        if contract.year != batch.year:
            raise errors.YearMismatch(f"the contract is of {contract.year}, the batch settles {batch.year}",
                                      {"contract_id": str(contract.id), "contract_year": contract.year,
                                       "batch_year": batch.year})
        if contract.status == COMPLETED and contract.settled:
            raise errors.AlreadyClaimed("the contract is already settled (settled at most once, Art. 20)",
                                        {"contract_id": str(contract.id), **(contract.settlement or {})})
        if contract.status == COMPLETED and contract.claim is not None:
            raise errors.AlreadyClaimed("the contract is already claimed in a settlement batch",
                                        {"contract_id": str(contract.id), **contract.claim})
        if not contract.claimable:
            raise errors.ContractNotCompleted(
                f"the contract is {contract.status}: only completed contracts are settled (Art. 20, 25, 28)",
                {"contract_id": str(contract.id), "status": contract.status})

    @command
    def review_claim(self, batch_id: Any, claim_id: str, decision: str, note: str = "") -> CommandResult:
        """The operator reviews a claim's materials; a rejected claim frees its contracts (Art. 20)."""
        actor = require(OPERATOR)
        batch = self.get_batch(batch_id)
        batch.review(str(claim_id), decision, note, actor)
        changed: list[Any] = [batch]
        claim = batch.claims[str(claim_id)]
        if claim["status"] != CLAIM_APPROVED:
            for contract_id in claim["contract_ids"]:
                contract = self._contract(contract_id)
                contract.release_claim(batch_id=str(batch.id), claim_id=str(claim_id), reason=REJECTION_REASON)
                changed.append(contract)
        return self._commit(claim_data(batch, str(claim_id)), *changed)

    def _provider_years(self, year: int, provider_ids: Any) -> dict[str, ProviderYear]:
        load = self.get_provider_year  # type: ignore[attr-defined]
        return {pid: load(pid, year) for pid in sorted(set(provider_ids))}

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
        for pid, provider_year in self._provider_years(batch.year, per_provider).items():
            provider_year.refuse_settlement_above_cap({"batch": per_provider[pid]})
            providers[pid] = self._cap_figures(provider_year, per_provider[pid])
        total = sum(per_provider.values())
        batch.approve(amount_fen=total, providers=providers, note=note)
        return self._commit({**batch_data(batch), "amount": total, "claims": len(batch.claims_in(CLAIM_APPROVED)),
                             "note": note}, batch)

    @command
    def record_settlement_notice(self, batch_id: Any, outcome: str, note: str = "",
                                 claim_ids: list[str] | None = None) -> CommandResult:
        """Record the public notice (公示): an objection holds back only the claims it disputes (Art. 20).

        The disputed claims' contracts are freed, so they may be claimed again in a later batch once
        the objection is resolved; the other claims go on to payment.
        """
        require(OPERATOR)
        batch = self.get_batch(batch_id)
        disputed = batch.refuse_notice(outcome, list(claim_ids or []))
        changed: list[Any] = [batch]
        if outcome == OBJECTION:
            for claim_id in disputed:
                for contract_id in batch.claims[claim_id]["contract_ids"]:
                    contract = self._contract(contract_id)
                    contract.release_claim(batch_id=str(batch.id), claim_id=claim_id, reason=OBJECTION_REASON)
                    changed.append(contract)
        batch.record_notice(outcome=outcome, claim_ids=disputed, note=note)
        return self._commit({**batch_data(batch), "outcome": outcome, "held_back_claim_ids": disputed,
                             "amount": sum(batch.amounts_by_provider(CLAIM_APPROVED).values())}, *changed)

    @command
    def pay_settlement(self, batch_id: Any, reference: str) -> CommandResult:
        """Finance pays the approved claims: each contract is redeemed (兑现确认) and settled (Art. 20).

        The batch, its contracts and the providers' years are saved in one transaction; a batch of
        more than `payment_chunk` contracts is saved in chunks after a PaymentStarted event freezes
        it, and running the payment again with the same reference finishes an interrupted one.
        """
        actor = require(FINANCE)
        if not reference.strip():
            raise errors.ValidationFailed("a payment has its reference", {"reference": ["must not be blank"]})
        batch = self.get_batch(batch_id)
        batch.refuse_payment(actor, reference)
        plan = batch.payable()
        per_provider: dict[str, int] = {}
        for _, pid, amount in plan.values():
            per_provider[pid] = per_provider.get(pid, 0) + amount
        total = sum(per_provider.values())
        if batch.status != PAYING and len(plan) <= self.payment_chunk:
            provider_years = self._provider_years(batch.year, per_provider)
            contracts = self._settle(batch, plan, sorted(plan), reference, provider_years)
            batch.pay(reference=reference, amount_fen=total, contracts=len(plan),
                      providers={pid: self._cap_figures(py, per_provider[pid]) for pid, py in provider_years.items()})
            return self._commit(self._payment_data(batch, total, per_provider, len(plan)), batch, *contracts,
                                *provider_years.values())
        if batch.status != PAYING:
            # Check every cap before the first chunk, so a refusal leaves nothing half paid.
            provider_years = self._provider_years(batch.year, per_provider)
            for pid, provider_year in provider_years.items():
                provider_year.refuse_settlement_above_cap({"batch": per_provider[pid]})
            batch.start_payment(reference=reference, amount_fen=total, contracts=len(plan))
            self.save(batch)
        ordered = sorted(plan)
        for start in range(0, len(ordered), self.payment_chunk):
            self._pay_chunk(batch.id, ordered[start:start + self.payment_chunk], reference)
        batch = self.get_batch(batch.id)
        provider_years = self._provider_years(batch.year, per_provider)
        batch.pay(reference=reference, amount_fen=total, contracts=len(plan),
                  providers={pid: self._cap_figures(py, per_provider[pid]) for pid, py in provider_years.items()})
        return self._commit(self._payment_data(batch, total, per_provider, len(plan)), batch)

    @staticmethod
    def _payment_data(batch: SettlementBatch, total: int, per_provider: dict[str, int], contracts: int) -> dict:
        return {**batch_data(batch), "reference": (batch.payment or {}).get("reference"), "amount": total,
                "contracts": contracts, "providers": dict(per_provider)}

    def _settle(self, batch: SettlementBatch, plan: dict[str, tuple[str, str, int]], contract_ids: list[str],
                reference: str, provider_years: dict[str, ProviderYear]) -> list[Contract]:
        """Settle these contracts of the plan, skipping any this batch already settled; caps checked first."""
        batch_id = str(batch.id)
        contracts = []
        for contract_id in contract_ids:
            contract = self._contract(contract_id)
            if contract.settlement and contract.settlement.get("batch_id") == batch_id:
                continue  # settled by an earlier chunk of this payment
            claim_id, _, _ = plan[contract_id]
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
        return contracts

    def _pay_chunk(self, batch_id: UUID, contract_ids: list[str], reference: str) -> None:
        """One chunk of a large payment: its contracts and their providers' years in one transaction."""
        for _ in range(8):
            batch = self.get_batch(batch_id)
            plan = batch.payable()
            provider_years = self._provider_years(batch.year, {plan[c][1] for c in contract_ids})
            contracts = self._settle(batch, plan, contract_ids, reference, provider_years)
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
        provider_year: ProviderYear = self.get_provider_year(provider_id, year)  # type: ignore[attr-defined]
        if amount_fen > provider_year.receivable_fen:
            raise errors.RecoveryAboveReceivable(
                f"the provider owes {format_yuan(provider_year.receivable_fen)} yuan",
                {"receivable": format_yuan(provider_year.receivable_fen), "amount": format_yuan(amount_fen)})
        provider_year.record_recovery(amount_fen=amount_fen, reference=reference)
        return self._commit({"provider_id": provider_id, "year": year, "amount": amount_fen, "reference": reference,
                             "receivable": provider_year.receivable_fen}, provider_year, status=201)
