"""The console does the work (issue 19): a clerk's day in a real browser, every write through a form.

Its own server per backend (module scope), loaded with the demo year, so the writes here leave the
other browser tests' world as it was. Each form sends its Idempotency-Key; money movements are
previewed and confirmed; a refusal is shown in Chinese with its details; screenshots are saved in
test-artifacts/console/.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from service.demo import credit_code, provider_documents
from tests.browser.conftest import PROVIDER, WAIT_SECONDS, ConsoleServer
from tests.browser.test_console import api, element, elements, filled, no_alerts, screenshot, sign_in, wait
from tests.support import YEAR

pytestmark = pytest.mark.slow  # a real server and Chromium (scripts/test --fast skips it)

NEW_ENTERPRISE = credit_code(151)
NEW_PROVIDER = credit_code(251)


def post(server: ConsoleServer, path: str, role: str, body: dict[str, Any], method: str = "POST") -> Any:
    request = urllib.request.Request(server.url("/api/v1" + path), data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {server.tokens[role]}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def fill(driver: Any, form: str, values: dict[str, Any]) -> None:
    """Set a form's fields as a person would choose them (selects by value, boxes ticked)."""
    element(driver, f"#{form}")  # once the page has drawn it
    for name, value in values.items():
        driver.execute_script(
            "const f = document.getElementById(arguments[0]); const v = arguments[2];"
            "const els = f.querySelectorAll(`[name='${arguments[1]}']`);"
            "els.forEach((el) => { if (el.type === 'checkbox') el.checked = Array.isArray(v) ? v.includes(el.value) : !!v;"
            " else el.value = v; });", form, name, value)


def act(driver: Any, server: ConsoleServer, form: str, values: dict[str, Any], confirm: bool = False,
        shot: str | None = None) -> None:
    """Fill and send a form (confirming its preview when it has one) and wait for the reloaded page's notice."""
    fill(driver, form, values)
    element(driver, f"#{form}-submit").click()
    if confirm:
        element(driver, f"#{form}-preview")
        if shot:
            screenshot(driver, server, shot)
        element(driver, f"#{form}-confirm").click()
    wait(driver, lambda d: d.find_elements("css selector", "#vl-flash") or d.find_elements(
        "css selector", f"#{form}-message .alert"), what=f"{form} to be done")
    alerts = [a.text for a in elements(driver, f"#{form}-message .alert")]
    assert not alerts, alerts


def test_issue_a_voucher_from_the_enterprise_page(browser: Any, console_server: ConsoleServer) -> None:
    post(console_server, "/enterprises", "operator", {
        "id": NEW_ENTERPRISE, "name": "南宁新锐装备有限公司", "employees": 80, "revenue": "30000000.00",
        "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
        "major_violation": False, "industry_aligned": True, "honours": []})
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(f"/console/enterprises/{NEW_ENTERPRISE}?year={YEAR}"))
    filled(browser, "#enterprise-vouchers")
    screenshot(browser, console_server, "work-enterprise-before")
    act(browser, console_server, "issue-voucher", {"year": str(YEAR), "kind": "general"})
    filled(browser, "#enterprise-vouchers")
    assert len(elements(browser, "#enterprise-vouchers tbody tr")) == 1
    assert element(browser, "#enterprise-vouchers [data-status='active']")
    # The same voucher again is refused, in Chinese, with the API's code.
    fill(browser, "issue-voucher", {"year": str(YEAR)})
    element(browser, "#issue-voucher-submit").click()
    alert = element(browser, "#issue-voucher-message .alert")
    assert "ALREADY_ISSUED" in alert.text and "已" in alert.text
    screenshot(browser, console_server, "work-voucher-refused")
    assert len(api(console_server, f"/enterprises/{NEW_ENTERPRISE}", "operator")["vouchers"]) == 1


