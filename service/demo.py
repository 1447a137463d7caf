"""A demo year for newcomers and the console: every tier, signed providers, contracts in every state."""

from __future__ import annotations

from typing import Any

from stdnum.cn import uscc

from ledger.application import VoucherLedger
from ledger.context import Actor, acting
from ledger.domain.year import Year
from ledger.money import yuan
from ledger.rules import PRODUCT_REVIEW_STAGES, PROVIDER_DOCUMENT_KINDS, PROVIDER_REVIEW_STAGES

GUANGXI_DIVISION = "450100"  # 南宁市


def credit_code(serial: int, division: str = GUANGXI_DIVISION, kind: str = "91") -> str:
    """A valid unified social credit code (check character computed as GB 32100 says)."""
    base = f"{kind}{division}{serial:09d}"
    return base + uscc.calc_check_digit(base)


def provider_documents(code: str) -> list[dict[str, Any]]:
    """One document reference of each kind of Art. 13, as a compliance pass needs."""
    return [{"name": f"{kind}.pdf", "sha256": "0" * 64, "size": 1024, "kind": kind,
             "uri": f"https://docs.example.gov.cn/providers/{code}/{kind}.pdf"} for kind in PROVIDER_DOCUMENT_KINDS]


ENTERPRISES = [
    # (serial, name, honours) — two of each tier (Art. 9)
    (101, "广西南宁精工机械有限公司", []),
    (102, "柳州市鑫达塑料制品有限公司", []),
    (103, "桂林智造电子科技有限公司", ["tech_sme"]),
    (104, "梧州市恒通化工有限公司", ["digital_workshop"]),
    (105, "北海海川食品有限公司", ["gazelle"]),
    (106, "玉林市玉柴配件制造有限公司", ["regional_specialised_sme"]),
    (107, "广西钦州港湾重工股份有限公司", ["little_giant"]),
    (108, "百色铝业新材料有限公司", ["national_single_champion"]),
]
PROVIDERS = [
    (201, "广西数智企业管理咨询有限公司"),
    (202, "南宁德信检验检测认证有限公司"),
    (203, "桂林创新技术服务中心（有限合伙）"),
]
PRODUCTS = [
    (201, "企业数字化诊断", "diagnosis", 100_000),
    (201, "精益管理咨询", "management_consulting", 60_000),
    (202, "产品质量检测认证", "testing_certification", 40_000),
    (203, "工业软件上云实施", "digital_transformation", 150_000),
]


def as_role(role: str, subject: str | None = None) -> Any:
    return acting(Actor(role=role, id=f"demo-{role}" + (f"-{subject[-4:]}" if subject else ""), subject=subject))


def demo_window(year: int) -> tuple[str, str]:
    return f"{year}-01-01", f"{year}-12-31"


def refuse_unusable_year(year: int, today: Any) -> None:
    """Refuse, before anything is written, a year the demo could not load whole (issue 20).

    The demo opens the year and then signs contracts today, so the year must be one that may be opened
    (YEAR_OUT_OF_RANGE) and its window must hold today (YEAR_NOT_STARTED, YEAR_ENDED): otherwise the
    year would be opened and funded and then stop half-way, and show in every picker. The Year's own
    rules decide, on a notice that is never saved.
    """
    with as_role("approver"):
        notice = Year.open(year, *demo_window(year), parameters={}, today=today)
    notice.refuse_outside_window(today)


def load_demo(app: VoucherLedger, year: int | None = None) -> dict[str, Any]:
    """Load the demo year through the application's own commands; a no-op if the year exists."""
    year = year or app.today().year  # the business date (LEDGER_BUSINESS_DATE in drills)
    if Year.create_id(year) in app.repository:
        return {"year": year, "loaded": False}
    refuse_unusable_year(year, app.today())
    with as_role("approver"):
        app.open_year(year, *demo_window(year))
    with as_role("finance"):
        app.allocate_budget(year, yuan(20_000_000), f"桂财工〔{year}〕1号")
    vouchers = {}
    for serial, name, honours in ENTERPRISES:
        code = credit_code(serial)
        with as_role("operator"):
            app.register_enterprise(code, name, employees=120 + serial, revenue_fen=yuan(50_000_000 + serial * 100_000),
                                    registered_in_guangxi=True, legal_person=True, social_insurance=True,
                                    dishonest=False, major_violation=False, industry_aligned=True, honours=honours)
            vouchers[code] = app.issue_voucher(code, year).data["voucher_id"]
    for serial, name in PROVIDERS:
        code = credit_code(serial)
        with as_role("provider", code):
            app.register_provider(code, name, registered_in_guangxi=True,
                                  entity_type="partnership" if "合伙" in name else "legal_person",
                                  fixed_premises=True, years_operating=6, core_staff_insured=15,
                                  clients_last_year=40, revenue_last_year_fen=yuan(8_000_000), dishonest=False,
                                  tax_compliant=True, accepts_supervision=True, accepts_face_value_offset=True,
                                  documents=provider_documents(code))
        for stage, role in PROVIDER_REVIEW_STAGES:
            with as_role(role):
                app.review_provider(code, year, stage, "pass", "演示：通过")
    products = []
    for serial, name, category, price in PRODUCTS:
        provider = credit_code(serial)
        with as_role("provider", provider):
            product_id = app.submit_product(provider, name, category, yuan(price), f"{name}（标准化服务）").data["product_id"]
        for stage, role in PRODUCT_REVIEW_STAGES:
            with as_role(role):
                app.review_product(product_id, year, stage, "pass", "演示：通过")
        products.append((provider, product_id, price))
    contracts = _demo_contracts(app, vouchers, products)
    settlement = _demo_settlement(app, year, vouchers, products, contracts)
    return {"year": year, "loaded": True, "vouchers": len(vouchers), "contracts": contracts, **settlement}


