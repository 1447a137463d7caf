"""Printable notices (issue 19) over HTTP on both stores: the year's signed providers, its product
catalogue and a batch's payment list, each with its total in capital numerals and the chain head
(position, hash, QR code) that a reader can verify against the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.money import capital_yuan, parse_yuan
from tests.api.test_console_api import get
from tests.api.test_workbooks_api import demo, tokens  # noqa: F401  (the same demo world and tokens)
from tests.support import YEAR


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
