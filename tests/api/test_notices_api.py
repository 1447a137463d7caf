"""Printable notices (issue 19) over HTTP on both stores: the year's signed providers, its product
catalogue and a batch's payment list, each with its total in capital numerals and the chain head
(position, hash, QR code) that a reader can verify against the ledger."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest

from ledger.money import capital_yuan, parse_yuan
from tests.api.test_console_api import PROVIDER, get
from tests.api.test_workbooks_api import demo, tokens  # noqa: F401  (the same demo world and tokens)
from tests.support import YEAR, Scenario, bearer

pypdf = pytest.importorskip("pypdf")


def check_head(client: Any, tokens: dict[str, str], head: dict[str, Any]) -> None:
    """The notice's head is a real link of the chain: verification up to it names no break."""
    assert head["position"] > 0 and len(head["hash"]) == 64
    assert head["text"] == f"voucher-ledger:{head['position']}:{head['hash']}"
    assert len(head["qr"]) == len(head["qr"][0]) >= 21 + 4 and set("".join(head["qr"])) == {"0", "1"}
    verified = get(client, tokens, "auditor", f"/audit/verify?position={head['position']}&head={head['hash']}")
    assert verified["ok"] is True


def test_signed_provider_notice_totals_the_caps_in_capitals(client: Any, tokens: dict[str, str]) -> None:
    notice = get(client, tokens, "operator", f"/notices/providers?year={YEAR}")
    assert notice["title"] == f"{YEAR}年度签约服务机构名单" and notice["count"] == 3
    assert sum(Decimal(line["amount"]) for line in notice["lines"]) == Decimal(notice["total"])
    assert notice["total_capital"] == capital_yuan(parse_yuan(notice["total"]))
    check_head(client, tokens, notice["head"])


def test_product_catalogue_notice_lists_the_year(client: Any, tokens: dict[str, str]) -> None:
    notice = get(client, tokens, "supervisor", f"/notices/products?year={YEAR}")
    assert notice["count"] == 4 and all(line["party"] and line["amount"] for line in notice["lines"])
    assert notice["total"] is None
    check_head(client, tokens, notice["head"])


def test_payment_notice_carries_the_head_of_the_batch_notice(client: Any, tokens: dict[str, str],
                                                              demo: dict[str, Any]) -> None:
    paid = demo["batches"]["paid"]
    batch = get(client, tokens, "operator", f"/settlements/{paid}")
    notice = get(client, tokens, "finance", f"/notices/settlements/{paid}")
    assert notice["total"] == batch["paid"] and notice["reference"] == batch["reference"]
    assert notice["total_capital"].endswith(("整", "分"))
    assert {k: notice["head"][k] for k in ("position", "hash")} == batch["notice"]
    check_head(client, tokens, notice["head"])
    # The open batch has no public notice yet: its list has no head.
    assert get(client, tokens, "operator", f"/notices/settlements/{demo['batches']['open']}")["head"] is None


def test_notices_are_for_readers(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "provider", f"/notices/providers?year={YEAR}", 403, "FORBIDDEN")
    get(client, tokens, "operator", f"/notices/products?year={YEAR + 1}", 404, "NOT_FOUND")
    get(client, tokens, "operator", "/notices/settlements/nope", 404, "NOT_FOUND")
    get(client, tokens, "operator", "/notices/providers", 400, "VALIDATION_ERROR")


# --- the same notices as PDF (?format=pdf) ---------------------------------------------------------------

def pdf_text(client: Any, tokens: dict[str, str], who: str, path: str) -> tuple[list[str], Any]:
    """The PDF's pages as text (pypdf opens it), and the response."""
    response = client.get(f"/api/v1{path}", headers=bearer(tokens[who]))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.get_data().startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(response.get_data()))
    return [page.extract_text() for page in reader.pages], response


def grouped(total: str) -> str:
    """A two-decimal yuan string as the PDF prints it, with thousands separators."""
    return f"{Decimal(total):,.2f}"


def check_pdf(pages: list[str], notice: dict[str, Any]) -> str:
    """The PDF says what the JSON notice says: title, every line's id, count, total and 大写, the head."""
    whole = "\n".join(pages)
    compact = whole.replace(" ", "").replace("\n", "")
    assert notice["title"].replace(" ", "") in compact
    assert f"第1页/共{len(pages)}页" in compact and "北京时间" in compact
    if notice["total"] is not None:
        assert f"{grouped(notice['total'])}元" in compact and notice["total_capital"] in compact
    if notice["head"]:
        assert notice["head"]["hash"] in compact and f"审计链位置{notice['head']['position']}" in compact
    return compact