def test_review_and_sign_a_provider_then_list_a_product(browser: Any, console_server: ConsoleServer) -> None:
    post(console_server, "/providers", "operator", {
        "id": NEW_PROVIDER, "name": "柳州智联工业服务有限公司", "registered_in_guangxi": True,
        "entity_type": "legal_person", "fixed_premises": True, "years_operating": 5, "core_staff_insured": 12,
        "clients_last_year": 30, "revenue_last_year": "6000000.00", "dishonest": False, "tax_compliant": True,
        "accepts_supervision": True, "accepts_face_value_offset": True, "documents": provider_documents(NEW_PROVIDER)})
    page = f"/console/providers/{NEW_PROVIDER}?year={YEAR}"
    for stage, role in (("compliance", "operator"), ("initial", "approver"), ("expert", "operator"),
                        ("approval", "approver"), ("notice", "operator")):
        sign_in(browser, console_server, role)
        browser.get(console_server.url(page))
        act(browser, console_server, "provider-review", {"year": str(YEAR), "stage": stage, "decision": "pass",
                                                      "note": f"控制台：{stage} 通过"})
    assert api(console_server, f"/providers/{NEW_PROVIDER}", "operator")["signed_years"] == [YEAR]
    assert element(browser, "#provider-meta [data-status='signed']")

    product = post(console_server, "/products", "provider", {
        "provider_id": PROVIDER, "name": "工业互联网标识解析咨询", "category": "digital_transformation",
        "price": "80000.00", "description": "控制台测试产品"})["product_id"]
    for stage, role in (("expert", "operator"), ("approval", "approver"), ("notice", "operator")):
        sign_in(browser, console_server, role)
        browser.get(console_server.url(f"/console/providers/{PROVIDER}?year={YEAR}"))
        filled(browser, "#provider-products")
        act(browser, console_server, "product-review", {"product_id": product, "year": str(YEAR), "stage": stage,
                                                     "decision": "pass"})
    filled(browser, "#provider-products")
    assert str(YEAR) in element(browser, "#provider-products").text
    assert api(console_server, f"/products/{product}", "operator")["listed_years"] == [YEAR]
    no_alerts(browser)
    screenshot(browser, console_server, "work-provider")


def test_a_batch_from_review_to_payment_with_three_roles(browser: Any, console_server: ConsoleServer) -> None:
    batch = next(b for b in api(console_server, f"/settlements?year={YEAR}", "operator")["batches"] if b["status"] == "open")
    page = f"/console/settlements/{batch['batch_id']}"
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(page))
    filled(browser, "#batch-claims")
    pending = [c["claim_id"] for c in api(console_server, f"/settlements/{batch['batch_id']}", "operator")["claims"]
               if c["status"] == "pending"]
    assert pending
    for claim_id in pending:
        act(browser, console_server, "claim-review", {"claim_id": claim_id, "decision": "approve", "note": "材料齐全"})
    sign_in(browser, console_server, "approver")
    browser.get(console_server.url(page))
    act(browser, console_server, "batch-approval", {"note": "同意"}, confirm=True, shot="work-approval-preview")
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(page))
    act(browser, console_server, "batch-notice", {"outcome": "no_objection", "note": "公示期满无异议"})
    sign_in(browser, console_server, "finance")
    browser.get(console_server.url(page))
    element(browser, "#batch-payment")
    fill(browser, "batch-payment", {"reference": f"桂财工兑〔{YEAR}〕2号"})
    element(browser, "#batch-payment-submit").click()
    preview = element(browser, "#batch-payment-preview")
    assert "¥" in preview.text  # the plan's money, per provider, before anything moves
    screenshot(browser, console_server, "work-payment-preview")
    element(browser, "#batch-payment-confirm").click()
    element(browser, "#vl-flash")
    assert element(browser, "#batch-meta [data-status='paid']")
    assert api(console_server, f"/settlements/{batch['batch_id']}", "finance")["status"] == "paid"
    screenshot(browser, console_server, "work-batch-paid")

    # A third batch of the year is refused by the rule, shown in Chinese with its details.
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url("/console/settlements/"))
    fill(browser, "batch-new", {"year": str(YEAR), "name": f"{YEAR}年第三批"})
    element(browser, "#batch-new-submit").click()
    alert = element(browser, "#batch-new-message .alert")
    assert "BATCH_LIMIT" in alert.text and alert.find_elements("css selector", ".error-details li")
    screenshot(browser, console_server, "work-batch-refused")


