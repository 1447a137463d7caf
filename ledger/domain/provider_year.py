"""A provider's year: the annual caps on voucher subsidy (Art. 10), reserved per contract.

Per kind, live subsidy (reserved, or used whether settled or not) ≤ that kind's cap + its granted
exceptions: the general cap from the year's parameters, the special cap from the year's special
programme (none if the programme sets none). One stream per provider and year for both kinds,
saved with the contract and the voucher so concurrent signatures cannot pass a cap together;
`reserved`, `used` and `settled` keep every contract, `special_ids` names those on special vouchers.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.money import format_yuan
from ledger.rules import GENERAL, SPECIAL


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
    # The special kind (class defaults: years snapshotted before special vouchers existed). The special
    # cap is the programme's, taken with the first special reservation (the programme is fixed by then).
    special_ids: dict | None = None  # contract id -> True, for contracts on special vouchers
    special_exceptions_fen = 0
    special_cap_fen: int | None = None

    def kind_of(self, contract_id: str) -> str:
        return SPECIAL if contract_id in (self.special_ids or {}) else GENERAL

    @property
    def special_live_fen(self) -> int:
        return sum(self.reserved.get(c, 0) + self.used.get(c, 0) for c in (self.special_ids or {}))

    @property
    def limit_fen(self) -> int:
        """The general cap plus its exceptions; `exceptions_fen`, `live_fen` and `remaining_fen` are general too."""
        return self.cap_fen + self.exceptions_fen

    @property
    def live_fen(self) -> int:
        return sum(self.reserved.values()) + sum(self.used.values()) - self.special_live_fen

    @property
    def remaining_fen(self) -> int:
        return remaining_cap(self.cap_fen, self.exceptions_fen, self.live_fen)

    @property
    def settled_fen(self) -> int:
        """Settled over both kinds."""
        return sum(self.settled.values())

    def kind_figures(self, kind: str) -> dict[str, Any]:
        """One kind's cap, exceptions, live money and settlements (fen; the special cap None if unset)."""
        ids = [c for c in (*self.reserved, *self.used, *self.settled) if self.kind_of(c) == kind]
        reserved = sum(self.reserved.get(c, 0) for c in set(ids))
        used = sum(self.used.get(c, 0) for c in set(ids))
        cap, exceptions = ((self.cap_fen, self.exceptions_fen) if kind == GENERAL
                           else (self.special_cap_fen, self.special_exceptions_fen))
        return {"cap": cap, "exceptions": exceptions, "reserved": reserved, "used": used,
                "settled": sum(self.settled.get(c, 0) for c in set(ids)),
                "remaining_cap": None if cap is None else remaining_cap(cap, exceptions, reserved + used),
                "contracts": sum(1 for c in set(ids) if c in self.reserved or c in self.used)}

    def grant_exception(self, amount_fen: int, reason: str, kind: str = GENERAL) -> None:
        """The approver's recorded exception to a kind's cap "in principle" (原则上), Art. 10."""
        self._exception_granted(amount_fen=amount_fen, reason=reason, kind=kind)

    @event("ExceptionGranted")
    def _exception_granted(self, amount_fen: int, reason: str, kind: str = GENERAL) -> None:
        if kind == SPECIAL:
            self.special_exceptions_fen += amount_fen
        else:
            self.exceptions_fen += amount_fen

    def refuse_if_stopped(self) -> None:
        if self.stopped is not None:
            raise errors.PartyTerminated("the provider was terminated (即时终止, Art. 15)",
                                         {"provider_id": self.provider_id, **self.stopped})

    @event("ProviderStopped")
    def stop(self, reason: str, case_id: str | None) -> None:
        """The provider was terminated: this year takes no new reservation (Art. 15), saved with the cascade."""
        self.stopped = {"reason": reason, "case_id": case_id}

    def reserve(self, contract_id: str, amount_fen: int, kind: str = GENERAL, special_cap_fen: int | None = None) -> None:
        """Reserve a signed contract's subsidy against its kind's cap (Art. 10); a special cap of None: no cap."""
        self.refuse_if_stopped()
        if kind == SPECIAL:
            cap, exceptions, live = special_cap_fen, self.special_exceptions_fen, self.special_live_fen
        else:
            cap, exceptions, live = self.cap_fen, self.exceptions_fen, self.live_fen
        if cap is not None and amount_fen > remaining_cap(cap, exceptions, live):
            raise errors.ProviderCapExceeded(
                f"the provider's annual {kind} cap would be exceeded (Art. 10)",
                {"kind": kind, "cap": format_yuan(cap), "exceptions": format_yuan(exceptions),
                 "live": format_yuan(live), "asked": format_yuan(amount_fen)},
            )
        self._reserved(contract_id=contract_id, amount_fen=amount_fen, cap_fen=cap, exceptions_fen=exceptions,
                       kind=kind)

    @event("Reserved")
    def _reserved(self, contract_id: str, amount_fen: int, cap_fen: int | None, exceptions_fen: int,
                  kind: str = GENERAL) -> None:
        self.reserved[contract_id] = amount_fen
        if kind == SPECIAL:
            self.special_ids = {**(self.special_ids or {}), contract_id: True}
            self.special_cap_fen = cap_fen

    def release(self, contract_id: str, reason: str) -> None:
        """Free a terminated contract's share of the cap."""
        self._released(contract_id=contract_id, amount_fen=self._reservation(contract_id), reason=reason,
                       kind=self.kind_of(contract_id))

    @event("Released")
    def _released(self, contract_id: str, amount_fen: int, reason: str, kind: str = GENERAL) -> None:
        del self.reserved[contract_id]

    def use(self, contract_id: str) -> None:
        """A completed contract's reservation becomes used; it stays live against the cap."""
        self._used(contract_id=contract_id, amount_fen=self._reservation(contract_id), kind=self.kind_of(contract_id))

    def _reservation(self, contract_id: str) -> int:
        if contract_id not in self.reserved:
            # The contract was read as holding a reservation that this year, read later, no longer has.
            raise errors.StaleRead("the contract holds no reservation on this provider's year",
                                   {"contract_id": contract_id})
        return self.reserved[contract_id]

    @event("Used")
    def _used(self, contract_id: str, amount_fen: int, kind: str = GENERAL) -> None:
        self.used[contract_id] = self.reserved.pop(contract_id)

    def refuse_settlement_above_cap(self, amounts_fen: dict[str, int]) -> None:
        """Settlements of each kind never pass that kind's cap plus exceptions (Art. 10).

        `amounts_fen` maps contract ids to the amounts to settle; each counts against its kind's cap
        (a special cap of None: none).
        """
        for kind in (GENERAL, SPECIAL):
            figures = self.kind_figures(kind)
            asked = sum(a for c, a in amounts_fen.items() if self.kind_of(c) == kind)
            if figures["cap"] is None or not asked:
                continue
            limit = figures["cap"] + figures["exceptions"]
            if figures["settled"] + asked > limit:
                raise errors.ProviderCapExceeded(
                    f"settling these contracts would pass the provider's annual {kind} cap (Art. 10)",
                    {"kind": kind, "limit": format_yuan(limit), "settled": format_yuan(figures["settled"]),
                     "asked": format_yuan(asked)},
                )

    def settle(self, contract_id: str, amount_fen: int, batch_id: str) -> None:
        self._settled(contract_id=contract_id, amount_fen=amount_fen, batch_id=batch_id, kind=self.kind_of(contract_id))

    @event("Settled")
    def _settled(self, contract_id: str, amount_fen: int, batch_id: str, kind: str = GENERAL) -> None:
        self.settled[contract_id] = amount_fen

    def claw_back(self, contract_id: str, amount_fen: int, receivable_fen: int, case_id: str) -> None:
        """A used contract leaves the live total; if already settled, the provider owes it back."""
        self._clawed_back(contract_id=contract_id, amount_fen=amount_fen, receivable_fen=receivable_fen,
                          case_id=case_id, kind=self.kind_of(contract_id))

    @event("ClawedBack")
    def _clawed_back(self, contract_id: str, amount_fen: int, receivable_fen: int, case_id: str,
                     kind: str = GENERAL) -> None:
        self.used.pop(contract_id, None)
        self.receivable_fen += receivable_fen

    def return_failed(self, contract_id: str, amount_fen: int, reason: str) -> None:
        """A contract that failed acceptance leaves the live total (DOMAIN.md "Stops" 5)."""
        self._use_returned(contract_id=contract_id, amount_fen=amount_fen, reason=reason, kind=self.kind_of(contract_id))

    @event("UseReturned")
    def _use_returned(self, contract_id: str, amount_fen: int, reason: str, kind: str = GENERAL) -> None:
        self.used.pop(contract_id, None)

    @event("Recovered")
    def record_recovery(self, amount_fen: int, reference: str) -> None:
        self.receivable_fen -= amount_fen
