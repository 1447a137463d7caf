"""Printable public notices (公示, issue 19): the year's signed providers, its product catalogue, and a
settlement batch's payment list, each with its total in capital numerals (大写) and the audit chain's
head (position and hash, and the QR code of both) at the time the notice's content was recorded.

Each answers JSON, or with `?format=pdf` the same notice as a PDF (`web/notice_pdf.py`), as the year's
evaluation answers `?format=xlsx`: one address per notice, the same roles, the JSON unchanged.

Anyone holding a printed notice can later check it against the ledger: `GET /audit/verify?position=P&head=H`
confirms that the chain up to P still ends in H, and every entry of the list was recorded at or before P.
Where the ledger records the notice itself (a batch's public notice, DOMAIN.md "Stops" 6) its head is
that event's; for the provider list and the catalogue it is the head at the last review, signing, cap or
listing event of a listed entry (the trace's `provider-year.general` and `product.general` subjects): a
decision of the spec's silence, the list as it stood when its last entry was decided.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.money import capital_yuan
from ledger.rules import READERS
from projections.views import balances, settlement, workbooks
from web import notice_pdf
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app
from web.fields import QueryYear, Yuan

blp = Blueprint("notices", __name__, url_prefix="/api/v1/notices", description="公示文书 Printable notices")


class NoticeFormatQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "pdf"]),
                           metadata={"description": "json (default), or pdf: the notice as a printable PDF"})


class PrintNoticeQuery(NoticeFormatQuery):
    year = QueryYear(required=True)


NOTICE_DOC = {"responses": {200: {"content": {notice_pdf.MEDIA_TYPE: {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}}
NOTICE_DESCRIPTION = "the notice as JSON; with ?format=pdf the same notice as a PDF (A4, Beijing time)"


class PrintNoticeHeadSchema(Schema):
    position = fields.Integer()
    hash = fields.String(allow_none=True)
    qr = fields.List(fields.String(), metadata={"description": "the QR code of 'position:hash', one string of 0/1 "
                                                              "per row of modules (quiet zone included)"})
    text = fields.String(metadata={"description": "what the QR code says"})


class PrintNoticeLineSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)
    party = fields.String(allow_none=True)
    party_name = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    amount = Yuan(allow_none=True)


class PrintNoticeSchema(Schema):
    kind = fields.String(metadata={"enum": ["providers", "products", "payment"]})
    title = fields.String()
    year = fields.Integer()
    batch_id = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(PrintNoticeLineSchema))
    count = fields.Integer()
    total = Yuan(allow_none=True)
    total_capital = fields.String(allow_none=True, metadata={"description": "the total in capital numerals (大写)"})
    head = fields.Nested(PrintNoticeHeadSchema, allow_none=True)


def _head(store: Any, position: int | None) -> dict[str, Any] | None:
    """The audit chain's head at `position`, with its QR code (segno)."""
    if not position:
        return None
    row = store.query_one("SELECT position, hash FROM vl_audit_chain WHERE position = ?", [int(position)])
    if row is None:
        return None
    import segno

    text = f"voucher-ledger:{int(row['position'])}:{row['hash']}"
    code = segno.make(text, error="m", micro=False)
    rows = ["".join("1" if module else "0" for module in line) for line in code.matrix_iter(scale=1, border=2)]
    return {"position": int(row["position"]), "hash": row["hash"], "qr": rows, "text": text}


def _decided_head(store: Any, subject_kind: str, keys: list[str]) -> dict[str, Any] | None:
    """The head at the last event that decided one of the listed entries (the trace's own index)."""
    if not keys:
        return None
    marks = ", ".join("?" for _ in keys)
    found = store.query_one(f"SELECT MAX(position) AS p FROM vl_trace WHERE subject_kind = ? AND subject_key IN ({marks})",
                            [subject_kind, *keys])
    return _head(store, found and found["p"])


