"""The printable notices (公示, issue 19) as PDF: the same notice the JSON answer and the console's print
page show, laid out on A4 with reportlab, offline.

Chinese is set in Adobe's standard CID font STSong-Light (`UnicodeCIDFont`, the Adobe-GB1 collection):
reportlab ships its metrics, so no font file is needed on the server and the PDF stays small; every PDF
reader shows it with its own Song face (Acrobat, Chromium's and Firefox's readers, Foxit, WPS). Embedding a
TrueType face instead would need a CJK font file installed beside the program (none ships on PyPI under
a free licence as a maintained package), for no gain on screen or on paper. Hashes and contract ids are
in Courier, so a reader can copy them whole.

Each page repeats the table's header and carries its number (第 N 页 / 共 M 页), the title, the chain
position and the time the PDF was made, in Beijing time; the last block is the total in yuan and in
capital numerals (大写) and the audit chain's head with its QR code, drawn as vector squares from the
modules the JSON notice carries (`head.qr`), so it prints sharp at any size. The product catalogue has
no money total, as its JSON: the prices of different products add up to nothing anyone is paid.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any, Callable, Sequence

from ledger.business_date import CHINA
from ledger.money import format_yuan
from web.console.i18n import text

MEDIA_TYPE = "application/pdf"
FONT = "STSong-Light"
MONO = "Courier"

_registered = False


def _font() -> None:
    """Register the CID font once per process (reportlab keeps a global registry)."""
    global _registered
    if not _registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True


def grouped_yuan(fen: Any) -> str:
    """Fen as yuan with thousands separators, "1,234.56" (exact: from the two-decimal string)."""
    if fen is None:
        return "—"
    whole, cents = format_yuan(int(fen)).split(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{cents}"


def beijing_time(instant: Any) -> str:
    """A recorded instant (ISO 8601) or a datetime as Beijing wall time, to the second."""
    moment = instant if isinstance(instant, dt.datetime) else dt.datetime.fromisoformat(str(instant))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class _Column:
    """A column of the notice's table: its header key, its share of the width, how a line reads."""

    def __init__(self, label: str, width: float, read: Callable[[dict[str, Any]], str], mono: bool = False,
                 num: bool = False) -> None:
        self.label, self.width, self.read, self.mono, self.num = label, width, read, mono, num


def _category(line: dict[str, Any]) -> str:
    return text(f"category.{line['category']}") if line.get("category") else ""


def _party(line: dict[str, Any]) -> str:
    return line.get("party_name") or line.get("party") or ""


# The columns of each kind of notice, as the console's print page has them (web/console/static/actions.js).
COLUMNS: dict[str, Sequence[_Column]] = {
    "providers": (
        _Column("enterprise.code", 0.30, lambda l: l["id"], mono=True),
        _Column("provider.name", 0.42, lambda l: l.get("name") or ""),
        _Column("notice.cap", 0.28, lambda l: grouped_yuan(l["amount"]), num=True),
    ),
    "products": (
        _Column("product.name", 0.32, lambda l: l.get("name") or ""),
        _Column("product.category", 0.16, _category),
        _Column("contract.provider", 0.32, _party),
        _Column("product.price", 0.20, lambda l: grouped_yuan(l["amount"]), num=True),
    ),
    "payment": (
        _Column("contract.provider", 0.19, lambda l: l.get("name") or ""),
        _Column("contract.id", 0.35, lambda l: l["id"], mono=True),
        _Column("contract.enterprise", 0.20, _party),
        _Column("product.category", 0.12, _category),
        _Column("notice.paid", 0.14, lambda l: grouped_yuan(l["amount"]), num=True),
    ),
}


def _qr_code(rows: Sequence[str], size: float) -> Any:
    """The head's QR code as a flowable: one dark square per module of the "0101…" rows."""
    from reportlab.platypus import Flowable

    class QrCode(Flowable):  # type: ignore[misc]
        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return size, size

        def draw(self) -> None:
            module = size / len(rows)
            self.canv.setFillColorRGB(0, 0, 0)
            for y, row in enumerate(rows):
                for x, bit in enumerate(row):
                    if bit == "1":
                        self.canv.rect(x * module, size - (y + 1) * module, module, module, stroke=0, fill=1)

    return QrCode()


