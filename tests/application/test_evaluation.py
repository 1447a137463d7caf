"""The year's evaluation (绩效评估, Art. 26) on a generated year, checked against sums computed here,
independently, from the stored events (the library's recorder and mapper; no read model)."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from ledger.money import yuan
from projections.audit import evaluation
from service.demo import credit_code
from tests.application.test_settlement import settle
from tests.support import YEAR, Scenario, as_role, year_ended

CITIES = {"450100": "南宁市", "450200": "柳州市", "450300": "桂林市"}


class GeneratedYear:
    """Four enterprises in three cities and two tiers, two providers, contracts in every state, a
    settlement, a clawback of a paid contract with part recovered, surveys, checks, and the close."""

    def __init__(self, scenario: Scenario) -> None:
        app = self.app = scenario.app
        scenario.open_year(budget_yuan=2_000_000)
        divisions = ["450100", "450100", "450200", "450300"]
        honours = [("tech_sme",), ("gazelle",), ("tech_sme",), ("little_giant",)]
        self.holders = []
        for serial, (division, honour) in enumerate(zip(divisions, honours), start=7001):
            code = scenario.enterprise(honour, code=credit_code(serial, division))
            self.holders.append((code, scenario.voucher(code)))
        self.providers = [scenario.provider(), scenario.provider()]
        products = [scenario.product(self.providers[0], "diagnosis", 100_000),
                    scenario.product(self.providers[1], "digital_transformation", 100_000)]
        (e0, v0), (e1, v1), (e2, v2), (e3, v3) = self.holders
        p0, p1 = self.providers
        self.completed = [
            scenario.contract(e0, v0, p0, products[0], yuan(40_000), state="completed"),
            scenario.contract(e1, v1, p0, products[0], yuan(30_000), state="completed"),
            scenario.contract(e2, v2, p1, products[1], yuan(60_000), state="completed"),
            scenario.contract(e3, v3, p1, products[1], yuan(80_000), state="completed"),
        ]
        scenario.contract(e0, v0, p1, products[1], yuan(10_000), state="terminated")
        scenario.contract(e3, v3, p0, products[0], yuan(20_000), state="active")  # released at the close
        settle(app, p0, self.completed[:2])
        with as_role("supervisor", name="supervisor-zhou"):
            case = app.file_case("provider", p0, "fake_transaction", [self.completed[1]]).data["case_id"]
        with as_role("operator", name="operator-wang"):
            app.sanction_case(case, [self.completed[1]])
            for contract_id, score in zip(self.completed, (5, 4, 2)):
                app.record_survey(contract_id, score)
            app.record_spot_check("provider", p1, "failed", "台账不全", self.completed[2])
            app.record_spot_check("provider", p0, "passed", "")
            app.record_acceptance(self.completed[3], "passed", "验收合格")
        with as_role("finance"):
            app.record_recovery(p0, YEAR, yuan(5_000), "桂财追〔2026〕1号")
        year_ended(app)
        with as_role("operator"):
            app.close_year(YEAR)


def events(app: Any) -> list[Any]:
    """Every stored event, decoded by the application's own mapper, in position order."""
    stored = app.recorder.select_notifications(start=1, limit=1_000_000)
    return [app.mapper.to_domain_event(n) for n in stored]


def kind(event: Any) -> str:
    return type(event).__qualname__


def down(numerator: int, denominator: int) -> str:
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN))


@pytest.fixture
def generated(scenario: Scenario) -> GeneratedYear:
    return GeneratedYear(scenario)


