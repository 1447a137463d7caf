"""The service archive's commands (服务档案, Art. 18(二), 21, 22): surveys, spot checks, commitments,
supervision reports, and a finding turned into a case. Where each entry is recorded:
`ledger/domain/archive.py`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger import errors
from ledger.commands.base import CommandResult, command, require
from ledger.commands.cases import CaseCommands, case_data
from ledger.domain.archive import SupervisionReport
from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.provider import Provider
from ledger.domain.year import Year
from ledger.rules import ENTERPRISE, OPERATOR, PROVIDER, SUPERVISOR


def _subject_class(subject_type: str) -> type:
    if subject_type == ENTERPRISE:
        return Enterprise
    if subject_type == PROVIDER:
        return Provider
    raise errors.ValidationFailed("bad subject type", {"subject_type": [f"must be one of {(ENTERPRISE, PROVIDER)}"]})


class ArchiveCommands(CaseCommands):
    """The operator, the supervisor and the subjects themselves add to the service archive."""

    def _subject(self, changed: dict[UUID, Any], subject_type: str, subject_id: str) -> Any:
        cls = _subject_class(subject_type)
        key = cls.create_id(subject_id)
        if key not in changed:
            changed[key] = self._get_as(cls, key, subject_type, subject_id)
        return changed[key]

    def _subject_contract(self, subject_type: str, subject_id: str, contract_id: Any, field: str) -> Contract:
        """The contract named with a subject: it must be one of the subject's."""
        contract = self.get_contract(contract_id)
        party = contract.enterprise_id if subject_type == ENTERPRISE else contract.provider_id
        if party != subject_id:
            raise errors.ValidationFailed(f"the contract does not concern {subject_type} {subject_id}",
                                          {field: [f"not the subject's: {contract_id}"]})
        return contract

    @command
    def record_survey(self, contract_id: Any, score: int, comments: str = "") -> CommandResult:
        """The operator records the satisfaction survey (满意度调查) of a completed contract (Art. 18(二))."""
        require(OPERATOR)
        contract = self.get_contract(contract_id)
        contract.record_survey(score, comments)
        return self._commit({"contract_id": str(contract.id), "enterprise_id": contract.enterprise_id,
                             "provider_id": contract.provider_id, "year": contract.year, "score": score,
                             "comments": comments}, contract, created=True)

    @command
    def record_spot_check(self, subject_type: str, subject_id: str, result: str, findings: str,
                          contract_id: Any = None, documents: list[dict] | None = None,
                          year: int | None = None) -> CommandResult:
        """The operator or the supervisor records a spot check (抽查, Art. 18, 21) on the subject's stream.

        Its year is the contract's when one is named, else the one given, else this business year.
        """
        require(OPERATOR, SUPERVISOR)
        changed: dict[UUID, Any] = {}
        subject = self._subject(changed, subject_type, subject_id)
        if contract_id is not None:
            contract = self._subject_contract(subject_type, subject_id, contract_id, "contract_id")
            if year is not None and year != contract.year:
                raise errors.ValidationFailed("the year is the contract's", {"year": [f"the contract is of {contract.year}"]})
            year, contract_id = contract.year, str(contract.id)
        year = year if year is not None else self.today().year
        subject.record_spot_check(year, contract_id, result, findings, list(documents or []))
        return self._commit({"subject_type": subject_type, "subject_id": subject_id, "contract_id": contract_id,
                             "year": year, "result": result, "findings": findings}, subject, created=True)

    @command
    def make_commitment(self, year: int, text: str, documents: list[dict] | None = None) -> CommandResult:
        """An enterprise or a provider makes its credit commitment (信用承诺) for a year, for itself (Art. 22)."""
        actor = require(ENTERPRISE, PROVIDER)
        self._get_as(Year, Year.create_id(year), "year", year)
        subject = self._subject({}, actor.role, actor.subject or "")
        subject.make_commitment(year, text, list(documents or []))
        return self._commit({"subject_type": actor.role, "subject_id": subject.code, "year": year, "text": text},
                            subject, created=True)

    @command
    def file_supervision_report(self, year: int, title: str, findings: list[dict[str, Any]],
                                documents: list[dict] | None = None) -> CommandResult:
        """The third-party supervisor files its report (监理报告, Art. 21); each finding also enters its
        subject's archive, in the same save."""
        require(SUPERVISOR)
        self._get_as(Year, Year.create_id(year), "year", year)
        report = SupervisionReport.file(year, title, findings, list(documents or []))
        changed: dict[UUID, Any] = {report.id: report}
        for index, finding in enumerate(report.findings):
            subject = self._subject(changed, finding["subject_type"], finding["subject_id"])
            contract_id = finding["contract_id"]
            if contract_id is not None:
                contract_id = str(self._subject_contract(finding["subject_type"], finding["subject_id"], contract_id,
                                                         f"findings.{index}.contract_id").id)
                report.findings[index]["contract_id"] = contract_id
            subject.record_finding(str(report.id), index, year, contract_id, finding["severity"], finding["text"])
        return self._commit(report_data(report), *changed.values(), created=True)

    @command
    def refer_finding(self, report_id: Any, finding: int, violation: str, contract_ids: list[Any] | None = None,
                      note: str = "") -> CommandResult:
        """The operator turns a supervisor's finding into a case (立案, Art. 21, 25), both linking each other.

        The case's contracts default to the finding's contract. The referring operator is the case's
        filer, so another operator sanctions it (segregation of duties, `ledger/domain/case.py`).
        """
        require(OPERATOR)
        report = self._get_as(SupervisionReport, report_id, "supervision report")
        found = report.finding(finding)
        if contract_ids is None:
            contract_ids = [found["contract_id"]] if found.get("contract_id") else []
        case = self._open_case(found["subject_type"], found["subject_id"], violation, contract_ids,
                               note or found["text"])
        case.link_finding(report_id=str(report.id), finding=finding)
        report.refer(finding, str(case.id))
        return self._commit({**case_data(case), "report_id": str(report.id), "finding": finding}, case, report,
                            created=True)

    def get_supervision_report(self, report_id: Any) -> dict[str, Any]:
        return report_data(self._get_as(SupervisionReport, report_id, "supervision report"))


def report_data(report: SupervisionReport) -> dict[str, Any]:
    return {"report_id": str(report.id), "year": report.year, "title": report.title,
            "findings": [{**f, "index": i, "case_id": report.referrals.get(str(i))} for i, f in enumerate(report.findings)],
            "documents": list(report.documents)}
