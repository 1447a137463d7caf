"""Stops: where money must stop (DOMAIN.md "Stops" 1, 5, 6; Art. 15, 20, 21, 25, 28).

1. Terminating a provider (Art. 15 即时终止) or revoking an enterprise (Art. 25 终止服务券产品交易)
   changes every contract of that party **in the same save** as the termination or revocation:
   reserving contracts (signed, active) are terminated and their reservations released on the
   voucher and the provider's year; completed contracts not yet paid are **held** (冻结) and leave
   any claim not being paid. One atomic save rather than a resumable process: a party has at most
   a few hundred live contracts a year (the provider's cap bounds them), which one transaction
   carries easily, and an atomic cascade leaves no window in which money could move between steps.

   The contracts are found from the aggregates that are consistent with them: a provider's years
   (`ProviderYear.reserved` and `.used`, for each year it was signed) and an enterprise's vouchers
   (`Voucher.reservations` and `.uses`, for each year the ledger keeps, `LEDGER_YEARS`). Each of
   those years or vouchers also records the stop (`ProviderStopped`, `HolderRevoked`), so a
   signature racing the cascade conflicts on the same stream and, retried, is refused.
   *Proposed* contracts reserve nothing and appear in no aggregate: the caller passes those it
   found in the read model (`proposed_contract_ids`), and the cascade terminates the ones still
   proposed; one the read model has not seen yet stays proposed but can never be signed (signature
   refuses a terminated provider, PARTY_TERMINATED, and a revoked holder, HOLDER_REVOKED, and both
   aggregates refuse the reservation), so no money ever moves on it.
5. Acceptance (验收): a failed check (or a claim rejected as `acceptance_failed`, or an objection
   upheld) makes the contract `failed_acceptance`; its used subsidy goes back to the voucher's
   available while the window is open, to expired after it, and leaves the provider's year.
6. Objections: see `SettlementCommands.resolve_objection`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger import errors
from ledger.commands.base import A, CommandBase
from ledger.domain.contract import COMPLETED, FAILED, FAILED_ACCEPTANCE, HELD, PROPOSED, RESERVING, USING, Contract
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import SettlementBatch
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.rules import VOUCHER_KINDS

# The years the ledger keeps (the API's year field, web/fields.py): an enterprise's vouchers are
# found by their natural ids over these years.
LEDGER_YEARS = range(2000, 2101)
PROVIDER_STOP = "provider terminated (即时终止, Art. 15): {reason}"
ENTERPRISE_STOP = "enterprise revoked (终止服务券产品交易, Art. 25): {reason}"
HELD_BACK = "held: {status}"


def _key(aggregate_id: Any) -> Any:
    """The UUID of an id, or the id itself if it is none (`_get_as` then answers NOT_FOUND)."""
    if isinstance(aggregate_id, UUID):
        return aggregate_id
    try:
        return UUID(str(aggregate_id))
    except ValueError:
        return aggregate_id


class StopCommands(CommandBase):
    """The cascades and checks of the stops, shared by the provider, case, contract and settlement commands."""

    def _get(self, changed: dict[UUID, Any], cls: type[A], aggregate_id: Any) -> A:
        """Each aggregate once per save: several contracts share a voucher, a provider's year, a batch.

        Typed as `_get_as`: an unknown id, or one of another class, is NOT_FOUND.
        """
        aggregate = self._get_as(cls, aggregate_id, cls.__name__.lower()) if _key(aggregate_id) not in changed \
            else changed[_key(aggregate_id)]
        if not isinstance(aggregate, cls):
            raise errors.NotFound(f"no {cls.__name__.lower()} {aggregate_id}", {"id": str(aggregate_id)})
        changed[aggregate.id] = aggregate
        return aggregate

    # --- Stop 1: terminated provider, revoked enterprise -------------------------------------------

    def _enterprise_vouchers(self, enterprise_id: str) -> list[Voucher]:
        ids = [Voucher.create_id(enterprise_id, year, kind) for year in LEDGER_YEARS for kind in VOUCHER_KINDS]
        return [self.repository.get(i) for i in ids if self._exists(i)]

    def _stop_party(self, party: str, party_id: str, reason: str, case_id: str | None,
                    proposed_contract_ids: list[str], changed: dict[UUID, Any]) -> dict[str, Any]:
        """Terminate the party's reserving contracts and hold its unpaid completed ones (Stops 1)."""
        contract_ids: set[str] = set()
        if party == "provider":
            provider = self.get_provider(party_id)
            for year in provider.signed_years:
                year_id = ProviderYear.create_id(party_id, year)
                if not self._exists(year_id):
                    continue
                provider_year = self._get(changed, ProviderYear, year_id)
                if provider_year.stopped is None:
                    provider_year.stop(reason=reason, case_id=case_id)
                contract_ids.update(provider_year.reserved, provider_year.used)
        else:
            for voucher in self._enterprise_vouchers(party_id):
                voucher = self._get(changed, Voucher, voucher.id)
                if voucher.holder_revoked is None:
                    voucher.stop(case_id=case_id or "", reason=reason)
                contract_ids.update(voucher.reservations, voucher.uses)
        contract_ids.update(str(c) for c in proposed_contract_ids)
        terminated: list[str] = []
        held: list[str] = []
        released_fen = 0
        for contract_id in sorted(contract_ids):
            contract = self._get(changed, Contract, contract_id)
            if (contract.provider_id if party == "provider" else contract.enterprise_id) != party_id:
                raise errors.ValidationFailed(f"contract {contract_id} is not the {party}'s",
                                              {"proposed_contract_ids": [f"not the {party}'s: {contract_id}"]})
            if contract.status == PROPOSED:
                contract.terminate(reason=reason, released_fen=0)
                terminated.append(contract_id)
            elif contract.status in RESERVING:
                voucher = self._get(changed, Voucher, contract.voucher_id)
                provider_year = self._get(changed, ProviderYear, ProviderYear.create_id(contract.provider_id, contract.year))
                amount = voucher.release(contract_id, reason)
                provider_year.release(contract_id, reason)
                contract.terminate(reason=reason, released_fen=amount)
                released_fen += amount
                terminated.append(contract_id)
            elif contract.status == COMPLETED and not contract.settled:
                contract.place_hold(reason=reason, party=party, case_id=case_id)
                self._leave_claim(contract, HELD_BACK.format(status=HELD), changed)
                held.append(contract_id)
        return {"terminated_contracts": terminated, "held_contracts": held, "released": released_fen}

    def _leave_claim(self, contract: Contract, reason: str, changed: dict[UUID, Any]) -> None:
        """A stopped contract leaves a claim not being paid (a batch being paid re-checks it itself)."""
        if contract.claim is None:
            return
        batch = self._get(changed, SettlementBatch, contract.claim["batch_id"])
        if batch.hold_back(contract.claim["claim_id"], str(contract.id), reason):
            contract.release_claim(batch_id=str(batch.id), claim_id=contract.claim["claim_id"], reason=reason)

    def refuse_if_provider_terminated(self, provider_id: str, contract_id: str | None = None) -> None:
        """No contract is made or moved with a terminated provider (Art. 15 即时终止; Stops 1)."""
        if self.get_provider(provider_id).banned:
            raise errors.PartyTerminated(f"provider {provider_id} was terminated (Art. 15)",
                                         {"contract_id": contract_id, "provider_id": provider_id})

    def refuse_if_party_stopped(self, contract: Contract) -> None:
        """A command on a contract of a terminated provider or revoked enterprise is refused (Stops 1)."""
        self.refuse_if_provider_terminated(contract.provider_id, str(contract.id))
        enterprise = self.get_enterprise(contract.enterprise_id)
        if enterprise.revoked:
            raise errors.PartyTerminated(f"enterprise {contract.enterprise_id} was revoked (Art. 25)",
                                         {"contract_id": str(contract.id), "enterprise_id": contract.enterprise_id})

    # --- Stop 5: acceptance -------------------------------------------------------------------------

    def _fail_acceptance(self, contract: Contract, reason: str, changed: dict[UUID, Any]) -> dict[str, Any]:
        """The contract failed acceptance: its subsidy leaves `used` and the provider's year (Stops 5).

        Back to the voucher's available while the year's window is open; to expired after it (the
        year ended or closed), since the holder could no longer use it.
        """
        voucher = self._get(changed, Voucher, contract.voucher_id)
        provider_year = self._get(changed, ProviderYear, ProviderYear.create_id(contract.provider_id, contract.year))
        year = self._get(changed, Year, Year.create_id(contract.year))
        self._leave_claim(contract, HELD_BACK.format(status=FAILED_ACCEPTANCE), changed)
        amount, returned_to = voucher.return_failed(str(contract.id), year.window_open(self.today()), reason)
        provider_year.return_failed(contract_id=str(contract.id), amount_fen=amount, reason=reason)
        contract.fail_acceptance(amount_fen=amount, returned_to=returned_to)
        changed[contract.id] = contract
        return {"amount": amount, "returned_to": returned_to}

    def _check_acceptance(self, contract: Contract, result: str, findings: str, documents: list[dict],
                          source: str, changed: dict[UUID, Any]) -> None:
        contract.refuse_acceptance(result)
        if contract.status not in USING:
            raise errors.InvalidState(f"the contract is {contract.status}", {"status": contract.status})
        contract.record_acceptance(result=result, findings=findings, documents=documents, source=source)
        changed[contract.id] = contract
        if result == FAILED:
            self._fail_acceptance(contract, findings, changed)