def test_file_a_case_once_and_decide_it(browser: Any, console_server: ConsoleServer) -> None:
    before = api(console_server, "/cases", "operator")["total"]
    sign_in(browser, console_server, "supervisor")
    browser.get(console_server.url("/console/cases/"))
    filled(browser, "#case-list")
    fill(browser, "case-file", {"subject_type": "provider", "subject_id": NEW_PROVIDER, "violation": "complaint",
                                "note": "投诉：服务未按约定提供"})
    # A double submit acts once: the form is busy after the first, and both would carry one key anyway.
    browser.execute_script("const f = document.getElementById('case-file'); f.requestSubmit(); f.requestSubmit();")
    element(browser, "#vl-flash")
    assert api(console_server, "/cases", "operator")["total"] == before + 1
    # The same key sent twice by hand is still one case (API.md, Idempotency).
    key = browser.execute_script("return document.getElementById('case-file').dataset.key")
    body = {"subject_type": "provider", "subject_id": NEW_PROVIDER, "violation": "complaint", "contract_ids": [],
            "note": "同一表单"}
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all([VL.post('/cases', arguments[0], arguments[1]), VL.post('/cases', arguments[0], arguments[1])])"
        ".then(done, done);", body, key)
    assert api(console_server, "/cases", "operator")["total"] == before + 2

    sign_in(browser, console_server, "operator")
    browser.get(console_server.url("/console/cases/"))
    case = api(console_server, "/cases?sort=-filed&limit=1", "operator")["cases"][0]
    act(browser, console_server, "case-sanction", {"case_id": case["case_id"], "note": "警告并记入不良信用记录"},
        confirm=True, shot="work-sanction-preview")
    assert api(console_server, f"/cases/{case['case_id']}", "operator")["status"] == "sanctioned"
    filled(browser, "#case-list")
    screenshot(browser, console_server, "work-cases")


def test_preview_a_close_without_closing(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(f"/console/years/{YEAR}"))
    filled(browser, "#year-figures")
    element(browser, "#year-close-submit").click()
    preview = element(browser, "#year-close-preview")
    assert "¥" in preview.text and "否" in preview.text  # the year has not ended on the business date
    screenshot(browser, console_server, "work-close-preview")
    element(browser, "#year-close-cancel").click()
    assert api(console_server, f"/years/{YEAR}", "operator")["status"] == "open"
    # Readers who may not close see no close form.
    sign_in(browser, console_server, "auditor")
    browser.get(console_server.url(f"/console/years/{YEAR}"))
    filled(browser, "#year-figures")
    filled(browser, "#year-contracts")
    assert not elements(browser, "#year-close")


def test_every_work_page_fits_a_phone(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "operator")
    browser.set_window_size(390, 844)
    try:
        for path in (f"/console/years/{YEAR}", "/console/cases/", "/console/settlements/"):
            browser.get(console_server.url(path))
            element(browser, "#vl-actions")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 400, (path, width)
    finally:
        browser.set_window_size(1360, 1000)


def downloaded(folder: Any, name: str) -> Any:
    """The workbook once Chromium has finished writing it, opened with openpyxl."""
    import openpyxl

    import time

    path = folder / name
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists() or (folder / (name + ".crdownload")).exists():
        assert time.monotonic() < deadline, f"{name} was not downloaded"
        time.sleep(0.1)
    return openpyxl.load_workbook(path)


def test_download_each_workbook_and_open_it(browser: Any, console_server: ConsoleServer, downloads: Any) -> None:
    sign_in(browser, console_server, "auditor")
    browser.get(console_server.url(f"/console/years/{YEAR}"))
    filled(browser, "#year-figures")
    for button, name, header in (("wb-vouchers", f"{YEAR}-补贴券与余额.xlsx", "可用"),
                                 ("wb-contracts", f"{YEAR}-服务合同.xlsx", "合同金额"),
                                 ("wb-providers", f"{YEAR}-服务机构合计.xlsx", "年度上限")):
        element(browser, f"#{button}").click()
        element(browser, f"#{button}-link")
        book = downloaded(downloads, name)
        headers = [cell.value for cell in book.worksheets[0][2]]
        assert header in headers
        money = [row[headers.index(header)] for row in book.worksheets[0].iter_rows(min_row=3, values_only=True)]
        assert money and all(isinstance(v, (int, float)) for v in money)  # numbers Excel can sum
    screenshot(browser, console_server, "work-workbooks")
    batch = api(console_server, f"/settlements?year={YEAR}&sort=opened&limit=1", "auditor")["batches"][0]
    browser.get(console_server.url(f"/console/settlements/{batch['batch_id']}"))
    element(browser, "#wb-batch").click()
    element(browser, "#wb-batch-link")
    book = downloaded(downloads, f"结算批次-{batch['batch_id'][:8]}.xlsx")
    assert book.sheetnames == ["结算申请", "支付清单"]


