"""What a realistic year looks like at a given scale: sizes, tier mix, prices, categories, fates.

Design size at scale 1 (issue 7): 20,000 vouchers, 2,000 providers, 5,000 products, 200,000
contracts, 2 settlement batches (Art. 19: at most two a year, DOMAIN.md "Stops" 10; 10 before
issue 14) and a few hundred sanctions — about two million events. The
mix below is an assumption where the measures are silent, written down so runs are comparable:
most above-size SMEs hold no honour (T1), a quarter a T2 honour, fewer T3 and T4; diagnosis is
the most common single category; most contracts complete, a few are terminated (Art. 28) or
still open at year end.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from service.demo import credit_code
from ledger.money import yuan
from ledger.rules import CATEGORIES, HONOUR_TIERS, PROVIDER_DOCUMENT_KINDS

DESIGN = {"vouchers": 20_000, "providers": 2_000, "products": 5_000, "contracts": 200_000, "batches": 2,
          "cases": 300, "special_vouchers": 200}

# Share of enterprises per tier (Art. 9); the honour drawn decides the tier.
TIER_MIX = (("T1", 0.55), ("T2", 0.25), ("T3", 0.15), ("T4", 0.05))
HONOURS_BY_TIER = {tier: [h for h, t in HONOUR_TIERS.items() if t == tier] for tier in ("T2", "T3", "T4")}

# Categories of products: diagnosis first, then digital transformation; the rest share the remainder.
CATEGORY_WEIGHTS = {"diagnosis": 0.22, "digital_transformation": 0.18, "tech_innovation": 0.09,
                    "management_consulting": 0.10, "market_expansion": 0.07, "financing": 0.05,
                    "testing_certification": 0.10, "legal": 0.05, "human_resources": 0.06,
                    "demonstration_application": 0.04, "other": 0.04}
assert set(CATEGORY_WEIGHTS) == set(CATEGORIES)

# What becomes of a contract (fractions of all contracts).
FATES = (("completed", 0.88), ("active", 0.04), ("signed", 0.02), ("proposed", 0.01),
         ("terminated_proposed", 0.02), ("terminated_signed", 0.03))

PRICE_MIN_YUAN, PRICE_MAX_YUAN = 1_500, 50_000
INELIGIBLE_ENTERPRISES = 0.03  # register but fail Art. 5: no voucher
INELIGIBLE_PROVIDERS = 0.03  # fail Art. 12 at the compliance review
REJECTED_PROVIDERS = 0.03  # pass compliance, rejected later (expert stage)
REJECTED_PRODUCTS = 0.08  # rejected at the expert review

CITIES = ("南宁", "柳州", "桂林", "梧州", "北海", "防城港", "钦州", "贵港", "玉林", "百色", "贺州", "河池", "来宾", "崇左")
TRADES = ("机械", "电子", "化工", "食品", "建材", "汽车配件", "铝业", "糖业", "林产", "纺织", "医药", "新材料")
SERVICES = ("管理咨询", "检验检测", "数字科技", "知识产权", "人力资源", "财税服务", "法律服务", "技术服务")

# Serial ranges of the generated credit codes (9 digits): enterprises and providers never collide.
ENTERPRISE_SERIAL = 100_000_000
PROVIDER_SERIAL = 200_000_000


@dataclass(frozen=True)
class Sizes:
    """How many of each thing to generate."""

    enterprises: int
    providers: int
    products: int
    contracts: int
    batches: int
    cases: int
    special: int = 0  # special vouchers (专项券, issue 17): about 200 a year at design size

    @classmethod
    def at(cls, scale: float) -> "Sizes":
        def scaled(n: int, least: int) -> int:
            return max(least, int(round(n * scale)))

        providers = scaled(DESIGN["providers"], 4)
        return cls(
            enterprises=scaled(DESIGN["vouchers"], 10),
            providers=providers,
            products=max(scaled(DESIGN["products"], 8), providers),
            contracts=scaled(DESIGN["contracts"], 40),
            batches=max(1, min(DESIGN["batches"], int(round(DESIGN["batches"] * scale * 100)))),
            cases=scaled(DESIGN["cases"], 2),
            special=scaled(DESIGN["special_vouchers"], 2),
        )


class Plan:
    """Deterministic draws (seeded) for every generated party and contract."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)

    def enterprise_code(self, index: int) -> str:
        return self.enterprise_code_of(index)

    @staticmethod
    def enterprise_code_of(index: int) -> str:
        return credit_code(ENTERPRISE_SERIAL + index)

    def provider_code(self, index: int) -> str:
        return credit_code(PROVIDER_SERIAL + index)

    def enterprise(self, index: int, eligible: bool | None = None) -> dict:
        """Facts and honours of the index-th enterprise (eligible unless drawn otherwise, or as told)."""
        rng = self.rng
        tier = self._weighted(TIER_MIX)
        honours = [] if tier == "T1" else [rng.choice(HONOURS_BY_TIER[tier])]
        if tier != "T1" and rng.random() < 0.3:  # a few hold a second, lower honour as well
            honours.append(rng.choice(HONOURS_BY_TIER["T2"]))
        drawn = rng.random() >= INELIGIBLE_ENTERPRISES
        eligible = drawn if eligible is None else eligible
        revenue_yuan = int(math.exp(rng.uniform(math.log(25_000_000), math.log(380_000_000))))
        return {
            "code": self.enterprise_code(index),
            "name": f"广西{rng.choice(CITIES)}{rng.choice(TRADES)}制造有限公司{index:05d}",
            "employees": rng.randint(40, 950),
            "revenue_fen": yuan(revenue_yuan if eligible else 12_000_000),  # below 20M: not above size
            "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
            "major_violation": False, "industry_aligned": True, "honours": sorted(set(honours)),
            "eligible": eligible,
        }

    def provider(self, index: int) -> dict:
        rng = self.rng
        draw = rng.random()
        fate = "ineligible" if draw < INELIGIBLE_PROVIDERS else (
            "rejected" if draw < INELIGIBLE_PROVIDERS + REJECTED_PROVIDERS else "signed")
        code = self.provider_code(index)
        return {
            "code": code,
            "name": f"广西{rng.choice(CITIES)}{rng.choice(SERVICES)}有限公司{index:04d}",
            "registered_in_guangxi": True, "entity_type": "partnership" if rng.random() < 0.1 else "legal_person",
            "fixed_premises": True, "years_operating": 2 if fate == "ineligible" else rng.randint(3, 25),
            "core_staff_insured": rng.randint(8, 80), "clients_last_year": rng.randint(10, 400),
            "revenue_last_year_fen": yuan(rng.randint(2_000_000, 60_000_000)), "dishonest": False,
            "tax_compliant": True, "accepts_supervision": True, "accepts_face_value_offset": True,
            "documents": [{"name": f"{kind}.pdf", "sha256": f"{index:064x}", "size": 40_960 + index, "kind": kind,
                           "uri": f"https://docs.example.gov.cn/providers/{code}/{kind}.pdf"}
                          for kind in PROVIDER_DOCUMENT_KINDS],  # the materials of Art. 13
            "fate": fate,
        }

    def product(self, index: int) -> dict:
        rng = self.rng
        category = self._weighted(tuple(CATEGORY_WEIGHTS.items()))
        price_yuan = int(math.exp(rng.uniform(math.log(PRICE_MIN_YUAN), math.log(PRICE_MAX_YUAN))))
        price_yuan = max(PRICE_MIN_YUAN, price_yuan // 100 * 100)  # priced in whole hundreds
        return {"name": f"{category}服务包{index:05d}", "category": category, "price_fen": yuan(price_yuan),
                "listed": rng.random() >= REJECTED_PRODUCTS}

    def fate(self) -> str:
        return self._weighted(FATES)

    def negotiated(self, price_fen: int) -> int:
        """The contract amount: the catalogue price, sometimes a little less for a smaller scope."""
        if self.rng.random() < 0.8:
            return price_fen
        return max(yuan(1_000), price_fen * self.rng.randint(70, 100) // 100 // 100 * 100)

    def provider_weights(self, count: int) -> list[float]:
        """Popularity of providers: a mild long tail (rank^-0.6), shuffled."""
        weights = [1.0 / (rank + 1) ** 0.6 for rank in range(count)]
        self.rng.shuffle(weights)
        return weights

    def _weighted(self, options: tuple) -> str:
        draw, total = self.rng.random(), 0.0
        for value, weight in options:
            total += weight
            if draw < total:
                return value
        return options[-1][0]
