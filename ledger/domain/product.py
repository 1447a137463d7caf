"""Products (服务产品): a standardised service with fixed content and a transparent price (Art. 7, 8)."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.review import StagedReview
from ledger.rules import PRODUCT_REVIEW_STAGES

STAGES = tuple(stage for stage, _ in PRODUCT_REVIEW_STAGES)


class Product(StagedReview, LedgerAggregate):
    """A provider's product in one category; listed in a year's catalogue after notice."""

    STAGES = STAGES

    @event("Submitted")
    def __init__(self, provider_id: str, name: str, category: str, price_fen: int, description: str) -> None:
        self.provider_id = provider_id
        self.name = name
        self.category = category
        self.price_fen = price_fen
        self.description = description
        self.reviews: dict[str, dict] = {}
        self.listed_years: list[int] = []

    def review(self, year: int, stage: str, decision: str, note: str) -> None:
        self.refuse_review(year, stage, "the product was rejected for {year} at {stage}",
                           "the product is already listed for {year}")
        self._reviewed(year=year, stage=stage, decision=decision, note=note)
        if self.completes_review(stage, decision):
            self._listed(year=year)

    @event("Reviewed")
    def _reviewed(self, year: int, stage: str, decision: str, note: str) -> None:
        self.record_review(year, stage, decision)

    @event("Listed")
    def _listed(self, year: int) -> None:
        """Entered the year's catalogue (入库) after public notice."""
        self.listed_years.append(year)

    def is_listed_for(self, year: int) -> bool:
        return year in self.listed_years
