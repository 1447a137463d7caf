"""Generate a realistic year through the application's own commands, as fast as the ledger allows.

Every fact goes through a `VoucherLedger` command (no event is written behind its back), in the
order a year happens: the annual notice and budget, provider and product reviews, enterprises and
their vouchers, then contracts in waves — proposed, signed, paid, completed or terminated — with
settlement batches between the waves and sanctions at the end.
"""

from __future__ import annotations

import gc
import random
from typing import Any

from bench.plan import Plan, Sizes
from bench.settlement import run_batch, run_sanctions
from bench.timing import Progress, stage
from bench.world import ContractRecord, Driver, PhaseClock, VoucherMirror, World
from ledger.money import share_of, yuan
from ledger.rules import DIAGNOSIS, PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES, TIER_QUOTA_CEILINGS_FEN

WAVE = 1_000  # at most this many contracts per wave: proposed together, then signed, then paid
TERMINATION_REASONS = ("双方协商一致终止 / terminated by agreement (Art. 28)",
                       "服务无法按期完成 / the service cannot be completed (Art. 28)")


def generate(app: Any, sizes: Sizes, year: int, seed: int = 7) -> tuple[World, dict]:
    """Build the year; return what was made and the generation's own timing per phase."""
    plan = Plan(seed)
    world = World(year=year)
    driver = Driver(app, world)
    clock = PhaseClock()
    stage(f"生成年度数据 generating year {year}: {sizes}")
    with clock.phase("year", world):
        _open_year(driver, plan, sizes, year)
    with clock.phase("providers", world):
        _providers(driver, plan, sizes)
    with clock.phase("products", world):
        _products(driver, plan, sizes)
    with clock.phase("enterprises", world):
        _enterprises(driver, plan, sizes)
    with clock.phase("special", world):
        _special_line(driver, sizes, seed)
    _contracts(driver, plan, sizes, clock)
    with clock.phase("sanctions", world):
        run_sanctions(driver, plan.rng, sizes.cases)
    return world, clock.phases


def _open_year(driver: Driver, plan: Plan, sizes: Sizes, year: int) -> None:
    app, world = driver.app, driver.world
    driver.run("approver", None, app.open_year, year, f"{year}-01-01", f"{year}-12-31")
    params = app.get_year(year).params
    world.shares = {"diagnosis": params.diagnosis_share_bp, "other": params.other_share_bp,
                    "deposit": params.deposit_share_bp}
    world.provider_cap_fen = params.provider_cap_fen
    # Enough for every planned voucher at the highest quota, and for the measurements' extra vouchers.
    budget = (sizes.enterprises + 5_000) * TIER_QUOTA_CEILINGS_FEN["T4"] + sizes.special * max(SPECIAL_QUOTAS.values())
    driver.run("finance", None, app.allocate_budget, year, budget, f"桂财工〔{year}〕{plan.rng.randint(1, 99)}号")
    driver.run("approver", None, app.set_special_programme, year, dict(SPECIAL_QUOTAS), list(SPECIAL_CATEGORIES),
               SPECIAL_PROVIDER_CAP_FEN, f"桂工信〔{year}〕专项券年度方案")


# The special line (专项券, Art. 5(二), 9(二)): a year's programme as a notice might set it, and the mix of
# designated subjects (lead enterprises and key projects most often).
SPECIAL_QUOTAS = {"lead_enterprise": yuan(1_000_000), "cluster_or_base": yuan(800_000), "key_project": yuan(500_000),
                  "innovation_platform": yuan(600_000), "other_designated": yuan(300_000)}
SPECIAL_MIX = (("lead_enterprise", 0.3), ("key_project", 0.35), ("cluster_or_base", 0.1),
               ("innovation_platform", 0.15), ("other_designated", 0.1))
SPECIAL_CATEGORIES = ("diagnosis", "digital_transformation", "tech_innovation", "management_consulting",
                      "testing_certification")
SPECIAL_PROVIDER_CAP_FEN = yuan(3_000_000)


def _special_line(driver: Driver, sizes: Sizes, seed: int) -> None:
    """Designated subjects (large, not SMEs) and their special vouchers; its own random stream, so the
    general line draws exactly what it drew before the special line existed."""
    app, world = driver.app, driver.world
    rng = random.Random(seed * 1_000 + 17)
    designations, weights = zip(*SPECIAL_MIX)
    bar = Progress("专项券 special vouchers", sizes.special)
    for _ in range(sizes.special):
        index = world.next_serial("enterprise")
        code = Plan.enterprise_code_of(index)
        designation = rng.choices(designations, weights=weights, k=1)[0]
        driver.run("operator", None, app.register_enterprise, code, f"广西{designation}运营主体{index:05d}有限公司",
                   rng.randint(1_200, 30_000), yuan(rng.randint(500_000_000, 20_000_000_000)), True, True, True,
                   False, False, True, [])
        driver.run("operator", None, app.designate_enterprise, code, world.year, designation,
                   f"桂工信〔{world.year}〕认定名单")
        data = driver.run("operator", None, app.issue_voucher, code, world.year, "special", designation)
        if data is not None:
            world.special_vouchers.append(VoucherMirror(data["voucher_id"], code, data["tier"], data["quota"],
                                                        data["quota"]))
        bar.advance()
    bar.finish()


