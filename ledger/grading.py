"""Provider grading (分级评价, A-D; Art. 15, 18(二), 21, 22): the published rule, as data a reader can check.

The score is out of 100, the sum of four components and a deduction:
- satisfaction (满意度), 30: the mean survey score ÷ 5 × 30;
- spot checks (抽查), 20: passed ÷ checked × 20;
- acceptance checks (验收), 20: passed ÷ checked × 20;
- completion (履约), 30: completed ÷ (completed + terminated) × 30, over the year's contracts that
  reached an end (contracts still under way do not count);
- sanctions (处理), −25 for each sanction against the provider (the score never falls below 0), in the
  year of the contracts its case names (a case naming none: the year it was filed, Beijing date).
A component with nothing to measure (no survey, no check, no contract ended) scores its `neutral`
fraction: full for checks and completion (no evidence of a failure), 3/5 for satisfaction (the middle
of the scale: no evidence of satisfaction either).
Grades by the score: A ≥ 90, B ≥ 75, C ≥ 60, D below; a provider terminated for good is D.
The arithmetic is exact (fractions); the score is shown rounded down to two decimals.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

from ledger.business_date import CHINA

RULE: dict[str, Any] = {
    "name": "广西服务补贴券服务机构分级评价规则 (Art. 15)",
    "scale": 100,
    "components": {
        "satisfaction": {"weight": 30, "measure": "mean survey score / 5", "neutral": "3/5"},
        "spot_checks": {"weight": 20, "measure": "passed / checked", "neutral": "1"},
        "acceptance": {"weight": 20, "measure": "passed / checked", "neutral": "1"},
        "completion": {"weight": 30, "measure": "completed / (completed + terminated)", "neutral": "1"},
    },
    "deductions": {"sanction": 25},
    "thresholds": [["A", 90], ["B", 75], ["C", 60], ["D", 0]],
    "terminated": "D",
}

GRADES = tuple(grade for grade, _ in RULE["thresholds"])


def _ratio(numerator: int, denominator: int, neutral: str) -> Fraction:
    return Fraction(numerator, denominator) if denominator else Fraction(neutral)


def decimal_string(value: Fraction, places: int = 2) -> str:
    """An exact fraction as a decimal string, rounded down to `places`."""
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_DOWN))


def grade(inputs: dict[str, Any]) -> dict[str, Any]:
    """The grade of a provider's year from its inputs (`grade_inputs`), with each component's points."""
    parts = RULE["components"]
    fractions = {
        "satisfaction": (_ratio(inputs["survey_score_total"], 5 * inputs["surveys"], parts["satisfaction"]["neutral"])),
        "spot_checks": _ratio(inputs["spot_checks_passed"], inputs["spot_checks"], parts["spot_checks"]["neutral"]),
        "acceptance": _ratio(inputs["acceptance_passed"], inputs["acceptance_checks"], parts["acceptance"]["neutral"]),
        "completion": _ratio(inputs["contracts_completed"], inputs["contracts_completed"] + inputs["contracts_terminated"],
                             parts["completion"]["neutral"]),
    }
    points = {name: fraction * parts[name]["weight"] for name, fraction in fractions.items()}
    deduction = Fraction(RULE["deductions"]["sanction"] * inputs["sanctions"])
    score = max(Fraction(0), sum(points.values(), Fraction(0)) - deduction)
    letter = next(g for g, floor in RULE["thresholds"] if score >= floor)
    if inputs.get("terminated"):
        letter = RULE["terminated"]
    return {"grade": letter, "score": decimal_string(score),
            "points": {**{name: decimal_string(value) for name, value in points.items()},
                       "sanctions": decimal_string(-deduction)}}


def beijing_year(instant: str) -> int:
    return datetime.fromisoformat(instant).astimezone(CHINA).year


def grade_inputs(provider_id: str, year: int, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule's inputs from a provider's archive of the year (`projections/audit/archive.py`):
    canonical records in position order, each `{"type", "stream", "data", ...}`."""
    surveys = [r["data"]["score"] for r in records if r["type"] == "Contract.SurveyRecorded"]
    checks = [r["data"]["result"] for r in records
              if r["type"] == "Provider.SpotChecked" and r["data"].get("year") == year]
    # The last acceptance decision of each contract counts.
    acceptance = {r["stream"]: r["data"]["result"] for r in records if r["type"] == "Contract.AcceptanceChecked"}
    completed = {r["stream"] for r in records if r["type"] == "Contract.Completed"}
    terminated = {r["stream"] for r in records if r["type"] == "Contract.Terminated"} - completed
    # A case names no year: its sanction counts in the year of the contracts it names, or, naming none,
    # in the year (Beijing date) the case was filed.
    contracts = {r["stream"] for r in records if r["type"].startswith("Contract.")}
    cases = {r["stream"] for r in records if r["type"] == "Case.Filed"
             and (set(r["data"].get("contract_ids") or ()) & contracts
                  or (not r["data"].get("contract_ids") and beijing_year(r["recorded_at"]) == year))}
    sanctions = {r["stream"] for r in records if r["type"] == "Case.Sanctioned" and r["stream"] in cases}
    terminated_for_good = any(r["type"] == "Provider.Terminated" for r in records)
    return {"provider_id": provider_id, "year": year, "surveys": len(surveys), "survey_score_total": sum(surveys),
            "spot_checks": len(checks), "spot_checks_passed": checks.count("passed"),
            "acceptance_checks": len(acceptance), "acceptance_passed": list(acceptance.values()).count("passed"),
            "contracts_completed": len(completed), "contracts_terminated": len(terminated),
            "sanctions": len(sanctions), "terminated": terminated_for_good}
