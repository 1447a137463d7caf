"""The year's evaluation as an Excel workbook (绩效评估, Art. 26), written with openpyxl.

One sheet per dimension, Chinese headers, amounts as numbers in yuan (two decimals), ratios as
numbers shown as percentages, the date it was made in Beijing time. The figures are those of the JSON
answer (`projections/audit/evaluation.py`), so the two always agree.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from io import BytesIO
from typing import Any, Iterable

from openpyxl import Workbook

from ledger.business_date import CHINA

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00%"
KIND_NAMES = {"general": "通用券", "special": "专项券"}
CATEGORY_NAMES = {
    "diagnosis": "企业诊断", "digital_transformation": "数字化转型", "tech_innovation": "技术创新",
    "management_consulting": "管理咨询", "market_expansion": "市场开拓", "financing": "融资服务",
    "testing_certification": "检验检测认证", "legal": "法律服务", "human_resources": "人力资源",
    "demonstration_application": "示范称号申报", "other": "其他服务",
}


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def _ratio(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class _Sheet:
    def __init__(self, workbook: Workbook, title: str, headers: Iterable[str], first: bool = False) -> None:
        self.ws = workbook.active if first else workbook.create_sheet()
        self.ws.title = title
        self.ws.append(list(headers))

    def row(self, *cells: Any, money: Iterable[int] = (), ratios: Iterable[int] = ()) -> None:
        self.ws.append(list(cells))
        line = self.ws.max_row
        for column in money:
            self.ws.cell(row=line, column=column).number_format = YUAN_FORMAT
        for column in ratios:
            self.ws.cell(row=line, column=column).number_format = RATIO_FORMAT


def _reach(workbook: Workbook, title: str, label: str, rows: list[dict[str, Any]], names: dict[str, str]) -> None:
    sheet = _Sheet(workbook, title, [label, "企业数", "券数", "发放金额（元）", "使用金额（元）"])
    for r in rows:
        sheet.row(names.get(r["key"], r["key"]), r["enterprises"], r["vouchers"], yuan(r["issued"]), yuan(r["used"]),
                  money=(4, 5))
    sheet.row("合计", sum(r["enterprises"] for r in rows), sum(r["vouchers"] for r in rows),
              yuan(sum(r["issued"] for r in rows)), yuan(sum(r["used"] for r in rows)), money=(4, 5))


def workbook(evaluation: dict[str, Any], made_at: datetime) -> bytes:
    """The evaluation as .xlsx bytes; `made_at` is shown as a Beijing date and time."""
    book = Workbook()
    local = made_at.astimezone(CHINA)
    budget = evaluation["budget"]
    overview = _Sheet(book, "预算执行", ["指标", "数值"], first=True)
    overview.row("年度", evaluation["year"])
    overview.row("生成日期（北京时间）", local.date())
    overview.ws.cell(row=overview.ws.max_row, column=2).number_format = "yyyy-mm-dd"
    overview.row("生成时间（北京时间）", local.strftime("%Y-%m-%d %H:%M:%S"))
    for label, key in (("年度预算（元）", "budget"), ("已发放（元）", "issued"), ("已使用（元）", "used"),
                       ("已兑付（元）", "settled"), ("已作废（元）", "expired")):
        overview.row(label, yuan(budget[key]), money=(2,))
    for label, key in (("发放率（发放÷预算）", "issued_of_budget"), ("使用率（使用÷发放）", "used_of_issued"),
                       ("兑付率（兑付÷使用）", "settled_of_used"), ("作废率（作废÷发放）", "expired_of_issued")):
        overview.row(label, _ratio(budget[key]), ratios=(2,))
    _reach(book, "按档次", "档次", evaluation["by_tier"], {})
    _reach(book, "按券种", "券种", evaluation["by_kind"], KIND_NAMES)
    _reach(book, "按城市", "城市", evaluation["by_city"], {})
    categories = _Sheet(book, "按服务类别", ["服务类别", "合同数", "合同金额（元）", "使用补贴（元）"])
    rows = evaluation["by_category"]
    for r in rows:
        categories.row(CATEGORY_NAMES.get(r["key"], r["key"]), r["contracts"], yuan(r["amount"]), yuan(r["used"]),
                       money=(3, 4))
    categories.row("合计", sum(r["contracts"] for r in rows), yuan(sum(r["amount"] for r in rows)),
                   yuan(sum(r["used"] for r in rows)), money=(3, 4))
    share = evaluation["subsidy_share"]
    shares = _Sheet(book, "补贴比例", ["已完成合同数", "合同金额（元）", "补贴金额（元）", "平均补贴比例"])
    shares.row(share["contracts"], yuan(share["amount"]), yuan(share["subsidy"]), _ratio(share["share"]),
               money=(2, 3), ratios=(4,))
    concentration = evaluation["concentration"]
    top = _Sheet(book, "服务机构集中度", ["排名", "服务机构", "使用补贴（元）"])
    for rank, p in enumerate(concentration["top"], start=1):
        top.row(rank, p["provider_id"], yuan(p["used"]), money=(3,))
    top.row("前十合计", None, yuan(concentration["top_used"]), money=(3,))
    top.row("全部合计", concentration["providers"], yuan(concentration["total_used"]), money=(3,))
    top.row("前十占比", None, _ratio(concentration["share"]), ratios=(3,))
    satisfaction = evaluation["satisfaction"]
    surveys = _Sheet(book, "满意度", ["评分", "份数"])
    for r in satisfaction["by_score"]:
        surveys.row(r["score"], r["count"])
    surveys.row("合计", satisfaction["surveys"])
    surveys.row("平均分", None if satisfaction["mean_score"] is None else Decimal(satisfaction["mean_score"]))
    checks = evaluation["checks"]
    checked = _Sheet(book, "抽查与验收", ["项目", "次数", "不合格", "不合格率"])
    checked.row("抽查", checks["spot_checks"], checks["spot_checks_failed"], _ratio(checks["spot_check_failure_rate"]),
                ratios=(4,))
    checked.row("验收", checks["acceptance_checks"], checks["acceptance_failed"],
                _ratio(checks["acceptance_failure_rate"]), ratios=(4,))
    clawbacks = evaluation["clawbacks"]
    money = _Sheet(book, "追回", ["项目", "金额（元）"])
    for label, key in (("追回补贴", "clawed_back"), ("其中已兑付应收", "receivable"), ("已收回", "recovered"),
                       ("未收回", "outstanding")):
        money.row(label, yuan(clawbacks[key]), money=(2,))
    out = BytesIO()
    book.save(out)
    return out.getvalue()
