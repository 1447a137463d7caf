"""Excel workbooks and the year-end warning (issue 19), over HTTP on both stores, on the demo year.

Each workbook is opened with openpyxl: Chinese headers, amounts as numbers in yuan equal to the API's
figures, instants in Beijing time, and a total under each money column.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from service.demo import load_demo
from tests.api.test_console_api import ENTERPRISE, PROVIDER, get
from tests.support import YEAR, bearer, issue_tokens

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture
def demo(ledger: Any) -> dict[str, Any]:
    return load_demo(ledger, YEAR)


@pytest.fixture
def tokens(ledger: Any, demo: dict[str, Any]) -> dict[str, str]:
    tokens = issue_tokens(ledger, ("provider", PROVIDER))
    tokens["provider"] = tokens[PROVIDER]
    return tokens


def workbook(client: Any, tokens: dict[str, str], path: str, who: str = "operator") -> Any:
    response = client.get(f"/api/v1{path}", headers=bearer(tokens[who]))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return openpyxl.load_workbook(io.BytesIO(response.get_data()))


def rows_of(ws: Any) -> tuple[list[str], list[dict[str, Any]], list[Any]]:
    """Headers, the data rows as dicts, and the total row."""
    values = list(ws.iter_rows(values_only=True))
    headers = list(values[1])
    return headers, [dict(zip(headers, row)) for row in values[2:-1]], list(values[-1])


def test_vouchers_workbook_has_yuan_numbers_that_sum_to_the_year(client: Any, tokens: dict[str, str]) -> None:
    book = workbook(client, tokens, f"/workbooks/vouchers?year={YEAR}")
    headers, rows, total = rows_of(book.worksheets[0])
    assert {"统一社会信用代码", "企业名称", "额度", "可用", "状态", "发放时间"} <= set(headers)
    year = get(client, tokens, "operator", f"/years/{YEAR}")
    assert len(rows) == year["vouchers"]
    assert all(isinstance(r["额度"], (int, float)) for r in rows)
    assert Decimal(str(sum(Decimal(str(r["额度"])) for r in rows))) == Decimal(year["issued"])
    assert Decimal(str(total[headers.index("可用")])) == Decimal(year["available"])
    assert total[0].startswith("合计")
    assert all(isinstance(r["发放时间"], datetime) for r in rows)
    # A revoked holder's voucher is not shown as usable (the demo's case revoked one enterprise).
    assert "已停用（资格撤销）" in {r["状态"] for r in rows}


def test_contracts_and_provider_totals_workbooks(client: Any, tokens: dict[str, str]) -> None:
    headers, rows, _ = rows_of(workbook(client, tokens, f"/workbooks/contracts?year={YEAR}").worksheets[0])
    listed = get(client, tokens, "auditor", f"/contracts?year={YEAR}&limit=500")
    assert len(rows) == listed["total"]
    by_id = {c["contract_id"]: c for c in listed["contracts"]}
    for row in rows:
        assert Decimal(str(row["合同金额"])) == Decimal(by_id[row["合同编号"]]["amount"])
    assert {"已完成", "已终止"} <= {r["状态"] for r in rows}
    completed = rows_of(workbook(client, tokens, f"/workbooks/contracts?year={YEAR}&status=completed").worksheets[0])[1]
    assert completed and {r["状态"] for r in completed} == {"已完成"}

    _, providers, _ = rows_of(workbook(client, tokens, f"/workbooks/provider-totals?year={YEAR}", "auditor").worksheets[0])
    totals = get(client, tokens, "operator", f"/providers/{PROVIDER}/totals?year={YEAR}")
    mine = next(r for r in providers if r["统一社会信用代码"] == PROVIDER)
    assert Decimal(str(mine["年度上限"])) == Decimal(totals["cap"])
    assert Decimal(str(mine["剩余上限"])) == Decimal(totals["remaining_cap"])


def test_batch_workbook_has_its_claims_and_payment_list(client: Any, tokens: dict[str, str],
                                                        demo: dict[str, Any]) -> None:
    paid = demo["batches"]["paid"]
    book = workbook(client, tokens, f"/workbooks/settlements/{paid}", "supervisor")
    assert book.sheetnames == ["结算申请", "支付清单"]
    batch = get(client, tokens, "operator", f"/settlements/{paid}")
    _, claims, _ = rows_of(book["结算申请"])
    assert len(claims) == len(batch["claims"])
    _, lines, total = rows_of(book["支付清单"])
    assert lines and Decimal(str(total[7])) == Decimal(batch["paid"])


def test_workbooks_are_for_readers_and_check_their_query(client: Any, tokens: dict[str, str]) -> None:
    for path in (f"/workbooks/vouchers?year={YEAR}", f"/workbooks/contracts?year={YEAR}",
                 f"/workbooks/provider-totals?year={YEAR}", f"/year-end?year={YEAR}"):
        get(client, tokens, "provider", path, 403, "FORBIDDEN")
    get(client, tokens, "operator", "/workbooks/vouchers", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/workbooks/contracts?year={YEAR}&status=paid", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/workbooks/vouchers?year={YEAR + 1}", 404, "NOT_FOUND")
    get(client, tokens, "operator", "/workbooks/settlements/nope", 404, "NOT_FOUND")
    get(client, tokens, "operator", f"/year-end?year={YEAR}&from=2026-13-01", 400, "VALIDATION_ERROR")


def test_year_end_warning_names_the_money_that_will_expire(client: Any, tokens: dict[str, str]) -> None:
    report = get(client, tokens, "operator", f"/year-end?year={YEAR}")
    assert report["from"] == f"{YEAR}-10-01" and report["ends_on"] == f"{YEAR}-12-31"
    assert report["warning"] is False  # the tests' business date is 1 June
    assert get(client, tokens, "operator", f"/year-end?year={YEAR}&from={YEAR}-05-01")["warning"] is True
    year = get(client, tokens, "operator", f"/years/{YEAR}")
    # A revoked holder may no longer use its voucher: no one to remind (the demo revoked one).
    assert report["enterprises"] and not any(e["revoked"] for e in report["enterprises"])
    assert ENTERPRISE not in {e["enterprise_id"] for e in report["enterprises"]}
    assert report["reserved"] == year["reserved"]
    assert {c["status"] for c in report["contracts"]} <= {"signed", "active"} and report["contracts"]
    assert sum(Decimal(p["reserved"]) for p in report["providers"]) == Decimal(report["reserved"])
    book = workbook(client, tokens, f"/workbooks/year-end?year={YEAR}")
    assert len(book.worksheets) == 3
    _, enterprises, _ = rows_of(book.worksheets[0])
    assert len(enterprises) == len(report["enterprises"])


def test_year_end_warning_is_read_a_page_at_a_time_with_its_money_over_the_whole_year(
        client: Any, tokens: dict[str, str]) -> None:
    """Issue 19: a year's warning names thousands of enterprises; each list comes a page at a time while the
    money and the counts stay the whole year's."""
    whole = get(client, tokens, "operator", f"/year-end?year={YEAR}")
    for key in ("enterprises", "providers", "contracts"):
        assert whole[key + "_total"] == len(whole[key]) > 0, key
    pages = [get(client, tokens, "operator", f"/year-end?year={YEAR}&limit=1&offset={offset}")
             for offset in range(max(whole["enterprises_total"], whole["providers_total"], whole["contracts_total"]))]
    for key in ("enterprises", "providers", "contracts"):
        assert [row for page in pages for row in page[key]] == whole[key], key
    for page in pages:
        assert {k: page[k] for k in ("available", "reserved", "enterprises_total", "providers_total",
                                     "contracts_total")} == {k: whole[k] for k in ("available", "reserved",
                                                                                  "enterprises_total", "providers_total",
                                                                                  "contracts_total")}
    get(client, tokens, "operator", f"/year-end?year={YEAR}&limit=0", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/year-end?year={YEAR}&limit=501", 400, "VALIDATION_ERROR")
