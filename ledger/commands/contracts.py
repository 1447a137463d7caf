"""Contracts: reservation at signing, deduction at completion, release at termination (Art. 10, 17, 18, 28)."""

from __future__ import annotations

from typing import Any

from ledger import errors
from ledger.commands.base import CommandResult, command, require, require_subject
from ledger.commands.stops import StopCommands
from ledger.domain.contract import RESERVING, Contract, refuse_zero_subsidy, split_amount
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.money import format_share, format_yuan, share_of
from ledger.rules import APPROVER, ENTERPRISE, OPERATOR, PROVIDER, SPECIAL, SUPERVISOR

MAX_QUANTITY = 10_000  # units of one standardised product in one contract; more is a typo, not a purchase


def contract_data(contract: Contract) -> dict[str, Any]:
    return {
        "contract_id": str(contract.id), "status": contract.status, "voucher_id": contract.voucher_id,
        "enterprise_id": contract.enterprise_id, "provider_id": contract.provider_id,
        "product_id": contract.product_id, "year": contract.year, "category": contract.category,
        "amount": contract.amount_fen, "subsidy": contract.subsidy_fen, "deposit": contract.deposit_fen,
        "balance_due": contract.balance_due_fen, "deposit_paid": contract.deposit_paid_fen,
        "balance_paid": contract.balance_paid_fen, "settled": contract.settled, "quantity": contract.quantity,
        "hold": None if contract.hold is None else {"reason": contract.hold["reason"]},
        "dispute": contract.dispute, "acceptance": contract.acceptance,
    }


