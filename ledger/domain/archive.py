"""The service archive (服务档案, Art. 18(二), 21, 22): what the centre keeps on every enterprise and provider.

Where each entry is recorded (the stream whose history it is part of):
- a satisfaction survey (满意度调查) of a completed contract: on the contract's stream
  (`Contract.SurveyRecorded`), so it is filed under both parties and the contract in the trace;
- a spot check (抽查), a credit commitment (信用承诺) for a year and each finding of a supervision
  report: on the subject's own stream (`Enterprise.*` / `Provider.*`: `SpotChecked`,
  `CommitmentMade`, `FindingRecorded`), so issuance and the compliance review find a commitment on
  the aggregate they already load;
- the third party's supervision report (监理报告) as a whole: its own stream (`SupervisionReport`),
  whose findings are also recorded on each subject's stream in the same save; the operator's referral
  of a finding to a case is recorded on both the report (`FindingReferred`) and the case
  (`Case.FindingLinked`);
- acceptance checks, cases, sanctions and bad-credit records keep their existing events.
A subject's archive is read from the trace index (`projections/audit/archive.py`).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate
from ledger.rules import CASE_SUBJECT_TYPES, FINDING_SEVERITIES, SPOT_CHECK_RESULTS


class ArchiveSubject:
    """What an enterprise or a provider keeps of its own archive: commitments, spot checks, findings.

    The aggregate defines the `@event` methods `_commitment_made`, `_spot_checked` and
    `_finding_recorded` (the library registers events per class); these public methods validate.
    """

    code: str
    _commitment_made: Any
    _spot_checked: Any
    _finding_recorded: Any

    @property
    def commitment_years(self) -> list[int]:
        return list(getattr(self, "_commitment_years", []))

    def make_commitment(self, year: int, text: str, documents: list[dict]) -> None:
        """A credit commitment (信用承诺) for the year (Art. 22); one per year."""
        if not text.strip():
            raise errors.ValidationFailed("a commitment states what is promised", {"text": ["must not be blank"]})
        if year in self.commitment_years:
            raise errors.AlreadyExists(f"{self.code} has already made its commitment for {year}",
                                       {"subject_id": self.code, "year": year})
        self._commitment_made(year=year, text=text, documents=documents)

    def refuse_without_commitment(self, year: int, required: bool) -> None:
        """With the year's `commitment_required`, no voucher or compliance pass without one (Art. 22)."""
        if required and year not in self.commitment_years:
            raise errors.CommitmentMissing(
                f"{self.code} has made no credit commitment (信用承诺) for {year}, which the year requires",
                {"subject_id": self.code, "year": year})

    def record_spot_check(self, year: int, contract_id: str | None, result: str, findings: str,
                          documents: list[dict]) -> None:
        """A spot check (抽查) of the subject, of one of its contracts or of its work as a whole (Art. 18, 21)."""
        if result not in SPOT_CHECK_RESULTS:
            raise errors.ValidationFailed("a spot check passes or fails", {"result": [f"must be one of {SPOT_CHECK_RESULTS}"]})
        if result == "failed" and not findings.strip():
            raise errors.ValidationFailed("a failed spot check records its findings", {"findings": ["must not be blank"]})
        self._spot_checked(year=year, contract_id=contract_id, result=result, findings=findings, documents=documents)

    def record_finding(self, report_id: str, finding: int, year: int, contract_id: str | None, severity: str,
                       text: str) -> None:
        """One finding of a supervision report about this subject (Art. 21)."""
        self._finding_recorded(report_id=report_id, finding=finding, year=year, contract_id=contract_id,
                               severity=severity, text=text)

    def _add_commitment(self, year: int) -> None:
        self._commitment_years = [*self.commitment_years, year]


class SupervisionReport(LedgerAggregate):
    """A third-party supervisor's report (监理报告, Art. 21) for a year, with its findings per subject.

    Each finding: `{"subject_type", "subject_id", "contract_id"?, "severity", "text"}`; its index in
    the list names it. The operator may turn a finding into a case once (`refer`).
    """

    @classmethod
    def file(cls, year: int, title: str, findings: list[dict[str, Any]], documents: list[dict]) -> "SupervisionReport":
        """File a report; every finding names a subject and a severity."""
        if not title.strip():
            raise errors.ValidationFailed("a report has a title", {"title": ["must not be blank"]})
        for index, finding in enumerate(findings):
            if finding.get("subject_type") not in CASE_SUBJECT_TYPES:
                raise errors.ValidationFailed("bad subject type", {f"findings.{index}.subject_type": [
                    f"must be one of {CASE_SUBJECT_TYPES}"]})
            if finding.get("severity") not in FINDING_SEVERITIES:
                raise errors.ValidationFailed("bad severity", {f"findings.{index}.severity": [
                    f"must be one of {FINDING_SEVERITIES}"]})
        kept = [{"subject_type": f["subject_type"], "subject_id": f["subject_id"], "contract_id": f.get("contract_id"),
                 "severity": f["severity"], "text": f.get("text", "")} for f in findings]
        return cls(year=year, title=title, findings=kept, documents=documents)

    @event("Filed")
    def __init__(self, year: int, title: str, findings: list, documents: list) -> None:
        self.year = year
        self.title = title
        self.findings = list(findings)
        self.documents = list(documents)
        self.referrals: dict[str, str] = {}  # finding index (str) -> case id

    def finding(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.findings):
            raise errors.NotFound(f"no finding {index} in report {self.id}", {"id": f"{self.id}/{index}"})
        return self.findings[index]

    def refer(self, index: int, case_id: str) -> None:
        """The operator turns a finding into a case (立案): once per finding."""
        self.finding(index)
        if str(index) in self.referrals:
            raise errors.AlreadyExists(f"finding {index} is already case {self.referrals[str(index)]}",
                                       {"case_id": self.referrals[str(index)]})
        self._referred(finding=index, case_id=case_id)

    @event("FindingReferred")
    def _referred(self, finding: int, case_id: str) -> None:
        self.referrals[str(finding)] = case_id