def test_signed_provider_notice_as_pdf_carries_total_capitals_and_head(client: Any, tokens: dict[str, str]) -> None:
    notice = get(client, tokens, "operator", f"/notices/providers?year={YEAR}")
    pages, response = pdf_text(client, tokens, "operator", f"/notices/providers?year={YEAR}&format=pdf")
    compact = check_pdf(pages, notice)
    assert all(line["id"] in compact and grouped(line["amount"]) in compact for line in notice["lines"])
    assert f"providers-{YEAR}.pdf" in response.headers["Content-Disposition"]


def test_product_catalogue_notice_as_pdf_lists_each_price(client: Any, tokens: dict[str, str]) -> None:
    notice = get(client, tokens, "supervisor", f"/notices/products?year={YEAR}")
    pages, _ = pdf_text(client, tokens, "supervisor", f"/notices/products?year={YEAR}&format=pdf")
    compact = check_pdf(pages, notice)
    assert notice["head"] and all(grouped(line["amount"]) in compact for line in notice["lines"])
    assert f"条数{notice['count']}" in compact


def test_payment_notice_as_pdf_carries_the_batch_notice_head(client: Any, tokens: dict[str, str],
                                                              demo: dict[str, Any]) -> None:
    paid = demo["batches"]["paid"]
    notice = get(client, tokens, "finance", f"/notices/settlements/{paid}")
    pages, _ = pdf_text(client, tokens, "finance", f"/notices/settlements/{paid}?format=pdf")
    compact = check_pdf(pages, notice)
    assert notice["head"] and notice["total_capital"] and notice["reference"] in compact
    assert all(line["id"] in compact for line in notice["lines"]) and "公示记录于" in compact
    # The open batch has no public notice yet: its PDF says so instead of a head.
    pages, _ = pdf_text(client, tokens, "operator", f"/notices/settlements/{demo['batches']['open']}?format=pdf")
    assert "尚未记录公示" in "".join(pages).replace(" ", "")


def test_notice_pdfs_are_for_readers(client: Any, tokens: dict[str, str], demo: dict[str, Any]) -> None:
    paid = demo["batches"]["paid"]
    for path in (f"/notices/providers?year={YEAR}&format=pdf", f"/notices/products?year={YEAR}&format=pdf",
                 f"/notices/settlements/{paid}?format=pdf"):
        get(client, tokens, "provider", path, 403, "FORBIDDEN")
        get(client, tokens, None, path, 401)
    get(client, tokens, "operator", f"/notices/products?year={YEAR + 1}&format=pdf", 404, "NOT_FOUND")
    get(client, tokens, "operator", "/notices/settlements/nope?format=pdf", 404, "NOT_FOUND")
    get(client, tokens, "operator", f"/notices/providers?year={YEAR}&format=docx", 400, "VALIDATION_ERROR")


def test_a_long_notice_pdf_spans_pages_with_the_header_on_each(client: Any, tokens: dict[str, str],
                                                               ledger: Any) -> None:
    scenario = Scenario(ledger)
    for _ in range(60):
        scenario.product(PROVIDER, price_yuan=12_345)
    notice = get(client, tokens, "operator", f"/notices/products?year={YEAR}")
    assert notice["count"] >= 64
    pages, _ = pdf_text(client, tokens, "operator", f"/notices/products?year={YEAR}&format=pdf")
    check_pdf(pages, notice)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        compact = page.replace(" ", "").replace("\n", "")
        assert "序号" in compact and "产品名称" in compact  # the table's header repeats on every page
        assert f"第{number}页/共{len(pages)}页" in compact
    assert str(notice["count"]) in pages[-1]  # the last line's number


def test_the_openapi_document_offers_each_notice_as_pdf(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/notices/providers", "/api/v1/notices/products", "/api/v1/notices/settlements/{batch_id}"):
        operation = document["paths"][path]["get"]
        assert {"application/json", "application/pdf"} <= set(operation["responses"]["200"]["content"])
        assert "format" in {p["name"] for p in operation["parameters"]}