def test_year_end_warning_page(browser: Any, console_server: ConsoleServer, downloads: Any) -> None:
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(f"/console/year-end/{YEAR}"))
    filled(browser, "#yearend-enterprises")
    assert "尚未" in element(browser, "#yearend-warning").text  # 1 June is before 1 October
    browser.get(console_server.url(f"/console/year-end/{YEAR}?from={YEAR}-05-01"))
    assert "预警中" in element(browser, "#yearend-warning").text
    assert elements(browser, "#yearend-enterprises tbody tr") and elements(browser, "#yearend-providers tbody tr")
    no_alerts(browser)
    screenshot(browser, console_server, "work-year-end")
    element(browser, "#wb-yearend").click()
    element(browser, "#wb-yearend-link")
    assert len(downloaded(downloads, f"{YEAR}-余额预警.xlsx").worksheets) == 3
    height = browser.execute_script("return document.documentElement.scrollHeight")
    assert height < 10_000


def test_print_render_each_notice(browser: Any, console_server: ConsoleServer) -> None:
    """Each notice renders for print: the console's frame gone, the 大写 total and the chain head's QR code there."""
    import base64

    from selenium.webdriver.common.print_page_options import PrintOptions

    sign_in(browser, console_server, "operator")
    paid = next(b for b in api(console_server, f"/settlements?year={YEAR}", "operator")["batches"] if b["status"] == "paid")
    for kind, subject in (("providers", YEAR), ("products", YEAR), ("settlements", paid["batch_id"])):
        browser.get(console_server.url(f"/console/notices/{kind}/{subject}"))
        filled(browser, "#notice-lines")
        element(browser, "#notice-qr")
        head = element(browser, "#notice-hash").text
        assert len(head) == 64
        if kind != "products":
            assert element(browser, "#notice-capital").text.endswith(("整", "分"))
        no_alerts(browser)
        screenshot(browser, console_server, f"work-notice-{kind}")
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            assert not element(browser, "#notice-title").find_elements("css selector", "#vl-nav")
            assert not browser.find_element("css selector", ".topbar").is_displayed()
            assert not browser.find_element("css selector", "#notice-print").is_displayed()
        finally:
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        options = PrintOptions()
        options.page_height, options.page_width = 29.7, 21.0
        pdf = base64.b64decode(browser.print_page(options))
        assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
        from tests.browser.conftest import ARTIFACTS

        (ARTIFACTS / f"{console_server.backend}-work-notice-{kind}.pdf").write_bytes(pdf)


def test_lists_show_a_page_with_their_count_and_more(browser: Any, console_server: ConsoleServer) -> None:
    """Search finds contracts by the start of their id; lists say how many there are; no page runs away."""
    sign_in(browser, console_server, "operator")
    contract = api(console_server, f"/contracts?year={YEAR}&limit=1", "operator")["contracts"][0]["contract_id"]
    browser.get(console_server.url(f"/console/search?q={contract[:6]}&kind=contracts"))
    filled(browser, "#search-results")
    assert contract[:8] in element(browser, "#search-results tbody").text
    assert "共" in element(browser, "#search-results .pager-count").text
    browser.get(console_server.url(f"/console/years/{YEAR}"))
    filled(browser, "#year-contracts")
    total = api(console_server, f"/contracts?year={YEAR}", "operator")["total"]
    assert element(browser, "#year-contracts .pager-count").text.endswith(str(total))
    for path in (f"/console/years/{YEAR}", f"/console/providers/{PROVIDER}?year={YEAR}",
                 f"/console/trace/providers/{PROVIDER}?year={YEAR}", "/console/settlements/", "/console/cases/"):
        browser.get(console_server.url(path))
        element(browser, ".pager-count")
        no_alerts(browser)
        assert browser.execute_script("return document.documentElement.scrollHeight") < 10_000, path


def test_a_new_tab_stays_signed_in_by_the_session_cookie(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "supervisor")
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        browser.get(console_server.url("/console/cases/"))
        filled(browser, "#case-list")
        assert "/console/login" not in browser.current_url
        assert browser.execute_script("return sessionStorage.getItem('vl.token')") == "cookie"
        assert console_server.tokens["supervisor"] not in browser.execute_script("return document.cookie")  # HttpOnly
        before = api(console_server, "/cases", "operator")["total"]
        act(browser, console_server, "case-file", {"subject_type": "enterprise", "subject_id": NEW_ENTERPRISE,
                                                   "violation": "non_cooperation", "note": "新标签页立案"})
        assert api(console_server, "/cases", "operator")["total"] == before + 1  # a write, with its CSRF token
        element(browser, "#vl-signout").click()
        wait(browser, lambda d: d.current_url.endswith("/console/login"))
        browser.get(console_server.url("/console/cases/"))
        wait(browser, lambda d: "/console/login" in d.current_url, what="the signed-out tab to ask for a token")
    finally:
        browser.close()
        browser.switch_to.window(first)


