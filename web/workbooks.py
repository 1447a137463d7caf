"""Excel workbooks (.xlsx) of the lists a clerk works from, and the year-end warning (issue 19).

Amounts are numbers in yuan (exact decimals from fen, shown with two places), so a column sums in
Excel; instants are Beijing time; headers and states are in Chinese, from the console's one table of
words (`web/console/i18n.py`). Staff, the supervisor and auditors may download them (Art. 21-23).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from flask import Response
from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.rules import READERS
from projections.views import balances, workbooks
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app
from web.console.i18n import text
from web.directory import CONTRACT_STATUSES
from web.fields import IsoDate, QueryYear, Yuan

blp = Blueprint("workbooks", __name__, url_prefix="/api/v1", description="表格下载与年末预警 Workbooks and the year-end warning")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHINA = dt.timezone(dt.timedelta(hours=8))
YUAN_FORMAT = "#,##0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
WORKBOOK_DOC = {"responses": {"200": {"description": "an Excel workbook (.xlsx)", "content": {XLSX: {}}}}}


def yuan(fen: Any) -> Decimal | None:
    """Fen as an exact decimal number of yuan (never a float)."""
    return None if fen is None else Decimal(int(fen)).scaleb(-2)


def beijing(instant: Any) -> dt.datetime | None:
    """A recorded instant (ISO 8601 with offset) as Beijing wall time, which Excel shows as it is."""
    if not instant:
        return None
    moment = dt.datetime.fromisoformat(str(instant))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(CHINA).replace(tzinfo=None)


class Column:
    """A column of a sheet: its Chinese header, how to read a row, and whether it is money or a time."""

    def __init__(self, header: str, read: Callable[[dict[str, Any]], Any], kind: str = "text", width: int = 16):
        self.header, self.read, self.kind, self.width = header, read, kind, width

    def value(self, row: dict[str, Any]) -> Any:
        raw = self.read(row)
        return yuan(raw) if self.kind == "yuan" else beijing(raw) if self.kind == "time" else raw


def money(header: str, key: str) -> Column:
    return Column(header, lambda r: r[key], "yuan", 14)


def field(header: str, key: str, width: int = 16) -> Column:
    return Column(header, lambda r: r.get(key), "text", width)


def word(header: str, group: str, key: str) -> Column:
    """A coded value (a status, a category) in its Chinese word."""
    return Column(header, lambda r: text(f"{group}.{r[key]}") if r.get(key) is not None else None, "text", 12)


def sheet(book: Any, title: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]], caption: str) -> None:
    """One sheet: a caption line, bold headers, the rows, and a total (合计) under each money column."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    ws.append([caption])
    ws.append([c.header for c in columns])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    totals = [Decimal(0) if c.kind == "yuan" else None for c in columns]
    count = 0
    for row in rows:
        values = [c.value(row) for c in columns]
        ws.append(values)
        count += 1
        for i, (column, value) in enumerate(zip(columns, values)):
            if column.kind == "yuan" and value is not None:
                totals[i] += value
    ws.append([f"合计（{count} 行）", *totals[1:]])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        for (cell,) in ws.iter_rows(min_row=3, min_col=index, max_col=index):
            if column.kind == "yuan":
                cell.number_format = YUAN_FORMAT
            elif column.kind == "time":
                cell.number_format = TIME_FORMAT
    ws.freeze_panes = "A3"


