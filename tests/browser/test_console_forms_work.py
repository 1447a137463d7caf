"""The rarer commands' forms (issue 19, web/console/static/forms_work.js) in a real browser.

Its own server per backend (module scope), loaded with the demo year: a contract proposed from the
enterprise's page (its subsidy previewed) and refused by the listed price, an acceptance check and a
survey on the contract's page, a hold released by the approver, an objection resolved on the batch's
page, a spot check, a supervision report and its finding turned into a case, and a webhook
subscription sent twice that subscribes once and never shows its secret. Each form's effect is checked
through the API; screenshots are saved in test-artifacts/console/.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.demo import credit_code
from tests.browser.conftest import PROVIDER, ConsoleServer
from tests.browser.test_console import api, element, elements, no_alerts, screenshot, sign_in
from tests.browser.test_console_work import act, fill, post
from tests.servers import run_cli
from tests.support import YEAR

pytestmark = pytest.mark.slow  # a real server and Chromium (scripts/test --fast skips it)

ENTERPRISE_102 = credit_code(102)  # the demo's 101 is revoked by its sanction case; 102 may still contract
TESTING_PROVIDER = credit_code(202)  # its completed, unpaid contract is held when it is terminated
WEBHOOK_SECRET = "console-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def server(console_server: ConsoleServer) -> ConsoleServer:
    """The module's server, with a token for an enterprise that may still contract."""
    printed = run_cli(console_server.env, "token", "issue", "--role", "enterprise", "--subject", ENTERPRISE_102,
                      "--name", "browser-enterprise-102").stdout
    console_server.tokens["enterprise-102"] = printed.strip().splitlines()[-1]
    return console_server


def choose(driver: Any, form: str, name: str, value: str) -> None:
    """Choose an option as a person would: the form hears the change (a provider's products follow it)."""
    driver.execute_script("const el = document.getElementById(arguments[0]).elements[arguments[1]];"
                          "el.value = arguments[2]; el.dispatchEvent(new Event('change'));", form, name, value)


def previewed(driver: Any, server: ConsoleServer, form: str, values: dict[str, Any], shot: str) -> str:
    """Send a form whose command moves money: its preview is read and saved, then confirmed; the preview's text."""
    fill(driver, form, values)
    element(driver, f"#{form}-submit").click()
    preview = element(driver, f"#{form}-preview").text
    screenshot(driver, server, shot)
    element(driver, f"#{form}-confirm").click()
    element(driver, "#vl-flash")
    drawn(driver)
    return preview


def drawn(driver: Any) -> None:
    """Wait until the page has drawn its forms (forms_work.js marks the body), so an absent form is truly absent."""
    element(driver, "body[data-work-forms='drawn']")


def consulting_product(server: ConsoleServer) -> dict[str, Any]:
    provider = next(p for p in api(server, f"/catalogue?year={YEAR}", "operator")["providers"]
                    if p["provider_id"] == PROVIDER)
    return next(p for p in provider["products"] if p["category"] == "management_consulting")


def contracts_of(server: ConsoleServer, enterprise: str) -> list[dict[str, Any]]:
    return api(server, f"/enterprises/{enterprise}", "operator")["contracts"]


