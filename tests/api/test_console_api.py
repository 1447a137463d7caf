"""The queries the console is built on (issue 6), over HTTP: who am I, looking subjects up, a year's
contracts and months, and the console's pages themselves.

The world is the demo year (service/demo.py): eight enterprises of every tier, three providers,
contracts in every state, a paid settlement batch, an open one and a sanction case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from service.demo import credit_code, load_demo
from tests.support import YEAR, bearer, issue_tokens

ENTERPRISE, OTHER_ENTERPRISE = credit_code(101), credit_code(102)
PROVIDER, OTHER_PROVIDER = credit_code(201), credit_code(202)
READERS = ("approver", "finance", "operator", "supervisor", "auditor")
CONSOLE = Path(__file__).resolve().parents[2] / "web" / "console"


@pytest.fixture
def demo(ledger: Any) -> dict[str, Any]:
    return load_demo(ledger, YEAR)


@pytest.fixture
def tokens(ledger: Any, demo: dict[str, Any]) -> dict[str, str]:
    tokens = issue_tokens(ledger, ("enterprise", ENTERPRISE), ("provider", PROVIDER))
    tokens["enterprise"], tokens["provider"] = tokens[ENTERPRISE], tokens[PROVIDER]
    return tokens


def get(client: Any, tokens: dict[str, str], who: str | None, path: str, status: int = 200,
        code: str | None = None) -> Any:
    response = client.get(f"/api/v1{path}", headers=bearer(tokens[who]) if who else {})
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    if status >= 400:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        if code:
            assert body["error"]["code"] == code
    return body


# --- who am I ---------------------------------------------------------------------------------------

def test_me_tells_each_token_its_role_id_and_subject(client: Any, tokens: dict[str, str]) -> None:
    for role in READERS:
        assert get(client, tokens, role, "/me") == {"role": role, "id": f"{role}-1", "subject": None}
    assert get(client, tokens, "enterprise", "/me") == {"role": "enterprise", "id": f"enterprise-{ENTERPRISE[-4:]}",
                                                         "subject": ENTERPRISE}
    assert get(client, tokens, "provider", "/me")["subject"] == PROVIDER


def test_me_without_a_token_is_401(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, None, "/me", 401, "UNAUTHENTICATED")
    response = client.get("/api/v1/me", headers=bearer("vl_unknown"))
    assert response.status_code == 401


# --- enterprises -------------------------------------------------------------------------------------

def test_search_enterprises_by_code_prefix_or_name(client: Any, tokens: dict[str, str]) -> None:
    by_name = get(client, tokens, "operator", "/enterprises?q=桂林")["enterprises"]
    assert [e["name"] for e in by_name] == ["桂林智造电子科技有限公司"]
    assert by_name[0]["tier"] == "T2" and by_name[0]["revoked"] is False
    by_code = get(client, tokens, "auditor", f"/enterprises?q={ENTERPRISE[:-1].lower()}")["enterprises"]
    assert [e["id"] for e in by_code] == [ENTERPRISE]
    assert by_code[0]["revoked"] is True  # the demo's case revoked it (Art. 25)
    every = get(client, tokens, "supervisor", "/enterprises?q=9145")["enterprises"]
    assert len(every) == 8
    # LIKE wildcards in the query are taken literally.
    assert get(client, tokens, "operator", "/enterprises?q=%25")["enterprises"] == []
    assert get(client, tokens, "operator", "/enterprises?q=_")["enterprises"] == []


def test_search_is_for_readers_and_needs_a_query(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "enterprise", "/enterprises?q=广西", 403, "FORBIDDEN")
    get(client, tokens, "provider", "/providers?q=广西", 403, "FORBIDDEN")
    get(client, tokens, "operator", "/enterprises", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", "/enterprises?q=", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", "/enterprises?q=" + "x" * 101, 400, "VALIDATION_ERROR")
    get(client, tokens, None, "/enterprises?q=广西", 401, "UNAUTHENTICATED")


def test_an_enterprise_with_its_vouchers_and_named_contracts(client: Any, tokens: dict[str, str]) -> None:
    body = get(client, tokens, "enterprise", f"/enterprises/{ENTERPRISE}")
    assert body["id"] == ENTERPRISE and body["name"] == "广西南宁精工机械有限公司"
    assert [v["year"] for v in body["vouchers"]] == [YEAR]
    assert body["vouchers"][0]["quota"] == "50000.00"
    assert body["contracts"], "the demo gave it a contract"
    contract = body["contracts"][0]
    assert contract["enterprise_name"] == body["name"]
    assert contract["provider_name"] and contract["product_name"]
    assert re.fullmatch(r"\d+\.\d{2}", contract["amount"])
    assert get(client, tokens, "operator", f"/enterprises/{ENTERPRISE}?year={YEAR + 1}")["vouchers"] == []


def test_an_enterprise_reads_only_its_own(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "enterprise", f"/enterprises/{OTHER_ENTERPRISE}", 403, "FORBIDDEN")
    get(client, tokens, "provider", f"/enterprises/{ENTERPRISE}", 403, "FORBIDDEN")


def test_enterprise_ids_are_credit_codes(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "operator", "/enterprises/not-a-code", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/enterprises/{ENTERPRISE[:-1]}X", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/enterprises/{credit_code(999)}", 404, "NOT_FOUND")
    get(client, tokens, "operator", f"/enterprises/{ENTERPRISE}?year=1999", 400, "VALIDATION_ERROR")


# --- providers ----------------------------------------------------------------------------------------

def test_search_providers_and_their_contracts(client: Any, tokens: dict[str, str]) -> None:
    found = get(client, tokens, "operator", "/providers?q=数智")["providers"]
    assert found == [{"id": PROVIDER, "name": "广西数智企业管理咨询有限公司", "status": "signed", "signed_years": [YEAR]}]
    own = get(client, tokens, "provider", f"/providers/{PROVIDER}/contracts?year={YEAR}")
    assert own["provider_id"] == PROVIDER and own["contracts"]
    assert {c["provider_id"] for c in own["contracts"]} == {PROVIDER}
    assert all(c["enterprise_name"] for c in own["contracts"])


def test_a_provider_reads_only_its_own_contracts(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "provider", f"/providers/{OTHER_PROVIDER}/contracts", 403, "FORBIDDEN")
    get(client, tokens, "enterprise", f"/providers/{PROVIDER}/contracts", 403, "FORBIDDEN")
    get(client, tokens, "operator", "/providers/nope/contracts", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/providers/{credit_code(998)}/contracts", 404, "NOT_FOUND")


# --- the year: contracts and months -------------------------------------------------------------------

def test_a_years_contracts_latest_first_and_by_status(client: Any, tokens: dict[str, str]) -> None:
    every = get(client, tokens, "operator", f"/contracts?year={YEAR}")["contracts"]
    assert len(every) >= 6
    limited = get(client, tokens, "operator", f"/contracts?year={YEAR}&limit=2")["contracts"]
    assert [c["contract_id"] for c in limited] == [c["contract_id"] for c in every[:2]]
    completed = get(client, tokens, "auditor", f"/contracts?year={YEAR}&status=completed")["contracts"]
    assert completed and {c["status"] for c in completed} == {"completed"}
    assert any(c["settled"] for c in completed)
    assert get(client, tokens, "operator", f"/contracts?year={YEAR + 1}")["contracts"] == []


def test_contract_lists_are_for_readers_with_valid_filters(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "enterprise", f"/contracts?year={YEAR}", 403, "FORBIDDEN")
    get(client, tokens, "operator", "/contracts", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/contracts?year={YEAR}&status=paid", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/contracts?year={YEAR}&limit=0", 400, "VALIDATION_ERROR")
    get(client, tokens, "operator", f"/contracts?year={YEAR}&limit=501", 400, "VALIDATION_ERROR")


def test_years_and_money_per_month(client: Any, tokens: dict[str, str]) -> None:
    assert get(client, tokens, "finance", "/years")["years"] == [
        {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31", "status": "open"}]
    monthly = get(client, tokens, "operator", f"/years/{YEAR}/monthly")
    months = monthly["months"]
    assert [m["month"] for m in months[:12]] == [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    year = get(client, tokens, "operator", f"/years/{YEAR}")

    def total(key: str) -> int:
        return sum(int(m[key].replace(".", "")) for m in months)

    fen = {k: int(year[k].replace(".", "")) for k in ("reserved", "used", "expired", "clawed_back", "settled")}
    # The months add up to the year's figures: every reservation was released, used or is still reserved.
    assert total("reserved") - total("released") - total("used") == fen["reserved"]
    assert total("used") - total("clawed_back") == fen["used"]
    assert total("clawed_back") == fen["clawed_back"] and total("settled") == fen["settled"]
    assert total("expired") == fen["expired"]


def test_year_overviews_are_for_readers(client: Any, tokens: dict[str, str]) -> None:
    get(client, tokens, "enterprise", "/years", 403, "FORBIDDEN")
    get(client, tokens, "provider", f"/years/{YEAR}/monthly", 403, "FORBIDDEN")
    get(client, tokens, "operator", f"/years/{YEAR + 1}/monthly", 404, "NOT_FOUND")


def test_the_new_queries_are_in_the_openapi_document(client: Any, tokens: dict[str, str]) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in (("/api/v1/me", "get"), ("/api/v1/enterprises", "get"), ("/api/v1/enterprises", "post"),
                         ("/api/v1/enterprises/{enterprise_id}", "get"), ("/api/v1/providers", "get"),
                         ("/api/v1/providers/{provider_id}/contracts", "get"), ("/api/v1/contracts", "get"),
                         ("/api/v1/contracts", "post"), ("/api/v1/years", "get"), ("/api/v1/years", "post"),
                         ("/api/v1/years/{year}/monthly", "get")):
        assert method in paths[path], (path, method)


# --- the console's pages --------------------------------------------------------------------------------

PAGES = ("/console/", "/console/login", f"/console/years/{YEAR}", "/console/years/", "/console/search",
         f"/console/enterprises/{ENTERPRISE}", f"/console/providers/{PROVIDER}", "/console/contracts/abc",
         "/console/settlements/", "/console/settlements/abc", "/console/trace/",
         f"/console/trace/enterprises/{ENTERPRISE}?year={YEAR}", "/console/trace/contracts/abc", "/console/audit",
         "/console/cases/", f"/console/year-end/{YEAR}", f"/console/notices/providers/{YEAR}")


def test_console_pages_are_static_shells_in_chinese(client: Any) -> None:
    """No token, no data: the page's JavaScript asks the API with the token kept in the browser."""
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in html and "补贴券资金台账" in html
        # The CSP allows no inline script: every script is a file, or data (application/json).
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert " style=" not in html
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_console_pages_escape_what_is_in_the_url(client: Any) -> None:
    html = client.get('/console/contracts/"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert client.get("/console/trace/vouchers/abc").status_code == 404
    assert client.get("/console/contracts/" + "a" * 101).status_code == 404


def test_console_static_files_are_served_locally_and_cached(client: Any) -> None:
    html = client.get("/console/login").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html)
    assert {a.split("?")[0].rsplit("/", 1)[1] for a in assets} == {"favicon.svg", "console.css", "core.js", "charts.js",
                                                                    "pages.js", "trace.js", "actions.js",
                                                                    "forms_parties.js", "forms_work.js"}
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200
        assert "max-age=86400" in response.headers["Cache-Control"]