def workbook(name: str, sheets: Sequence[tuple[str, Sequence[Column], Iterable[dict[str, Any]]]]) -> Response:
    """The workbook as a download; each sheet's caption says when it was taken, in Beijing time."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    taken = dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    for title, columns, rows in sheets:
        sheet(book, title, columns, rows, f"{title}（金额单位：元；时间：北京时间；导出于 {taken}）")
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), status=200, content_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename=\"{name}.xlsx\""})


class YearQuery(Schema):
    year = QueryYear(required=True)


class ContractsQuery(YearQuery):
    status = fields.String(validate=validate.OneOf(CONTRACT_STATUSES))


class YearEndQuery(YearQuery):
    warn_from = IsoDate(data_key="from", metadata={"description": "the day the warning starts (default 1 October)"})


class YearEndPageQuery(YearEndQuery):
    # A year's warning names thousands of enterprises (issue 19): the console reads each list a page at a time.
    limit = fields.Integer(validate=validate.Range(min=1, max=500),
                           metadata={"description": "rows per list (at most 500); without it, every row"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9),
                            metadata={"description": "rows to skip in each list"})


def _readers() -> None:
    require_reader(current_actor(), roles=READERS)


CONTRACT_COLUMNS = [
    field("合同编号", "contract_id", 38), field("用券企业代码", "enterprise_id", 20), field("用券企业", "enterprise_name", 28),
    field("服务机构代码", "provider_id", 20), field("服务机构", "provider_name", 28), field("服务产品", "product_name", 24),
    word("服务类别", "category", "category"), money("合同金额", "amount"), money("补贴", "subsidy"),
    money("预付款", "deposit"), money("应付尾款", "balance_due"), money("已追回", "clawed_back"),
    money("应收回", "receivable"), word("状态", "status.contract", "status"),
    Column("已兑付", lambda r: "是" if r["settled"] else "否", "text", 8),
    Column("冻结原因", lambda r: r.get("hold_reason"), "text", 20),
    field("结算批次", "batch_id", 38), Column("签订时间", lambda r: r["proposed_at"], "time", 20),
]


@blp.get("/workbooks/vouchers")
@blp.arguments(YearQuery, location="query")
@blp.doc(**WORKBOOK_DOC)
def vouchers_workbook(args: dict[str, Any]) -> Any:
    """The year's vouchers and their balances, one row per voucher."""
    _readers()
    year = args["year"]
    balances.get_year(fresh_views(), year)  # 404 for an unknown year
    state = Column("状态", lambda r: text("status.voucher." + ("revoked" if r["revoked"] and r["status"] == "active"
                                                               else r["status"])), "text", 14)
    columns = [field("补贴券编号", "voucher_id", 38), field("统一社会信用代码", "enterprise_id", 20),
               field("企业名称", "enterprise_name", 28), field("年度", "year", 8), word("券种", "kind", "kind"),
               field("档次", "tier", 8), money("额度", "quota"), money("可用", "available"), money("预留", "reserved"),
               money("已使用", "used"), money("已作废", "expired"), money("已追回", "clawed_back"), state,
               Column("发放时间", lambda r: r["issued_at"], "time", 20)]
    return workbook(f"vouchers-{year}", [(f"{year}年度补贴券与余额", columns, workbooks.vouchers(fresh_views(), year))])


@blp.get("/workbooks/contracts")
@blp.arguments(ContractsQuery, location="query")
@blp.doc(**WORKBOOK_DOC)
def contracts_workbook(args: dict[str, Any]) -> Any:
    """The year's contracts (of one status), with their parties' names and every figure."""
    _readers()
    year = args["year"]
    rows = workbooks.contracts(fresh_views(), year, args.get("status"))
    return workbook(f"contracts-{year}", [(f"{year}年度服务合同", CONTRACT_COLUMNS, rows)])


@blp.get("/workbooks/provider-totals")
@blp.arguments(YearQuery, location="query")
@blp.doc(**WORKBOOK_DOC)
def provider_totals_workbook(args: dict[str, Any]) -> Any:
    """Each signed provider's totals of the year against its cap (Art. 15)."""
    _readers()
    year = args["year"]
    remaining = Column("剩余上限", lambda r: max(0, r["cap"] + r["exceptions"] - r["reserved"] - r["used"]), "yuan", 14)
    columns = [field("统一社会信用代码", "provider_id", 20), field("服务机构", "name", 30), money("年度上限", "cap"),
               money("特批额度", "exceptions"), money("预留", "reserved"), money("已使用", "used"),
               money("已兑付", "settled"), money("应收回", "receivable"), remaining, field("在途合同数", "contracts", 12)]
    return workbook(f"provider-totals-{year}",
                    [(f"{year}年度服务机构合计", columns, workbooks.provider_totals(fresh_views(), year))])


CLAIM_COLUMNS = [
    field("申请编号", "claim_id", 38), field("服务机构代码", "provider_id", 20), word("状态", "status.claim", "status"),
    money("申请金额", "amount"), Column("合同数", lambda r: len(r["contract_ids"]), "text", 8),
    field("申请人", "claimed_by", 18), Column("申请时间", lambda r: r["claimed_at"], "time", 20),
    field("审核人", "reviewed_by", 18), Column("审核时间", lambda r: r["reviewed_at"], "time", 20), field("审核意见", "note", 30),
]
PAYMENT_COLUMNS = [
    field("服务机构代码", "provider_id", 20), field("服务机构", "provider_name", 30), field("合同编号", "contract_id", 38),
    field("用券企业代码", "enterprise_id", 20), field("用券企业", "enterprise_name", 28),
    word("服务类别", "category", "category"), money("合同金额", "contract_amount"), money("兑付金额", "amount"),
    word("申请状态", "status.claim", "claim_status"),
]


@blp.get("/workbooks/settlements/<batch_id>")
@blp.doc(**WORKBOOK_DOC)
def batch_workbook(batch_id: str) -> Any:
    """A batch's claims and its payment list (what it pays or paid, per contract)."""
    _readers()
    store = fresh_views()
    batch = workbooks.batch(store, batch_id)
    return workbook(f"settlement-{batch_id[:8]}", [
        ("结算申请", CLAIM_COLUMNS, batch["claims"]),
        ("支付清单", PAYMENT_COLUMNS, workbooks.payment_list(store, batch_id)),
    ])


