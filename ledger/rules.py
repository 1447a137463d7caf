"""The measures (广西企业培优育强服务补贴券管理办法) as data and pure functions, with article numbers.

A policy change is one edit here, and a test shows it. Amounts are fen, ratios basis points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from stdnum.cn import uscc

from ledger.money import yuan

# Roles (DOMAIN.md "Parties and roles"; Art. 4, 17, 21, 23).
APPROVER, FINANCE, OPERATOR = "approver", "finance", "operator"
ENTERPRISE, PROVIDER = "enterprise", "provider"
SUPERVISOR, AUDITOR = "supervisor", "auditor"
SYSTEM = "system"  # the command line and scheduled jobs acting for the operator of the platform
STAFF = (APPROVER, FINANCE, OPERATOR)
READERS = (*STAFF, SUPERVISOR, AUDITOR)
# A machine client following the ledger (API.md "Following the ledger"): it reads the event feed and nothing else.
INTEGRATION = "integration"
ROLES = (APPROVER, FINANCE, OPERATOR, ENTERPRISE, PROVIDER, SUPERVISOR, AUDITOR, INTEGRATION)
SUBJECT_ROLES = (ENTERPRISE, PROVIDER)  # roles bound to one credit code

# Voucher kinds (Art. 5, 6). Special vouchers take their quotas, scope and provider cap from the
# year's special programme (DOMAIN.md "Special vouchers").
GENERAL = "general"
SPECIAL = "special"
VOUCHER_KINDS = (GENERAL, SPECIAL)

# Designations of special-voucher holders (Art. 5(二), 9(二)): 龙头企业/链主企业/单项冠军, 产业集群和基地运营机构,
# 重点产业项目业主, 创新平台/服务型制造示范, 其他经认定的主体.
DESIGNATIONS = ("lead_enterprise", "cluster_or_base", "key_project", "innovation_platform", "other_designated")

# Tier quotas of the general voucher (Art. 9): the ceilings, which are also the defaults.
TIERS = ("T1", "T2", "T3", "T4")
TIER_QUOTA_CEILINGS_FEN = {"T1": yuan(50_000), "T2": yuan(100_000), "T3": yuan(200_000), "T4": yuan(300_000)}

# Honours that place an enterprise in a tier (Art. 9); the highest matching tier wins.
HONOUR_TIERS = {
    # T4: 国家级制造业单项冠军, 专精特新"小巨人"
    "national_single_champion": "T4",
    "little_giant": "T4",
    # T3: 自治区单项冠军, 自治区专精特新, 瞪羚, 知识产权优势/示范, 质量标杆, 广西名优工业产品
    "regional_single_champion": "T3",
    "regional_specialised_sme": "T3",
    "gazelle": "T3",
    "ip_advantage": "T3",
    "quality_benchmark": "T3",
    "famous_product": "T3",
    # T2: 科技型中小企业, 创新型中小企业, 数字化车间, 两化融合, 数字化水平三级以上, 特色产业集群, 新升规
    "tech_sme": "T2",
    "regional_innovative_sme": "T2",
    "digital_workshop": "T2",
    "itc_integration": "T2",
    "digital_maturity_3": "T2",
    "national_cluster_member": "T2",
    "newly_above_scale": "T2",
}
HONOURS = tuple(HONOUR_TIERS)


def tier_for(honours: list[str] | tuple[str, ...]) -> str:
    """The highest tier any honour qualifies for; T1 with none (Art. 9)."""
    return max((HONOUR_TIERS[h] for h in honours), default="T1")


# Service categories (Art. 6); diagnosis (企业诊断) takes the diagnosis share (Art. 10).
DIAGNOSIS = "diagnosis"
CATEGORIES = (
    DIAGNOSIS,
    "digital_transformation",
    "tech_innovation",
    "management_consulting",
    "market_expansion",
    "financing",
    "testing_certification",
    "legal",
    "human_resources",
    "demonstration_application",
    "other",
)

# Shares and caps (Art. 10, 17), in basis points and fen.
DIAGNOSIS_SHARE_CEILING_BP = 8_000
OTHER_SHARE_CEILING_BP = 5_000
DEPOSIT_SHARE_BP = 2_000
PROVIDER_CAP_CEILING_FEN = yuan(5_000_000)


# Settlement batches a year may have (Art. 19 "每年集中兑付1-2次").
SETTLEMENT_BATCHES_CHOICES = (1, 2)
SETTLEMENT_BATCHES_MAX = 2


@dataclass(frozen=True)
class YearParameters:
    """A year's parameters from its annual notice (年度申报通知), Art. 9-10, 17."""

    tier_quotas_fen: dict[str, int]
    diagnosis_share_bp: int = DIAGNOSIS_SHARE_CEILING_BP
    other_share_bp: int = OTHER_SHARE_CEILING_BP
    deposit_share_bp: int = DEPOSIT_SHARE_BP
    provider_cap_fen: int = PROVIDER_CAP_CEILING_FEN
    # The notice may require a credit commitment (信用承诺) before issuance or compliance (Art. 22);
    # recorded and shown now, enforced by the service archive's commitments.
    commitment_required: bool = False
    settlement_batches: int = SETTLEMENT_BATCHES_MAX  # Art. 19: one or two batches a year

    def share_for(self, category: str) -> int:
        """The subsidy share of a contract in this category (Art. 10)."""
        return self.diagnosis_share_bp if category == DIAGNOSIS else self.other_share_bp

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier_quotas_fen": dict(self.tier_quotas_fen),
            "diagnosis_share_bp": self.diagnosis_share_bp,
            "other_share_bp": self.other_share_bp,
            "deposit_share_bp": self.deposit_share_bp,
            "provider_cap_fen": self.provider_cap_fen,
            "commitment_required": self.commitment_required,
            "settlement_batches": self.settlement_batches,
        }


