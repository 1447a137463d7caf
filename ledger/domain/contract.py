"""Contracts (服务合同): one service item, the unit of subsidy (Art. 10, 17, 18, 20, 25, 28).

Figures always add up: deposit + subsidy + balance = amount. A contract is settled at most once,
and never when terminated or clawed back.
"""

from __future__ import annotations

from typing import NamedTuple

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate
from ledger.domain.case import CLAWED_BACK as CASE_CLAWED_BACK
from ledger.domain.case import RECEIVABLE as CASE_RECEIVABLE
from ledger.domain.case import RELEASED as CASE_RELEASED
from ledger.domain.case import STOPPED as CASE_STOPPED
from ledger.money import format_yuan, share_of
from ledger.rules import SURVEY_SCORES

PROPOSED, SIGNED, ACTIVE, COMPLETED, TERMINATED, CLAWED_BACK = (
    "proposed", "signed", "active", "completed", "terminated", "clawed_back",
)
# Stops (DOMAIN.md "Stops" 1, 5): a completed contract of a terminated provider or revoked enterprise
# is held (冻结); one that failed acceptance (验收不通过) is never paid.
HELD, FAILED_ACCEPTANCE = "held", "failed_acceptance"
RESERVING = (SIGNED, ACTIVE)  # states holding a reservation on the voucher
USING = (COMPLETED, HELD)  # states whose subsidy is used on the voucher and live on the provider's year
# States of a delivered (completed) service, later held, failed at acceptance or clawed back: surveyed, catalogued.
DELIVERED = (*USING, FAILED_ACCEPTANCE, CLAWED_BACK)
PASSED, FAILED = "passed", "failed"
# A claim's dispute at the public notice (Art. 20) and its resolution by the approver.
DISPUTE_OPEN, UPHELD, DISMISSED = "open", "upheld", "dismissed"


class Split(NamedTuple):
    """How a contract's amount is paid: subsidy + deposit + balance = amount (Art. 10, 17)."""

    subsidy_fen: int
    deposit_fen: int
    balance_due_fen: int


def split_amount(amount_fen: int, subsidy_fen: int, deposit_share_bp: int) -> Split:
    """The deposit is its share of the amount, rounded down (Art. 17); the enterprise pays the rest
    after the subsidy as the balance, so the three always add up to the amount."""
    deposit_fen = share_of(amount_fen, deposit_share_bp)
    return Split(subsidy_fen, deposit_fen, amount_fen - deposit_fen - subsidy_fen)


