"""Years, budget, enterprises and vouchers (Art. 5, 9, 11, 16, 18)."""

from __future__ import annotations

from typing import Any, Callable
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ledger import errors
from ledger.commands.base import (
    CommandBase, CommandResult, command, exclusive, refuse_unknown_changes, require, require_subject,
)
from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import CLOSED, Year
from ledger.rules import (
    APPROVER, DESIGNATIONS, ENTERPRISE, ENTERPRISE_AMENDABLE, FINANCE, GENERAL, HONOURS, OPERATOR, SPECIAL,
    VOUCHER_KINDS, YearParameters, default_tier_quotas, parameters_above_ceiling, special_programme_failures,
)

CLOSE_CHUNK = 500  # vouchers per transaction: 200 was ~5% slower (issue 7), 1000 no faster
YEAR_CLOSED_REASON = "year closed: the reservation expires (期满作废, Art. 18)"


def year_data(year: Year) -> dict[str, Any]:
    params = year.params
    return {
        "year": year.year, "starts_on": year.starts_on, "ends_on": year.ends_on,
        "tier_quotas": dict(params.tier_quotas_fen), "diagnosis_share": params.diagnosis_share_bp,
        "other_share": params.other_share_bp, "deposit_share": params.deposit_share_bp,
        "provider_cap": params.provider_cap_fen, "commitment_required": params.commitment_required,
        "status": year.status, "settlement_batches": params.settlement_batches,
    }


def voucher_data(voucher: Voucher) -> dict[str, Any]:
    return {"voucher_id": str(voucher.id), "enterprise_id": voucher.enterprise_id, "year": voucher.year,
            "kind": voucher.kind, "tier": voucher.tier, "quota": voucher.quota_fen,
            "designation": voucher.designation}


def special_programme_data(year: Year) -> dict[str, Any] | None:
    """The year's special programme (fen), or None before the approver sets one."""
    programme = year.special_programme
    if programme is None:
        return None
    return {"quotas": dict(programme["quotas_fen"]), "categories": list(programme["categories"]),
            "provider_cap": programme["provider_cap_fen"], "reference": programme["reference"]}


def refuse_negative_facts(facts: dict[str, Any]) -> None:
    """Headcount and revenue are never negative, at registration or in an amendment."""
    negative = [f for f in ("employees", "revenue_fen") if f in facts and facts[f] < 0]
    if negative:
        raise errors.ValidationFailed("employees and revenue cannot be negative",
                                      {negative[0].removesuffix("_fen"): ["must not be negative"]})