def default_tier_quotas() -> dict[str, int]:
    return dict(TIER_QUOTA_CEILINGS_FEN)


def parameters_above_ceiling(params: YearParameters) -> dict[str, str]:
    """Each parameter that is looser than the measures allow, with the article that sets the ceiling.

    The deposit is fixed at 20% by Art. 17; a year may ask more, but never so much that
    deposit plus the diagnosis subsidy would exceed the contract amount.
    """
    failures: dict[str, str] = {}
    for tier in TIERS:
        quota = params.tier_quotas_fen.get(tier)
        if quota is None or quota < 0 or quota > TIER_QUOTA_CEILINGS_FEN[tier]:
            failures[f"tier_quotas.{tier}"] = f"Art. 9: at most {TIER_QUOTA_CEILINGS_FEN[tier] // 100} yuan"
    if not 0 <= params.diagnosis_share_bp <= DIAGNOSIS_SHARE_CEILING_BP:
        failures["diagnosis_share"] = "Art. 10: at most 0.80 of the contract amount"
    if not 0 <= params.other_share_bp <= OTHER_SHARE_CEILING_BP:
        failures["other_share"] = "Art. 10: at most 0.50 of the contract amount"
    if params.deposit_share_bp < DEPOSIT_SHARE_BP or params.deposit_share_bp + params.diagnosis_share_bp > 10_000:
        failures["deposit_share"] = "Art. 17: at least 0.20, and with the diagnosis share at most 1"
    if not 0 <= params.provider_cap_fen <= PROVIDER_CAP_CEILING_FEN:
        failures["provider_cap"] = "Art. 10: at most 5000000.00 yuan per provider and year"
    if params.settlement_batches not in SETTLEMENT_BATCHES_CHOICES:
        failures["settlement_batches"] = "Art. 19: one or two settlement batches a year"
    return failures


# A year is a calendar year (Art. 18: no carry-over): a notice opens last, this or next year only
# (DOMAIN.md "Stops" 2), judged on the business date.
YEAR_RANGE = (-1, 0, 1)


def year_out_of_range(year: int, starts_on: str, ends_on: str, today: Any) -> dict[str, list[str]]:
    """What puts a year's notice outside its calendar year or outside the years that may be opened."""
    failures: dict[str, list[str]] = {}
    if year - today.year not in YEAR_RANGE:
        failures["year"] = [f"only {today.year - 1}, {today.year} or {today.year + 1} may be opened "
                            f"(business date {today.isoformat()})"]
    for field, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if not str(value).startswith(f"{year}-"):
            failures[field] = [f"must lie inside the calendar year {year}"]
    return failures


# Unified social credit codes (统一社会信用代码, GB 32100); Guangxi's division codes start with 45.
GUANGXI_DIVISION_PREFIX = "45"