# --- the year-end warning (余额预警) -------------------------------------------------------------------

class WarnEnterpriseSchema(Schema):
    enterprise_id = fields.String()
    name = fields.String(allow_none=True)
    revoked = fields.Boolean()
    vouchers = fields.Integer()
    available = Yuan()
    reserved = Yuan()


class WarnProviderSchema(Schema):
    provider_id = fields.String()
    name = fields.String(allow_none=True)
    contracts = fields.Integer()
    amount = Yuan()
    reserved = Yuan()


class WarnContractSchema(Schema):
    contract_id = fields.String()
    enterprise_id = fields.String()
    enterprise_name = fields.String(allow_none=True)
    provider_id = fields.String()
    provider_name = fields.String(allow_none=True)
    status = fields.String()
    amount = Yuan()
    subsidy = Yuan()


class YearEndSchema(Schema):
    year = fields.Integer()
    ends_on = fields.String(metadata={"description": "the window's last day: what is unused then expires"})
    warn_from = fields.String(data_key="from")
    today = fields.String()
    warning = fields.Boolean(metadata={"description": "today is on or after `from`"})
    days_left = fields.Integer()
    available = Yuan(metadata={"description": "unused balance of the year's live vouchers"})
    reserved = Yuan(metadata={"description": "reserved by signed-but-unfinished contracts"})
    enterprises = fields.List(fields.Nested(WarnEnterpriseSchema))
    providers = fields.List(fields.Nested(WarnProviderSchema))
    contracts = fields.List(fields.Nested(WarnContractSchema))
    enterprises_total = fields.Integer(metadata={"description": "enterprises in all (as many as listed unless paged)"})
    providers_total = fields.Integer(metadata={"description": "providers in all"})
    contracts_total = fields.Integer(metadata={"description": "unfinished contracts in all"})


def year_end_report(year: int, warn_from: str | None, page: Any = None) -> dict[str, Any]:
    """The year-end warning of a year: what expires at `ends_on` unless used, as of today (Art. 18);
    with a `page`, a page of each list, the money and the counts still over the whole year."""
    store = fresh_views()
    info = balances.get_year(store, year)
    today = ledger_app().today()
    start = dt.date.fromisoformat(warn_from) if warn_from else dt.date(year, 10, 1)
    ends_on = dt.date.fromisoformat(info["ends_on"])
    found = workbooks.year_end(store, year, page)
    enterprises = [{**r, "revoked": bool(r["revoked"])} for r in found["enterprises"]]
    totals = found["totals"]
    return {"year": year, "ends_on": info["ends_on"], "warn_from": start.isoformat(), "today": today.isoformat(),
            "warning": today >= start, "days_left": max(0, (ends_on - today).days),
            "available": totals["available"], "reserved": totals["reserved"],
            "enterprises": enterprises, "providers": found["providers"], "contracts": found["contracts"],
            "enterprises_total": totals["enterprises"], "providers_total": totals["providers"],
            "contracts_total": totals["contracts"]}


@blp.get("/year-end")
@blp.arguments(YearEndPageQuery, location="query")
@blp.response(200, YearEndSchema)
def year_end(args: dict[str, Any]) -> Any:
    """余额预警: per enterprise its unused and reserved money, per provider its unfinished contracts."""
    from projections.views.paging import Page

    _readers()
    page = Page(args["limit"], args["offset"]) if args.get("limit") else None
    return year_end_report(args["year"], args.get("warn_from"), page)


@blp.get("/workbooks/year-end")
@blp.arguments(YearEndQuery, location="query")
@blp.doc(**WORKBOOK_DOC)
def year_end_workbook(args: dict[str, Any]) -> Any:
    """The year-end warning as a workbook: enterprises, providers and the unfinished contracts."""
    _readers()
    report = year_end_report(args["year"], args.get("warn_from"))
    year = args["year"]
    return workbook(f"year-end-{year}", [
        (f"{year}年度余额预警（企业）", [field("统一社会信用代码", "enterprise_id", 20), field("企业名称", "name", 28),
                                    field("补贴券数", "vouchers", 10), money("未使用余额", "available"),
                                    money("预留（合同未完成）", "reserved")], report["enterprises"]),
        (f"{year}年度余额预警（机构）", [field("统一社会信用代码", "provider_id", 20), field("服务机构", "name", 28),
                                    field("未完成合同数", "contracts", 12), money("合同金额", "amount"),
                                    money("预留补贴", "reserved")], report["providers"]),
        ("未完成合同", [field("合同编号", "contract_id", 38), field("用券企业", "enterprise_name", 28),
                   field("服务机构", "provider_name", 28), word("状态", "status.contract", "status"),
                   money("合同金额", "amount"), money("预留补贴", "subsidy")], report["contracts"]),
    ])