class Contract(LedgerAggregate):
    """An electronic contract between a voucher holder and a signed provider for a listed product."""

    @classmethod
    def propose(cls, voucher_id: str, enterprise_id: str, provider_id: str, product_id: str, year: int,
                category: str, amount_fen: int, subsidy_asked_fen: int | None, product_price_fen: int,
                quantity: int = 1) -> "Contract":
        """Propose a contract: within the product's listed price, never with oneself (Art. 7, 25(2)).

        The amount is at most price × quantity (提高合同金额 is a violation of Art. 25(2)); one credit
        code as enterprise and as provider would be a transaction with oneself.
        """
        if enterprise_id == provider_id:
            raise errors.RelatedParty(f"enterprise {enterprise_id} may not contract with itself as provider",
                                      {"enterprise_id": enterprise_id, "provider_id": provider_id})
        listed_fen = product_price_fen * quantity
        if amount_fen > listed_fen:
            raise errors.PriceAboveList(
                f"the amount may be at most {format_yuan(listed_fen)} yuan: the listed price × quantity (Art. 7)",
                {"amount": format_yuan(amount_fen), "price": format_yuan(product_price_fen), "quantity": quantity,
                 "maximum": format_yuan(listed_fen)},
            )
        return cls(voucher_id=voucher_id, enterprise_id=enterprise_id, provider_id=provider_id,
                   product_id=product_id, year=year, category=category, amount_fen=amount_fen,
                   subsidy_asked_fen=subsidy_asked_fen, product_price_fen=product_price_fen, quantity=quantity)

    @event("Proposed")
    def __init__(self, voucher_id: str, enterprise_id: str, provider_id: str, product_id: str, year: int,
                 category: str, amount_fen: int, subsidy_asked_fen: int | None, product_price_fen: int,
                 quantity: int = 1) -> None:
        self.voucher_id = voucher_id
        self.enterprise_id = enterprise_id
        self.provider_id = provider_id
        self.product_id = product_id
        self.year = year
        self.category = category
        self.amount_fen = amount_fen
        self.subsidy_asked_fen = subsidy_asked_fen
        self.product_price_fen = product_price_fen
        self.quantity = quantity
        self.subsidy_fen = 0
        self.deposit_fen = 0
        self.balance_due_fen = 0
        self.deposit_paid_fen = 0
        self.balance_paid_fen = 0
        self.status = PROPOSED
        self.claim: dict | None = None  # {"batch_id", "claim_id"} while claimed in a batch
        self.settlement: dict | None = None  # {"batch_id", "reference"} once paid (兑现确认)
        self.receivable_fen = 0
        self.hold: dict | None = None  # {"reason", "since_position"?, "party"} while held
        self.dispute: dict | None = None  # {"batch_id", "status"} once an objection named it
        self.acceptance: dict | None = None  # the last acceptance check {"result", "findings"}

    @property
    def settled(self) -> bool:
        return self.settlement is not None

    def _refuse_unless(self, *states: str) -> None:
        if self.status not in states:
            raise errors.InvalidState(f"the contract is {self.status}", {"status": self.status, "expected": list(states)})

    @event("Signed")
    def sign(self, subsidy_fen: int, deposit_fen: int, balance_due_fen: int, share_bp: int,
             deposit_share_bp: int, voucher_available_fen: int, provider_cap_fen: int,
             provider_exceptions_fen: int) -> None:
        """Signed by the provider: the subsidy is reserved; the rule parameters applied are kept."""
        self.subsidy_fen = subsidy_fen
        self.deposit_fen = deposit_fen
        self.balance_due_fen = balance_due_fen
        self.status = SIGNED

    def refuse_zero_subsidy(self, subsidy_fen: int, share_bp: int) -> None:
        """A contract is the unit of subsidy (Art. 10): one that would reserve nothing is not signed.

        Checked after VOUCHER_EXHAUSTED: a voucher with nothing left says so; this refuses a contract
        whose share comes to nothing on a voucher that still has money (a share of 0, or an amount so
        small the share rounds down to 0 fen).
        """
        refuse_zero_subsidy(self.amount_fen, subsidy_fen, share_bp)

    def refuse_unless_proposed(self) -> None:
        self._refuse_unless(PROPOSED)

    def pay_deposit(self, amount_fen: int) -> None:
        """The enterprise pays the deposit of Art. 17, exactly."""
        self._refuse_unless(SIGNED)
        if amount_fen != self.deposit_fen:
            raise errors.WrongAmount(
                f"the deposit is {format_yuan(self.deposit_fen)} yuan",
                {"expected": format_yuan(self.deposit_fen), "paid": format_yuan(amount_fen)},
            )
        self._deposit_paid(amount_fen=amount_fen)

    @event("DepositPaid")
    def _deposit_paid(self, amount_fen: int) -> None:
        self.deposit_paid_fen = amount_fen
        self.status = ACTIVE

    def complete(self, balance_paid_fen: int) -> None:
        """The enterprise pays the rest and signs the service confirmation (服务确认书)."""
        self._refuse_unless(ACTIVE)
        if balance_paid_fen != self.balance_due_fen:
            raise errors.WrongAmount(
                f"the balance due is {format_yuan(self.balance_due_fen)} yuan",
                {"expected": format_yuan(self.balance_due_fen), "paid": format_yuan(balance_paid_fen)},
            )
        self._completed(balance_paid_fen=balance_paid_fen, subsidy_used_fen=self.subsidy_fen)

    @event("Completed")
    def _completed(self, balance_paid_fen: int, subsidy_used_fen: int) -> None:
        self.balance_paid_fen = balance_paid_fen
        self.status = COMPLETED

    def refuse_termination(self) -> None:
        self._refuse_unless(PROPOSED, SIGNED, ACTIVE)

    def terminate(self, reason: str, released_fen: int) -> None:
        """Cannot be completed and accepted (Art. 28): the reservation is released; never settled.

        The event records the deposit the enterprise had paid: its return is between the parties (Art. 28).
        """
        self._terminated(reason=reason, released_fen=released_fen, deposit_paid_fen=self.deposit_paid_fen)

    @event("Terminated")
    def _terminated(self, reason: str, released_fen: int, deposit_paid_fen: int = 0) -> None:
        self.status = TERMINATED

    @property
    def claimable(self) -> bool:
        return self.status == COMPLETED and self.claim is None and not self.settled and not self.disputed

    def refuse_unclaimable(self, batch_year: int) -> None:
        """Claimable in a batch of `batch_year`: completed, of that year, never claimed or settled (Art. 18-20, 25, 28)."""
        if self.year != batch_year:
            raise errors.YearMismatch(f"the contract is of {self.year}, the batch settles {batch_year}",
                                      {"contract_id": str(self.id), "contract_year": self.year,
                                       "batch_year": batch_year})
        self.refuse_if_held()
        if self.disputed:
            raise errors.ObjectionUnresolved("an objection at a public notice disputes this contract (Art. 20)",
                                             {"contract_id": str(self.id), **(self.dispute or {})})
        if self.status == COMPLETED and self.settled:
            raise errors.AlreadyClaimed("the contract is already settled (settled at most once, Art. 20)",
                                        {"contract_id": str(self.id), **(self.settlement or {})})
        if self.status == COMPLETED and self.claim is not None:
            raise errors.AlreadyClaimed("the contract is already claimed in a settlement batch",
                                        {"contract_id": str(self.id), **self.claim})
        if not self.claimable:
            raise errors.ContractNotCompleted(
                f"the contract is {self.status}: only completed contracts are settled (Art. 20, 25, 28)",
                {"contract_id": str(self.id), "status": self.status})

    def clawback_outcome(self) -> str:
        """What a sanction's clawback does to this contract (Art. 25; DOMAIN.md "Sanctions"): a proposal
        is stopped, a reservation released, used subsidy clawed back, and owed back (a receivable)
        once it was settled. Nothing is left to claw back from any other state."""
        if self.status == PROPOSED:
            return CASE_STOPPED
        if self.status in RESERVING:
            return CASE_RELEASED
        if self.status in USING:
            return CASE_RECEIVABLE if self.settled else CASE_CLAWED_BACK
        raise errors.InvalidState(f"contract {self.id} is {self.status}: nothing is left to claw back",
                                  {"contract_id": str(self.id), "status": self.status})

    @property
    def disputed(self) -> bool:
        """An objection at a public notice named it and the approver has not resolved it yet (Art. 20)."""
        return (self.dispute or {}).get("status") == DISPUTE_OPEN

    # --- stops (DOMAIN.md "Stops" 1, 5, 6) -----------------------------------------------------------

    def refuse_if_held(self) -> None:
        """Claim, approval and payment refuse a held contract (Stops 1)."""
        if self.status == HELD:
            raise errors.ContractHeld("the contract is held (冻结): its party was terminated or revoked",
                                      {"contract_id": str(self.id), "hold": dict(self.hold or {})})

    @event("Held")
    def place_hold(self, reason: str, party: str, case_id: str | None) -> None:
        """A completed, unpaid contract of a terminated provider or revoked enterprise is held (Art. 15, 25)."""
        self.status = HELD
        self.hold = {"reason": reason, "party": party, "case_id": case_id}

    def refuse_hold_release(self) -> None:
        self._refuse_unless(HELD)

    @event("HoldReleased")
    def release_hold(self, reason: str, documents: list) -> None:
        """The approver found the service truly delivered: the contract is claimable again."""
        self.status = COMPLETED
        self.hold = None

    def refuse_acceptance(self, result: str) -> None:
        """Acceptance is checked on a completed (or held) contract; a paid one needs a sanction case."""
        if result not in (PASSED, FAILED):
            raise errors.ValidationFailed("an acceptance check passes or fails",
                                          {"result": [f"must be {PASSED} or {FAILED}"]})
        if self.settled and self.status in USING:
            raise errors.AlreadySettled("the contract is already paid: a failed acceptance needs a sanction case "
                                        "(clawback, Art. 25)", {"contract_id": str(self.id), **(self.settlement or {})})
        self._refuse_unless(*USING)

    @event("AcceptanceChecked")
    def record_acceptance(self, result: str, findings: str, documents: list, source: str) -> None:
        """An acceptance check (验收, Art. 21, 28): passed, or failed with its findings.

        `source` says where the decision came from: `check` (the operator's or supervisor's
        check), `claim_review` (a claim rejected as acceptance failure) or `objection` (an
        objection upheld by the approver).
        """
        self.acceptance = {"result": result, "findings": findings, "source": source}

    @event("AcceptanceFailed")
    def fail_acceptance(self, amount_fen: int, returned_to: str) -> None:
        """Failed acceptance: never claimable or payable; its subsidy left `used` for `returned_to`."""
        self.status = FAILED_ACCEPTANCE
        self.hold = None
        self.claim = None

    @event("Disputed")
    def mark_disputed(self, batch_id: str, claim_id: str, note: str) -> None:
        """An objection at the public notice named this contract (Art. 20); its claim is held."""
        self.dispute = {"batch_id": batch_id, "claim_id": claim_id, "status": DISPUTE_OPEN}

    @event("DisputeResolved")
    def resolve_dispute(self, batch_id: str, decision: str, note: str) -> None:
        """The approver's resolution: upheld (fails acceptance) or dismissed (paid with its batch)."""
        self.dispute = {**(self.dispute or {}), "status": decision}

    @event("Claimed")
    def mark_claimed(self, batch_id: str, claim_id: str) -> None:
        self.claim = {"batch_id": batch_id, "claim_id": claim_id}

    @event("ClaimReleased")
    def release_claim(self, batch_id: str, claim_id: str, reason: str) -> None:
        """A rejected or objected claim frees the contract for a later batch.

        A contract that leaves a claim while disputed there (it was held or failed meanwhile) takes
        its open dispute with it: nothing is left for the approver to resolve in that batch, and a
        hold released later is the approver's own decision on the contract.
        """
        self.claim = None
        if self.disputed and (self.dispute or {}).get("batch_id") == batch_id:
            self.dispute = {**(self.dispute or {}), "status": "withdrawn"}

    @event("Settled")
    def settle(self, batch_id: str, reference: str, amount_fen: int) -> None:
        """Redeemed (兑现确认) and paid to the provider in a settlement batch (Art. 20)."""
        self.settlement = {"batch_id": batch_id, "reference": reference}
        self.claim = None

    def record_survey(self, score: int, comments: str) -> None:
        """A satisfaction survey (满意度调查) of a completed contract, once (Art. 18(二)); kept on the contract."""
        if score not in SURVEY_SCORES:
            raise errors.ValidationFailed("a survey scores 1 to 5", {"score": [f"must be one of {SURVEY_SCORES}"]})
        if self.status not in DELIVERED:
            raise errors.ContractNotCompleted(f"the contract is {self.status}: only a completed service is surveyed",
                                              {"contract_id": str(self.id), "status": self.status})
        if getattr(self, "survey", None) is not None:
            raise errors.AlreadyExists("the contract's survey is already recorded",
                                       {"contract_id": str(self.id), **(self.survey or {})})
        self._surveyed(score=score, comments=comments)

    @event("SurveyRecorded")
    def _surveyed(self, score: int, comments: str) -> None:
        """The enterprise's satisfaction with the service, 1-5, asked by the operator (Art. 18(二))."""
        self.survey = {"score": score}

    @event("ClawedBack")
    def claw_back(self, case_id: str, amount_fen: int, receivable_fen: int, previous_status: str) -> None:
        """A sanction takes the used subsidy back (Art. 25); if already paid, the provider owes it."""
        self.status = CLAWED_BACK
        self.receivable_fen = receivable_fen
        self.claim = None


def refuse_zero_subsidy(amount_fen: int, subsidy_fen: int, share_bp: int) -> None:
    """SUBSIDY_ZERO for a contract of `amount_fen` whose subsidy would be nothing (Art. 10): at signing,
    and in the preview of what signing would reserve."""
    if subsidy_fen <= 0:
        raise errors.SubsidyZero("the contract would carry no subsidy (Art. 10)",
                                 {"amount": format_yuan(amount_fen), "share": share_bp,
                                  "subsidy": format_yuan(subsidy_fen)})