def valid_credit_code(code: object) -> bool:
    """True for an 18-character unified social credit code with a correct check character.

    ASCII letters and digits only: python-stdnum folds full-width digits ("９１...") into ASCII before
    checking, so without this one enterprise could be registered again under a look-alike id.
    """
    return (isinstance(code, str) and len(code) == 18 and code.isascii() and code.isalnum()
            and code == code.upper() and uscc.is_valid(code))


def credit_code_in_guangxi(code: str) -> bool:
    """Characters 3-8 are the registering authority's division code (GB 32100 §4)."""
    return code[2:4] == GUANGXI_DIVISION_PREFIX


@dataclass(frozen=True)
class Condition:
    """One condition of eligibility, its article, and the words an official would use."""

    code: str
    article: str
    message: str


SME_EMPLOYEES_BELOW = 1_000
SME_REVENUE_BELOW_FEN = yuan(400_000_000)
ABOVE_SCALE_REVENUE_FEN = yuan(20_000_000)

ENTERPRISE_CONDITIONS = {
    c.code: c
    for c in (
        Condition("sme", "Art. 5(1)", "not an SME (工信部联企业〔2011〕300号: fewer than 1,000 employees or revenue below ¥400,000,000)"),
        Condition("above_designated_size", "Art. 5(1)", "not above designated size (规上工业: main-business revenue of at least ¥20,000,000)"),
        Condition("registered_in_guangxi", "Art. 5(2)", "not registered in Guangxi (在广西注册登记)"),
        Condition("legal_person", "Art. 5(2)", "no independent legal personality (独立法人资格)"),
        Condition("social_insurance", "Art. 5(3)", "does not pay social insurance (依法缴纳社会保险)"),
        Condition("not_dishonest", "Art. 5(3)", "on the serious-dishonesty list (严重失信主体名单)"),
        Condition("no_major_violation", "Art. 5(3)", "major safety, quality, environmental or tax violation (重大违法违规)"),
        Condition("industry_aligned", "Art. 5(4)", "not in line with national and regional industrial direction (产业政策导向)"),
        Condition("bad_credit", "Art. 5(3), 22", "a bad-credit record in the service archive (不良信用记录)"),
    )
}


# A special holder need not be an SME (Art. 5(二)): it must be a Guangxi legal person, not dishonest and
# with no bad-credit record (DOMAIN.md "Special vouchers"), judged as for the general voucher.
SPECIAL_CONDITIONS = ("registered_in_guangxi", "legal_person", "not_dishonest", "bad_credit")


def enterprise_failures(facts: Mapping[str, Any], kind: str = GENERAL) -> list[Condition]:
    """Every Art. 5 condition the enterprise fails for a voucher of this kind; empty when it may hold one."""
    failed = []
    if not (facts["employees"] < SME_EMPLOYEES_BELOW or facts["revenue_fen"] < SME_REVENUE_BELOW_FEN):
        failed.append("sme")
    if facts["revenue_fen"] < ABOVE_SCALE_REVENUE_FEN:
        failed.append("above_designated_size")
    if not (facts["registered_in_guangxi"] and credit_code_in_guangxi(facts["id"])):
        failed.append("registered_in_guangxi")
    if not facts["legal_person"]:
        failed.append("legal_person")
    if not facts["social_insurance"]:
        failed.append("social_insurance")
    if facts["dishonest"]:
        failed.append("not_dishonest")
    if facts["major_violation"]:
        failed.append("no_major_violation")
    if not facts["industry_aligned"]:
        failed.append("industry_aligned")
    if facts.get("bad_credit"):
        failed.append("bad_credit")
    if kind == SPECIAL:
        failed = [code for code in failed if code in SPECIAL_CONDITIONS]
    return [ENTERPRISE_CONDITIONS[code] for code in failed]


# Providers (Art. 12-15).
PROVIDER_ENTITY_TYPES = ("legal_person", "partnership")
PROVIDER_MIN_YEARS_OPERATING = 3
PROVIDER_MIN_CORE_STAFF = 8
PROVIDER_MIN_CLIENTS = 10
PROVIDER_MIN_REVENUE_FEN = yuan(2_000_000)

