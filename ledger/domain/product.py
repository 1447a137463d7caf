"""Products (服务产品): a standardised service with fixed content and a transparent price (Art. 7, 8)."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger import errors
from ledger.domain.base import LedgerAggregate
from ledger.rules import PRODUCT_REVIEW_STAGES

STAGES = tuple(stage for stage, _ in PRODUCT_REVIEW_STAGES)


class Product(LedgerAggregate):
    """A provider's product in one category; listed in a year's catalogue after notice."""

    @event("Submitted")
    def __init__(self, provider_id: str, name: str, category: str, price_fen: int, description: str) -> None:
        self.provider_id = provider_id
        self.name = name
        self.category = category
        self.price_fen = price_fen
        self.description = description
        self.reviews: dict[str, dict] = {}
        self.listed_years: list[int] = []

    def next_stage(self, year: int) -> str | None:
        passed = self.reviews.get(str(year), {}).get("passed", [])
        return STAGES[len(passed)] if len(passed) < len(STAGES) else None

    def review(self, year: int, stage: str, decision: str, note: str) -> None:
        record = self.reviews.get(str(year), {})
        if record.get("rejected"):
            raise errors.InvalidState(f"the product was rejected for {year} at {record['rejected']}",
                                      {"year": year, "rejected_at": record["rejected"]})
        expected = self.next_stage(year)
        if expected is None:
            raise errors.InvalidState(f"the product is already listed for {year}", {"year": year})
        if stage != expected:
            raise errors.StageOutOfOrder(f"the next stage is {expected}", {"expected": expected, "stage": stage})
        self._reviewed(year=year, stage=stage, decision=decision, note=note)
        if stage == STAGES[-1] and decision == "pass":
            self._listed(year=year)

    @event("Reviewed")
    def _reviewed(self, year: int, stage: str, decision: str, note: str) -> None:
        record = self.reviews.setdefault(str(year), {"passed": [], "rejected": None})
        if decision == "pass":
            record["passed"].append(stage)
        else:
            record["rejected"] = stage

    @event("Listed")
    def _listed(self, year: int) -> None:
        """Entered the year's catalogue (入库) after public notice."""
        self.listed_years.append(year)

    def is_listed_for(self, year: int) -> bool:
        return year in self.listed_years
