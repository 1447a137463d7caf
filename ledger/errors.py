"""Refusals: one class per API error code, each with a one-line "raised when" docstring.

`web/` maps each code to an HTTP status in one table; views never build error bodies.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Raised when a command or query is refused; carries the API's code, a message and details."""

    code = "LEDGER_ERROR"

    def __init__(self, message: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.__doc__)
        self.message = message or (self.__doc__ or "").strip()
        self.details = details or {}


class ValidationFailed(LedgerError):
    """Raised when input is malformed or a field is invalid (details: field -> messages)."""

    code = "VALIDATION_ERROR"


class Unauthenticated(LedgerError):
    """Raised when no token, or an unknown, revoked or expired one, is presented."""

    code = "UNAUTHENTICATED"


class Forbidden(LedgerError):
    """Raised when the actor's role may not do this, or the subject is not its own."""

    code = "FORBIDDEN"


class NotFound(LedgerError):
    """Raised when an id names nothing the ledger knows."""

    code = "NOT_FOUND"


class AlreadyExists(LedgerError):
    """Raised when something with this natural key is already recorded."""

    code = "ALREADY_EXISTS"


class AlreadyIssued(LedgerError):
    """Raised when the enterprise already holds a voucher of this kind for the year (Art. 2, 16)."""

    code = "ALREADY_ISSUED"


class AlreadyClaimed(LedgerError):
    """Raised when a contract is already claimed in a settlement batch (Art. 20: settled at most once)."""

    code = "ALREADY_CLAIMED"


class InvalidState(LedgerError):
    """Raised when the subject is not in a state that allows this step."""

    code = "INVALID_STATE"


class ConcurrencyConflict(LedgerError):
    """Raised when concurrent commands kept changing the same aggregates and retries ran out.

    Answered 503 SERVICE_UNAVAILABLE with Retry-After (web/errors.py), a status API.md's clients already
    retry: nothing was recorded, so sending the same request again is safe (README "Retries")."""

    code = "SERVICE_UNAVAILABLE"


class StaleRead(ConcurrencyConflict):
    """Raised when aggregates loaded one after another disagree (a contract holding a reservation its voucher
    or provider year no longer shows): another command committed in between, so the command is retried
    like a version conflict, and answered SERVICE_UNAVAILABLE only if that keeps happening."""


class IdempotencyKeyReused(LedgerError):
    """Raised when an Idempotency-Key is presented again with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"


class ParameterAboveCeiling(LedgerError):
    """Raised when a year's parameter is looser than the measures' ceiling (Art. 9, 10, 17)."""

    code = "PARAMETER_ABOVE_CEILING"


class NotEligible(LedgerError):
    """Raised when an enterprise (Art. 5) or provider (Art. 12) fails eligibility; details list every condition."""

    code = "NOT_ELIGIBLE"


class BudgetExhausted(LedgerError):
    """Raised when the year's allocated budget cannot cover another voucher's quota (Art. 11, 16)."""

    code = "BUDGET_EXHAUSTED"


class HolderRevoked(LedgerError):
    """Raised when the enterprise's eligibility was revoked by a sanction (Art. 25)."""

    code = "HOLDER_REVOKED"


class YearClosed(LedgerError):
    """Raised when money would move into or out of a closed year's vouchers (Art. 18: 期满作废)."""

    code = "YEAR_CLOSED"


class YearNotStarted(LedgerError):
    """Raised when money would be reserved before the year's window opens (Art. 18)."""

    code = "YEAR_NOT_STARTED"


class YearEnded(LedgerError):
    """Raised when money would be reserved after the year's window ended (Art. 18)."""

    code = "YEAR_ENDED"


class VoucherExhausted(LedgerError):
    """Raised when the voucher has no available money left, or less than asked (Art. 18: 用完为止)."""

    code = "VOUCHER_EXHAUSTED"


class SubsidyAboveShare(LedgerError):
    """Raised when the subsidy asked exceeds the category's share of the contract amount (Art. 10)."""

    code = "SUBSIDY_ABOVE_SHARE"


class ProviderNotSigned(LedgerError):
    """Raised when the provider is not a signed provider for the voucher's year (Art. 14, 15)."""

    code = "PROVIDER_NOT_SIGNED"


class ProductNotListed(LedgerError):
    """Raised when the product is not in the year's catalogue, or not the provider's (Art. 7, 8)."""

    code = "PRODUCT_NOT_LISTED"


class ProviderCapExceeded(LedgerError):
    """Raised when the provider's annual cap plus granted exceptions would be exceeded (Art. 10)."""

    code = "PROVIDER_CAP_EXCEEDED"


class WrongAmount(LedgerError):
    """Raised when a payment is not exactly the amount due (Art. 17: deposit; completion balance)."""

    code = "WRONG_AMOUNT"