PROVIDER_CONDITIONS = {
    c.code: c
    for c in (
        Condition("registered_in_guangxi", "Art. 12(1)", "not a legal person or partnership registered in Guangxi (在广西注册的法人或合伙企业)"),
        Condition("fixed_premises", "Art. 12(2)", "no fixed business premises in Guangxi (固定经营场所)"),
        Condition("years_operating", "Art. 12(2)", "operating for fewer than 3 years (成立满3年)"),
        Condition("core_staff", "Art. 12(3)", "fewer than 8 full-time core staff insured for a year (专职核心人员不少于8人)"),
        Condition("clients_last_year", "Art. 12(4)", "served fewer than 10 enterprises last year (上年度服务企业不少于10家)"),
        Condition("revenue_last_year", "Art. 12(4)", "last-year revenue below ¥2,000,000 (上年度营业收入不低于200万元)"),
        Condition("not_dishonest", "Art. 12(5)", "has a serious dishonesty record (严重失信记录)"),
        Condition("guangxi_code", "Art. 12(2)", "the credit code names no Guangxi registration authority (统一社会信用代码非广西登记)"),
        Condition("tax_compliant", "Art. 12(2)", "not tax compliant (依法纳税)"),
        Condition("accepts_supervision", "Art. 12(1)", "does not accept supervision and evaluation (接受监督和评价)"),
        Condition("accepts_face_value_offset", "Art. 12(1)", "does not accept offsetting the vouchers' face value (接受服务券面值抵扣)"),
        Condition("bad_credit", "Art. 12(1), 22", "a bad-credit record in the service archive (不良信用记录)"),
    )
}
# The consents and declarations a provider's application answers yes or no (Art. 12); an application
# that omits them (an older client) has not given them.
PROVIDER_DECLARATIONS = ("tax_compliant", "accepts_supervision", "accepts_face_value_offset")


def provider_failures(facts: Mapping[str, Any]) -> list[Condition]:
    """Every Art. 12 condition the provider fails; empty when it may be signed."""
    failed = []
    if not (facts["registered_in_guangxi"] and facts["entity_type"] in PROVIDER_ENTITY_TYPES):
        failed.append("registered_in_guangxi")
    if not facts["fixed_premises"]:
        failed.append("fixed_premises")
    if facts["years_operating"] < PROVIDER_MIN_YEARS_OPERATING:
        failed.append("years_operating")
    if facts["core_staff_insured"] < PROVIDER_MIN_CORE_STAFF:
        failed.append("core_staff")
    if facts["clients_last_year"] < PROVIDER_MIN_CLIENTS:
        failed.append("clients_last_year")
    if facts["revenue_last_year_fen"] < PROVIDER_MIN_REVENUE_FEN:
        failed.append("revenue_last_year")
    if facts["dishonest"]:
        failed.append("not_dishonest")
    if "id" in facts and not credit_code_in_guangxi(facts["id"]):  # the flag alone is not enough
        failed.append("guangxi_code")
    failed += [d for d in PROVIDER_DECLARATIONS if not facts.get(d, False)]
    if facts.get("bad_credit"):
        failed.append("bad_credit")
    return [PROVIDER_CONDITIONS[code] for code in failed]


# Facts an amendment may correct (Art. 17, 23: facts change only by recorded amendments).
PROVIDER_AMENDABLE = ("name", "registered_in_guangxi", "entity_type", "fixed_premises", "years_operating",
                      "core_staff_insured", "clients_last_year", "revenue_last_year_fen", "dishonest",
                      *PROVIDER_DECLARATIONS)
ENTERPRISE_AMENDABLE = ("name", "employees", "revenue_fen", "registered_in_guangxi", "legal_person",
                        "social_insurance", "dishonest", "major_violation", "industry_aligned", "honours")

# Materials (Art. 13): the kinds of document a provider's compliance pass needs one of each; an
# enterprise's honour certificates (Art. 9) are the evidence its declared honours are verified on.
PROVIDER_DOCUMENT_KINDS = ("application_form", "licence", "last_year_contracts", "qualification",
                           "social_insurance", "tax_registration")
HONOUR_CERTIFICATE = "honour_certificate"
DOCUMENT_KINDS = (*PROVIDER_DOCUMENT_KINDS, "other", HONOUR_CERTIFICATE)


