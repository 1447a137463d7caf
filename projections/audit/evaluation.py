"""The year's performance evaluation (绩效评估, Art. 26), computed from the events themselves.

One pass over the event log (`eventlog.iter_records`), never a read model, folds what each indicator
needs for the year: the budget (Year), every voucher's figures (Voucher), every contract's course
(Contract), receivables recovered (ProviderYear), surveys and checks (the service archive). Amounts are
fen; ratios are exact fractions shown as decimal strings rounded down to four places (null when
nothing is there to divide by).

What counts:
- issued ÷ budget, used ÷ issued, settled ÷ used, expired ÷ issued: the vouchers' figures now (used
  net of clawbacks and of subsidy returned after a failed acceptance);
- reach by tier, kind and city (the credit code's division, `ledger.rules.city_of`): enterprises
  holding a voucher, vouchers, issued and used; by category: contracts signed, their amounts, and the
  subsidy they use;
- average subsidy share: Σ subsidy ÷ Σ amount over the contracts completed;
- provider concentration: the ten providers with the most subsidy used, as a share of all used;
- satisfaction: surveys of the year's contracts, mean score; spot checks and acceptance checks of
  the year: how many failed;
- clawed back: subsidy a sanction took back (Art. 25); receivable: the part already paid to providers;
  recovered: what finance recorded as repaid (`ProviderYear.Recovered`); outstanding: receivable − recovered.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

from ledger.grading import decimal_string
from ledger.rules import city_of
from projections.storage import eventlog

PLACES = 4
TOP = 10


def ratio(numerator: int, denominator: int) -> str | None:
    return None if not denominator else decimal_string(Fraction(numerator, denominator), PLACES)


class _Fold:
    def __init__(self, year: int) -> None:
        self.year = year
        self.budget = 0
        self.years: dict[str, int] = {}  # Year / ProviderYear stream -> year
        self.vouchers: dict[str, dict[str, Any]] = {}
        self.contracts: dict[str, dict[str, Any]] = {}
        self.recovered = 0
        self.surveys: list[int] = []
        self.spot_checks: list[str] = []
        self.acceptance: list[str] = []

    def record(self, r: dict[str, Any]) -> None:
        kind, stream, data = r["type"], r["stream"], r["data"]
        handler = getattr(self, "on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(stream, data)
        elif kind.endswith(".SpotChecked") and data.get("year") == self.year:
            self.spot_checks.append(data["result"])

    # Year and provider's year
    def on_Year_Opened(self, stream: str, data: dict[str, Any]) -> None:
        self.years[stream] = data["year"]

    def on_ProviderYear_Opened(self, stream: str, data: dict[str, Any]) -> None:
        self.years[stream] = data["year"]

    def on_Year_BudgetAllocated(self, stream: str, data: dict[str, Any]) -> None:
        if self.years.get(stream) == self.year:
            self.budget += data["amount_fen"]

    def on_ProviderYear_Recovered(self, stream: str, data: dict[str, Any]) -> None:
        if self.years.get(stream) == self.year:
            self.recovered += data["amount_fen"]

    # Vouchers
    def on_Voucher_Issued(self, stream: str, data: dict[str, Any]) -> None:
        if data["year"] == self.year:
            self.vouchers[stream] = {"enterprise_id": data["enterprise_id"], "kind": data["kind"], "tier": data["tier"],
                                     "issued": data["quota_fen"], "used": 0, "expired": 0, "clawed_back": 0}

    def _voucher(self, stream: str) -> dict[str, Any] | None:
        return self.vouchers.get(stream)

    def on_Voucher_Used(self, stream: str, data: dict[str, Any]) -> None:
        self._move(stream, data, "used", +1)

    def on_Voucher_ClawedBack(self, stream: str, data: dict[str, Any]) -> None:
        self._move(stream, data, "used", -1)
        self._move(stream, data, "clawed_back", +1, contract=False)

    def on_Voucher_UseReturned(self, stream: str, data: dict[str, Any]) -> None:
        self._move(stream, data, "used", -1)
        if data["returned_to"] == "expired":
            self._move(stream, data, "expired", +1, contract=False)

    def on_Voucher_Expired(self, stream: str, data: dict[str, Any]) -> None:
        voucher = self._voucher(stream)
        if voucher is not None:
            voucher["expired"] += data["amount_fen"]

    def _move(self, stream: str, data: dict[str, Any], figure: str, sign: int, contract: bool = True) -> None:
        voucher = self._voucher(stream)
        if voucher is None:
            return
        voucher[figure] += sign * data["amount_fen"]
        if contract and data.get("contract_id") in self.contracts:
            self.contracts[data["contract_id"]]["used"] += sign * data["amount_fen"]

    # Contracts
    def on_Contract_Proposed(self, stream: str, data: dict[str, Any]) -> None:
        if data["year"] == self.year:
            self.contracts[stream] = {"provider_id": data["provider_id"], "category": data["category"],
                                      "amount": data["amount_fen"], "signed": False, "subsidy": 0, "completed": False,
                                      "used": 0, "settled": 0, "clawed_back": 0, "receivable": 0}

    def _contract(self, stream: str) -> dict[str, Any] | None:
        return self.contracts.get(stream)

    def on_Contract_Signed(self, stream: str, data: dict[str, Any]) -> None:
        if (c := self._contract(stream)) is not None:
            c.update(signed=True, subsidy=data["subsidy_fen"])

    def on_Contract_Completed(self, stream: str, data: dict[str, Any]) -> None:
        if (c := self._contract(stream)) is not None:
            c["completed"] = True

    def on_Contract_Settled(self, stream: str, data: dict[str, Any]) -> None:
        if (c := self._contract(stream)) is not None:
            c["settled"] += data["amount_fen"]

    def on_Contract_ClawedBack(self, stream: str, data: dict[str, Any]) -> None:
        if (c := self._contract(stream)) is not None:
            c["clawed_back"] += data["amount_fen"]
            c["receivable"] += data["receivable_fen"]

    def on_Contract_SurveyRecorded(self, stream: str, data: dict[str, Any]) -> None:
        if stream in self.contracts:
            self.surveys.append(data["score"])

    def on_Contract_AcceptanceChecked(self, stream: str, data: dict[str, Any]) -> None:
        if stream in self.contracts:
            self.acceptance.append(data["result"])


def _reach(vouchers: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    holders: dict[str, set[str]] = defaultdict(set)
    for v in vouchers:
        k = key(v)
        row = rows.setdefault(k, {"key": k, "enterprises": 0, "vouchers": 0, "issued": 0, "used": 0})
        row["vouchers"] += 1
        row["issued"] += v["issued"]
        row["used"] += v["used"]
        holders[k].add(v["enterprise_id"])
    for k, row in rows.items():
        row["enterprises"] = len(holders[k])
    return [rows[k] for k in sorted(rows)]


def evaluate(app: Any, year: int) -> dict[str, Any]:
    """The year's indicators (Art. 26), from every event recorded so far."""
    fold = _Fold(year)
    for page in eventlog.iter_records(app):
        for record in page:
            if not isinstance(record, eventlog.Unreadable):
                fold.record(record)
    vouchers = list(fold.vouchers.values())
    contracts = list(fold.contracts.values())
    issued = sum(v["issued"] for v in vouchers)
    used = sum(v["used"] for v in vouchers)
    expired = sum(v["expired"] for v in vouchers)
    settled = sum(c["settled"] for c in contracts)
    clawed_back = sum(c["clawed_back"] for c in contracts)
    receivable = sum(c["receivable"] for c in contracts)
    completed = [c for c in contracts if c["completed"]]
    by_category: dict[str, dict[str, Any]] = {}
    for c in contracts:
        if c["signed"]:
            row = by_category.setdefault(c["category"], {"key": c["category"], "contracts": 0, "amount": 0, "used": 0})
            row["contracts"] += 1
            row["amount"] += c["amount"]
            row["used"] += c["used"]
    per_provider: dict[str, int] = defaultdict(int)
    for c in contracts:
        per_provider[c["provider_id"]] += c["used"]
    ranked = sorted(((u, p) for p, u in per_provider.items() if u > 0), key=lambda t: (-t[0], t[1]))
    top = ranked[:TOP]
    top_used = sum(u for u, _ in top)
    completed_amount = sum(c["amount"] for c in completed)
    completed_subsidy = sum(c["subsidy"] for c in completed)
    return {
        "year": year,
        "budget": {"budget": fold.budget, "issued": issued, "used": used, "settled": settled,
                   "expired": expired, "issued_of_budget": ratio(issued, fold.budget),
                   "used_of_issued": ratio(used, issued), "settled_of_used": ratio(settled, used),
                   "expired_of_issued": ratio(expired, issued)},
        "by_tier": _reach(vouchers, lambda v: v["tier"]),
        "by_kind": _reach(vouchers, lambda v: v["kind"]),
        "by_city": _reach(vouchers, lambda v: city_of(v["enterprise_id"])),
        "by_category": [by_category[k] for k in sorted(by_category)],
        "subsidy_share": {"contracts": len(completed), "amount": completed_amount, "subsidy": completed_subsidy,
                          "share": ratio(completed_subsidy, completed_amount)},
        "concentration": {"providers": len(ranked), "top": [{"provider_id": p, "used": u} for u, p in top],
                          "top_used": top_used, "total_used": sum(u for u, _ in ranked),
                          "share": ratio(top_used, sum(u for u, _ in ranked))},
        "satisfaction": {"surveys": len(fold.surveys), "score_total": sum(fold.surveys),
                         "mean_score": (None if not fold.surveys else
                                        decimal_string(Fraction(sum(fold.surveys), len(fold.surveys)), 2)),
                         "by_score": [{"score": s, "count": fold.surveys.count(s)} for s in range(1, 6)]},
        "checks": {"spot_checks": len(fold.spot_checks), "spot_checks_failed": fold.spot_checks.count("failed"),
                   "spot_check_failure_rate": ratio(fold.spot_checks.count("failed"), len(fold.spot_checks)),
                   "acceptance_checks": len(fold.acceptance), "acceptance_failed": fold.acceptance.count("failed"),
                   "acceptance_failure_rate": ratio(fold.acceptance.count("failed"), len(fold.acceptance))},
        "clawbacks": {"clawed_back": clawed_back, "receivable": receivable, "recovered": fold.recovered,
                      "outstanding": receivable - fold.recovered},
    }
