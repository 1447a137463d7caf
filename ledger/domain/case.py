"""Cases and sanctions (违规处理): the violations of Art. 25 and what the centre does about them.

A case is filed by the operator or the supervisor against an enterprise or a provider, for one of
the five violations of Art. 25, naming the contracts concerned. The sanction (by the operator, never
the one who filed the case) stops the transactions and claws the subsidy back, may revoke the
enterprise's eligibility and/or terminate the provider, and always records bad credit (不良信用记录)
in the service archive (服务档案).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.context import Actor
from ledger.domain.base import LedgerAggregate
from ledger.rules import CASE_SUBJECT_TYPES, VIOLATION_ARTICLES, VIOLATIONS

FILED, SANCTIONED = "filed", "sanctioned"
# What a sanction did to each contract (its outcome).
RELEASED, STOPPED, CLAWED_BACK, RECEIVABLE = "released", "stopped", "clawed_back", "receivable"

SOD_RULE = "segregation of duties (职责分离): the sanctioning actor differs from the one who filed the case"


class Case(LedgerAggregate):
    """A case against one subject (enterprise or provider) for one violation of Art. 25."""

    @event("Filed")
    def __init__(self, subject_type: str, subject_id: str, violation: str, article: str, contract_ids: list,
                 note: str, actor: dict | None = None) -> None:
        self.subject_type = subject_type
        self.subject_id = subject_id
        self.violation = violation
        self.article = article
        self.contract_ids = list(contract_ids)
        self.note = note
        self.filed_by = (actor or {}).get("id", "")
        self.status = FILED
        self.sanction: dict[str, Any] | None = None
        self.credit_record: dict[str, Any] | None = None

    @classmethod
    def file(cls, subject_type: str, subject_id: str, violation: str, contract_ids: list[str], note: str) -> "Case":
        """File a case for a violation of Art. 25 against an enterprise or a provider."""
        if subject_type not in CASE_SUBJECT_TYPES:
            raise errors.ValidationFailed("bad subject type",
                                          {"subject_type": [f"must be one of {CASE_SUBJECT_TYPES}"]})
        if violation not in VIOLATIONS:
            raise errors.ValidationFailed("not a violation of Art. 25", {"violation": [f"must be one of {VIOLATIONS}"]})
        unique = list(dict.fromkeys(str(c) for c in contract_ids))
        if len(unique) != len(contract_ids):
            raise errors.ValidationFailed("a contract is named twice", {"contract_ids": ["must not repeat"]})
        return cls(subject_type=subject_type, subject_id=subject_id, violation=violation,
                   article=VIOLATION_ARTICLES[violation][0], contract_ids=unique, note=note)

    def refuse_sanction(self, actor: Actor, clawback_contract_ids: list[str], revoke_enterprise: bool,
                        terminate_provider: bool) -> None:
        """One sanction per case, by someone other than the filer, within the case's own contracts."""
        if self.status != FILED:
            raise errors.InvalidState(f"the case is already {self.status}", {"status": self.status})
        if actor.id == self.filed_by:
            raise errors.SegregationOfDuties(f"{actor.id} filed this case and may not also sanction it",
                                             {"rule": SOD_RULE, "actor_id": actor.id, "conflicts": ["filed"]})
        if len(set(clawback_contract_ids)) != len(clawback_contract_ids):
            raise errors.ValidationFailed("a contract is named twice", {"clawback_contract_ids": ["must not repeat"]})
        outside = [c for c in clawback_contract_ids if c not in self.contract_ids]
        if outside:
            raise errors.ValidationFailed("only the contracts of the case are clawed back",
                                          {"clawback_contract_ids": [f"not in this case: {', '.join(outside)}"]})
        if revoke_enterprise and self.subject_type != "enterprise":
            raise errors.ValidationFailed("only an enterprise's eligibility is revoked",
                                          {"revoke_enterprise": ["the case's subject is a provider"]})
        if terminate_provider and self.subject_type != "provider":
            raise errors.ValidationFailed("only a provider's qualification is terminated",
                                          {"terminate_provider": ["the case's subject is an enterprise"]})

    @event("Sanctioned")
    def record_sanction(self, contracts: list, released_fen: int, clawed_back_fen: int, receivable_fen: int,
                        revoke_enterprise: bool, terminate_provider: bool, note: str,
                        actor: dict | None = None) -> None:
        """The sanction: each contract's outcome and figures, revocation and termination (Art. 25)."""
        self.status = SANCTIONED
        self.sanction = {
            "by": (actor or {}).get("id", ""), "contracts": list(contracts), "released_fen": released_fen,
            "clawed_back_fen": clawed_back_fen, "receivable_fen": receivable_fen,
            "revoke_enterprise": revoke_enterprise, "terminate_provider": terminate_provider, "note": note,
        }

    @event("CreditRecorded")
    def record_bad_credit(self, subject_type: str, subject_id: str, violation: str, article: str,
                          description: str, note: str) -> None:
        """A bad credit record (不良信用记录) enters the subject's service archive (服务档案, Art. 22, 25)."""
        self.credit_record = {"subject_type": subject_type, "subject_id": subject_id, "violation": violation,
                              "article": article, "description": description, "note": note}

    @event("FindingLinked")
    def link_finding(self, report_id: str, finding: int) -> None:
        """The case was opened from a supervision report's finding (Art. 21); the report links back."""
        self.finding = {"report_id": report_id, "finding": finding}