def test_propose_a_contract_with_its_subsidy_previewed_then_a_refusal(browser: Any, server: ConsoleServer) -> None:
    product = consulting_product(server)
    before = len(contracts_of(server, ENTERPRISE_102))
    sign_in(browser, server, "enterprise-102")
    browser.get(server.url(f"/console/enterprises/{ENTERPRISE_102}?year={YEAR}"))
    element(browser, "#contract-propose")
    choose(browser, "contract-propose", "provider_id", PROVIDER)
    choose(browser, "contract-propose", "product_id", product["product_id"])
    preview = previewed(browser, server, "contract-propose", {"amount": "20000.00", "quantity": "1"},
                        "forms-propose-preview")
    # The ledger's rule: 50% of a consulting contract (Art. 10), within the voucher's ¥20,000 available.
    assert "¥20,000.00" in preview and "50%" in preview and "将预留补贴\n¥10,000.00" in preview
    after = contracts_of(server, ENTERPRISE_102)
    assert len(after) == before + 1
    proposed = api(server, f"/contracts/{after[-1]['contract_id']}", "operator")
    assert (proposed["status"], proposed["amount"], proposed["provider_id"]) == ("proposed", "20000.00", PROVIDER)

    # A subsidy asked above the year's share is refused at the preview already, before anything is proposed.
    element(browser, "#contract-propose")  # drawn again on the reloaded page
    choose(browser, "contract-propose", "provider_id", PROVIDER)
    choose(browser, "contract-propose", "product_id", product["product_id"])
    fill(browser, "contract-propose", {"amount": "20000.00", "quantity": "1", "subsidy": "10000.01"})
    element(browser, "#contract-propose-submit").click()
    alert = element(browser, "#contract-propose-message .alert")
    assert "SUBSIDY_ABOVE_SHARE" in alert.text and "10000.00" in alert.text
    assert not elements(browser, "#contract-propose-confirm")
    # Above the listed price × quantity: the rule refuses, in Chinese, naming the price and the maximum.
    choose(browser, "contract-propose", "provider_id", PROVIDER)
    choose(browser, "contract-propose", "product_id", product["product_id"])
    fill(browser, "contract-propose", {"amount": "999999.00", "quantity": "1", "subsidy": "1000.00"})
    element(browser, "#contract-propose-submit").click()
    assert "¥1,000.00" in element(browser, "#contract-propose-reserved").text  # the subsidy asked is what is reserved
    element(browser, "#contract-propose-confirm").click()
    alert = element(browser, "#contract-propose-message .alert")
    assert "PRICE_ABOVE_LIST" in alert.text and "公示价格" in alert.text
    details = alert.find_elements("css selector", ".error-details li")
    assert any("上限" in d.text and product["price"] in d.text for d in details), [d.text for d in details]
    screenshot(browser, server, "forms-propose-refused")
    assert len(contracts_of(server, ENTERPRISE_102)) == before + 1


def test_survey_then_a_failed_acceptance_on_the_contract_page(browser: Any, server: ConsoleServer) -> None:
    # The proposal above, signed and carried out by its parties through the API.
    contract = next(c for c in contracts_of(server, ENTERPRISE_102) if c["status"] == "proposed")["contract_id"]
    signed = post(server, f"/contracts/{contract}/signature", "provider", {})
    post(server, f"/contracts/{contract}/deposit", "enterprise-102", {"amount": signed["deposit"]})
    post(server, f"/contracts/{contract}/completion", "enterprise-102", {"balance_paid": signed["balance_due"]})
    page = f"/console/contracts/{contract}"
    sign_in(browser, server, "operator")
    browser.get(server.url(page))
    act(browser, server, "contract-survey", {"score": "4", "comments": "服务及时，报告质量较好"})
    archive = api(server, f"/archive/enterprises/{ENTERPRISE_102}", "operator")["entries"]
    assert any(e["type"].endswith("SurveyRecorded") and e["data"]["score"] == 4 for e in archive)
    drawn(browser)
    screenshot(browser, server, "forms-survey")
    sign_in(browser, server, "supervisor")
    browser.get(server.url(page))
    preview = previewed(browser, server, "contract-acceptance", {"result": "failed", "findings": "现场核查：诊断报告未交付"},
                        "forms-acceptance-preview")
    assert signed["subsidy"] in preview.replace(",", "") and "补贴退回" in preview
    assert api(server, f"/contracts/{contract}", "operator")["status"] == "failed_acceptance"
    drawn(browser)
    assert not elements(browser, "#contract-acceptance")  # no second check of a failed contract