def missing_document_kinds(documents: list[Mapping[str, Any]]) -> list[str]:
    """The kinds of Art. 13 materials no document carries, in the measures' order."""
    present = {d.get("kind") for d in documents}
    return [kind for kind in PROVIDER_DOCUMENT_KINDS if kind not in present]


# Review stages and the role that decides each (Art. 8, 14).
PROVIDER_REVIEW_STAGES = (
    ("compliance", OPERATOR),  # 促进中心合规性审查
    ("initial", APPROVER),  # 工信厅初审意见
    ("expert", OPERATOR),  # 专家评审推荐
    ("approval", APPROVER),  # 工信厅审定
    ("notice", OPERATOR),  # 公示无异议
)
PRODUCT_REVIEW_STAGES = (
    ("expert", OPERATOR),  # 专家评审
    ("approval", APPROVER),  # 工信厅审定
    ("notice", OPERATOR),  # 公示后入库
)

# Violations (Art. 25).
VIOLATIONS = ("transfer", "fake_transaction", "complaint", "audit_mismatch", "non_cooperation")
# The item of Art. 25 each violation falls under, in the measures' words (recorded on cases and credit records).
VIOLATION_ARTICLES = {
    "transfer": ("Art. 25(1)", "转让、赠送和买卖服务券"),
    "fake_transaction": ("Art. 25(2)", "虚假交易、串通套现（伪造服务券合同或提高合同金额等）"),
    "complaint": ("Art. 25(3)", "用券主体投诉产生较大不良影响"),
    "audit_mismatch": ("Art. 25(4)", "自查报告和审计报告结果严重不相符"),
    "non_cooperation": ("Art. 25(5)", "不配合监督和检查"),
}
CASE_SUBJECT_TYPES = ("enterprise", "provider")

# The service archive (服务档案, Art. 18(二), 21, 22).
SURVEY_SCORES = (1, 2, 3, 4, 5)  # a satisfaction survey's score: 1 very dissatisfied … 5 very satisfied
SPOT_CHECK_RESULTS = ("passed", "failed")
FINDING_SEVERITIES = ("info", "minor", "major")

# Guangxi's prefecture-level cities by the first four digits of the administrative division code,
# characters 3-8 of the unified social credit code (GB 32100: the registration authority's area).
# 4500: registered with a region-level authority (自治区本级).
GUANGXI_CITIES = {
    "4500": "自治区本级", "4501": "南宁市", "4502": "柳州市", "4503": "桂林市", "4504": "梧州市",
    "4505": "北海市", "4506": "防城港市", "4507": "钦州市", "4508": "贵港市", "4509": "玉林市",
    "4510": "百色市", "4511": "贺州市", "4512": "河池市", "4513": "来宾市", "4514": "崇左市",
}
OUTSIDE_GUANGXI = "区外"


def city_of(credit_code: str) -> str:
    """The city of a credit code's registration authority (from its division code), or 区外."""
    return GUANGXI_CITIES.get(credit_code[2:6], OUTSIDE_GUANGXI)


# Who evaluates the fund's year (绩效评估, Art. 26): DIIT and Finance, and those who oversee them.
EVALUATORS = (APPROVER, FINANCE, SUPERVISOR, AUDITOR)


def special_programme_failures(quotas_fen: Mapping[str, int], categories: list[str] | tuple[str, ...],
                               provider_cap_fen: int | None) -> dict[str, list[str]]:
    """What makes a year's special programme unusable (Art. 6(二), 9(二), 10): the notice sets the figures,
    the measures set no ceiling on them, but each must name known designations and categories."""
    failures: dict[str, list[str]] = {}
    unknown = sorted(set(quotas_fen) - set(DESIGNATIONS))
    if unknown:
        failures["quotas"] = [f"unknown designations: {', '.join(unknown)}"]
    elif not quotas_fen:
        failures["quotas"] = ["at least one designation's quota"]
    elif any(q <= 0 for q in quotas_fen.values()):
        failures["quotas"] = ["each quota must be greater than 0.00"]
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown or not categories:
        failures["categories"] = [f"unknown categories: {', '.join(unknown)}" if unknown else "at least one category"]
    if provider_cap_fen is not None and provider_cap_fen <= 0:
        failures["provider_cap"] = ["must be greater than 0.00, or null for no cap"]
    return failures