class YearCommands(CommandBase):
    """The approver opens a year, finance funds it, the operator issues vouchers and closes it."""

    @command
    def open_year(self, year: int, starts_on: str, ends_on: str, tier_quotas: dict[str, int] | None = None,
                  diagnosis_share: int | None = None, other_share: int | None = None,
                  deposit_share: int | None = None, provider_cap: int | None = None,
                  commitment_required: bool = False, settlement_batches: int | None = None) -> CommandResult:
        """Open a year with its annual notice; parameters default to the measures' ceilings (Art. 9, 10, 17).

        The year is a calendar year, last, this or next year on the business date (Art. 18).
        """
        require(APPROVER)
        if starts_on > ends_on:
            raise errors.ValidationFailed("the window ends before it starts", {"ends_on": ["must not be before starts_on"]})
        defaults = YearParameters(tier_quotas_fen=default_tier_quotas())
        params = YearParameters(
            tier_quotas_fen={**defaults.tier_quotas_fen, **(tier_quotas or {})},
            diagnosis_share_bp=defaults.diagnosis_share_bp if diagnosis_share is None else diagnosis_share,
            other_share_bp=defaults.other_share_bp if other_share is None else other_share,
            deposit_share_bp=defaults.deposit_share_bp if deposit_share is None else deposit_share,
            provider_cap_fen=defaults.provider_cap_fen if provider_cap is None else provider_cap,
            commitment_required=commitment_required,
            settlement_batches=defaults.settlement_batches if settlement_batches is None else settlement_batches,
        )
        above = parameters_above_ceiling(params)
        if above:
            raise errors.ParameterAboveCeiling("a year may be stricter than the measures, never looser", above)
        if self._exists(Year.create_id(year)):
            raise errors.AlreadyExists(f"year {year} is already open", {"year": year})
        opened = Year.open(year, starts_on, ends_on, params.as_dict(), self.today())
        return self._commit(year_data(opened), opened, created=True)

    @command
    def allocate_budget(self, year: int, amount_fen: int, reference: str) -> CommandResult:
        """Finance allocates budget from the new-industrialisation fund (Art. 11)."""
        require(FINANCE)
        funded = self.get_year(year)
        funded.allocate(amount_fen, reference)
        return self._commit({"year": year, "amount": amount_fen, "reference": reference,
                             "budget": funded.budget_fen}, funded, created=True)

    @command
    def register_enterprise(self, code: str, name: str, employees: int, revenue_fen: int,
                            registered_in_guangxi: bool, legal_person: bool, social_insurance: bool,
                            dishonest: bool, major_violation: bool, industry_aligned: bool,
                            honours: list[str], documents: list[dict] | None = None) -> CommandResult:
        """Register an enterprise under its real name and credit code (Art. 5, 16).

        Honours the enterprise registers for itself are declared, and count toward its tier once the
        operator has verified them; honours the operator registers are verified by that act (Art. 9).
        """
        actor = require(OPERATOR, ENTERPRISE)
        if actor.role == ENTERPRISE:
            require_subject(actor, code)
        unknown = sorted(set(honours) - set(HONOURS))
        if unknown:  # Art. 9 names the honours; another would have no tier (and no place in the record)
            raise errors.ValidationFailed("unknown honour codes", {"honours": [f"unknown: {', '.join(unknown)}"]})
        refuse_negative_facts({"employees": employees, "revenue_fen": revenue_fen})
        if self._exists(Enterprise.create_id(code)):
            raise errors.AlreadyExists(f"enterprise {code} is already registered", {"id": code})
        facts = {"employees": employees, "revenue_fen": revenue_fen, "registered_in_guangxi": registered_in_guangxi,
                 "legal_person": legal_person, "social_insurance": social_insurance, "dishonest": dishonest,
                 "major_violation": major_violation, "industry_aligned": industry_aligned}
        honours = sorted(set(honours))
        enterprise = Enterprise(code=code, name=name, facts=facts, honours=honours,
                                verified_honours=honours if actor.role == OPERATOR else [], documents=documents or [])
        failures = enterprise.eligibility_failures()
        return self._commit({"id": code, "name": name, "tier": enterprise.tier, "eligible": not failures,
                             "failed_conditions": [c.code for c in failures],
                             "honours": enterprise.honour_states()}, enterprise, created=True)

    @command
    def verify_enterprise(self, code: str, honours: list[str], documents: list[dict]) -> CommandResult:
        """The operator verifies an enterprise's declared honours against evidence (Art. 9, 17)."""
        require(OPERATOR)
        enterprise = self.get_enterprise(code)
        enterprise.verify_honours(honours, documents)
        return self._commit({"id": code, "name": enterprise.name, "tier": enterprise.tier,
                             "honours": enterprise.honour_states()}, enterprise)

    @command
    def amend_enterprise(self, code: str, changes: dict[str, Any], reason: str,
                         documents: list[dict]) -> CommandResult:
        """Correct an enterprise's facts by a recorded amendment: who, why, evidence (Art. 17, 23).

        An issued voucher keeps its quota: the tier is judged again only at the next issuance.
        """
        require(OPERATOR)
        refuse_unknown_changes(changes, ENTERPRISE_AMENDABLE, documents)
        unknown = sorted(set(changes.get("honours") or ()) - set(HONOURS))
        if unknown:
            raise errors.ValidationFailed("unknown honour codes", {"honours": [f"unknown: {', '.join(unknown)}"]})
        refuse_negative_facts(changes)
        enterprise = self.get_enterprise(code)
        enterprise.amend(changes, reason, documents)
        failures = enterprise.eligibility_failures()
        return self._commit({"id": code, "name": enterprise.name, "tier": enterprise.tier, "eligible": not failures,
                             "failed_conditions": [c.code for c in failures], "changed": sorted(changes), "reason": reason,
                             "honours": enterprise.honour_states()}, enterprise)

    @command
    def set_special_programme(self, year: int, quotas: dict[str, int], categories: list[str],
                              provider_cap: int | None, reference: str,
                              documents: list[dict] | None = None) -> CommandResult:
        """The approver sets the year's special programme from the annual notice (Art. 6(二), 9(二), 10).

        A quota per designation, the categories in scope and the provider cap for special vouchers
        (None: no cap); it may be set again until the first special voucher, then 409 INVALID_STATE.
        """
        require(APPROVER)
        if not reference.strip():
            raise errors.ValidationFailed("the programme cites its notice", {"reference": ["must not be blank"]})
        failures = special_programme_failures(quotas, categories, provider_cap)
        if failures:
            raise errors.ValidationFailed("the special programme is incomplete", failures)
        programme_year = self.get_year(year)
        programme_year.set_special_programme(quotas_fen=quotas, categories=sorted(set(categories)),
                                             provider_cap_fen=provider_cap, reference=reference,
                                             documents=list(documents or []))
        return self._commit({"year": year, **(special_programme_data(programme_year) or {})}, programme_year)

    @command
    def designate_enterprise(self, code: str, year: int, designation: str, reference: str,
                             documents: list[dict] | None = None) -> CommandResult:
        """The operator records a subject's designation for a year with the notice's reference (Art. 5(二)).

        A subject may hold several designations in a year; it holds one special voucher a year, whose
        quota is that of the designation named at issuance.
        """
        require(OPERATOR)
        if designation not in DESIGNATIONS:
            raise errors.ValidationFailed("unknown designation", {"designation": [f"must be one of {', '.join(DESIGNATIONS)}"]})
        if not reference.strip():
            raise errors.ValidationFailed("a designation cites its notice", {"reference": ["must not be blank"]})
        self.get_year(year)
        enterprise = self.get_enterprise(code)
        enterprise.designate(year, designation, reference, list(documents or []))
        return self._commit({"enterprise_id": code, "year": year, "designation": designation, "reference": reference,
                             "designations": sorted(enterprise.designations_for(year))}, enterprise, created=True)

    @command
    @exclusive(lambda enterprise_id, year, *rest, **named: Year.create_id(int(year)))  # the year's one budget
    def issue_voucher(self, enterprise_id: str, year: int, kind: str = GENERAL,
                      designation: str | None = None) -> CommandResult:
        """Issue a voucher to an eligible enterprise, within the year's budget (Art. 5, 9, 16).

        General: the tier's quota. Special: the quota the year's special programme sets for the
        designation named, which the subject must hold for the year (NOT_DESIGNATED, NO_SPECIAL_PROGRAMME);
        special eligibility is not SME-bound (rules.SPECIAL_CONDITIONS). Both kinds draw on one budget.
        """
        require(OPERATOR)
        if kind not in VOUCHER_KINDS:
            raise errors.ValidationFailed(f"vouchers of kind {kind} are not issued", {"kind": [f"must be one of {VOUCHER_KINDS}"]})
        if kind == SPECIAL and designation not in DESIGNATIONS:
            raise errors.ValidationFailed("a special voucher names its designation",
                                          {"designation": [f"must be one of {', '.join(DESIGNATIONS)}"]})
        funded = self.get_year(year)
        funded.refuse_if_closed()
        voucher_id = Voucher.create_id(enterprise_id, year, kind)
        # The enterprise (cold on most servers) and the voucher that must not exist yet, in one bulk read
        # where they were two cold loads of two statements each (issue 21's profile of a served issuance).
        # What the read found absent stays absent while this issuance has the year's turn; were it not,
        # the voucher's save would still conflict.
        absent = self.repository.prefetch([Enterprise.create_id(enterprise_id), voucher_id])
        enterprise = self.get_enterprise(enterprise_id)
        enterprise.refuse_if_revoked()
        if kind == SPECIAL:
            quota_fen = funded.special_quota_for(str(designation))
            if designation not in enterprise.designations_for(year):
                raise errors.NotDesignated(f"enterprise {enterprise_id} is not designated {designation} for {year}",
                                           {"designation": designation, "designations": sorted(enterprise.designations_for(year))})
        else:
            designation = None
        failures = enterprise.eligibility_failures(kind)
        if failures:
            # The refusal is a decision too (Art. 23): recorded on the enterprise, then answered; saved
            # alone, so an Idempotency-Key records the refusal itself (CommandBase._remember_refusal).
            conditions = [{"code": c.code, "article": c.article, "message": c.message} for c in failures]
            enterprise.record_refusal(year=year, kind=kind, conditions=conditions)
            position = self._commit_many([enterprise])
            raise errors.NotEligible(f"enterprise {enterprise_id} fails Art. 5",
                                     {"conditions": conditions, "position": position})
        enterprise.refuse_without_commitment(year, funded.params.commitment_required)  # Art. 22
        if voucher_id not in absent and self._exists(voucher_id):
            raise errors.AlreadyIssued(f"enterprise {enterprise_id} already holds a {kind} voucher for {year}",
                                       {"voucher_id": str(voucher_id)})
        if kind == SPECIAL:
            voucher = Voucher(enterprise_id=enterprise_id, year=year, kind=kind, tier=designation, quota_fen=quota_fen,
                              designation=designation)
        else:
            tier = enterprise.tier
            voucher = Voucher(enterprise_id=enterprise_id, year=year, kind=kind, tier=tier,
                              quota_fen=funded.params.tier_quotas_fen[tier])
        funded.commit_quota(str(voucher.id), voucher.quota_fen, kind)
        return self._commit(voucher_data(voucher), voucher, funded, created=True)

    def voucher_ids_of_year(self, year: int) -> list[Any]:
        """Every voucher issued for the year, from the year's own stream: each issue commits its quota there.

        One indexed read of the year's events (only those are decoded), where a search of the whole
        log for the vouchers' Issued events scanned every event of every year (issue 7).
        """
        topic = get_topic(Year.QuotaCommitted)
        return [UUID(self.mapper.to_domain_event(stored).voucher_id)
                for stored in self.recorder.select_events(Year.create_id(year)) if stored.topic == topic]

    @command
    def close_year(self, year: int, progress: Callable[[int, int], None] | None = None) -> CommandResult:
        """Expire what is available and release open reservations, in chunks (Art. 18: 期满作废).

        Refused before the day after `ends_on` (YEAR_NOT_ENDED, DOMAIN.md "Stops" 4): it is irreversible.
        Closing first stops every movement of the year's money, so the list of vouchers is final;
        each chunk of vouchers, with their contracts and providers' years, is one transaction, so a
        crash leaves whole vouchers closed or untouched and a rerun finishes the job.
        """
        require(OPERATOR)
        closing = self.get_year(year)
        if closing.status == CLOSED:
            raise errors.InvalidState(f"year {year} is already closed", {"year": year})
        closing.refuse_close_before_end(self.today())
        closing.start_closing()
        self.save(closing)
        voucher_ids = self.voucher_ids_of_year(year)
        expired_fen = released = 0
        for start in range(0, len(voucher_ids), CLOSE_CHUNK):
            # Each chunk answers the totals of all its vouchers, closed now or by an interrupted earlier run.
            chunk_expired_fen, chunk_released = self._close_chunk(voucher_ids[start:start + CLOSE_CHUNK])
            expired_fen += chunk_expired_fen
            released += chunk_released
            if progress:
                progress(min(start + CLOSE_CHUNK, len(voucher_ids)), len(voucher_ids))
        closing = self.get_year(year)
        closing.close(expired_vouchers=len(voucher_ids), expired_fen=expired_fen, released_contracts=released)
        return self._commit({"year": year, "expired_vouchers": len(voucher_ids), "expired_amount": expired_fen,
                             "released_contracts": released}, closing)

    def _close_chunk(self, voucher_ids: list[Any]) -> tuple[int, int]:
        """Close these vouchers in one transaction; answer (expired fen, released contracts) of all of them."""
        for _ in range(8):
            try:
                # Load the chunk's vouchers, then their reserved contracts, then those contracts' providers'
                # years ahead, in bulk (ledger/cache.py `prefetch`): a cold process would otherwise pay two
                # round trips per aggregate, one after another. Contracts, never snapshotted, skip snapshots.
                # Each aggregate is then taken from the cache once (every get unpickles a copy).
                self.repository.prefetch(voucher_ids)
                vouchers = [self.get_voucher(v) for v in voucher_ids]
                self.repository.prefetch([UUID(c) for v in vouchers for c in v.reservations],
                                         snapshots=Contract in self.snapshotting_intervals)
                contracts: dict[str, Contract] = {c: self.repository.get(UUID(c)) for v in vouchers
                                                  for c in v.reservations}
                self.repository.prefetch(ProviderYear.create_id(c.provider_id, c.year) for c in contracts.values())
                changed: dict[Any, Any] = {}
                expired_fen = released_contracts = 0
                for voucher in vouchers:
                    if voucher.status != "active":
                        expired_fen += voucher.expired_fen
                        released_contracts += voucher.released_at_close
                        continue
                    released = 0
                    for contract_id in sorted(voucher.reservations):
                        contract = contracts[contract_id]
                        provider_year_id = ProviderYear.create_id(contract.provider_id, contract.year)
                        provider_year = changed.get(provider_year_id) or self.repository.get(provider_year_id)
                        amount = voucher.release(contract_id, YEAR_CLOSED_REASON)
                        provider_year.release(contract_id, YEAR_CLOSED_REASON)
                        contract.terminate(reason=YEAR_CLOSED_REASON, released_fen=amount)
                        changed[contract.id] = contract
                        changed[provider_year_id] = provider_year
                        released += 1
                    voucher.expire(released_contracts=released)
                    changed[voucher.id] = voucher
                    expired_fen += voucher.expired_fen
                    released_contracts += voucher.released_at_close
                if changed:
                    self._commit_many(changed.values())
                return expired_fen, released_contracts
            except IntegrityError:
                self.conflicts_retried += 1
        raise errors.ConcurrencyConflict("vouchers kept changing while the year was closing; run close again")