def _providers(driver: Driver, plan: Plan, sizes: Sizes) -> None:
    app, world = driver.app, driver.world
    bar = Progress("服务机构 providers", sizes.providers)
    for index in range(sizes.providers):
        facts = plan.provider(world.next_serial("provider"))
        code, fate = facts.pop("code"), facts.pop("fate")
        name = facts.pop("name")
        driver.run("provider", code, app.register_provider, code, name, **facts)
        for stage_name, role in PROVIDER_REVIEW_STAGES:
            rejected = (fate == "ineligible" and stage_name == "compliance") or (fate == "rejected" and stage_name == "expert")
            decision = "reject" if rejected else "pass"
            note = "不符合申报条件 / does not meet Art. 12" if rejected else "通过 / passed"
            driver.run(role, None, app.review_provider, code, world.year, stage_name, decision, note)
            if rejected:
                break
        if fate == "signed":
            world.providers.append(code)
            world.provider_live_fen[code] = 0
        bar.advance()
    bar.finish()


def _products(driver: Driver, plan: Plan, sizes: Sizes) -> None:
    app, world = driver.app, driver.world
    bar = Progress("服务产品 products", sizes.products)
    signed = world.providers
    for index in range(sizes.products):
        # Every signed provider offers at least one product; the rest are spread at random.
        provider = signed[index] if index < len(signed) else plan.rng.choice(signed)
        product = plan.product(index)
        data = driver.run("provider", provider, app.submit_product, provider, product["name"], product["category"],
                          product["price_fen"], f"{product['name']}（标准化服务内容与价格）")
        if data is None:
            bar.advance()
            continue
        listed = True
        for stage_name, role in PRODUCT_REVIEW_STAGES:
            rejected = not product["listed"] and stage_name == "expert"
            driver.run(role, None, app.review_product, data["product_id"], world.year, stage_name,
                       "reject" if rejected else "pass", "未通过专家评审" if rejected else "通过")
            if rejected:
                listed = False
                break
        if listed:
            world.products.append({"product_id": data["product_id"], "provider": provider,
                                   "category": product["category"], "price_fen": product["price_fen"]})
        bar.advance()
    bar.finish()


def register_enterprise(driver: Driver, plan: Plan, issue: bool = True,
                        eligible: bool | None = None) -> VoucherMirror | None:
    """Register one enterprise (and issue its voucher if eligible and `issue`)."""
    app, world = driver.app, driver.world
    facts = plan.enterprise(world.next_serial("enterprise"), eligible)
    code, eligible = facts.pop("code"), facts.pop("eligible")
    name = facts.pop("name")
    driver.run("operator", None, app.register_enterprise, code, name, **facts)
    world.enterprises.append(code)
    if not (eligible and issue):
        return None
    data = driver.run("operator", None, app.issue_voucher, code, world.year)
    if data is None:
        return None
    mirror = VoucherMirror(data["voucher_id"], code, data["tier"], data["quota"], data["quota"])
    world.vouchers.append(mirror)
    return mirror


def _enterprises(driver: Driver, plan: Plan, sizes: Sizes) -> None:
    bar = Progress("企业与补贴券 enterprises, vouchers", sizes.enterprises)
    for _ in range(sizes.enterprises):
        register_enterprise(driver, plan)
        bar.advance()
    bar.finish()


class Catalogue:
    """Draw products the way enterprises do: popular providers more often, any listed product."""

    def __init__(self, world: World, plan: Plan) -> None:
        weights = dict(zip(world.providers, plan.provider_weights(len(world.providers))))
        per_provider: dict[str, int] = {}
        for product in world.products:
            per_provider[product["provider"]] = per_provider.get(product["provider"], 0) + 1
        self.products = world.products
        self.cum: list[float] = []
        total = 0.0
        for product in self.products:
            total += weights[product["provider"]] / per_provider[product["provider"]]
            self.cum.append(total)

    def draw(self, rng: random.Random) -> dict[str, Any]:
        return rng.choices(self.products, cum_weights=self.cum, k=1)[0]


def expected_subsidy(world: World, category: str, amount_fen: int, available_fen: int) -> int:
    share = world.shares["diagnosis"] if category == DIAGNOSIS else world.shares["other"]
    return min(share_of(amount_fen, share), available_fen)