def test_approver_releases_a_hold_after_its_preview(browser: Any, server: ConsoleServer) -> None:
    post(server, f"/providers/{TESTING_PROVIDER}/termination", "approver", {"reason": "虚假宣传，终止服务资格"})
    held = [c for c in api(server, f"/providers/{TESTING_PROVIDER}/contracts?year={YEAR}&limit=500", "operator")["contracts"]
            if api(server, f"/contracts/{c['contract_id']}", "operator").get("hold")]
    assert held
    contract = held[0]["contract_id"]
    sign_in(browser, server, "operator")
    browser.get(server.url(f"/console/contracts/{contract}"))
    element(browser, "#contract-figures .figure")
    drawn(browser)
    assert not elements(browser, "#hold-release")  # the operator may not release a hold
    sign_in(browser, server, "approver")
    browser.get(server.url(f"/console/contracts/{contract}"))
    preview = previewed(browser, server, "hold-release", {
        "reason": "经核实服务确已提供", "doc_name": "核查记录.pdf", "doc_uri": "https://docs.example.gov.cn/holds/1.pdf",
        "doc_sha256": "a" * 64, "doc_size": "2048"}, "forms-hold-release-preview")
    assert "¥" in preview and "可再次申请结算" in preview
    assert api(server, f"/contracts/{contract}", "operator").get("hold") is None
    no_alerts(browser)


def test_approver_resolves_an_objection_on_the_batch_page(browser: Any, server: ConsoleServer) -> None:
    batch = next(b for b in api(server, f"/settlements?year={YEAR}", "operator")["batches"] if b["status"] == "open")
    path = f"/settlements/{batch['batch_id']}"
    claim = next(c for c in api(server, path, "operator")["claims"] if c["status"] == "pending")
    post(server, f"{path}/claims/{claim['claim_id']}/review", "operator", {"decision": "approve", "note": "材料齐全"})
    post(server, f"{path}/approval", "approver", {"note": "同意"})
    disputed = claim["contract_ids"][0]
    post(server, f"{path}/notice", "operator", {"outcome": "objection", "note": "公示期收到异议",
                                                  "contract_ids": [disputed]})
    sign_in(browser, server, "approver")
    browser.get(server.url(f"/console{path}"))
    preview = previewed(browser, server, "objection-resolution", {
        "contract_id": disputed, "decision": "dismissed", "note": "经核查异议不成立"}, "forms-resolution-preview")
    assert "随本批次兑付" in preview and "¥" in preview
    claim = next(c for c in api(server, path, "operator")["claims"] if c["claim_id"] == claim["claim_id"])
    assert claim["disputes"][disputed] == "dismissed"
    drawn(browser)
    assert not elements(browser, "#objection-resolution")  # nothing left to resolve