def expected_from_events(app: Any) -> dict[str, Any]:
    """The indicators summed here from the raw events, by their own fields."""
    log = events(app)
    sums: dict[str, int] = defaultdict(int)
    holders: dict[str, set[str]] = defaultdict(set)
    tiers: dict[str, int] = defaultdict(int)
    contracts: dict[str, Any] = {}
    scores, spot, acceptance = [], [], []
    for e in log:
        name = kind(e)
        if name == "Year.BudgetAllocated":
            sums["budget"] += e.amount_fen
        elif name == "Voucher.Issued":
            sums["issued"] += e.quota_fen
            holders[CITIES[e.enterprise_id[2:8]]].add(e.enterprise_id)
            tiers[e.tier] += e.quota_fen
        elif name == "Voucher.Used":
            sums["used"] += e.amount_fen
        elif name == "Voucher.ClawedBack":
            sums["used"] -= e.amount_fen
            sums["clawed_back"] += e.amount_fen
        elif name == "Voucher.Expired":
            sums["expired"] += e.amount_fen
        elif name == "Contract.Proposed":
            contracts[str(e.originator_id)] = {"amount": e.amount_fen, "provider": e.provider_id}
        elif name == "Contract.Completed":
            contracts[str(e.originator_id)]["subsidy"] = e.subsidy_used_fen
        elif name == "Contract.Settled":
            sums["settled"] += e.amount_fen
        elif name == "Contract.ClawedBack":
            sums["receivable"] += e.receivable_fen
        elif name == "ProviderYear.Recovered":
            sums["recovered"] += e.amount_fen
        elif name == "Contract.SurveyRecorded":
            scores.append(e.score)
        elif name.endswith(".SpotChecked"):
            spot.append(e.result)
        elif name == "Contract.AcceptanceChecked":
            acceptance.append(e.result)
    completed = [c for c in contracts.values() if "subsidy" in c]
    return {"sums": sums, "holders": holders, "tiers": tiers, "completed": completed, "scores": scores,
            "spot": spot, "acceptance": acceptance}


def test_evaluation_figures_equal_the_sums_of_the_events(generated: GeneratedYear) -> None:
    result = evaluation.evaluate(generated.app, YEAR)
    expected = expected_from_events(generated.app)
    sums = expected["sums"]
    budget = result["budget"]
    assert {k: budget[k] for k in ("budget", "issued", "used", "settled", "expired")} == \
        {k: sums[k] for k in ("budget", "issued", "used", "settled", "expired")}
    assert sums["expired"] > 0 and sums["settled"] > 0 and sums["clawed_back"] > 0  # the year has each
    assert budget["issued_of_budget"] == down(sums["issued"], sums["budget"])
    assert budget["used_of_issued"] == down(sums["used"], sums["issued"])
    assert budget["settled_of_used"] == down(sums["settled"], sums["used"])
    assert budget["expired_of_issued"] == down(sums["expired"], sums["issued"])
    # The fund identity over the year: issued = used + clawed back + expired after the close.
    assert sums["issued"] == sums["used"] + sums["clawed_back"] + sums["expired"]
    assert {r["key"]: r["enterprises"] for r in result["by_city"]} == {c: len(h) for c, h in expected["holders"].items()}
    assert {r["key"]: r["issued"] for r in result["by_tier"]} == dict(expected["tiers"])
    assert [(r["key"], r["vouchers"]) for r in result["by_kind"]] == [("general", 4)]
    assert sum(r["contracts"] for r in result["by_category"]) == 6  # signed: 4 completed, 1 terminated, 1 released
    completed = expected["completed"]
    share = result["subsidy_share"]
    assert (share["amount"], share["subsidy"]) == (sum(c["amount"] for c in completed),
                                                   sum(c["subsidy"] for c in completed))
    assert result["concentration"]["total_used"] == sums["used"] and result["concentration"]["share"] == "1.0000"
    assert result["satisfaction"]["surveys"] == len(expected["scores"]) == 3
    assert result["satisfaction"]["mean_score"] == "3.66"  # (5 + 4 + 2) / 3, rounded down
    checks = result["checks"]
    assert (checks["spot_checks"], checks["spot_checks_failed"]) == (len(expected["spot"]), expected["spot"].count("failed"))
    assert checks["spot_check_failure_rate"] == "0.5000"
    assert (checks["acceptance_checks"], checks["acceptance_failed"]) == (len(expected["acceptance"]), 0)
    clawbacks = result["clawbacks"]
    assert (clawbacks["clawed_back"], clawbacks["receivable"], clawbacks["recovered"]) == \
        (sums["clawed_back"], sums["receivable"], sums["recovered"])
    assert clawbacks["outstanding"] == sums["receivable"] - sums["recovered"] > 0


def test_evaluation_of_another_year_sees_nothing_of_this_one(generated: GeneratedYear) -> None:
    other = evaluation.evaluate(generated.app, YEAR + 1)
    assert other["budget"]["issued"] == 0 and other["budget"]["issued_of_budget"] is None
    assert other["by_tier"] == [] and other["clawbacks"]["clawed_back"] == 0