def choose(world: World, plan: Plan, catalogue: Catalogue, voucher: VoucherMirror) -> tuple | None:
    """A voucher with money and a product whose provider has room under its cap, or None."""
    rng = plan.rng
    for _ in range(20):
        if voucher.available_fen < yuan(500):
            voucher = rng.choice(world.vouchers)
            continue
        product = catalogue.draw(rng)
        amount = plan.negotiated(product["price_fen"])
        subsidy = expected_subsidy(world, product["category"], amount, voucher.available_fen)
        if world.provider_live_fen[product["provider"]] + subsidy > world.provider_cap_fen:
            continue
        return voucher, product, amount, subsidy
    return None


def _contracts(driver: Driver, plan: Plan, sizes: Sizes, clock: PhaseClock) -> None:
    world = driver.world
    if not world.vouchers or not world.products:
        return
    catalogue = Catalogue(world, plan)
    # Contracts go to vouchers in proportion to their quota: bigger vouchers buy more services.
    cum, total = [], 0
    for voucher in world.vouchers:
        total += voucher.quota_fen
        cum.append(total)
    targets = plan.rng.choices(world.vouchers, cum_weights=cum, k=sizes.contracts)
    batch_every = max(1, -(-sizes.contracts // sizes.batches))
    bar = Progress("合同 contracts", sizes.contracts)
    batches_done = 0
    with clock.phase("contracts", world):
        # Several waves between batches, so each batch finds contracts completed since the last one.
        size = max(20, min(WAVE, sizes.contracts // (2 * sizes.batches)))
        for start in range(0, sizes.contracts, size):
            wave = targets[start:start + size]
            _wave(driver, plan, catalogue, wave)
            # The bench's own records of the year (hundreds of thousands of objects) live to the end:
            # keep them out of the cyclic collector's full passes, which would otherwise grow with them.
            gc.freeze()
            bar.advance(len(wave))
            while batches_done < sizes.batches and start + len(wave) >= (batches_done + 1) * batch_every:
                batches_done += 1
                with clock.phase(f"batch_{batches_done}", world):
                    run_batch(driver, plan.rng, batches_done)
    bar.finish()
    clock.phases["contracts"]["batches_inside"] = batches_done


def _wave(driver: Driver, plan: Plan, catalogue: Catalogue, targets: list[VoucherMirror]) -> None:
    """Propose a wave of contracts, then sign, pay and complete or terminate them, as a year goes."""
    app, world = driver.app, driver.world
    wave: list[tuple[ContractRecord, str]] = []
    for target in targets:
        choice = choose(world, plan, catalogue, target)
        if choice is None:
            world.refusals["BENCH_NO_ROOM"] += 1
            continue
        voucher, product, amount, subsidy = choice
        fate = plan.fate()
        data = driver.run("enterprise", voucher.enterprise, app.propose_contract, voucher.voucher_id,
                          product["provider"], product["product_id"], amount)
        if data is None:
            continue
        record = ContractRecord(data["contract_id"], voucher.enterprise, product["provider"], voucher)
        world.contracts.append(record)
        if fate not in ("proposed", "terminated_proposed"):
            # Hold the expected subsidy in the mirror now, so later proposals of the wave see it gone.
            voucher.available_fen -= subsidy
            world.provider_live_fen[record.provider] += subsidy
            record.subsidy_fen = subsidy
        wave.append((record, fate))
    for record, fate in wave:
        if fate in ("proposed", "terminated_proposed"):
            continue
        data = driver.run("provider", record.provider, app.sign_contract, record.contract_id)
        if data is None:  # refused after all: give the mirror its money back
            _unhold(world, record)
            continue
        _hold_actual(world, record, data)
        record.status = "signed"
    for record, fate in wave:
        if fate.startswith("terminated") and record.status in ("proposed", "signed"):
            who = ("enterprise", record.enterprise) if plan.rng.random() < 0.6 else ("provider", record.provider)
            if driver.run(*who, app.terminate_contract, record.contract_id, plan.rng.choice(TERMINATION_REASONS)):
                if record.status == "signed":
                    _unhold(world, record)
                record.status = "terminated"
        elif fate in ("active", "completed") and record.status == "signed":
            if driver.run("enterprise", record.enterprise, app.pay_deposit, record.contract_id, record.deposit_fen):
                record.status = "active"
    for record, fate in wave:
        if fate == "completed" and record.status == "active":
            if driver.run("enterprise", record.enterprise, app.complete_contract, record.contract_id,
                          record.balance_due_fen):
                record.status = "completed"


def _hold_actual(world: World, record: ContractRecord, data: dict) -> None:
    """Correct the mirror to the subsidy the ledger actually reserved."""
    difference = data["subsidy"] - record.subsidy_fen
    record.voucher.available_fen -= difference
    world.provider_live_fen[record.provider] += difference
    record.subsidy_fen = data["subsidy"]
    record.deposit_fen = data["deposit"]
    record.balance_due_fen = data["balance_due"]


def _unhold(world: World, record: ContractRecord) -> None:
    record.voucher.available_fen += record.subsidy_fen
    world.provider_live_fen[record.provider] -= record.subsidy_fen
    record.subsidy_fen = 0
