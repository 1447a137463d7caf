"""Staged reviews (审核): providers (Art. 14) and products (Art. 8) pass their stages in order, per year.

A year's record is {"passed": [stages], "rejected": stage | None}: a rejection ends that year's
review; passing the last stage signs the provider or lists the product.
"""

from __future__ import annotations

from ledger import errors

PASS, REJECT = "pass", "reject"


class StagedReview:
    """The stage bookkeeping shared by `Provider` and `Product` (each keeps its own events).

    Subclasses set `STAGES` and keep `reviews`; `refuse_review` checks a decision's stage against
    the year's record, `record_review` applies it inside the aggregate's `Reviewed` event.
    """

    STAGES: tuple[str, ...] = ()
    reviews: dict[str, dict]

    def next_stage(self, year: int) -> str | None:
        passed = self.reviews.get(str(year), {}).get("passed", [])
        return self.STAGES[len(passed)] if len(passed) < len(self.STAGES) else None

    def refuse_review(self, year: int, stage: str, rejected: str, finished: str) -> None:
        """INVALID_STATE once rejected (`rejected`, formatted with `year` and `stage`) or finished
        (`finished`); STAGE_OUT_OF_ORDER for any stage but the next."""
        record = self.reviews.get(str(year), {})
        if record.get("rejected"):
            raise errors.InvalidState(rejected.format(year=year, stage=record["rejected"]),
                                      {"year": year, "rejected_at": record["rejected"]})
        expected = self.next_stage(year)
        if expected is None:
            raise errors.InvalidState(finished.format(year=year), {"year": year})
        if stage != expected:
            raise errors.StageOutOfOrder(f"the next stage is {expected}", {"expected": expected, "stage": stage})

    def record_review(self, year: int, stage: str, decision: str) -> None:
        record = self.reviews.setdefault(str(year), {"passed": [], "rejected": None})
        if decision == PASS:
            record["passed"].append(stage)
        else:
            record["rejected"] = stage

    def completes_review(self, stage: str, decision: str) -> bool:
        """Passing the last stage: the provider is signed, the product listed."""
        return stage == self.STAGES[-1] and decision == PASS
