"""Cases and sanctions: clawback, revocation, termination and bad credit (Art. 22, 25).

What a sanction does to each contract depends on where its money stands:
- proposed: the transaction is stopped (terminated; nothing was reserved);
- reserved (signed, active): the reservation is released and the contract terminated;
- used (completed, not settled): the subsidy moves to clawed_back on the voucher, leaves the
  provider's live total, and the contract can never be claimed; a claim of it in a batch not yet
  paid loses it, so it is never paid;
- settled: the same, and the provider owes the subsidy back, a receivable in its totals until
  finance records it recovered.
Sanctions go on after the year closed (DOMAIN.md, "The service year").
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger import errors
from ledger.commands.base import CommandResult, command, require
from ledger.commands.stops import ENTERPRISE_STOP, PROVIDER_STOP, StopCommands
from ledger.domain.case import CLAWED_BACK, RECEIVABLE, RELEASED, STOPPED, Case
from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import SettlementBatch
from ledger.domain.voucher import Voucher
from ledger.rules import OPERATOR, SUPERVISOR, VIOLATION_ARTICLES

SANCTION_REASON = "sanctioned: the transaction is stopped (终止服务券产品交易, Art. 25), case {case_id}"
MAX_CONTRACTS_PER_CASE = 500


def case_data(case: Case) -> dict[str, Any]:
    return {"case_id": str(case.id), "subject_type": case.subject_type, "subject_id": case.subject_id,
            "violation": case.violation, "article": case.article, "contract_ids": list(case.contract_ids),
            "note": case.note, "status": case.status, "filed_by": case.filed_by}


class CaseCommands(StopCommands):
    """The operator or the supervisor files a case; the operator (another person) sanctions it."""

    @command
    def file_case(self, subject_type: str, subject_id: str, violation: str, contract_ids: list[Any],
                  note: str = "") -> CommandResult:
        """File a case for one of the five violations of Art. 25, with the contracts concerned.

        Each contract must exist and concern the subject (its enterprise, or its provider).
        """
        require(OPERATOR, SUPERVISOR)
        case = self._open_case(subject_type, subject_id, violation, contract_ids, note)
        return self._commit(case_data(case), case, created=True)

    def _open_case(self, subject_type: str, subject_id: str, violation: str, contract_ids: list[Any],
                   note: str) -> Case:
        """A new case, checked: the subject exists and every contract concerns it."""
        if len(contract_ids) > MAX_CONTRACTS_PER_CASE:
            raise errors.ValidationFailed("too many contracts in one case",
                                          {"contract_ids": [f"at most {MAX_CONTRACTS_PER_CASE}"]})
        case = Case.file(subject_type, subject_id, violation, [str(c) for c in contract_ids], note)
        subject_class = Enterprise if subject_type == "enterprise" else Provider
        self._get_as(subject_class, subject_class.create_id(subject_id), subject_type, subject_id)
        foreign = []
        for contract_id in case.contract_ids:
            contract: Contract = self._get_as(Contract, contract_id, "contract")
            party = contract.enterprise_id if subject_type == "enterprise" else contract.provider_id
            if party != subject_id:
                foreign.append(contract_id)
        if foreign:
            raise errors.ValidationFailed(f"these contracts do not concern {subject_type} {subject_id}",
                                          {"contract_ids": [f"not the subject's: {', '.join(foreign)}"]})
        return case

    @command
    def sanction_case(self, case_id: Any, clawback_contract_ids: list[Any], revoke_enterprise: bool = False,
                      terminate_provider: bool = False, note: str = "",
                      proposed_contract_ids: list[Any] | None = None) -> CommandResult:
        """Sanction a case (Art. 25): claw back, revoke, terminate, and record bad credit.

        Everything it changes (case, contracts, vouchers, providers' years, batches, the enterprise
        or the provider) is saved in one transaction; a revocation or termination stops every other
        contract of the party in the same save (DOMAIN.md "Stops" 1, ledger/commands/stops.py).
        """
        actor = require(OPERATOR)
        case = self.get_case(case_id)
        clawback = [str(c) for c in clawback_contract_ids]
        case.refuse_sanction(actor, clawback, revoke_enterprise, terminate_provider)
        changed: dict[UUID, Any] = {case.id: case}
        reason = SANCTION_REASON.format(case_id=case.id)
        outcomes: list[dict[str, Any]] = []
        for contract_id in clawback:
            outcomes.append(self._claw_back_contract(contract_id, str(case.id), reason, changed))
        # The bad-credit record on the subject too, in the same save: its next compliance review or
        # issuance finds it there (Art. 5(3), 12(1), 22).
        subject_class = Enterprise if case.subject_type == "enterprise" else Provider
        subject: Any = self._get(changed, subject_class, subject_class.create_id(case.subject_id))
        subject.record_bad_credit(case_id=str(case.id), violation=case.violation,
                                  article=VIOLATION_ARTICLES[case.violation][0])
        stopped: dict[str, Any] = {"terminated_contracts": [], "held_contracts": [], "released": 0}
        proposed = [str(c) for c in proposed_contract_ids or []]
        if revoke_enterprise:
            enterprise: Enterprise = subject
            if not enterprise.revoked:
                enterprise.revoke(case_id=str(case.id), violation=case.violation, note=note)
                changed[enterprise.id] = enterprise
                stopped = self._stop_party("enterprise", case.subject_id, ENTERPRISE_STOP.format(reason=reason),
                                           str(case.id), proposed, changed)
        if terminate_provider:
            provider: Provider = subject
            if not provider.banned:
                provider.terminate(reason=reason, case_id=str(case.id))
                changed[provider.id] = provider
                stopped = self._stop_party("provider", case.subject_id, PROVIDER_STOP.format(reason=reason),
                                           str(case.id), proposed, changed)
        totals = {kind: sum(o["amount"] for o in outcomes if o["outcome"] in kinds)
                  for kind, kinds in (("released", (RELEASED,)), ("clawed_back", (CLAWED_BACK, RECEIVABLE)),
                                      ("receivable", (RECEIVABLE,)))}
        case.record_sanction(contracts=outcomes, released_fen=totals["released"],
                             clawed_back_fen=totals["clawed_back"], receivable_fen=totals["receivable"],
                             revoke_enterprise=revoke_enterprise, terminate_provider=terminate_provider, note=note)
        article, description = VIOLATION_ARTICLES[case.violation]
        case.record_bad_credit(subject_type=case.subject_type, subject_id=case.subject_id, violation=case.violation,
                               article=article, description=description, note=note)
        data = {**case_data(case), "contracts": outcomes, "released": totals["released"],
                "clawed_back": totals["clawed_back"], "receivable": totals["receivable"],
                "enterprise_revoked": revoke_enterprise, "provider_terminated": terminate_provider, "stopped": stopped,
                "credit_record": {"subject_type": case.subject_type, "subject_id": case.subject_id,
                                  "violation": case.violation, "article": article, "description": description}}
        return self._commit(data, *changed.values())

    def _claw_back_contract(self, contract_id: str, case_id: str, reason: str,
                            changed: dict[UUID, Any]) -> dict[str, Any]:
        """Carry out the contract's clawback outcome (`Contract.clawback_outcome`) on everything it touches."""
        contract = self._get(changed, Contract, contract_id)
        previous = contract.status
        outcome = contract.clawback_outcome()
        if outcome == STOPPED:
            contract.terminate(reason=reason, released_fen=0)
            return {"contract_id": contract_id, "previous_status": previous, "outcome": STOPPED, "amount": 0,
                    "receivable": 0, "settled": False}
        voucher = self._get(changed, Voucher, contract.voucher_id)
        provider_year = self._get(changed, ProviderYear, ProviderYear.create_id(contract.provider_id, contract.year))
        if outcome == RELEASED:
            released = voucher.release(contract_id, reason)
            provider_year.release(contract_id, reason)
            contract.terminate(reason=reason, released_fen=released)
            return {"contract_id": contract_id, "previous_status": previous, "outcome": RELEASED,
                    "amount": released, "receivable": 0, "settled": False}
        if contract.claim is not None:
            batch = self._get(changed, SettlementBatch, contract.claim["batch_id"])
            batch.withdraw(contract.claim["claim_id"], contract_id, case_id)
        amount = voucher.claw_back(contract_id, case_id)
        receivable = amount if outcome == RECEIVABLE else 0
        provider_year.claw_back(contract_id=contract_id, amount_fen=amount, receivable_fen=receivable, case_id=case_id)
        contract.claw_back(case_id=case_id, amount_fen=amount, receivable_fen=receivable, previous_status=previous)
        return {"contract_id": contract_id, "previous_status": previous,
                "outcome": RECEIVABLE if receivable else CLAWED_BACK, "amount": amount,
                "receivable": receivable, "settled": contract.settled}
