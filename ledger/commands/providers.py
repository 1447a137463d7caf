"""Providers, their reviews, caps and products (Art. 7, 8, 10, 12-15)."""

from __future__ import annotations

from typing import Any

from ledger import errors
from ledger.commands.base import CommandResult, command, refuse_unknown_changes, require, require_subject
from ledger.commands.stops import PROVIDER_STOP, StopCommands
from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear
from ledger.domain.year import Year
from ledger.money import MAX_FEN, format_yuan
from ledger.rules import (
    APPROVER, CATEGORIES, GENERAL, OPERATOR, PRODUCT_REVIEW_STAGES, PROVIDER, PROVIDER_AMENDABLE, PROVIDER_REVIEW_STAGES,
    VOUCHER_KINDS,
)

PROVIDER_STAGE_ROLES = dict(PROVIDER_REVIEW_STAGES)
PRODUCT_STAGE_ROLES = dict(PRODUCT_REVIEW_STAGES)
DECISIONS = ("pass", "reject")


def refuse_unknown_decision(decision: str) -> None:
    """A review passes or rejects; anything else would be recorded as a rejection nobody made."""
    if decision not in DECISIONS:
        raise errors.ValidationFailed(f"unknown decision {decision}", {"decision": [f"must be one of {DECISIONS}"]})


def product_data(product: Product) -> dict[str, Any]:
    return {"product_id": str(product.id), "provider_id": product.provider_id, "name": product.name,
            "category": product.category, "price": product.price_fen, "description": product.description,
            "listed_years": list(product.listed_years)}


