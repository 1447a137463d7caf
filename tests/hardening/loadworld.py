"""The contested ledger of the load and crash tests, and the client processes that contest it.

Two hot vouchers (T4, 300 000 yuan each) carry 44 proposed contracts whose subsidies add up to
three times what the vouchers hold; one hot provider year, capped at 450 000 yuan, carries 36 of
them; the year's budget has room for exactly ten more T2 vouchers and thirty enterprises are
waiting for one. Whatever order the clients' requests land in, the vouchers, the cap and the budget
must hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ledger.money import yuan
from tests.hardening.processes import ROOT
from tests.support import YEAR, Scenario, as_role, issue_tokens

SPARE_VOUCHERS = 10
PROVIDER_CAP_YUAN = 450_000
CONTRACT_YUAN = 60_000  # management consulting: a 50% share, so 30 000 yuan of subsidy each


def this_year() -> int:
    """The servers run on a fixed business date (LEDGER_BUSINESS_DATE, tests/hardening/cli.py) in this year."""
    return YEAR


def build_load_world(app: Any) -> dict[str, Any]:
    """Arrange the contested ledger through the application; answer the clients' plan (without servers)."""
    year = this_year()
    scenario = Scenario(app)
    scenario.open_year(year, budget_yuan=2 * 300_000 + SPARE_VOUCHERS * 100_000, provider_cap=yuan(PROVIDER_CAP_YUAN))
    e1, v1 = scenario.holder(("little_giant",), year=year)
    e2, v2 = scenario.holder(("little_giant",), year=year)
    waiting = [scenario.enterprise(("tech_sme",)) for _ in range(3 * SPARE_VOUCHERS)]
    p1 = scenario.provider(signed_for=year)
    p2 = scenario.provider(signed_for=year)
    x1 = scenario.product(p1, category="management_consulting", price_yuan=CONTRACT_YUAN, listed_for=year)
    x2 = scenario.product(p2, category="management_consulting", price_yuan=CONTRACT_YUAN, listed_for=year)
    contracts = []
    for count, (enterprise, voucher, provider, product) in ((24, (e1, v1, p1, x1)), (12, (e2, v2, p1, x1)),
                                                            (8, (e1, v1, p2, x2))):
        for _ in range(count):
            contract_id = scenario.propose(enterprise, voucher, provider, product, yuan(CONTRACT_YUAN))
            contracts.append({"id": contract_id, "enterprise": enterprise, "provider": provider})
    tokens = issue_tokens(app, ("enterprise", e1), ("enterprise", e2), ("provider", p1), ("provider", p2))
    return {"year": year, "tokens": tokens, "contracts": contracts, "waiting_enterprises": waiting,
            "vouchers": [v1, v2], "providers": [p1, p2]}


def bulk_registrations(app: Any, count: int) -> None:
    """`count` enterprises registered in one transaction (a bulk import behind the servers' back), so a
    catch-up of the whole log spans several pages of the projection."""
    from service.demo import credit_code
    from ledger.domain.enterprise import Enterprise

    facts = {"employees": 10, "revenue_fen": yuan(1_000), "registered_in_guangxi": True, "legal_person": True,
             "social_insurance": True, "dishonest": False, "major_violation": False, "industry_aligned": True}
    with as_role("operator"):
        app.save(*[Enterprise(code=credit_code(700_000 + i), name=f"补录企业{i}", facts=facts, honours=[])
                   for i in range(count)])


def start_clients(plan: dict[str, Any], count: int, directory: Path,
                  **changes: Any) -> list[tuple[subprocess.Popen, Path]]:
    """Start `count` client processes, each with its own seed."""
    clients = []
    for n in range(count):
        plan_path, result_path = directory / f"client{n}.json", directory / f"client{n}.result.json"
        plan_path.write_text(json.dumps({**plan, **changes, "seed": 1000 + n}), "utf-8")
        popen = subprocess.Popen([sys.executable, "-m", "tests.hardening.load", str(plan_path), str(result_path)],
                                 cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        clients.append((popen, result_path))
    return clients


def wait_clients(clients: list[tuple[subprocess.Popen, Path]], timeout: float = 180) -> list[dict[str, Any]]:
    results = []
    for popen, result_path in clients:
        _, stderr = popen.communicate(timeout=timeout)
        assert popen.returncode == 0, f"a load client failed: {stderr.decode()[-3000:]}"
        results.append(json.loads(result_path.read_text("utf-8")))
    return results


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"requests": 0, "operations": 0, "connection_errors": 0, "unavailable": 0,
                             "statuses": {}, "codes": {}, "server_errors": [], "answered": [], "unavailable_bodies": []}
    for result in results:
        for key in ("requests", "operations", "connection_errors", "unavailable"):
            total[key] += result[key]
        for key in ("statuses", "codes"):
            for name, n in result[key].items():
                total[key][name] = total[key].get(name, 0) + n
        for key in ("server_errors", "answered", "unavailable_bodies"):
            total[key].extend(result[key])
    return total
