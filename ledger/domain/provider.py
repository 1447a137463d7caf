"""Service providers (服务机构): application, five review stages, signing per year, termination (Art. 12-15, 25).

Admission gates (DOMAIN.md "Stops" 8): the compliance pass needs a document of each kind of Art. 13,
a credit code of a Guangxi registration authority, tax compliance, both consents, and no bad-credit
record. A sanction's bad-credit record is kept on the provider itself, saved with the sanction, so the
next compliance review finds it without searching the archive. Amendments correct the facts, which
are judged at the next compliance review.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.archive import ArchiveSubject
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.domain.review import PASS, REJECT, StagedReview  # noqa: F401 - REJECT is imported from here too
from ledger.rules import PROVIDER_REVIEW_STAGES, Condition, missing_document_kinds, provider_failures

STAGES = tuple(stage for stage, _ in PROVIDER_REVIEW_STAGES)


class Provider(ArchiveSubject, StagedReview, LedgerAggregate):
    """A provider's application facts, its documents (references only) and its yearly recognition."""

    STAGES = STAGES

    @staticmethod
    def create_id(code: str) -> Any:
        return natural_id("provider", code)

    @event("Applied")
    def __init__(self, code: str, name: str, facts: dict, documents: list) -> None:
        self.code = code
        self.name = name
        self.facts = facts
        self.documents = documents
        self.reviews: dict[str, dict] = {}  # year (str) -> {"passed": [stages], "rejected": stage|None}
        self.signed_years: list[int] = []
        self.banned = False
        self.bad_credit: list[dict] = []

    def eligibility_failures(self) -> list[Condition]:
        return provider_failures({"id": self.code, **self.facts, "bad_credit": bool(self.bad_credit)})

    def refuse_if_banned(self) -> None:
        if self.banned:
            raise errors.ProviderBanned(f"provider {self.code} was terminated and may never re-apply (Art. 15)",
                                        {"provider_id": self.code})

    def review(self, year: int, stage: str, decision: str, note: str, commitment_required: bool = False) -> None:
        """Decide one review stage, in the order of Art. 14; eligibility is judged at compliance, and the
        credit commitment (信用承诺) when the year requires it (Art. 22)."""
        self.refuse_if_banned()
        self.refuse_review(year, stage, "the application for {year} was rejected at {stage}",
                           f"provider {self.code} is already signed for {{year}}")
        if stage == "compliance" and decision == PASS:
            self.refuse_without_commitment(year, commitment_required)
            missing = missing_document_kinds(self.documents)
            if missing:
                raise errors.DocumentsMissing("the materials of Art. 13 are incomplete", {"missing": missing})
            failures = self.eligibility_failures()
            if failures:
                raise errors.NotEligible(
                    "the provider fails Art. 12",
                    {"conditions": [{"code": c.code, "article": c.article, "message": c.message} for c in failures]},
                )
        self._reviewed(year=year, stage=stage, decision=decision, note=note)
        if self.completes_review(stage, decision):
            self._signed(year=year)

    @event("Reviewed")
    def _reviewed(self, year: int, stage: str, decision: str, note: str) -> None:
        self.record_review(year, stage, decision)

    @event("Signed")
    def _signed(self, year: int) -> None:
        """Public notice ended with no objection: a signed provider (签约服务机构) for the year."""
        self.signed_years.append(year)

    def is_signed_for(self, year: int) -> bool:
        return not self.banned and year in self.signed_years

    def terminate(self, reason: str, case_id: str | None = None) -> None:
        """Terminate at once and ban for good (Art. 15, 25)."""
        if self.banned:
            raise errors.InvalidState(f"provider {self.code} is already terminated", {"provider_id": self.code})
        self._terminated(reason=reason, case_id=case_id)

    @event("Terminated")
    def _terminated(self, reason: str, case_id: str | None) -> None:
        self.banned = True

    def amend(self, changes: dict[str, Any], reason: str, documents: list[dict]) -> None:
        """Correct the application's facts or add materials by a recorded amendment (Art. 13, 23).

        The facts are judged at the compliance review, so a correction takes effect at the next one.
        """
        self.refuse_if_banned()
        self._amended(changes=changes, reason=reason, documents=documents)

    @event("Amended")
    def _amended(self, changes: dict, reason: str, documents: list) -> None:
        for field, value in changes.items():
            if field == "name":
                self.name = value
            else:
                self.facts[field] = value
        self.documents = [*self.documents, *documents]

    @event("BadCreditRecorded")
    def record_bad_credit(self, case_id: str, violation: str, article: str) -> None:
        """A sanction's bad-credit record (不良信用记录): compliance fails from now on (Art. 12(1), 22, 25)."""
        self.bad_credit.append({"case_id": case_id, "violation": violation, "article": article})


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
