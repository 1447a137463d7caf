"""The console in a real browser (issue 6): a person signs in with a token and reads what the API allows.

One server per backend, loaded with the demo year (`voucher-ledger demo`): eight enterprises, three
providers, contracts in every state, a paid settlement batch, an open one and a sanction case.
Each main page is saved as a screenshot in test-artifacts/console/.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.browser.conftest import (
    ARTIFACTS, ENTERPRISE, OTHER_ENTERPRISE, OTHER_PROVIDER, PROVIDER, STAFF_ROLES, WAIT_SECONDS, ConsoleServer,
)
from tests.support import YEAR

pytestmark = pytest.mark.slow  # a real server and Chromium (scripts/test --fast skips it)

DEMO_YEAR = YEAR  # the demo year of the business date the server runs on (tests/browser/conftest.py)
SHELLS = ("/console/", "/console/login", f"/console/years/{DEMO_YEAR}", "/console/search",
          f"/console/enterprises/{ENTERPRISE}", f"/console/providers/{PROVIDER}", "/console/contracts/x",
          "/console/settlements/", "/console/settlements/x", "/console/trace/", "/console/trace/contracts/x",
          "/console/audit")


# --- helpers: what a person does -------------------------------------------------------------------

def wait(driver: Any, condition: Callable[[Any], Any], timeout: float = WAIT_SECONDS, what: str = "") -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        condition, f"waited {timeout}s for {what or 'the page'} at {driver.current_url}")


def element(driver: Any, css: str, timeout: float = WAIT_SECONDS) -> Any:
    """The first element matching `css` once it is displayed."""
    from selenium.webdriver.common.by import By

    def shown(d: Any) -> Any:
        for el in d.find_elements(By.CSS_SELECTOR, css):
            if el.is_displayed():
                return el
        return False

    return wait(driver, shown, timeout, css)


def elements(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def filled(driver: Any, css: str) -> Any:
    """Wait until the container has rendered something (the page's data has arrived)."""
    from selenium.webdriver.common.by import By

    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).text.strip() and d.find_element(By.CSS_SELECTOR, css),
                what=f"{css} to fill")


def no_alerts(driver: Any) -> None:
    alerts = [a.text for a in elements(driver, ".alert") if a.is_displayed()]
    assert not alerts, alerts