def test_spot_check_report_and_a_finding_turned_into_a_case(browser: Any, server: ConsoleServer) -> None:
    page = f"/console/providers/{PROVIDER}?year={YEAR}"
    archive = f"/archive/providers/{PROVIDER}"
    sign_in(browser, server, "operator")
    browser.get(server.url(page))
    act(browser, server, "spot-check", {"contract_id": "", "result": "failed", "findings": "抽查：服务记录不完整"})
    checks = [e for e in api(server, archive, "operator")["entries"] if e["type"].endswith("SpotChecked")]
    assert [c["data"]["result"] for c in checks] == ["failed"]
    element(browser, "#archive-entries tbody tr")
    drawn(browser)
    screenshot(browser, server, "forms-spot-check")

    sign_in(browser, server, "supervisor")
    browser.get(server.url("/console/audit"))
    fill(browser, "supervision-report", {"year": str(YEAR), "title": f"{YEAR}年第二季度监理报告"})
    element(browser, "#report-add-finding").click()
    browser.execute_script(
        "const rows = document.querySelectorAll('#report-findings .finding-row');"
        "const set = (row, name, v) => { row.querySelector(`[name='${name}']`).value = v; };"
        "set(rows[0], 'finding_subject_type', 'provider'); set(rows[0], 'finding_subject_id', arguments[0]);"
        "set(rows[0], 'finding_severity', 'major'); set(rows[0], 'finding_text', '服务记录与合同不符');"
        "set(rows[1], 'finding_subject_type', 'enterprise'); set(rows[1], 'finding_subject_id', arguments[1]);"
        "set(rows[1], 'finding_severity', 'minor'); set(rows[1], 'finding_text', '满意度回访未留存');",
        PROVIDER, ENTERPRISE_102)
    screenshot(browser, server, "forms-report")
    act(browser, server, "supervision-report", {})
    finding = next(e for e in api(server, archive, "operator")["entries"] if e["type"].endswith("FindingRecorded"))
    report_id = finding["data"]["report_id"]
    assert len(api(server, f"/archive/supervision-reports/{report_id}", "operator")["findings"]) == 2

    cases = api(server, "/cases", "operator")["total"]
    sign_in(browser, server, "operator")
    browser.get(server.url(page))
    act(browser, server, "finding-case", {"finding": f"{report_id}/0", "violation": "fake_transaction",
                                          "note": "监理发现转立案"})
    report = api(server, f"/archive/supervision-reports/{report_id}", "operator")
    assert report["findings"][0]["case_id"] and report["findings"][1]["case_id"] is None
    assert api(server, "/cases", "operator")["total"] == cases + 1
    drawn(browser)
    assert not elements(browser, "#finding-case")  # the provider's one finding is referred
    assert elements(browser, "#spot-check") and len(elements(browser, "#archive-entries tbody tr")) >= 2
    screenshot(browser, server, "forms-finding-case")


def test_a_webhook_subscribed_twice_is_one_and_its_secret_never_shows(browser: Any, server: ConsoleServer) -> None:
    before = len(api(server, "/webhooks", "operator")["webhooks"])
    sign_in(browser, server, "operator")
    browser.get(server.url("/console/webhooks"))
    element(browser, "#vl-nav a[href='/console/webhooks']")
    fill(browser, "webhook-new", {"url": "https://treasury.example.gov.cn/ledger-events", "types": "Voucher, Contract",
                                  "secret": WEBHOOK_SECRET})
    # A double submit acts once: the form is busy after the first, and both would carry one key anyway.
    browser.execute_script("const f = document.getElementById('webhook-new'); f.requestSubmit(); f.requestSubmit();")
    element(browser, "#vl-flash")
    hooks = api(server, "/webhooks", "operator")["webhooks"]
    assert len(hooks) == before + 1 and hooks[-1]["types"] == ["Voucher", "Contract"]
    assert "ledger-events" in element(browser, "#webhook-list tbody").text
    assert WEBHOOK_SECRET not in browser.page_source
    drawn(browser)
    screenshot(browser, server, "forms-webhooks")
    sign_in(browser, server, "auditor")  # readers see the list, only the operator subscribes
    browser.get(server.url("/console/webhooks"))
    element(browser, "#webhook-list tbody tr")
    drawn(browser)
    assert not elements(browser, "#webhook-new")


def test_the_new_forms_fit_a_phone(browser: Any, server: ConsoleServer) -> None:
    contract = api(server, f"/contracts?year={YEAR}&status=completed&limit=1", "operator")["contracts"][0]["contract_id"]
    sign_in(browser, server, "operator")
    browser.set_window_size(390, 844)
    try:
        for path in (f"/console/providers/{PROVIDER}?year={YEAR}", f"/console/enterprises/{ENTERPRISE_102}?year={YEAR}",
                     f"/console/contracts/{contract}", "/console/webhooks"):
            browser.get(server.url(path))
            drawn(browser)
            element(browser, "#vl-actions")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 400, (path, width)
    finally:
        browser.set_window_size(1360, 1000)
