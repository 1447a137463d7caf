"""The voucher (补贴券): one stream per holder, year and kind; never overspent (Art. 2, 9, 16-18, 25).

Fund identity: quota = available + reserved + used + clawed_back + expired, each term ≥ 0.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.money import format_yuan

ACTIVE, EXPIRED = "active", "expired"


class Voucher(LedgerAggregate):
    """An electronic voucher issued by name; it cannot be transferred, sold or diverted (Art. 2)."""

    @staticmethod
    def create_id(enterprise_id: str, year: int, kind: str) -> Any:
        return natural_id("voucher", enterprise_id, year, kind)

    @event("Issued")
    def __init__(self, enterprise_id: str, year: int, kind: str, tier: str, quota_fen: int,
                 designation: str | None = None) -> None:
        self.designation = designation
        self.enterprise_id = enterprise_id
        self.year = year
        self.kind = kind
        self.tier = tier
        self.quota_fen = quota_fen
        self.available_fen = quota_fen
        self.reserved_fen = 0
        self.used_fen = 0
        self.clawed_back_fen = 0
        self.expired_fen = 0
        self.reservations: dict[str, int] = {}  # contract id -> reserved fen
        self.uses: dict[str, int] = {}  # contract id -> used fen
        self.status = ACTIVE
        self.released_at_close = 0

    # A special voucher's designation, whose quota it carries; its `tier` names the designation too, as a
    # general voucher's tier names the basis of its quota (class default: vouchers snapshotted before).
    designation: str | None = None

    # Set once the holder's eligibility is revoked (class default: vouchers snapshotted before it existed).
    holder_revoked: dict | None = None

    @event("HolderRevoked")
    def stop(self, case_id: str, reason: str) -> None:
        """The holder was revoked (Art. 25): no new reservation, saved with the revocation's cascade."""
        self.holder_revoked = {"case_id": case_id, "reason": reason}

    def refuse_unless_available(self, amount_fen: int) -> None:
        if self.status != ACTIVE or amount_fen > self.available_fen or self.available_fen == 0:
            raise errors.VoucherExhausted(
                "the voucher has not enough available money (用完为止)",
                {"available": format_yuan(self.available_fen), "asked": format_yuan(amount_fen)},
            )

    def reserve(self, contract_id: str, amount_fen: int, share_bp: int, contract_amount_fen: int) -> None:
        """Reserve a signed contract's subsidy (Art. 17)."""
        if self.holder_revoked is not None:
            raise errors.HolderRevoked("the holder's eligibility was revoked (Art. 25)",
                                       {"enterprise_id": self.enterprise_id, **self.holder_revoked})
        self.refuse_unless_available(amount_fen)
        self._reserved(contract_id=contract_id, amount_fen=amount_fen, share_bp=share_bp,
                       contract_amount_fen=contract_amount_fen)

    @event("Reserved")
    def _reserved(self, contract_id: str, amount_fen: int, share_bp: int, contract_amount_fen: int) -> None:
        self.available_fen -= amount_fen
        self.reserved_fen += amount_fen
        self.reservations[contract_id] = amount_fen

    def release(self, contract_id: str, reason: str) -> int:
        """Release a terminated contract's reservation back to available (Art. 28)."""
        amount = self.reservations.get(contract_id)
        if amount is None:
            raise errors.StaleRead("the contract holds no reservation on this voucher", {"contract_id": contract_id})
        self._released(contract_id=contract_id, amount_fen=amount, reason=reason)
        return amount

    @event("Released")
    def _released(self, contract_id: str, amount_fen: int, reason: str) -> None:
        del self.reservations[contract_id]
        self.reserved_fen -= amount_fen
        self.available_fen += amount_fen

    def use(self, contract_id: str) -> int:
        """Turn a completed contract's reservation into a deduction (核销)."""
        amount = self.reservations.get(contract_id)
        if amount is None:
            raise errors.StaleRead("the contract holds no reservation on this voucher", {"contract_id": contract_id})
        self._used(contract_id=contract_id, amount_fen=amount)
        return amount

    @event("Used")
    def _used(self, contract_id: str, amount_fen: int) -> None:
        del self.reservations[contract_id]
        self.reserved_fen -= amount_fen
        self.used_fen += amount_fen
        self.uses[contract_id] = amount_fen

    def claw_back(self, contract_id: str, case_id: str) -> int:
        """Move a used subsidy into clawed_back; the holder does not get quota back (Art. 25)."""
        amount = self.uses.get(contract_id)
        if amount is None:
            raise errors.StaleRead("the contract used nothing from this voucher", {"contract_id": contract_id})
        self._clawed_back(contract_id=contract_id, amount_fen=amount, case_id=case_id)
        return amount

    @event("ClawedBack")
    def _clawed_back(self, contract_id: str, amount_fen: int, case_id: str) -> None:
        del self.uses[contract_id]
        self.used_fen -= amount_fen
        self.clawed_back_fen += amount_fen

    def return_failed(self, contract_id: str, window_open: bool, reason: str) -> tuple[int, str]:
        """A contract failed acceptance (Art. 21, 28): its used subsidy leaves `used`.

        It goes back to `available` while the year's window is open (the holder may use it again),
        to `expired` after it (期满作废, Art. 18). Answers (amount, where it went).
        """
        amount = self.uses.get(contract_id)
        if amount is None:
            raise errors.StaleRead("the contract used nothing from this voucher", {"contract_id": contract_id})
        returned_to = "available" if window_open and self.status == ACTIVE else "expired"
        self._use_returned(contract_id=contract_id, amount_fen=amount, returned_to=returned_to, reason=reason)
        return amount, returned_to

    @event("UseReturned")
    def _use_returned(self, contract_id: str, amount_fen: int, returned_to: str, reason: str) -> None:
        del self.uses[contract_id]
        self.used_fen -= amount_fen
        if returned_to == "available":
            self.available_fen += amount_fen
        else:
            self.expired_fen += amount_fen

    def expire(self, released_contracts: int = 0) -> int:
        """Expire what is available at year end (期满作废); open reservations are released first."""
        if self.reservations:
            raise errors.InvalidState("release open reservations before expiring", {"contracts": sorted(self.reservations)})
        if self.status == EXPIRED:
            return 0
        amount = self.available_fen
        self._expired(amount_fen=amount, released_contracts=released_contracts)
        return amount

    @event("Expired")
    def _expired(self, amount_fen: int, released_contracts: int) -> None:
        self.released_at_close = released_contracts
        self.available_fen -= amount_fen
        self.expired_fen += amount_fen
        self.status = EXPIRED

    def figures(self) -> dict[str, int]:
        return {
            "quota": self.quota_fen,
            "available": self.available_fen,
            "reserved": self.reserved_fen,
            "used": self.used_fen,
            "expired": self.expired_fen,
            "clawed_back": self.clawed_back_fen,
        }
