"""The service year (服务年度): parameters, budget, issued total and closing (Art. 9-11, 16, 18).

One stream per year. Issuing a voucher commits its quota against the budget here, in the same
save as the voucher, so Σ issued ≤ budget holds under concurrency.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate, natural_id
from ledger.money import MAX_FEN, format_yuan
from ledger.rules import GENERAL, SPECIAL, YearParameters, year_out_of_range

OPEN, CLOSING, CLOSED = "open", "closing", "closed"


class Year(LedgerAggregate):
    """A year opened by the approver's annual notice and funded by finance."""

    @staticmethod
    def create_id(year: int) -> Any:
        return natural_id("year", year)

    @classmethod
    def open(cls, year: int, starts_on: str, ends_on: str, parameters: dict, today: date) -> "Year":
        """Open a calendar year: the window inside `year`, and only last, this or next year (Art. 18)."""
        failures = year_out_of_range(year, starts_on, ends_on, today)
        if failures:
            raise errors.YearOutOfRange(f"year {year} cannot be opened with the window {starts_on}..{ends_on}",
                                        {**failures, "today": [today.isoformat()]})
        return cls(year=year, starts_on=starts_on, ends_on=ends_on, parameters=parameters)

    @event("Opened")
    def __init__(self, year: int, starts_on: str, ends_on: str, parameters: dict) -> None:
        self.year = year
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.parameters = parameters
        self.budget_fen = 0
        self.issued_fen = 0
        self.vouchers = 0
        self.status = OPEN
        self.closing_summary: dict | None = None

    batches_opened = 0  # class default: years snapshotted before batches were counted here
    # The special programme (专项券年度方案) and the special vouchers issued against it; class defaults
    # for years recorded before special vouchers existed.
    special_programme: dict | None = None
    special_vouchers = 0

    def set_special_programme(self, quotas_fen: dict[str, int], categories: list[str], provider_cap_fen: int | None,
                              reference: str, documents: list[dict]) -> None:
        """The approver sets the year's special programme from the annual notice (Art. 6(二), 9(二), 10).

        It may be set again until the first special voucher is issued; from then on the quotas issued
        and the caps reserved rest on it, so it is fixed (409 INVALID_STATE).
        """
        self.refuse_if_closed()
        if self.special_vouchers:
            raise errors.InvalidState(f"special vouchers of {self.year} were issued under the programme already",
                                      {"year": self.year, "special_vouchers": self.special_vouchers})
        self._special_programme_set(quotas_fen=dict(quotas_fen), categories=list(categories),
                                    provider_cap_fen=provider_cap_fen, reference=reference, documents=documents)

    @event("SpecialProgrammeSet")
    def _special_programme_set(self, quotas_fen: dict, categories: list, provider_cap_fen: int | None,
                               reference: str, documents: list) -> None:
        self.special_programme = {"quotas_fen": quotas_fen, "categories": categories,
                                  "provider_cap_fen": provider_cap_fen, "reference": reference}

    def special_quota_for(self, designation: str) -> int:
        """The programme's quota for a designation (NO_SPECIAL_PROGRAMME without a programme or a quota for it)."""
        quotas = (self.special_programme or {}).get("quotas_fen", {})
        if designation not in quotas:
            raise errors.NoSpecialProgramme(
                f"year {self.year} has no special programme quota for {designation}",
                {"year": self.year, "designation": designation, "programme": self.special_programme is not None})
        return int(quotas[designation])

    def refuse_category_out_of_scope(self, category: str) -> None:
        """A special voucher pays only for the programme's categories (Art. 6(二))."""
        categories = (self.special_programme or {}).get("categories", [])
        if category not in categories:
            raise errors.CategoryOutOfScope(f"{category} is outside the special programme of {self.year}",
                                            {"category": category, "categories": categories})

    @property
    def special_provider_cap_fen(self) -> int | None:
        """The special cap per provider (Art. 10: set by the notice; None, no cap)."""
        return (self.special_programme or {}).get("provider_cap_fen")

    @property
    def params(self) -> YearParameters:
        return YearParameters(**self.parameters)

    @property
    def unissued_fen(self) -> int:
        return self.budget_fen - self.issued_fen

    def refuse_if_closed(self) -> None:
        if self.status != OPEN:
            raise errors.YearClosed(f"year {self.year} is closed (期满作废)", {"year": self.year})

    def refuse_outside_window(self, today: date) -> None:
        """Money moves only inside [starts_on, ends_on] (Art. 18; DOMAIN.md "Stops" 3).

        Reservation, deposit and completion are all refused after `ends_on` (YEAR_ENDED) whether or not
        the close has run (then YEAR_CLOSED, and the close has terminated the contract anyway): the
        outcome never depends on when the operator closes.
        """
        self.refuse_if_closed()
        if today < date.fromisoformat(self.starts_on):
            raise errors.YearNotStarted(
                f"year {self.year} starts on {self.starts_on}", {"starts_on": self.starts_on, "today": today.isoformat()}
            )
        if today > date.fromisoformat(self.ends_on):
            raise errors.YearEnded(
                f"year {self.year} ended on {self.ends_on}", {"ends_on": self.ends_on, "today": today.isoformat()}
            )

    @property
    def closes_after(self) -> date:
        """The last day of the window: the close may run from the day after (Art. 18: 过期自动失效)."""
        return date.fromisoformat(self.ends_on)

    def can_close(self, today: date) -> bool:
        return self.status != CLOSED and today >= self.closes_after + timedelta(days=1)

    def refuse_close_before_end(self, today: date) -> None:
        """The close expires vouchers irreversibly: never before the year has ended (DOMAIN.md "Stops" 4)."""
        if today <= self.closes_after:
            raise errors.YearNotEnded(
                f"year {self.year} ends on {self.ends_on}: it may be closed from the day after",
                {"year": self.year, "ends_on": self.ends_on, "today": today.isoformat()},
            )

    def allocate(self, amount_fen: int, reference: str) -> None:
        """Finance allocates budget from the new-industrialisation fund (Art. 11)."""
        self.refuse_if_closed()
        if amount_fen <= 0:
            raise errors.ValidationFailed("budget must be positive", {"amount": ["must be greater than 0.00"]})
        if self.budget_fen + amount_fen > MAX_FEN:
            raise errors.ValidationFailed("the year's budget would exceed the largest amount the ledger keeps",
                                          {"amount": [f"the budget may total at most {format_yuan(MAX_FEN)}"]})
        self._allocated(amount_fen=amount_fen, reference=reference)

    @event("BudgetAllocated")
    def _allocated(self, amount_fen: int, reference: str) -> None:
        self.budget_fen += amount_fen

    def commit_quota(self, voucher_id: str, quota_fen: int, kind: str = GENERAL) -> None:
        """Commit a new voucher's quota against the budget, one budget for both kinds (Art. 11, 16)."""
        self.refuse_if_closed()
        if quota_fen > self.unissued_fen:
            raise errors.BudgetExhausted(
                f"the budget of {self.year} cannot cover {format_yuan(quota_fen)} yuan",
                {"budget": format_yuan(self.budget_fen), "issued": format_yuan(self.issued_fen),
                 "quota": format_yuan(quota_fen)},
            )
        self._quota_committed(voucher_id=voucher_id, quota_fen=quota_fen, kind=kind)

    @event("QuotaCommitted")
    def _quota_committed(self, voucher_id: str, quota_fen: int, kind: str = GENERAL) -> None:  # no kind: general
        self.issued_fen += quota_fen
        self.vouchers += 1
        if kind == SPECIAL:
            self.special_vouchers += 1

    def open_batch(self, batch_id: str) -> None:
        """Count a new settlement batch against the year's `settlement_batches` (Art. 19: 1-2 a year).

        Counted here, saved with the batch, so two concurrent openings cannot pass the limit; a
        closed year still takes batches (its completed contracts are settled after the close).
        """
        limit = self.params.settlement_batches
        if self.batches_opened >= limit:
            raise errors.BatchLimit(f"year {self.year} allows {limit} settlement batch(es) (Art. 19)",
                                    {"year": self.year, "settlement_batches": limit, "opened": self.batches_opened})
        self._batch_opened(batch_id=batch_id, number=self.batches_opened + 1)

    @event("BatchOpened")
    def _batch_opened(self, batch_id: str, number: int) -> None:
        self.batches_opened = number

    def window_open(self, today: date) -> bool:
        """Money may still return to a voucher's available: the year is open and its window not past."""
        return self.status == OPEN and today <= date.fromisoformat(self.ends_on)

    def start_closing(self) -> None:
        """Stop every movement into or out of the year's vouchers before expiring them (Art. 18)."""
        if self.status == CLOSED:
            raise errors.InvalidState(f"year {self.year} is already closed", {"year": self.year})
        if self.status == OPEN:
            self._closing_started()

    @event("ClosingStarted")
    def _closing_started(self) -> None:
        self.status = CLOSING

    @event("Closed")
    def close(self, expired_vouchers: int, expired_fen: int, released_contracts: int) -> None:
        self.status = CLOSED
        self.closing_summary = {
            "expired_vouchers": expired_vouchers,
            "expired_fen": expired_fen,
            "released_contracts": released_contracts,
        }