def screenshot(driver: Any, server: ConsoleServer, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{server.backend}-{name}.png"
    # Grow the window to the page's height (plus the browser's own frame) so the whole page is saved.
    height, frame = driver.execute_script(
        "return [Math.min(document.documentElement.scrollHeight, 5000), window.outerHeight - window.innerHeight]")
    driver.set_window_size(1360, max(900, int(height) + int(frame)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1360, 1000)
    return path


def sign_in(driver: Any, server: ConsoleServer, role: str) -> None:
    driver.get(server.url("/console/login"))
    field = element(driver, "#login-token")
    field.clear()
    field.send_keys(server.tokens[role])
    element(driver, "#login-submit").click()
    wait(driver, lambda d: "/console/login" not in d.current_url)
    # The token lives in this tab's session storage, never in the address bar.
    assert server.tokens[role] not in driver.current_url
    assert driver.execute_script("return sessionStorage.getItem('vl.token')") == server.tokens[role]


def sign_out(driver: Any) -> None:
    element(driver, "#vl-signout").click()
    wait(driver, lambda d: d.current_url.endswith("/console/login"))
    assert driver.execute_script("return sessionStorage.getItem('vl.token')") is None


def api(server: ConsoleServer, path: str, role: str) -> Any:
    request = urllib.request.Request(server.url("/api/v1" + path), headers={"Authorization": f"Bearer {server.tokens[role]}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# --- the tests ---------------------------------------------------------------------------------------

def test_every_page_is_a_fast_static_shell(console_server: ConsoleServer) -> None:
    """Pages are data-free shells: no token needed, served in well under 300 ms."""
    for path in SHELLS:
        started = time.perf_counter()
        with urllib.request.urlopen(console_server.url(path), timeout=5) as response:
            body = response.read().decode()
            assert response.status == 200
        elapsed = time.perf_counter() - started
        assert elapsed < 0.3, f"{path} took {elapsed * 1000:.0f} ms"
        assert 'data-page="' in body and "vl-texts" in body


def test_each_role_signs_in_and_lands_on_its_own_page(browser: Any, console_server: ConsoleServer) -> None:
    """Staff and readers land on the year dashboard, an enterprise and a provider on their own page."""
    for role in STAFF_ROLES:
        sign_in(browser, console_server, role)
        filled(browser, "#year-figures")
        assert f"/console/years/{DEMO_YEAR}" in browser.current_url
        assert element(browser, "#vl-who").text  # the role is shown
        nav = element(browser, "#vl-nav").text
        assert ("审计与导出" in nav) == (role in ("supervisor", "auditor"))
        sign_out(browser)

    sign_in(browser, console_server, "enterprise")
    wait(browser, lambda d: ENTERPRISE in d.current_url)
    filled(browser, "#enterprise-vouchers")
    filled(browser, "#enterprise-balance")
    assert "广西南宁精工机械有限公司" in element(browser, "#enterprise-title").text
    assert "年度看板" not in element(browser, "#vl-nav").text  # nothing but its own data
    no_alerts(browser)
    screenshot(browser, console_server, "enterprise-own")
    sign_out(browser)

    sign_in(browser, console_server, "provider")
    wait(browser, lambda d: PROVIDER in d.current_url)
    filled(browser, "#provider-contracts")
    element(browser, "#provider-gauge svg")
    no_alerts(browser)
    screenshot(browser, console_server, "provider-own")
    sign_out(browser)


def test_sign_in_refuses_an_unknown_token(browser: Any, console_server: ConsoleServer) -> None:
    browser.get(console_server.url("/console/login"))
    element(browser, "#login-token").send_keys("vl_not-a-real-token")
    element(browser, "#login-submit").click()
    assert "令牌无效" in element(browser, "#login-message").text
    assert browser.execute_script("return sessionStorage.getItem('vl.token')") is None
    screenshot(browser, console_server, "login")


def every_step(driver: Any) -> None:
    """A trace draws a page of steps (issue 19): 更多 until every step is shown."""
    for _ in range(100):
        more = driver.find_elements("css selector", "#trace-more")
        if not more or not more[0].is_displayed():
            return
        shown = len(driver.find_elements("css selector", "#trace-steps li.step"))
        more[0].click()
        wait(driver, lambda d: len(d.find_elements("css selector", "#trace-steps li.step")) > shown)


def test_dashboard_to_contract_trace_to_its_payment(browser: Any, console_server: ConsoleServer) -> None:
    """The settlement clerk walks from the year's figures to a settled contract, its trace, and the payment."""
    sign_in(browser, console_server, "operator")
    filled(browser, "#year-figures")
    element(browser, "#chart-monthly svg rect[data-series]")  # money moved this month is drawn
    element(browser, "#chart-states svg rect")
    year = api(console_server, f"/years/{DEMO_YEAR}", "operator")
    assert element(browser, '[data-figure="budget"] .value').text == "¥" + f"{int(year['budget'].split('.')[0]):,}.00"
    filled(browser, "#year-batches")
    screenshot(browser, console_server, "dashboard")

    # A settled contract in the year's list → its page.
    settled_row = wait(browser, lambda d: next((row for row in elements(d, "#year-contracts tbody tr")
                                                 if row.find_elements("css selector", '[data-status="settled"]')
                                                 and row.find_elements("css selector", '[data-status="completed"]')), False))
    settled_row.find_element("css selector", "td:first-child a").click()
    filled(browser, "#contract-figures")
    assert element(browser, "#contract-parties [data-status='paid']")  # claimed and paid in a batch
    screenshot(browser, console_server, "contract")

    # Its trace reaches back to the budget and forward to the settlement.
    element(browser, "#contract-trace").click()
    filled(browser, "#trace-steps")
    every_step(browser)
    types = [step.get_attribute("data-type") for step in elements(browser, "#trace-steps li.step")]
    assert "Year.BudgetAllocated" in types and "Voucher.Issued" in types
    assert "Contract.Completed" in types and "Contract.Settled" in types
    screenshot(browser, console_server, "trace-contract")

    # The settled step links to the batch that paid it; that trace shows the payment.
    settled = element(browser, '#trace-steps li.step[data-type="Contract.Settled"]')
    settled.find_element("css selector", "a[href*='/console/trace/settlements/']").click()
    filled(browser, "#trace-steps")
    every_step(browser)
    paid = element(browser, '#trace-steps li.step[data-type="SettlementBatch.Paid"]')
    assert "¥" in paid.text
    screenshot(browser, console_server, "trace-settlement")

    # And the batch itself: paid, with its claims and their review state.
    browser.back()
    browser.back()
    element(browser, "#contract-batch").click()
    filled(browser, "#batch-claims")
    assert element(browser, "#batch-meta [data-status='paid']")
    assert element(browser, "#batch-reference").text
    assert elements(browser, "#batch-claims [data-status='paid']")
    no_alerts(browser)
    screenshot(browser, console_server, "settlement")
    sign_out(browser)


def test_search_and_provider_cap_gauge(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url("/console/search"))
    element(browser, "#search-q").send_keys("桂林")
    element(browser, "#search-submit").click()
    link = element(browser, "#search-results tbody a")
    assert "桂林" in element(browser, "#search-results").text
    screenshot(browser, console_server, "search")
    link.click()
    filled(browser, "#enterprise-contracts")
    browser.get(console_server.url(f"/console/search?q={PROVIDER[:10]}&kind=providers"))
    element(browser, "#search-results tbody a").click()
    element(browser, "#provider-gauge svg path")
    filled(browser, "#provider-totals")
    used = element(browser, '#provider-totals [data-figure="used"] .value').text
    # The same totals as of a later instant; none before the provider was signed for the year.
    picker = element(browser, "#asof-input")
    browser.execute_script("arguments[0].value = arguments[1]", picker, f"{DEMO_YEAR + 1}-01-01T00:00:00")
    element(browser, "#asof-submit").click()
    wait(browser, lambda d: element(d, '#asof-result [data-figure="used"] .value').text == used)
    browser.execute_script("arguments[0].value = arguments[1]", picker, f"{DEMO_YEAR - 1}-12-31T23:59:00")
    element(browser, "#asof-submit").click()
    assert "尚无记录" in element(browser, "#asof-caption").text
    no_alerts(browser)
    screenshot(browser, console_server, "provider")
    sign_out(browser)


def test_balance_as_of_an_instant(browser: Any, console_server: ConsoleServer) -> None:
    """The auditor reconstructs a balance: nothing before the demo existed, today's figures now."""
    sign_in(browser, console_server, "auditor")
    enterprise = credit_code_with_use(console_server)
    browser.get(console_server.url(f"/console/enterprises/{enterprise}?year={DEMO_YEAR}"))
    filled(browser, "#enterprise-balance")
    now_used = element(browser, '#enterprise-balance [data-figure="used"] .value').text
    assert now_used != "¥0.00"

    picker = element(browser, "#asof-input")
    browser.execute_script("arguments[0].value = arguments[1]", picker, f"{DEMO_YEAR - 1}-12-31T23:59:00")
    element(browser, "#asof-submit").click()
    caption = element(browser, "#asof-caption")
    assert f"{DEMO_YEAR - 1}-12-31T23:59:00+08:00" in caption.text
    assert element(browser, '#asof-result [data-figure="quota"] .value').text == "¥0.00"

    later = (datetime.now(timezone(timedelta(hours=8))) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    browser.execute_script("arguments[0].value = arguments[1]", picker, later)
    element(browser, "#asof-submit").click()
    wait(browser, lambda d: "+08:00" in element(d, "#asof-caption").text and later in element(d, "#asof-caption").text)
    assert element(browser, '#asof-result [data-figure="used"] .value').text == now_used
    no_alerts(browser)
    screenshot(browser, console_server, "enterprise-as-of")
    sign_out(browser)


def credit_code_with_use(server: ConsoleServer) -> str:
    """An enterprise of the demo with a used subsidy (a completed contract)."""
    contracts = api(server, f"/contracts?year={DEMO_YEAR}&status=completed", "auditor")["contracts"]
    assert contracts, "the demo has completed contracts"
    return contracts[0]["enterprise_id"]


def test_audit_head_verify_and_export_download(browser: Any, console_server: ConsoleServer, downloads: Path) -> None:
    sign_in(browser, console_server, "auditor")
    browser.get(console_server.url("/console/audit"))
    head_hash = element(browser, "#audit-head-hash").text
    assert len(head_hash) == 64
    element(browser, "#audit-verify").click()
    assert "核验通过" in element(browser, "#audit-verify-outcome").text

    for fmt in ("jsonl", "csv"):
        before = set(downloads.iterdir())
        browser.execute_script("document.getElementById('export-format').value = arguments[0]", fmt)
        element(browser, "#export-submit").click()
        element(browser, "#export-link")
        wait(browser, lambda d: [p for p in set(downloads.iterdir()) - before
                                 if p.suffix == f".{fmt}"] or False, what=f"the {fmt} download")
        saved = next(p for p in set(downloads.iterdir()) - before if p.suffix == f".{fmt}")
        text = saved.read_text(encoding="utf-8")
        assert console_server.tokens["auditor"] not in text
        shown_hash = element(browser, "#export-head-hash").text
        assert shown_hash == head_hash, "the manifest shown is the chain head shown"
        if fmt == "jsonl":
            manifest = json.loads(text.strip().splitlines()[-1])["manifest"]
            assert manifest["head_hash"] == head_hash
        else:
            assert text.strip().splitlines()[-1].startswith("#manifest") and head_hash in text.strip().splitlines()[-1]
        screenshot(browser, console_server, f"audit-{fmt}")
    sign_out(browser)


def test_supervisor_may_not_verify(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "supervisor")
    browser.get(console_server.url("/console/audit"))
    element(browser, "#audit-head-hash")
    element(browser, "#audit-verify").click()
    assert "仅审计人员" in element(browser, "#audit-verify-result .alert").text
    sign_out(browser)


def test_another_subjects_data_is_a_403_page(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "enterprise")
    browser.get(console_server.url(f"/console/enterprises/{OTHER_ENTERPRISE}"))
    page = element(browser, "#vl-forbidden")
    assert "403" in page.text and "无权查看" in page.text
    screenshot(browser, console_server, "forbidden")
    browser.get(console_server.url(f"/console/trace/enterprises/{OTHER_ENTERPRISE}?year={DEMO_YEAR}"))
    element(browser, "#vl-forbidden")
    browser.get(console_server.url("/console/audit"))
    element(browser, "#vl-forbidden")
    sign_out(browser)

    sign_in(browser, console_server, "provider")
    browser.get(console_server.url(f"/console/providers/{OTHER_PROVIDER}"))
    element(browser, "#vl-forbidden")
    sign_out(browser)


def test_english_toggle_is_remembered(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "operator")
    filled(browser, "#year-figures")
    element(browser, "#vl-lang").click()
    wait(browser, lambda d: "Budget" in element(d, "#year-figures").text)
    browser.get(console_server.url("/console/search"))
    assert element(browser, "#search-submit").text == "Search"
    filled(browser, "#vl-nav")
    browser.get(console_server.url(f"/console/years/{DEMO_YEAR}"))
    filled(browser, "#year-figures")
    screenshot(browser, console_server, "dashboard-en")
    element(browser, "#vl-lang").click()
    wait(browser, lambda d: "年度预算" in element(d, "#year-figures").text)
    sign_out(browser)


@pytest.fixture(autouse=True)
def _fresh_session(request: Any) -> None:
    """Each test starts signed out (the previous one may have stopped half-way)."""
    if "browser" in request.fixturenames:
        driver = request.getfixturevalue("browser")
        server = request.getfixturevalue("console_server")
        driver.get(server.url("/console/login"))
        driver.execute_script("sessionStorage.clear(); localStorage.removeItem('vl.lang');")
