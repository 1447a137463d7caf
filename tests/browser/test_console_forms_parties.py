"""The console's forms of years and parties (issue 19): every such command through its form in a real browser.

Its own server per backend (module scope), loaded with the demo year. Each form is walked once by the role
the API lets act and the ledger is checked through the API afterwards; the year's budget is sent with a
double click and a resent key and acts once; a recovery above what the provider owes is refused in
Chinese with its details. Screenshots of each form are saved in test-artifacts/console/.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.demo import credit_code
from tests.browser.conftest import ENTERPRISE, PROVIDER, ConsoleServer
from tests.browser.test_console import api, element, elements, filled, no_alerts, screenshot, sign_in
from tests.browser.test_console_work import act as act_and_wait, fill
from tests.browser.test_console import wait
from tests.support import YEAR

pytestmark = pytest.mark.slow  # a real server and Chromium (scripts/test --fast skips it)

NEXT = YEAR + 1  # a year the demo has not opened
NEW_ENTERPRISE = credit_code(161)
NEW_PROVIDER = credit_code(261)
HASH = "ab" * 32


def document_lines(*kinds: str) -> str:
    """Document references as a clerk pastes them: "kind, name, uri, sha256, size", one a line."""
    return "\n".join(f"{kind}, {kind.split(':')[-1]}.pdf, https://docs.example.gov.cn/forms/{kind.split(':')[-1]}.pdf, "
                     f"{HASH}, 2048" for kind in kinds)


def act(driver: Any, server: ConsoleServer, form: str, values: dict[str, Any], **options: Any) -> None:
    """Send a form and wait for its own notice: the notice of the form sent before it is removed first."""
    driver.execute_script("const old = document.getElementById('vl-flash'); if (old) old.remove();")
    act_and_wait(driver, server, form, values, **options)


def step_types(server: ConsoleServer, path: str) -> list[str]:
    return [step.get("type") or "" for step in api(server, path, "operator")["steps"]]


def test_open_fund_and_programme_a_year(browser: Any, console_server: ConsoleServer) -> None:
    # The year not opened yet has no dashboard: its page says so and offers the form that opens it.
    sign_in(browser, console_server, "approver")
    browser.get(console_server.url(f"/console/years/{NEXT}"))
    assert "NOT_FOUND" in element(browser, "#vl-main .alert").text
    fill(browser, "year-open", {"year": str(NEXT), "starts_on": f"{NEXT}-01-01", "ends_on": f"{NEXT}-12-31",
                                "settlement_batches": "1", "deposit_share": "0.20"})
    screenshot(browser, console_server, "forms-year-open")
    act(browser, console_server, "year-open", {})
    opened = api(console_server, f"/years/{NEXT}", "approver")
    assert (opened["starts_on"], opened["ends_on"], opened["settlement_batches"]) == (f"{NEXT}-01-01", f"{NEXT}-12-31", 1)
    assert opened["deposit_share"] == "0.20"

    # Finance funds it: previewed, then confirmed with a double click; the resent key acts once too.
    sign_in(browser, console_server, "finance")
    browser.get(console_server.url(f"/console/years/{NEXT}"))
    filled(browser, "#year-figures")
    browser.execute_script("const old = document.getElementById('vl-flash'); if (old) old.remove();")
    fill(browser, "year-budget", {"amount": "5000000.00", "reference": f"桂财工〔{NEXT}〕1号"})
    element(browser, "#year-budget-submit").click()
    preview = element(browser, "#year-budget-preview")
    assert "¥5,000,000.00" in preview.text
    screenshot(browser, console_server, "forms-year-budget-preview")
    browser.execute_script("const c = document.getElementById('year-budget-confirm'); c.click(); c.click();")
    element(browser, "#vl-flash")
    assert api(console_server, f"/years/{NEXT}", "finance")["budget"] == "5000000.00"
    element(browser, "#year-budget")  # the reloaded page's form, with a fresh key
    key = browser.execute_script("return document.getElementById('year-budget').dataset.key")
    body = {"amount": "1000.00", "reference": f"桂财工〔{NEXT}〕2号"}
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all([VL.post(arguments[2], arguments[0], arguments[1]), VL.post(arguments[2], arguments[0], arguments[1])])"
        ".then(done, done);", body, key, f"/years/{NEXT}/budget")
    assert api(console_server, f"/years/{NEXT}", "finance")["budget"] == "5001000.00"

    # The approver sets the special programme (a PUT, with its key like any command).
    sign_in(browser, console_server, "approver")
    browser.get(console_server.url(f"/console/years/{NEXT}"))
    filled(browser, "#year-figures")
    act(browser, console_server, "year-special", {"quota_lead_enterprise": "300000.00", "quota_key_project": "200000.00",
                                                  "categories": ["diagnosis", "digital_transformation"],
                                                  "reference": f"桂工信〔{NEXT}〕1号"})
    programme = api(console_server, f"/years/{NEXT}", "approver")["special_programme"]
    assert programme["quotas"] == {"lead_enterprise": "300000.00", "key_project": "200000.00"}
    assert programme["provider_cap"] is None and sorted(programme["categories"]) == ["diagnosis", "digital_transformation"]
    element(browser, "#year-special")
    assert browser.execute_script("return document.querySelector(\"#year-special [name='reference']\").value") \
        == f"桂工信〔{NEXT}〕1号"  # the programme as set is shown for a change
    screenshot(browser, console_server, "forms-year-special")


def test_register_verify_amend_designate_and_issue_a_special_voucher(browser: Any, console_server: ConsoleServer) -> None:
    if not api(console_server, "/years", "operator")["years"] or NEXT not in [
            y["year"] for y in api(console_server, "/years", "operator")["years"]]:
        pytest.skip("needs the year opened by test_open_fund_and_programme_a_year (run the module whole)")
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url("/console/search"))
    act(browser, console_server, "enterprise-register", {
        "id": NEW_ENTERPRISE, "name": "钦州临港装备制造有限公司", "employees": "120", "revenue": "50000000.00",
        "honours": ["tech_sme"], "documents": document_lines("honour_certificate:tech_sme")})
    registered = api(console_server, f"/enterprises/{NEW_ENTERPRISE}", "operator")
    assert registered["name"] == "钦州临港装备制造有限公司" and registered["tier"] == "T2"
    screenshot(browser, console_server, "forms-search-registration")

    page = f"/console/enterprises/{NEW_ENTERPRISE}?year={NEXT}"
    browser.get(console_server.url(page))
    element(browser, "#enterprise-verification")
    screenshot(browser, console_server, "forms-enterprise")
    act(browser, console_server, "enterprise-verification", {"honours": ["tech_sme"],
                                                             "documents": document_lines("honour_certificate:tech_sme")})
    act(browser, console_server, "enterprise-amendment", {"employees": "150", "social_insurance": "true",
                                                          "reason": "从业人数按社保清单更正"})
    act(browser, console_server, "enterprise-designation", {"year": str(NEXT), "designation": "lead_enterprise",
                                                            "reference": f"桂工信认〔{NEXT}〕3号"})
    act(browser, console_server, "issue-voucher", {"year": str(NEXT), "kind": "special", "designation": "lead_enterprise"})
    types = step_types(console_server, f"/trace/enterprises/{NEW_ENTERPRISE}?year={NEXT}")
    assert any(t.endswith("HonoursVerified") for t in types) and any(t.endswith("Amended") for t in types)
    assert any(t.endswith("Designated") for t in types)
    vouchers = api(console_server, f"/enterprises/{NEW_ENTERPRISE}", "operator")["vouchers"]
    assert [(v["kind"], v["tier"], v["quota"]) for v in vouchers] == [("special", "lead_enterprise", "300000.00")]
    no_alerts(browser)


def test_register_and_amend_a_provider_its_product_and_commitments(browser: Any, console_server: ConsoleServer) -> None:
    sign_in(browser, console_server, "operator")
    browser.get(console_server.url("/console/search"))
    kinds = ("application_form", "licence", "last_year_contracts", "qualification", "social_insurance", "tax_registration")
    act(browser, console_server, "provider-register", {
        "id": NEW_PROVIDER, "name": "贵港数智企业服务有限公司", "entity_type": "partnership", "years_operating": "4",
        "core_staff_insured": "9", "clients_last_year": "25", "revenue_last_year": "3000000.00",
        "documents": document_lines(*kinds)})
    provider = api(console_server, f"/providers/{NEW_PROVIDER}", "operator")
    assert provider["name"] == "贵港数智企业服务有限公司"
    browser.get(console_server.url(f"/console/providers/{NEW_PROVIDER}?year={YEAR}"))
    act(browser, console_server, "provider-amendment", {"years_operating": "5", "dishonest": "false",
                                                        "reason": "营业执照成立日期更正"})
    assert any(t.endswith("Amended") for t in step_types(console_server, f"/trace/providers/{NEW_PROVIDER}?year={YEAR}"))

    # The provider itself: a product for review, and its credit commitment.
    sign_in(browser, console_server, "provider")
    browser.get(console_server.url(f"/console/providers/{PROVIDER}?year={YEAR}"))
    act(browser, console_server, "product-submit", {"name": "智能制造成熟度评估", "category": "diagnosis",
                                                    "price": "60000.00", "description": "对标国家标准的成熟度评估"})
    products = api(console_server, f"/providers/{PROVIDER}/products?limit=500", "provider")["products"]
    assert [(p["price"], p["listed_years"]) for p in products if p["name"] == "智能制造成熟度评估"] == [("60000.00", [])]
    act(browser, console_server, "commitment", {"year": str(YEAR), "text": "本机构承诺申报材料真实、服务如实提供"})
    archive = api(console_server, f"/archive/providers/{PROVIDER}", "provider")
    assert "本机构承诺申报材料真实、服务如实提供" in str(archive)
    screenshot(browser, console_server, "forms-provider-own")

    sign_in(browser, console_server, "enterprise")
    browser.get(console_server.url(f"/console/enterprises/{ENTERPRISE}?year={YEAR}"))
    act(browser, console_server, "commitment", {"year": str(YEAR), "text": "本企业承诺补贴券仅用于自身购买服务"})
    assert "本企业承诺补贴券仅用于自身购买服务" in str(api(console_server, f"/archive/enterprises/{ENTERPRISE}", "enterprise"))
    assert not elements(browser, "#enterprise-amendment")  # the operator's forms are not the enterprise's
    screenshot(browser, console_server, "forms-enterprise-own")


def test_cap_exception_and_recovery_are_previewed_and_a_refusal_shows_its_details(
        browser: Any, console_server: ConsoleServer) -> None:
    before = api(console_server, f"/providers/{PROVIDER}/totals?year={YEAR}", "approver")
    sign_in(browser, console_server, "approver")
    browser.get(console_server.url(f"/console/providers/{PROVIDER}?year={YEAR}"))
    act(browser, console_server, "provider-cap-exception", {"year": str(YEAR), "kind": "general", "amount": "50000.00",
                                                            "reason": "承接重点产业链服务，经审定特批"},
        confirm=True, shot="forms-cap-exception-preview")
    after = api(console_server, f"/providers/{PROVIDER}/totals?year={YEAR}", "approver")
    assert int(after["exceptions"].split(".")[0]) - int(before["exceptions"].split(".")[0]) == 50000

    # The demo's sanction clawed back a settled contract: its provider owes the subsidy.
    clawed = api(console_server, f"/contracts?year={YEAR}&status=clawed_back&limit=500", "finance")["contracts"]
    owing = next(c["provider_id"] for c in clawed if c["settled"])
    receivable = api(console_server, f"/providers/{owing}/totals?year={YEAR}", "finance")["receivable"]
    assert receivable != "0.00"
    sign_in(browser, console_server, "finance")
    browser.get(console_server.url(f"/console/providers/{owing}?year={YEAR}"))
    whole, cents = receivable.split(".")
    fill(browser, "provider-recovery", {"year": str(YEAR), "amount": f"{int(whole) + 1}.{cents}",
                                        "reference": f"桂财工收〔{YEAR}〕1号"})
    element(browser, "#provider-recovery-submit").click()
    element(browser, "#provider-recovery-confirm").click()
    alert = element(browser, "#provider-recovery-message .alert")
    assert "RECOVERY_ABOVE_RECEIVABLE" in alert.text and "收回金额超过应收回金额" in alert.text
    details = [li.text for li in alert.find_elements("css selector", ".error-details li")]
    assert any(receivable in line for line in details), details  # how much is owed, in the refusal
    screenshot(browser, console_server, "forms-recovery-refused")
    assert api(console_server, f"/providers/{owing}/totals?year={YEAR}", "finance")["receivable"] == receivable

    act(browser, console_server, "provider-recovery", {"year": str(YEAR), "amount": receivable,
                                                       "reference": f"桂财工收〔{YEAR}〕1号"},
        confirm=True, shot="forms-recovery-preview")
    assert api(console_server, f"/providers/{owing}/totals?year={YEAR}", "finance")["receivable"] == "0.00"


def test_a_new_enterprise_and_provider_register_themselves_and_the_operator_verifies_the_honour(
        browser: Any, console_server: ConsoleServer) -> None:
    """A subject signed in before it is registered finds its registration on its own page (Art. 8, 12)."""
    code = credit_code(171)
    console_server.tokens["new-enterprise"] = console_server.issue_token("enterprise", code)
    sign_in(browser, console_server, "new-enterprise")
    wait(browser, lambda d: code in d.current_url)
    element(browser, "#enterprise-register")  # its own page finds nothing yet: the registration instead
    assert browser.execute_script("return document.querySelector(\"#enterprise-register [name='id']\").value") == code
    screenshot(browser, console_server, "forms-self-registration")
    act(browser, console_server, "enterprise-register", {
        "name": "防城港海润食品有限公司", "employees": "60", "revenue": "20000000.00", "honours": ["gazelle"],
        "documents": document_lines("honour_certificate:gazelle")})
    filled(browser, "#enterprise-balance")
    declared = api(console_server, f"/enterprises/{code}", "new-enterprise")
    assert (declared["honours"], declared["tier"]) == ([{"code": "gazelle", "verified": False}], "T1")

    sign_in(browser, console_server, "operator")
    browser.get(console_server.url(f"/console/enterprises/{code}"))
    act(browser, console_server, "enterprise-verification", {"honours": ["gazelle"],
                                                             "documents": document_lines("honour_certificate:gazelle")})
    verified = api(console_server, f"/enterprises/{code}", "operator")
    assert (verified["honours"], verified["tier"]) == ([{"code": "gazelle", "verified": True}], "T3")

    provider = credit_code(271)
    console_server.tokens["new-provider"] = console_server.issue_token("provider", provider)
    sign_in(browser, console_server, "new-provider")
    wait(browser, lambda d: provider in d.current_url)
    facts = {"name": "来宾市启明管理咨询有限公司", "entity_type": "legal_person", "years_operating": "3",
             "core_staff_insured": "6", "clients_last_year": "12", "revenue_last_year": "1500000.00"}
    # A document line that is not "kind, name, uri, sha256, size" is refused in the page, nothing sent.
    fill(browser, "provider-register", {**facts, "documents": "licence, 营业执照.pdf"})
    element(browser, "#provider-register-submit").click()
    alert = element(browser, "#provider-register-message .alert")
    assert "VALIDATION_ERROR" in alert.text and "材料行号 1" in alert.text
    act(browser, console_server, "provider-register", {**facts, "documents": document_lines("licence")})
    assert api(console_server, f"/providers/{provider}", "new-provider")["name"] == "来宾市启明管理咨询有限公司"