def render(notice: dict[str, Any], made_at: dt.datetime, recorded_at: Any = None) -> bytes:
    """The notice (as the notices module builds it: amounts in fen) as a PDF document's bytes.

    `made_at` is when the PDF is made; `recorded_at`, when given, the instant the notice was recorded
    (a batch's public notice), both printed in Beijing time.
    """
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _font()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=11.5)
    mono = ParagraphStyle("mono", parent=cell, fontName=MONO, fontSize=7, wordWrap=None)
    number = ParagraphStyle("number", parent=cell, alignment=TA_RIGHT)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=TA_CENTER, spaceAfter=4)
    centred = ParagraphStyle("centred", parent=body, alignment=TA_CENTER, textColor=colors.HexColor("#444444"))

    def para(value: str, style: ParagraphStyle = body) -> Any:
        from xml.sax.saxutils import escape

        return Paragraph(escape(value), style)

    made = beijing_time(made_at)
    head = notice.get("head")
    margin = 15 * mm
    width = A4[0] - 2 * margin
    columns = COLUMNS[notice["kind"]]

    story: list[Any] = [para(notice["title"], title), para(text("notice.issuer"), centred)]
    subtitle = [f"年度 {notice['year']}"]
    if notice.get("reference"):
        subtitle.append(f"{text('batch.reference')} {notice['reference']}")
    if recorded_at:
        subtitle.append(f"公示记录于 {beijing_time(recorded_at)}（北京时间）")
    story += [para("　".join(subtitle), centred), Spacer(1, 4 * mm)]

    header = [para(text("notice.no"), cell)] + [para(text(c.label) + ("（元）" if c.num else ""), cell) for c in columns]
    rows = [header]
    for index, line in enumerate(notice["lines"], start=1):
        rows.append([para(str(index), number)] + [
            para(c.read(line), mono if c.mono else number if c.num else cell) for c in columns])
    if len(rows) == 1:
        rows.append([para("—", cell)] + [para("", cell) for _ in columns])
    no_width = 12 * mm
    table = Table(rows, colWidths=[no_width] + [(width - no_width) * c.width for c in columns], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]))
    story += [table, Spacer(1, 5 * mm)]

    facts = [[text("notice.count"), str(notice["count"])]]
    if notice.get("total") is not None:
        facts.append([text("notice.total"), f"{grouped_yuan(notice['total'])} 元"])
    if notice.get("total_capital"):
        facts.append([text("notice.capital"), notice["total_capital"]])
    totals = Table([[para(k, body), para(v, body)] for k, v in facts], colWidths=[38 * mm, width - 38 * mm])
    totals.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(KeepTogether([totals, Spacer(1, 5 * mm)]))

    if head is None:
        story.append(para(text("notice.no_head"), body))
    else:
        qr_size = 34 * mm
        described = Table([
            [para("审计链位置", body), para(str(head["position"]), body)],
            [para(text("notice.hash"), body), para(head["hash"], ParagraphStyle("hash", parent=mono, fontSize=8))],
            [para(text("notice.check"), body), para(text("notice.check_how"), body)],
        ], colWidths=[24 * mm, width - qr_size - 28 * mm])
        described.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        block = Table([[_qr_code(head["qr"], qr_size), described]], colWidths=[qr_size + 4 * mm, None])
        block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
        story.append(KeepTogether([block]))

    position = f"审计链位置 {head['position']}" if head else "无审计链位置"
    footer = f"{notice['title']}　·　{position}　·　生成于 {made}（北京时间）"
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                                 bottomMargin=margin + 6 * mm, title=notice["title"], author=text("notice.issuer"),
                                 subject=position, creator="voucher-ledger")
    document.build(story, canvasmaker=_numbered_canvas(footer, margin))
    return buffer.getvalue()


def _numbered_canvas(footer: str, margin: float) -> Any:
    """A canvas that holds its pages until the end, so each can say 第 N 页 / 共 M 页 and the footer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802  (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, page in enumerate(self._pages, start=1):
                self.__dict__.update(page)
                self.setFont(FONT, 8)
                self.setFillColorRGB(0.3, 0.3, 0.3)
                self.drawString(margin, margin - 2, footer)
                self.drawRightString(A4[0] - margin, margin - 2, f"第 {number} 页 / 共 {len(self._pages)} 页")
                super().showPage()
            super().save()

    return NumberedCanvas