def _answer(args: dict[str, Any], notice: dict[str, Any], name: str, recorded_at: Any = None) -> Any:
    """The notice as JSON, or as a PDF download when the query asks for it."""
    if args["format"] != "pdf":
        return notice
    document = notice_pdf.render(notice, ledger_app().now(), recorded_at)
    return Response(document, status=200, content_type=notice_pdf.MEDIA_TYPE,
                    headers={"Content-Disposition": f"attachment; filename=\"{name}.pdf\""})


def _notice(kind: str, title: str, year: int, lines: list[dict[str, Any]], head: dict[str, Any] | None,
            money: bool, **extra: Any) -> dict[str, Any]:
    total = sum(int(line["amount"] or 0) for line in lines) if money else None
    return {"kind": kind, "title": title, "year": year, "lines": lines, "count": len(lines), "total": total,
            "total_capital": None if total is None else capital_yuan(total), "head": head,
            "batch_id": None, "reference": None, **extra}


@blp.get("/providers")
@blp.arguments(PrintNoticeQuery, location="query")
@blp.response(200, PrintNoticeSchema, description=NOTICE_DESCRIPTION)
@blp.doc(**NOTICE_DOC)
def providers_notice(args: dict[str, Any]) -> Any:
    """The providers signed for the year, with each one's annual cap and the caps' total (Art. 14-15)."""
    require_reader(current_actor(), roles=READERS)
    store = fresh_views()
    year = args["year"]
    balances.get_year(store, year)  # 404 for an unknown year
    rows = workbooks.provider_totals(store, year)
    lines = [{"id": r["provider_id"], "name": r["name"], "amount": int(r["cap"]) + int(r["exceptions"])} for r in rows]
    head = _decided_head(store, "provider-year.general", [f"{r['provider_id']}/{year}" for r in rows])
    return _answer(args, _notice("providers", f"{year}年度签约服务机构名单", year, lines, head, True),
                   f"providers-{year}")


@blp.get("/products")
@blp.arguments(PrintNoticeQuery, location="query")
@blp.response(200, PrintNoticeSchema, description=NOTICE_DESCRIPTION)
@blp.doc(**NOTICE_DOC)
def products_notice(args: dict[str, Any]) -> Any:
    """The products listed for the year (入库服务产品目录) with their listed prices."""
    require_reader(current_actor(), roles=READERS)
    store = fresh_views()
    year = args["year"]
    balances.get_year(store, year)
    rows = [r for r in store.query(
        "SELECT d.product_id, d.name, d.category, d.price, d.provider_id, p.name AS provider_name, d.listed_years "
        "FROM vl_products d LEFT JOIN vl_providers p ON p.provider_id = d.provider_id "
        "ORDER BY d.provider_id, d.name, d.product_id") if str(year) in r["listed_years"].split(",")]
    lines = [{"id": r["product_id"], "name": r["name"], "category": r["category"], "party": r["provider_id"],
              "party_name": r["provider_name"], "amount": r["price"]} for r in rows]
    head = _decided_head(store, "product.general", [r["product_id"] for r in rows])
    return _answer(args, _notice("products", f"{year}年度入库服务产品目录", year, lines, head, False),
                   f"products-{year}")


@blp.get("/settlements/<batch_id>")
@blp.arguments(NoticeFormatQuery, location="query")
@blp.response(200, PrintNoticeSchema, description=NOTICE_DESCRIPTION)
@blp.doc(**NOTICE_DOC)
def payment_notice(args: dict[str, Any], batch_id: str) -> Any:
    """A batch's payment list: what it pays or paid, per contract, with the head of its public notice."""
    require_reader(current_actor(), roles=READERS)
    store = fresh_views()
    batch = settlement.get_batch(store, batch_id)
    rows = workbooks.payment_list(store, batch_id)
    lines = [{"id": r["contract_id"], "name": r["provider_name"], "party": r["enterprise_id"],
              "party_name": r["enterprise_name"], "category": r["category"], "amount": r["amount"]} for r in rows]
    notice = batch.get("notice") or {}
    return _answer(args, _notice("payment", f"{batch['name']} · 支付清单", batch["year"], lines,
                                 _head(store, notice.get("position")), True, batch_id=batch_id,
                                 reference=batch.get("reference")),
                   f"payment-{batch_id}", batch.get("noticed_at"))