def test_every_word_on_screen_has_chinese_and_english() -> None:
    from web.console.i18n import TEXTS

    used = set()
    for path in [*CONSOLE.glob("static/*.js"), *CONSOLE.glob("templates/*.html")]:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("([a-z_][\w.-]*)"', source))
        used |= set(re.findall(r'data-i18n(?:-placeholder)?="([a-z_][\w.-]*)"', source))
        used |= {m for m in re.findall(r'\bt\(\'([a-z_][\w.-]*)\'', source)}
    used = {key for key in used if not key.endswith(".")}
    missing = sorted(used - set(TEXTS))
    assert not missing, missing
    for key, (zh, en) in TEXTS.items():
        assert zh.strip() and en.strip(), key


# --- pages of every list (issue 19) -------------------------------------------------------------------

def test_every_list_is_paged_with_its_total(client: Any, tokens: dict[str, str]) -> None:
    lists = {f"/contracts?year={YEAR}": "contracts", "/enterprises?q=9145": "enterprises",
             "/providers?q=9145": "providers", f"/providers/{PROVIDER}/contracts?year={YEAR}": "contracts",
             f"/settlements?year={YEAR}": "batches", "/cases?": "cases",
             f"/providers/{PROVIDER}/products?": "products"}
    for path, key in lists.items():
        whole = get(client, tokens, "operator", f"{path}&limit=500")
        assert whole["total"] == len(whole[key]) >= 1, path
        rows = []
        for offset in range(0, whole["total"], 2):
            page = get(client, tokens, "operator", f"{path}&limit=2&offset={offset}")
            assert page["total"] == whole["total"] and page["limit"] == 2 and page["offset"] == offset
            assert len(page[key]) <= 2
            rows += page[key]
        assert rows == whole[key], path  # pages neither repeat nor skip a row
        assert get(client, tokens, "operator", f"{path}&offset={whole['total']}")[key] == []


def test_a_list_is_sorted_as_asked(client: Any, tokens: dict[str, str]) -> None:
    by_amount = get(client, tokens, "auditor", f"/contracts?year={YEAR}&sort=amount")["contracts"]
    amounts = [float(c["amount"]) for c in by_amount]
    assert amounts == sorted(amounts) and len(set(amounts)) > 1
    reverse = get(client, tokens, "auditor", f"/contracts?year={YEAR}&sort=-amount")["contracts"]
    assert [float(c["amount"]) for c in reverse] == sorted(amounts, reverse=True)
    names = [e["name"] for e in get(client, tokens, "auditor", "/enterprises?q=9145&sort=-name")["enterprises"]]
    assert names == sorted(names, reverse=True)
    get(client, tokens, "auditor", f"/contracts?year={YEAR}&sort=password", 400, "VALIDATION_ERROR")
    get(client, tokens, "auditor", f"/contracts?year={YEAR}&offset=-1", 400, "VALIDATION_ERROR")
    get(client, tokens, "auditor", "/cases?limit=0", 400, "VALIDATION_ERROR")


def test_search_counts_what_it_finds_beyond_the_page(client: Any, tokens: dict[str, str]) -> None:
    first = get(client, tokens, "supervisor", "/enterprises?q=9145&limit=3")
    assert first["total"] == 8 and len(first["enterprises"]) == 3
    assert get(client, tokens, "supervisor", "/enterprises?q=桂林")["total"] == 1


def test_contracts_are_found_by_the_start_of_their_id(client: Any, tokens: dict[str, str]) -> None:
    every = get(client, tokens, "operator", f"/contracts?year={YEAR}&limit=500")["contracts"]
    wanted = every[0]["contract_id"]
    found = get(client, tokens, "operator", f"/contracts?year={YEAR}&q={wanted[:8].upper()}")
    assert wanted in [c["contract_id"] for c in found["contracts"]]
    assert found["total"] == sum(1 for c in every if c["contract_id"].startswith(wanted[:8]))
    assert get(client, tokens, "operator", f"/contracts?year={YEAR}&q=%25")["total"] == 0
