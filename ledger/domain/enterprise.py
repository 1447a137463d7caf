"""Enterprises (用券主体), registered under their real name and unified social credit code (Art. 5, 16).

Facts carry evidence and can be corrected (DOMAIN.md "Stops" 9): honours an enterprise declares for
itself count toward its tier only once the operator has verified them against documents; honours the
operator registers are verified by that act; facts change only by recorded amendments. A bad-credit
record from a sanction is kept here too, saved with the sanction, so that issuance finds it on the
enterprise itself (Art. 5(3), 22); a refused application is recorded as well.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.archive import ArchiveSubject
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.rules import GENERAL, Condition, enterprise_failures, tier_for


class Enterprise(ArchiveSubject, LedgerAggregate):
    """An enterprise and the facts its eligibility and tier are judged on."""

    @staticmethod
    def create_id(code: str) -> Any:
        return natural_id("enterprise", code)

    @event("Registered")
    def __init__(self, code: str, name: str, facts: dict, honours: list, verified_honours: list | None = None,
                 documents: list | None = None) -> None:
        self.code = code
        self.name = name
        self.facts = facts
        self.honours = honours
        # Registrations recorded before honours were verified (verified_honours absent) counted them all.
        self.verified_honours = list(honours if verified_honours is None else verified_honours)
        self.documents = list(documents or [])
        self.revoked = False
        self.revocation: dict | None = None
        self.bad_credit: list[dict] = []

    # Designations for special vouchers, {"year": {designation: reference}}, keyed by the year as text so a
    # snapshot's JSON round-trips it (class default: enterprises snapshotted before designations existed).
    designations: dict | None = None

    def eligibility_failures(self, kind: str = GENERAL) -> list[Condition]:
        return enterprise_failures({"id": self.code, **self.facts, "bad_credit": bool(self.bad_credit)}, kind)

    def designations_for(self, year: int) -> dict[str, str]:
        """The designations recorded for this year, each with its notice's reference (Art. 5(二))."""
        return dict((self.designations or {}).get(str(year), {}))

    def designate(self, year: int, designation: str, reference: str, documents: list[dict]) -> None:
        """The operator records a designation for special vouchers, with the annual notice's reference."""
        if designation in self.designations_for(year):
            raise errors.AlreadyExists(f"enterprise {self.code} is already designated {designation} for {year}",
                                       {"year": year, "designation": designation})
        self._designated(year=year, designation=designation, reference=reference, documents=documents)

    @event("Designated")
    def _designated(self, year: int, designation: str, reference: str, documents: list) -> None:
        designations = {y: dict(d) for y, d in (self.designations or {}).items()}
        designations.setdefault(str(year), {})[designation] = reference
        self.designations = designations
        self.documents = [*self.documents, *documents]

    @property
    def tier(self) -> str:
        """The tier of the verified honours only (Art. 9; DOMAIN.md "Stops" 9)."""
        return tier_for(self.verified_honours)

    def honour_states(self) -> list[dict[str, Any]]:
        return [{"code": h, "verified": h in self.verified_honours} for h in self.honours]

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

    def verify_honours(self, honours: list[str], documents: list[dict]) -> None:
        """The operator verifies declared honours against evidence documents (Art. 9, 17)."""
        undeclared = sorted(set(honours) - set(self.honours))
        if undeclared:
            raise errors.ValidationFailed("only declared honours are verified",
                                          {"honours": [f"not declared: {', '.join(undeclared)}"]})
        if not documents:
            raise errors.ValidationFailed("verification rests on evidence", {"documents": ["at least one document"]})
        verified = sorted(set(self.verified_honours) | set(honours))
        self._honours_verified(honours=sorted(set(honours)), documents=documents, tier=tier_for(verified))

    @event("HonoursVerified")
    def _honours_verified(self, honours: list, documents: list, tier: str) -> None:
        self.verified_honours = sorted(set(self.verified_honours) | set(honours))
        self.documents += documents

    def amend(self, changes: dict[str, Any], reason: str, documents: list[dict]) -> None:
        """Correct facts by a recorded amendment: who, why, evidence (Art. 17, 23).

        Honours the operator sets are verified by that act; an issued voucher's quota does not change.
        """
        honours = changes.get("honours")
        verified = (sorted(set(honours)) if honours is not None else
                    [h for h in self.verified_honours])
        self._amended(changes=changes, reason=reason, documents=documents, tier=tier_for(verified))

    @event("Amended")
    def _amended(self, changes: dict, reason: str, documents: list, tier: str) -> None:
        for field, value in changes.items():
            if field == "name":
                self.name = value
            elif field == "honours":
                self.honours = sorted(set(value))
                self.verified_honours = list(self.honours)
            else:
                self.facts[field] = value
        self.documents += documents

    @event("BadCreditRecorded")
    def record_bad_credit(self, case_id: str, violation: str, article: str) -> None:
        """A sanction's bad-credit record (不良信用记录): eligibility fails from now on (Art. 5(3), 22, 25)."""
        self.bad_credit.append({"case_id": case_id, "violation": violation, "article": article})

    @event("VoucherRefused")
    def record_refusal(self, year: int, kind: str, conditions: list) -> None:
        """An application refused as not eligible: auditors see refusals as well as grants (Art. 23)."""


    # The service archive (ledger/domain/archive.py; Art. 18(二), 21, 22).
    @event("CommitmentMade")
    def _commitment_made(self, year: int, text: str, documents: list) -> None:
        """A credit commitment (信用承诺) for the year (Art. 22)."""
        self._add_commitment(year)

    @event("SpotChecked")
    def _spot_checked(self, year: int, contract_id: str | None, result: str, findings: str, documents: list) -> None:
        """A spot check (抽查) by the operator or the supervisor (Art. 18, 21)."""

    @event("FindingRecorded")
    def _finding_recorded(self, report_id: str, finding: int, year: int, contract_id: str | None, severity: str,
                          text: str) -> None:
        """A supervision report's finding about this subject (Art. 21)."""