class ContractCommands(StopCommands):
    """The enterprise proposes; the provider signs; the enterprise pays and confirms."""

    @command
    def propose_contract(self, voucher_id: Any, provider_id: str, product_id: Any, amount_fen: int,
                         subsidy_fen: int | None = None, quantity: int = 1) -> CommandResult:
        """The holder proposes a contract for `quantity` of a product with a provider (Art. 7, 17, 25(2))."""
        actor = require(ENTERPRISE)
        voucher = self.get_voucher(voucher_id)
        require_subject(actor, voucher.enterprise_id)
        refuse_bad_amounts(amount_fen, subsidy_fen)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
            raise errors.ValidationFailed("the quantity is a whole number of at least 1",
                                          {"quantity": [f"must be an integer from 1 to {MAX_QUANTITY}"]})
        self.get_year(voucher.year).refuse_if_closed()
        self.get_enterprise(voucher.enterprise_id).refuse_if_revoked()
        self.refuse_if_provider_terminated(provider_id)
        product = self.get_product(product_id)
        contract = Contract.propose(voucher_id=str(voucher.id), enterprise_id=voucher.enterprise_id,
                                    provider_id=provider_id, product_id=str(product.id), year=voucher.year,
                                    category=product.category, amount_fen=amount_fen, subsidy_asked_fen=subsidy_fen,
                                    product_price_fen=product.price_fen, quantity=quantity)
        return self._commit(contract_data(contract), contract, created=True)

    @command
    def sign_contract(self, contract_id: Any) -> CommandResult:
        """The provider signs: the subsidy is reserved on the voucher and on the provider's year.

        subsidy = min(share × amount, available), or the smaller amount asked, rounded down to the
        fen (Art. 10, 17); saved with the voucher and the provider's year in one transaction.
        """
        actor = require(PROVIDER)
        contract = self.get_contract(contract_id)
        require_subject(actor, contract.provider_id)
        self.prefetch_parties(contract, product=True)
        self.refuse_if_provider_terminated(contract.provider_id, str(contract.id))  # a revoked holder: HOLDER_REVOKED
        contract.refuse_unless_proposed()
        voucher = self.get_voucher(contract.voucher_id)
        year = self.get_year(contract.year)
        year.refuse_outside_window(self.today())
        self.get_enterprise(contract.enterprise_id).refuse_if_revoked()
        provider = self.get_provider(contract.provider_id)
        if not provider.is_signed_for(contract.year):
            raise errors.ProviderNotSigned(f"provider {contract.provider_id} is not signed for {contract.year}",
                                           {"provider_id": contract.provider_id, "year": contract.year})
        product = self.get_product(contract.product_id)
        if product.provider_id != contract.provider_id or not product.is_listed_for(contract.year):
            raise errors.ProductNotListed(f"the product is not in the {contract.year} catalogue of this provider",
                                          {"product_id": contract.product_id, "year": contract.year})
        if voucher.kind == SPECIAL:  # Art. 6(二): a special voucher pays only for the programme's categories
            year.refuse_category_out_of_scope(contract.category)
        params = year.params
        share_bp, _, subsidy = reservable_subsidy(year, voucher, contract.category, contract.amount_fen,
                                                  contract.subsidy_asked_fen)
        voucher.refuse_unless_available(subsidy)
        contract.refuse_zero_subsidy(subsidy, share_bp)
        provider_year: ProviderYear = self.get_provider_year(contract.provider_id, contract.year)
        provider_year.reserve(str(contract.id), subsidy, voucher.kind, year.special_provider_cap_fen)
        cap = ({"cap": provider_year.special_cap_fen, "exceptions": provider_year.special_exceptions_fen}
               if voucher.kind == SPECIAL else {"cap": provider_year.cap_fen, "exceptions": provider_year.exceptions_fen})
        voucher_available = voucher.available_fen
        voucher.reserve(str(contract.id), subsidy, share_bp, contract.amount_fen)
        split = split_amount(contract.amount_fen, subsidy, params.deposit_share_bp)
        contract.sign(subsidy_fen=split.subsidy_fen, deposit_fen=split.deposit_fen,
                      balance_due_fen=split.balance_due_fen, share_bp=share_bp,
                      deposit_share_bp=params.deposit_share_bp, voucher_available_fen=voucher_available,
                      provider_cap_fen=cap["cap"], provider_exceptions_fen=cap["exceptions"])
        return self._commit(contract_data(contract), contract, voucher, provider_year)

    @command
    def pay_deposit(self, contract_id: Any, amount_fen: int) -> CommandResult:
        """The enterprise pays the deposit, exactly the deposit share of the amount (Art. 17)."""
        actor = require(ENTERPRISE)
        contract = self.get_contract(contract_id)
        require_subject(actor, contract.enterprise_id)
        self.refuse_if_party_stopped(contract)
        contract.pay_deposit(amount_fen)
        self.get_year(contract.year).refuse_outside_window(self.today())  # Art. 18; DOMAIN.md "Stops" 3
        return self._commit(contract_data(contract), contract)

    @command
    def complete_contract(self, contract_id: Any, balance_paid_fen: int) -> CommandResult:
        """The enterprise pays amount − deposit − subsidy and confirms: the reservation is used."""
        actor = require(ENTERPRISE)
        contract = self.get_contract(contract_id)
        require_subject(actor, contract.enterprise_id)
        self.prefetch_parties(contract)
        self.refuse_if_party_stopped(contract)
        contract.complete(balance_paid_fen)
        self.get_year(contract.year).refuse_outside_window(self.today())  # Art. 18; DOMAIN.md "Stops" 3
        voucher = self.get_voucher(contract.voucher_id)
        provider_year = self.get_provider_year(contract.provider_id, contract.year)
        voucher.use(str(contract.id))
        provider_year.use(str(contract.id))
        return self._commit(contract_data(contract), contract, voucher, provider_year)

    @command
    def terminate_contract(self, contract_id: Any, reason: str) -> CommandResult:
        """A contract that cannot be completed is terminated and its reservation released (Art. 28)."""
        actor = require(OPERATOR, ENTERPRISE, PROVIDER)
        contract = self.get_contract(contract_id)
        if actor.role == ENTERPRISE:
            require_subject(actor, contract.enterprise_id)
        elif actor.role == PROVIDER:
            require_subject(actor, contract.provider_id)
        contract.refuse_termination()
        changed: list[Any] = [contract]
        released = 0
        if contract.status in RESERVING:
            voucher = self.get_voucher(contract.voucher_id)
            provider_year = self.get_provider_year(contract.provider_id, contract.year)
            released = voucher.release(str(contract.id), reason)
            provider_year.release(str(contract.id), reason)
            changed += [voucher, provider_year]
        contract.terminate(reason=reason, released_fen=released)
        return self._commit(contract_data(contract), *changed)

    @command
    def record_acceptance(self, contract_id: Any, result: str, findings: str,
                          documents: list[dict] | None = None) -> CommandResult:
        """The operator or the supervisor records an acceptance check (验收, Art. 21, 28; DOMAIN.md "Stops" 5).

        Failed: the contract becomes `failed_acceptance`, leaves any claim not being paid, and its
        subsidy leaves `used` (ledger/commands/stops.py). A paid contract: 409 ALREADY_SETTLED.
        """
        require(OPERATOR, SUPERVISOR)
        if not findings.strip():
            raise errors.ValidationFailed("an acceptance check records its findings", {"findings": ["must not be blank"]})
        contract = self.get_contract(contract_id)
        changed: dict[Any, Any] = {contract.id: contract}
        self._check_acceptance(contract, result, findings, list(documents or []), "check", changed)
        return self._commit(contract_data(contract), *changed.values())

    @command
    def release_hold(self, contract_id: Any, reason: str, documents: list[dict] | None = None) -> CommandResult:
        """The approver ends a hold: the service was truly delivered, the contract is claimable again (Stops 1)."""
        require(APPROVER)
        if not reason.strip():
            raise errors.ValidationFailed("a release says why", {"reason": ["must not be blank"]})
        contract = self.get_contract(contract_id)
        contract.refuse_hold_release()
        contract.release_hold(reason=reason, documents=list(documents or []))
        return self._commit(contract_data(contract), contract)

    def preview_subsidy(self, voucher_id: Any, product_id: Any, amount_fen: int,
                        subsidy_fen: int | None = None) -> dict[str, Any]:
        """What the provider's signature would reserve for a proposal (Art. 10, 17), before it is proposed.

        The same rule as `sign_contract`: the year's share of the amount for the product's category, at
        most what the voucher has available, or the smaller amount asked; refused as signing would be
        (SUBSIDY_ABOVE_SHARE, VOUCHER_EXHAUSTED, PRODUCT_NOT_LISTED for the voucher's year, CATEGORY_OUT_OF_SCOPE for a
        special voucher, SUBSIDY_ZERO), and
        its amounts as proposing would (VALIDATION_ERROR). A query: who may read it is web/'s (the voucher's reader).
        """
        voucher = self.get_voucher(voucher_id)
        refuse_bad_amounts(amount_fen, subsidy_fen)  # as proposing would: a preview of 0.00 is no contract
        product = self.get_product(product_id)
        if not product.is_listed_for(voucher.year):  # Art. 7-8: the signature would refuse it (PRODUCT_NOT_LISTED)
            raise errors.ProductNotListed(f"the product is not in the {voucher.year} catalogue",
                                          {"product_id": str(product.id), "year": voucher.year})
        year = self.get_year(voucher.year)
        if voucher.kind == SPECIAL:  # Art. 6(二): the signature would refuse it, so the preview does
            year.refuse_category_out_of_scope(product.category)
        share_bp, share_cap, subsidy = reservable_subsidy(year, voucher, product.category, amount_fen, subsidy_fen)
        voucher.refuse_unless_available(subsidy)
        refuse_zero_subsidy(amount_fen, subsidy, share_bp)
        return {"voucher_id": str(voucher.id), "product_id": str(product.id), "category": product.category,
                "amount": amount_fen, "share": format_share(share_bp), "share_maximum": share_cap,
                "available": voucher.available_fen, "asked": subsidy_fen, "subsidy": subsidy}