def test_download_each_notice_as_pdf(browser: Any, console_server: ConsoleServer, downloads: Any) -> None:
    """下载 PDF on each notice page: the file opens (pypdf) and carries the chain head's hash and the 大写 total."""
    import time

    pypdf = pytest.importorskip("pypdf")
    sign_in(browser, console_server, "finance")
    paid = next(b for b in api(console_server, f"/settlements?year={YEAR}", "finance")["batches"] if b["status"] == "paid")
    for path, page in ((f"/notices/providers?year={YEAR}", f"/console/notices/providers/{YEAR}"),
                       (f"/notices/settlements/{paid['batch_id']}", f"/console/notices/settlements/{paid['batch_id']}")):
        notice = api(console_server, path, "finance")
        browser.get(console_server.url(page))
        filled(browser, "#notice-lines")
        element(browser, "#notice-pdf-download").click()
        element(browser, "#notice-pdf-download-link")
        file = downloads / f"{notice['title']}.pdf"
        deadline = time.monotonic() + WAIT_SECONDS
        while not file.exists() or (downloads / (file.name + ".crdownload")).exists():
            assert time.monotonic() < deadline, f"{file.name} was not downloaded"
            time.sleep(0.1)
        text = "".join(p.extract_text() for p in pypdf.PdfReader(file).pages).replace(" ", "").replace("\n", "")
        assert notice["head"]["hash"] in text and notice["total_capital"] in text
    no_alerts(browser)


def test_the_year_contract_list_filters_by_kind(browser: Any, console_server: ConsoleServer) -> None:
    """A special voucher's contract (专项券) is found by the kind filter, the general ones by the other kind, each
    with its own count; the state filter offers every contract state, held and failed acceptance too."""
    from selenium.webdriver.support.ui import Select

    code = credit_code(152)
    product = next(line for line in api(console_server, f"/notices/products?year={YEAR}", "operator")["lines"]
                   if line["party"] == PROVIDER)
    post(console_server, f"/years/{YEAR}/special-programme", "approver", {
        "quotas": {"key_project": "500000.00"}, "categories": [product["category"]], "provider_cap": None,
        "reference": "桂工信〔2026〕专项1号"}, method="PUT")
    post(console_server, "/enterprises", "operator", {
        "id": code, "name": "广西重点项目业主有限公司", "employees": 5000, "revenue": "900000000.00",
        "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
        "major_violation": False, "industry_aligned": True, "honours": []})
    post(console_server, f"/enterprises/{code}/designations", "operator",
         {"year": YEAR, "designation": "key_project", "reference": "桂工信〔2026〕重点项目名单"})
    voucher = post(console_server, "/vouchers", "operator",
                   {"enterprise_id": code, "year": YEAR, "kind": "special", "designation": "key_project"})
    console_server.issue_token("enterprise", code)  # kept under the credit code, which `post` takes
    contract = post(console_server, "/contracts", code, {
        "voucher_id": voucher["voucher_id"], "provider_id": PROVIDER, "product_id": product["id"],
        "amount": product["amount"]})["contract_id"]
    total = api(console_server, f"/contracts?year={YEAR}", "operator")["total"]

    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(f"/console/years/{YEAR}"))
    filled(browser, "#year-contracts")
    states = [o.get_attribute("value") for o in elements(browser, "#contract-status option")]
    assert {"held", "failed_acceptance", "clawed_back"} <= set(states)
    kinds = Select(element(browser, "#contract-kind"))

    size = browser.execute_script("return VL.PAGE_SIZE")

    def listed(count: int) -> Any:
        def shown(d: Any) -> bool:  # read in one script: the list is redrawn under the test's feet
            found = d.execute_script("const c = document.querySelector('#year-contracts .pager-count');"
                                     "return c ? [c.textContent.trim(), "
                                     "document.querySelectorAll('#year-contracts tbody tr').length] : null;")
            return bool(found) and found[0].endswith(f" {count}") and found[1] == min(count, size)

        return wait(browser, shown, what=f"{count} contracts")

    kinds.select_by_value("special")
    listed(1)
    rows = element(browser, "#year-contracts tbody").text
    assert contract[:8] in rows and "专项券" in rows
    screenshot(browser, console_server, "work-contracts-special")
    kinds.select_by_value("general")
    listed(total - 1)
    assert contract[:8] not in element(browser, "#year-contracts tbody").text
    kinds.select_by_value("")
    listed(total)
    no_alerts(browser)
