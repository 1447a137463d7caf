"""A provider's year: the annual cap on general-voucher subsidy (Art. 10), reserved per contract.

Live subsidy (reserved, or used whether settled or not) ≤ cap + granted exceptions. One stream
per provider and year, saved with the contract and the voucher so concurrent signatures cannot
pass the cap together.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.money import format_yuan


def remaining_cap(cap_fen: int, exceptions_fen: int, live_fen: int) -> int:
    """What a provider may still reserve in a year: cap + granted exceptions − live subsidy (Art. 10).

    The one definition: `ProviderYear.remaining_fen`, the point-in-time query and the provider
    totals read model (which sums live subsidy in SQL) all call it.
    """
    return cap_fen + exceptions_fen - live_fen


class ProviderYear(LedgerAggregate):
    """The cap, its exceptions and the subsidy of live contracts of one provider in one year."""

    @staticmethod
    def create_id(provider_id: str, year: int) -> Any:
        return natural_id("provider-year", provider_id, year)

    @event("Opened")
    def __init__(self, provider_id: str, year: int, cap_fen: int) -> None:
        self.provider_id = provider_id
        self.year = year
        self.cap_fen = cap_fen
        self.exceptions_fen = 0
        self.reserved: dict[str, int] = {}
        self.used: dict[str, int] = {}
        self.settled: dict[str, int] = {}
        self.receivable_fen = 0

    # Set once the provider is terminated (class default: years snapshotted before it existed).
    stopped: dict | None = None

    @property
    def limit_fen(self) -> int:
        return self.cap_fen + self.exceptions_fen

    @property
    def live_fen(self) -> int:
        return sum(self.reserved.values()) + sum(self.used.values())

    @property
    def remaining_fen(self) -> int:
        return remaining_cap(self.cap_fen, self.exceptions_fen, self.live_fen)

    @property
    def settled_fen(self) -> int:
        return sum(self.settled.values())

    @event("ExceptionGranted")
    def grant_exception(self, amount_fen: int, reason: str) -> None:
        """The approver's recorded exception to the cap "in principle" (原则上), Art. 10."""
        self.exceptions_fen += amount_fen

    def refuse_if_stopped(self) -> None:
        if self.stopped is not None:
            raise errors.PartyTerminated("the provider was terminated (即时终止, Art. 15)",
                                         {"provider_id": self.provider_id, **self.stopped})

    @event("ProviderStopped")
    def stop(self, reason: str, case_id: str | None) -> None:
        """The provider was terminated: this year takes no new reservation (Art. 15), saved with the cascade."""
        self.stopped = {"reason": reason, "case_id": case_id}

    def reserve(self, contract_id: str, amount_fen: int) -> None:
        self.refuse_if_stopped()
        if amount_fen > self.remaining_fen:
            raise errors.ProviderCapExceeded(
                "the provider's annual cap would be exceeded (Art. 10)",
                {"cap": format_yuan(self.cap_fen), "exceptions": format_yuan(self.exceptions_fen),
                 "live": format_yuan(self.live_fen), "asked": format_yuan(amount_fen)},
            )
        self._reserved(contract_id=contract_id, amount_fen=amount_fen, cap_fen=self.cap_fen,
                       exceptions_fen=self.exceptions_fen)

    @event("Reserved")
    def _reserved(self, contract_id: str, amount_fen: int, cap_fen: int, exceptions_fen: int) -> None:
        self.reserved[contract_id] = amount_fen

    def release(self, contract_id: str, reason: str) -> None:
        """Free a terminated contract's share of the cap."""
        self._released(contract_id=contract_id, amount_fen=self._reservation(contract_id), reason=reason)

    @event("Released")
    def _released(self, contract_id: str, amount_fen: int, reason: str) -> None:
        del self.reserved[contract_id]

    def use(self, contract_id: str) -> None:
        """A completed contract's reservation becomes used; it stays live against the cap."""
        self._used(contract_id=contract_id, amount_fen=self._reservation(contract_id))

    def _reservation(self, contract_id: str) -> int:
        if contract_id not in self.reserved:
            # The contract was read as holding a reservation that this year, read later, no longer has.
            raise errors.StaleRead("the contract holds no reservation on this provider's year",
                                   {"contract_id": contract_id})
        return self.reserved[contract_id]

    @event("Used")
    def _used(self, contract_id: str, amount_fen: int) -> None:
        self.used[contract_id] = self.reserved.pop(contract_id)

    def refuse_settlement_above_cap(self, amounts_fen: dict[str, int]) -> None:
        """General settlements never pass cap plus exceptions (Art. 10)."""
        total = self.settled_fen + sum(amounts_fen.values())
        if total > self.limit_fen:
            raise errors.ProviderCapExceeded(
                "settling these contracts would pass the provider's annual cap (Art. 10)",
                {"limit": format_yuan(self.limit_fen), "settled": format_yuan(self.settled_fen),
                 "asked": format_yuan(sum(amounts_fen.values()))},
            )

    @event("Settled")
    def settle(self, contract_id: str, amount_fen: int, batch_id: str) -> None:
        self.settled[contract_id] = amount_fen

    @event("ClawedBack")
    def claw_back(self, contract_id: str, amount_fen: int, receivable_fen: int, case_id: str) -> None:
        """A used contract leaves the live total; if already settled, the provider owes it back."""
        self.used.pop(contract_id, None)
        self.receivable_fen += receivable_fen

    @event("UseReturned")
    def return_failed(self, contract_id: str, amount_fen: int, reason: str) -> None:
        """A contract that failed acceptance leaves the live total (DOMAIN.md "Stops" 5)."""
        self.used.pop(contract_id, None)

    @event("Recovered")
    def record_recovery(self, amount_fen: int, reference: str) -> None:
        self.receivable_fen -= amount_fen