def refuse_bad_amounts(amount_fen: int, subsidy_fen: int | None) -> None:
    """A contract's amount is positive and a subsidy asked lies within it (VALIDATION_ERROR), when it is
    proposed and when its subsidy is previewed."""
    if amount_fen <= 0:
        raise errors.ValidationFailed("the contract amount must be positive", {"amount": ["must be greater than 0.00"]})
    if subsidy_fen is not None and not 0 < subsidy_fen <= amount_fen:
        raise errors.ValidationFailed("the subsidy asked must be positive and within the amount",
                                      {"subsidy": ["must be greater than 0.00 and at most the amount"]})


def reservable_subsidy(year: Year, voucher: Voucher, category: str, amount_fen: int,
                       asked_fen: int | None) -> tuple[int, int, int]:
    """(share in basis points, the share's maximum, the subsidy) a signature reserves (Art. 10, 17).

    subsidy = min(share × amount, available), or the smaller amount asked, rounded down to the fen;
    an amount asked above the share is refused (SUBSIDY_ABOVE_SHARE).
    """
    share_bp = year.params.share_for(category)
    share_cap = share_of(amount_fen, share_bp)
    if asked_fen is not None and asked_fen > share_cap:
        raise errors.SubsidyAboveShare(
            f"the subsidy may be at most {format_yuan(share_cap)} yuan (Art. 10)",
            {"asked": format_yuan(asked_fen), "share": share_bp, "maximum": format_yuan(share_cap)},
        )
    return share_bp, share_cap, asked_fen if asked_fen is not None else min(share_cap, voucher.available_fen)