class StageOutOfOrder(LedgerError):
    """Raised when a review stage is decided before the stages that must precede it (Art. 8, 14)."""

    code = "STAGE_OUT_OF_ORDER"


class ProviderBanned(LedgerError):
    """Raised when a terminated provider applies or is reviewed again: banned for good (Art. 15, 25)."""

    code = "PROVIDER_BANNED"


class ContractNotCompleted(LedgerError):
    """Raised when a settlement claim names a contract that is not completed and claimable (Art. 19-20)."""

    code = "CONTRACT_NOT_COMPLETED"


class ClaimsPending(LedgerError):
    """Raised when a settlement plan is approved while claims still await review (Art. 20)."""

    code = "CLAIMS_PENDING"


class NoticePending(LedgerError):
    """Raised when a batch is paid before its public notice (公示) ended with no objection (Art. 20)."""

    code = "NOTICE_PENDING"


class SegregationOfDuties(LedgerError):
    """Raised when an actor would approve, pay or sanction what they themselves claimed, reviewed or filed."""

    code = "SEGREGATION_OF_DUTIES"


class YearMismatch(LedgerError):
    """Raised when a settlement claim names a contract of another year than the batch's (Art. 18-19: no use across years)."""

    code = "YEAR_MISMATCH"


class RecoveryAboveReceivable(LedgerError):
    """Raised when more is recorded as recovered than the provider owes after a clawback (Art. 25)."""

    code = "RECOVERY_ABOVE_RECEIVABLE"


class YearOutOfRange(LedgerError):
    """Raised when a year's window leaves its calendar year, or the year is not last, this or next year (Art. 18)."""

    code = "YEAR_OUT_OF_RANGE"


class YearNotEnded(LedgerError):
    """Raised when a year is closed before the day after its window ends (Art. 18: 过期自动失效)."""

    code = "YEAR_NOT_ENDED"


class SubsidyZero(LedgerError):
    """Raised when a contract would be signed with no subsidy at all (Art. 10: the contract is the unit of subsidy)."""

    code = "SUBSIDY_ZERO"


class PriceAboveList(LedgerError):
    """Raised when a contract's amount exceeds the product's listed price times its quantity (Art. 7, 25(2))."""

    code = "PRICE_ABOVE_LIST"


class RelatedParty(LedgerError):
    """Raised when an enterprise would contract with itself: one credit code on both sides (Art. 25(2))."""

    code = "RELATED_PARTY"


class DocumentsMissing(LedgerError):
    """Raised when a provider's compliance pass lacks a document of a required kind (Art. 13); details: the kinds."""

    code = "DOCUMENTS_MISSING"
class PartyTerminated(LedgerError):
    """Raised when a command acts on a contract of a terminated provider or a revoked enterprise (Art. 15, 25)."""

    code = "PARTY_TERMINATED"


class ContractHeld(LedgerError):
    """Raised when a held contract (冻结: its party terminated or revoked) is claimed, approved or paid (Art. 15, 25)."""

    code = "CONTRACT_HELD"


class AlreadySettled(LedgerError):
    """Raised when a paid contract would fail acceptance: only a sanction case (clawback) reaches it (Art. 25, 28)."""

    code = "ALREADY_SETTLED"


class ObjectionUnresolved(LedgerError):
    """Raised when a contract disputed at the public notice is claimed or paid before the approver resolved it (Art. 20)."""

    code = "OBJECTION_UNRESOLVED"


class BatchLimit(LedgerError):
    """Raised when a year would get more settlement batches than its `settlement_batches` (Art. 19: 1-2 a year)."""

    code = "BATCH_LIMIT"


class NotDesignated(LedgerError):
    """Raised when a special voucher is asked for a subject not designated so for the year (Art. 5(二), 9(二))."""

    code = "NOT_DESIGNATED"


class NoSpecialProgramme(LedgerError):
    """Raised when a special voucher is asked before the year's special programme sets a quota for its designation (Art. 9(二))."""

    code = "NO_SPECIAL_PROGRAMME"


class CategoryOutOfScope(LedgerError):
    """Raised when a special voucher would pay for a category outside the year's special programme (Art. 6(二))."""

    code = "CATEGORY_OUT_OF_SCOPE"


class CommitmentMissing(LedgerError):
    """Raised when the year requires a credit commitment (信用承诺) the enterprise or provider has not made (Art. 22)."""

    code = "COMMITMENT_MISSING"


def recorded_refusal(code: str, message: str, details: dict[str, Any]) -> LedgerError:
    """The refusal first given to a request, raised again for its repeated Idempotency-Key."""
    for cls in _all_subclasses(LedgerError):
        if cls.code == code:
            return cls(message, details)
    refusal = LedgerError(message, details)
    refusal.code = code
    return refusal


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def error_classes() -> list[type[LedgerError]]:
    """Every refusal's class (for the OpenAPI document's examples and the codes it declares)."""
    return _all_subclasses(LedgerError)