class ProviderCommands(StopCommands):
    """Provider applications and the catalogue of products."""

    @command
    def register_provider(self, code: str, name: str, registered_in_guangxi: bool, entity_type: str,
                          fixed_premises: bool, years_operating: int, core_staff_insured: int,
                          clients_last_year: int, revenue_last_year_fen: int, dishonest: bool,
                          documents: list[dict], tax_compliant: bool = False, accepts_supervision: bool = False,
                          accepts_face_value_offset: bool = False) -> CommandResult:
        """A provider applies with its facts and materials (document references, Art. 12-13).

        The declarations default to not given: an application that omits them (an older client) is
        registered, and its compliance pass names them (DOMAIN.md "Stops" 8).
        """
        actor = require(OPERATOR, PROVIDER)
        if actor.role == PROVIDER:
            require_subject(actor, code)
        provider_id = Provider.create_id(code)
        if self._exists(provider_id):
            existing = self.get_provider(code)
            existing.refuse_if_banned()
            raise errors.AlreadyExists(f"provider {code} has already applied", {"id": code})
        facts = {"registered_in_guangxi": registered_in_guangxi, "entity_type": entity_type,
                 "fixed_premises": fixed_premises, "years_operating": years_operating,
                 "core_staff_insured": core_staff_insured, "clients_last_year": clients_last_year,
                 "revenue_last_year_fen": revenue_last_year_fen, "dishonest": dishonest,
                 "tax_compliant": tax_compliant, "accepts_supervision": accepts_supervision,
                 "accepts_face_value_offset": accepts_face_value_offset}
        provider = Provider(code=code, name=name, facts=facts, documents=documents)
        failures = provider.eligibility_failures()
        return self._commit({"id": code, "name": name, "eligible": not failures,
                             "failed_conditions": [c.code for c in failures]}, provider, created=True)

    @command
    def review_provider(self, code: str, year: int, stage: str, decision: str, note: str) -> CommandResult:
        """Decide one review stage; passing the notice signs the provider for the year (Art. 14, 15)."""
        require(PROVIDER_STAGE_ROLES.get(stage, APPROVER))
        refuse_unknown_decision(decision)
        provider = self.get_provider(code)
        opened = self._get_as(Year, Year.create_id(year), "year", year)
        provider.review(year, stage, decision, note, commitment_required=opened.params.commitment_required)
        changed: list[Any] = [provider]
        if provider.is_signed_for(year) and not self._exists(ProviderYear.create_id(code, year)):
            changed.append(ProviderYear(provider_id=code, year=year, cap_fen=opened.params.provider_cap_fen))
        return self._commit({"id": code, "year": year, "stage": stage, "decision": decision,
                             "next_stage": provider.next_stage(year), "signed": provider.is_signed_for(year)},
                            *changed, created=True)

    @command
    def terminate_provider(self, code: str, reason: str, proposed_contract_ids: list[Any] | None = None) -> CommandResult:
        """Terminate a provider that concealed or falsified facts: banned for good (Art. 15 即时终止).

        In the same save, its proposed, signed and active contracts are terminated (reservations
        released) and its completed unpaid ones held (DOMAIN.md "Stops" 1; ledger/commands/stops.py).
        """
        require(APPROVER)
        provider = self.get_provider(code)
        provider.terminate(reason)
        changed: dict[Any, Any] = {provider.id: provider}
        outcome = self._stop_party("provider", code, PROVIDER_STOP.format(reason=reason), None,
                                   [str(c) for c in proposed_contract_ids or []], changed)
        return self._commit({"id": code, "status": "terminated", "reason": reason, **outcome}, *changed.values())

    @command
    def amend_provider(self, code: str, changes: dict[str, Any], reason: str, documents: list[dict]) -> CommandResult:
        """Correct a provider's facts or add materials by a recorded amendment (Art. 13, 23).

        The operator, or the provider for its own application; the facts are judged again at its
        next compliance review (a year it is already signed for stays signed).
        """
        actor = require(OPERATOR, PROVIDER)
        if actor.role == PROVIDER:
            require_subject(actor, code)
        refuse_unknown_changes(changes, PROVIDER_AMENDABLE, documents)
        provider = self.get_provider(code)
        provider.amend(changes, reason, documents)
        return self._commit({"id": code, "changed": sorted(changes), "reason": reason,
                             "eligible": not provider.eligibility_failures(),
                             "failed_conditions": [c.code for c in provider.eligibility_failures()]}, provider)

    @command
    def grant_cap_exception(self, code: str, year: int, amount_fen: int, reason: str,
                            kind: str = GENERAL) -> CommandResult:
        """Record the approver's exception to a kind's annual cap: who, why, how much, for whom (Art. 10).

        A special exception raises the special cap the programme sets; with no special cap there is
        nothing to except from, and it is still recorded (it takes effect on no reservation).
        """
        require(APPROVER)
        if kind not in VOUCHER_KINDS:
            raise errors.ValidationFailed("unknown voucher kind", {"kind": [f"must be one of {', '.join(VOUCHER_KINDS)}"]})
        if amount_fen <= 0:
            raise errors.ValidationFailed("an exception must be positive", {"amount": ["must be greater than 0.00"]})
        provider_year = self.get_provider_year(code, year)
        granted = provider_year.kind_figures(kind)["exceptions"]
        if granted + amount_fen > MAX_FEN:  # see ledger.money.MAX_FEN
            raise errors.ValidationFailed("the exceptions would exceed the largest amount the ledger keeps",
                                          {"amount": [f"exceptions may total at most {format_yuan(MAX_FEN)}"]})
        provider_year.grant_exception(amount_fen=amount_fen, reason=reason, kind=kind)
        return self._commit({"provider_id": code, "year": year, "amount": amount_fen, "reason": reason, "kind": kind,
                             "exceptions": provider_year.kind_figures(kind)["exceptions"]}, provider_year, created=True)

    @command
    def submit_product(self, provider_id: str, name: str, category: str, price_fen: int,
                       description: str) -> CommandResult:
        """A provider submits a standardised product with a transparent price (Art. 7)."""
        actor = require(PROVIDER)
        require_subject(actor, provider_id)
        if category not in CATEGORIES:  # the eleven categories of Art. 6; the share depends on it (Art. 10)
            raise errors.ValidationFailed(f"unknown category {category}", {"category": ["not a category of Art. 6"]})
        if price_fen < 0:
            raise errors.ValidationFailed("a price cannot be negative", {"price": ["must not be negative"]})
        provider = self.get_provider(provider_id)
        provider.refuse_if_banned()
        product = Product(provider_id=provider_id, name=name, category=category, price_fen=price_fen,
                          description=description)
        return self._commit(product_data(product), product, created=True)

    @command
    def review_product(self, product_id: Any, year: int, stage: str, decision: str, note: str) -> CommandResult:
        """Expert review, DIIT approval, notice; passing the notice lists it for the year (Art. 8)."""
        require(PRODUCT_STAGE_ROLES.get(stage, APPROVER))
        refuse_unknown_decision(decision)
        product = self.get_product(product_id)
        self._get_as(Year, Year.create_id(year), "year", year)
        self.get_provider(product.provider_id).refuse_if_banned()  # a banned provider's products: never listed
        product.review(year, stage, decision, note)
        return self._commit({**product_data(product), "year": year, "stage": stage, "decision": decision,
                             "next_stage": product.next_stage(year)}, product, created=True)
