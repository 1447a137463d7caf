"""Enterprises (用券主体), registered under their real name and unified social credit code (Art. 5, 16)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.rules import Condition, enterprise_failures, tier_for


class Enterprise(LedgerAggregate):
    """An enterprise and the facts its eligibility and tier are judged on."""

    @staticmethod
    def create_id(code: str) -> Any:
        return natural_id("enterprise", code)

    @event("Registered")
    def __init__(self, code: str, name: str, facts: dict, honours: list) -> None:
        self.code = code
        self.name = name
        self.facts = facts
        self.honours = honours
        self.revoked = False
        self.revocation: dict | None = None

    def eligibility_failures(self) -> list[Condition]:
        return enterprise_failures({"id": self.code, **self.facts})

    @property
    def tier(self) -> str:
        return tier_for(self.honours)

    def refuse_if_revoked(self) -> None:
        if self.revoked:
            raise errors.HolderRevoked(
                f"enterprise {self.code} had its eligibility revoked (Art. 25)", {"enterprise_id": self.code, **(self.revocation or {})}
            )

    @event("Revoked")
    def revoke(self, case_id: str, violation: str, note: str) -> None:
        """Revoke eligibility after a sanction: no new vouchers or reservations (Art. 25)."""
        self.revoked = True
        self.revocation = {"case_id": case_id, "violation": violation}