def _demo_contracts(app: VoucherLedger, vouchers: dict[str, str], products: list[tuple[str, str, int]]) -> dict[str, str]:
    """One contract in each state: proposed, signed, active, completed, terminated."""
    codes = list(vouchers)
    states = {}
    plan = [("completed", 2, 0), ("completed", 3, 2), ("active", 4, 1), ("signed", 5, 3), ("proposed", 6, 2),
            ("terminated", 7, 0)]
    for state, enterprise_index, product_index in plan:
        enterprise = codes[enterprise_index]
        provider, product_id, price = products[product_index]
        with as_role("enterprise", enterprise):
            contract = app.propose_contract(vouchers[enterprise], provider, product_id, yuan(price)).data
        contract_id = contract["contract_id"]
        states.setdefault(state, contract_id)
        if state == "proposed":
            continue
        with as_role("provider", provider):
            signed = app.sign_contract(contract_id).data
        if state == "terminated":
            with as_role("enterprise", enterprise):
                app.terminate_contract(contract_id, "演示：服务无法按期完成 (Art. 28)")
            continue
        if state == "signed":
            continue
        with as_role("enterprise", enterprise):
            app.pay_deposit(contract_id, signed["deposit"])
            if state == "completed":
                app.complete_contract(contract_id, signed["balance_due"])
    return states


def _settlement_documents(contract_id: str) -> list[dict[str, Any]]:
    import hashlib

    name = f"结算材料-{contract_id[:8]}.pdf"
    return [{"name": name, "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": 204_800,
             "uri": f"https://docs.example.gov.cn/settlements/{contract_id}.pdf"}]


def _completed_contract(app: VoucherLedger, enterprise: str, voucher_id: str, provider: str, product_id: str,
                        price: int) -> str:
    with as_role("enterprise", enterprise):
        contract_id = app.propose_contract(voucher_id, provider, product_id, yuan(price)).data["contract_id"]
    with as_role("provider", provider):
        signed = app.sign_contract(contract_id).data
    with as_role("enterprise", enterprise):
        app.pay_deposit(contract_id, signed["deposit"])
        app.complete_contract(contract_id, signed["balance_due"])
    return contract_id


def _claim(app: VoucherLedger, batch_id: str, provider: str, contract_ids: list[str]) -> str:
    with as_role("provider", provider):
        return app.claim_settlement(batch_id, contract_ids, _settlement_documents(contract_ids[0])).data["claim_id"]


def _demo_settlement(app: VoucherLedger, year: int, vouchers: dict[str, str], products: list[tuple[str, str, int]],
                     states: dict[str, str]) -> dict[str, Any]:
    """A paid batch, an open batch with a pending claim, and a sanctioned case (Art. 20, 25)."""
    codes = list(vouchers)
    (diag_provider, _, _), (consult_provider, consult, consult_price), (test_provider, testing, test_price), \
        (digital_provider, digital, digital_price) = products
    transferred = _completed_contract(app, codes[0], vouchers[codes[0]], test_provider, testing, test_price)
    digital_contract = _completed_contract(app, codes[7], vouchers[codes[7]], digital_provider, digital, digital_price)
    later = _completed_contract(app, codes[1], vouchers[codes[1]], consult_provider, consult, consult_price)
    # The first batch of the year: claimed, reviewed, approved, noticed without objection and paid.
    with as_role("operator"):
        paid_batch = app.open_settlement(year, f"{year}年第一批兑付").data["batch_id"]
    claims = [_claim(app, paid_batch, diag_provider, [states["completed"]]),
              _claim(app, paid_batch, test_provider, [transferred]),
              _claim(app, paid_batch, digital_provider, [digital_contract])]
    with as_role("operator"):
        for claim_id in claims:
            app.review_claim(paid_batch, claim_id, "approve", "演示：结算材料核对无误")
    with as_role("approver"):
        app.approve_settlement(paid_batch, "演示：结算方案审定")
    with as_role("operator"):
        app.record_settlement_notice(paid_batch, "no_objection", "演示：公示期满无异议")
    with as_role("finance"):
        app.pay_settlement(paid_batch, f"桂财工兑〔{year}〕1号")
    # A sanctioned case: the supervisor finds the voucher was sold; the centre claws the paid subsidy
    # back (a receivable from the provider), revokes the enterprise and records bad credit.
    with as_role("supervisor"):
        case_id = app.file_case("enterprise", codes[0], "transfer", [transferred],
                                "演示：第三方监理发现服务券被转让").data["case_id"]
    with as_role("operator"):
        app.sanction_case(case_id, [transferred], revoke_enterprise=True, note="演示：追回补贴并取消领券资格")
    # The second batch stays open: one claim awaits review.
    with as_role("operator"):
        open_batch = app.open_settlement(year, f"{year}年第二批兑付").data["batch_id"]
    _claim(app, open_batch, consult_provider, [later])
    return {"batches": {"paid": paid_batch, "open": open_batch}, "case": case_id}

