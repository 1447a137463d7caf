"""Settlement batches (Art. 19-20) and sanctions (Art. 25) in the generated year.

Both are feature-detected: the bench runs on a ledger without them and says so in its report.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable

from bench.timing import Progress
from bench.world import Driver
from ledger.rules import VIOLATIONS

# The ledger's command for each step (ledger/commands/settlement.py and cases.py).
NAMES = {
    "open": ("open_settlement",),
    "claim": ("claim_settlement",),
    "review": ("review_claim",),
    "approve": ("approve_settlement",),
    "notice": ("record_settlement_notice",),
    "pay": ("pay_settlement",),
    "file_case": ("file_case",),
    "sanction": ("sanction_case",),
}
CLAIM_SIZE = 50  # contracts per claim: a provider uploads its materials in bundles
REJECTED_CLAIMS = 0.02


def command(app: Any, step: str) -> Callable[..., Any] | None:
    for name in NAMES[step]:
        if hasattr(app, name):
            return getattr(app, name)
    return None


def settlement_available(app: Any) -> bool:
    return all(command(app, step) for step in ("open", "claim", "review", "approve", "notice", "pay"))


def sanctions_available(app: Any) -> bool:
    return all(command(app, step) for step in ("file_case", "sanction"))


def run_batch(driver: Driver, rng: random.Random, number: int) -> None:
    """One settlement batch over every completed contract not yet claimed."""
    app, world = driver.app, driver.world
    if not settlement_available(app) or not world.by_status("completed"):
        return
    opened = driver.run("operator", None, command(app, "open"), world.year, f"{world.year}年第{number}批兑付")
    if opened is None:
        return
    batch_id = opened["batch_id"]
    world.batches.append(batch_id)
    by_provider: dict[str, list] = defaultdict(list)
    for record in world.by_status("completed"):
        by_provider[record.provider].append(record)
    claims = []
    for provider, records in by_provider.items():
        for start in range(0, len(records), CLAIM_SIZE):
            bundle = records[start:start + CLAIM_SIZE]
            documents = [{"name": "结算材料.pdf", "sha256": f"{number:032x}{start:032x}", "size": 20_480,
                          "uri": f"https://docs.example.gov.cn/settlements/{batch_id}/{provider}/{start}.pdf"}]
            claimed = driver.run("provider", provider, command(app, "claim"), batch_id,
                                 [r.contract_id for r in bundle], documents)
            if claimed is not None:
                for record in bundle:
                    record.status = "claimed"
                claims.append((claimed["claim_id"], bundle))
    for claim_id, bundle in claims:
        rejected = rng.random() < REJECTED_CLAIMS
        decision = "reject" if rejected else "approve"
        if driver.run("operator", None, command(app, "review"), batch_id, claim_id, decision,
                      "材料不全 / incomplete materials" if rejected else "审核通过 / approved",
                      "materials" if rejected else None) is not None:
            for record in bundle:
                record.status = "completed" if rejected else "approved"
    driver.run("approver", None, command(app, "approve"), batch_id)
    driver.run("operator", None, command(app, "notice"), batch_id, "no_objection", "公示期满无异议 / no objection")
    if driver.run("finance", None, command(app, "pay"), batch_id, f"国库支付〔{world.year}〕{number:03d}号") is not None:
        for _, bundle in claims:
            for record in bundle:
                if record.status == "approved":
                    record.status = "settled"


def run_sanctions(driver: Driver, rng: random.Random, cases: int) -> None:
    """A few hundred cases: most claw back one contract's subsidy, some revoke or terminate (Art. 25)."""
    app, world = driver.app, driver.world
    if not sanctions_available(app) or not world.contracts:
        return
    bar = Progress("违规处理 sanctions", cases)
    candidates = [r for r in world.contracts if r.status in ("completed", "settled", "active", "signed")]
    rng.shuffle(candidates)
    for index in range(min(cases, len(candidates))):
        record = candidates[index]
        against_provider = rng.random() < 0.3
        subject_type, subject_id = ("provider", record.provider) if against_provider else ("enterprise", record.enterprise)
        violation = rng.choice(VIOLATIONS)
        # Found by the supervisor or by another operator than the one who sanctions (segregation of duties).
        filer = driver.actor("supervisor") if rng.random() < 0.6 else driver.actor("operator", person=2)
        filed = driver.run_as(filer, command(app, "file_case"), subject_type, subject_id, violation,
                              [record.contract_id], "监理抽查发现 / found on a spot check")
        if filed is None:
            bar.advance()
            continue
        case_id = filed["case_id"]
        world.cases.append(case_id)
        revoke = subject_type == "enterprise" and rng.random() < 0.2
        terminate = subject_type == "provider" and rng.random() < 0.02
        if driver.run("operator", None, command(app, "sanction"), case_id, [record.contract_id], revoke, terminate,
                      "追回补贴 / subsidy clawed back") is not None:
            record.status = "sanctioned"
            # The generator stops choosing what the sanction shut: the holder's vouchers, the provider's products.
            if revoke:
                for voucher in world.vouchers:
                    if voucher.enterprise == record.enterprise:
                        voucher.available_fen = 0
            if terminate:
                world.provider_live_fen[record.provider] = world.provider_cap_fen
        bar.advance()
    bar.finish()
