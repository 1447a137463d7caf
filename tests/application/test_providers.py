"""Providers (Art. 12-15) and products (Art. 7-8): applications, review stages in order, signing, bans, caps."""

import pytest

from ledger import errors
from ledger.domain.provider_year import ProviderYear
from ledger.money import yuan
from ledger.rules import PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES, ROLES
from tests.support import ELIGIBLE_PROVIDER, YEAR, as_role

DOCUMENTS = [{"name": "申请表.pdf", "sha256": "a" * 64, "size": 2048, "uri": "https://docs.example.gov.cn/a.pdf"}]


def review(ledger, code, stage, role, decision="pass", year=YEAR, note=""):
    with as_role(role):
        return ledger.review_provider(code, year, stage, decision, note).data


def test_a_provider_applies_with_its_facts_and_document_references(scenario, ledger):
    code = scenario.next_code()
    with as_role("provider", code):
        applied = ledger.register_provider(code, "广西数智企业管理咨询有限公司", documents=DOCUMENTS,
                                           **ELIGIBLE_PROVIDER).data
    assert applied == {"id": code, "name": "广西数智企业管理咨询有限公司", "eligible": True, "failed_conditions": []}
    provider = ledger.get_provider(code)
    assert provider.documents == DOCUMENTS  # references (name, sha256, size, uri), never bytes
    assert provider.signed_years == [] and not provider.banned


def test_a_provider_applies_once_and_only_for_itself(scenario, ledger):
    code = scenario.provider(signed_for=None)
    with as_role("provider", code), pytest.raises(errors.AlreadyExists):
        ledger.register_provider(code, "again", documents=[], **ELIGIBLE_PROVIDER)
    other = scenario.next_code()
    with as_role("provider", code), pytest.raises(errors.Forbidden):
        ledger.register_provider(other, "someone else", documents=[], **ELIGIBLE_PROVIDER)
    with as_role("enterprise", other), pytest.raises(errors.Forbidden):
        ledger.register_provider(other, "an enterprise", documents=[], **ELIGIBLE_PROVIDER)
    with as_role("operator"):
        assert ledger.register_provider(other, "by the centre", documents=[], **ELIGIBLE_PROVIDER).data["id"] == other


def test_provider_review_stages_in_order_with_the_right_role_each(scenario, ledger):
    # Art. 14: compliance (centre) → initial opinion (DIIT) → expert (centre) → approval (DIIT) → notice (centre).
    scenario.open_year(provider_cap=yuan(2_000_000))
    code = scenario.provider(signed_for=None)
    for index, (stage, role) in enumerate(PROVIDER_REVIEW_STAGES):
        for wrong in (r for r in ROLES if r != role):
            with as_role(wrong, code), pytest.raises(errors.Forbidden):
                ledger.review_provider(code, YEAR, stage, "pass", "")
        for later, later_role in PROVIDER_REVIEW_STAGES[index + 1:]:
            with as_role(later_role), pytest.raises(errors.StageOutOfOrder) as refused:
                ledger.review_provider(code, YEAR, later, "pass", "")
            assert refused.value.details == {"expected": stage, "stage": later}
        assert not ledger.get_provider(code).is_signed_for(YEAR)
        decided = review(ledger, code, stage, role)
        assert decided["next_stage"] == (PROVIDER_REVIEW_STAGES[index + 1][0] if index < 4 else None)
    # Passing the notice signs the provider for the year, with the year's cap.
    assert decided["signed"] is True and ledger.get_provider(code).is_signed_for(YEAR)
    provider_year = ledger.get_provider_year(code, YEAR)
    assert (provider_year.cap_fen, provider_year.exceptions_fen, provider_year.live_fen) == (yuan(2_000_000), 0, 0)
    with as_role("operator"), pytest.raises(errors.InvalidState):
        ledger.review_provider(code, YEAR, "compliance", "pass", "")


def test_stage_out_of_order(scenario, ledger):
    scenario.open_year()
    code = scenario.provider(signed_for=None)
    with as_role("approver"), pytest.raises(errors.StageOutOfOrder):
        ledger.review_provider(code, YEAR, "approval", "pass", "")
    with as_role("approver"), pytest.raises(errors.StageOutOfOrder):
        ledger.review_provider(code, YEAR, "no-such-stage", "pass", "")


def test_provider_not_eligible_at_compliance_lists_every_failed_condition(scenario, ledger):
    # Art. 12 is judged at the centre's compliance review; every failed condition is named.
    scenario.open_year()
    code = scenario.provider(signed_for=None, years_operating=2, core_staff_insured=5,
                             revenue_last_year_fen=yuan(1_000_000))
    with as_role("operator"), pytest.raises(errors.NotEligible) as refused:
        ledger.review_provider(code, YEAR, "compliance", "pass", "")
    conditions = refused.value.details["conditions"]
    assert [c["code"] for c in conditions] == ["years_operating", "core_staff", "revenue_last_year"]
    assert all(c["article"].startswith("Art. 12") for c in conditions)
    # The centre records the rejection instead; the application ends there for the year.
    assert review(ledger, code, "compliance", "operator", decision="reject", note="不符合第十二条")["next_stage"] == "compliance"
    with as_role("approver"), pytest.raises(errors.InvalidState):
        ledger.review_provider(code, YEAR, "initial", "pass", "")
    assert not ledger.get_provider(code).is_signed_for(YEAR)


def test_a_rejection_at_any_stage_ends_the_year_s_application(scenario, ledger):
    scenario.open_year()
    code = scenario.provider(signed_for=None)
    review(ledger, code, "compliance", "operator")
    review(ledger, code, "initial", "approver", decision="reject")
    with as_role("operator"), pytest.raises(errors.InvalidState):
        ledger.review_provider(code, YEAR, "expert", "pass", "")


def test_recognition_is_yearly(scenario, ledger):
    # Art. 15: a provider signed for one year is not signed for the next until reviewed again.
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    code = scenario.provider()
    provider = ledger.get_provider(code)
    assert provider.is_signed_for(YEAR) and not provider.is_signed_for(YEAR + 1)
    with pytest.raises(errors.NotFound):
        ledger.get_provider_year(code, YEAR + 1)
    scenario.sign_provider(code, YEAR + 1)
    assert ledger.get_provider(code).signed_years == [YEAR, YEAR + 1]


def test_reviews_for_an_unknown_provider_or_year_are_not_found(scenario, ledger):
    scenario.open_year()
    code = scenario.provider(signed_for=None)
    with as_role("operator"):
        with pytest.raises(errors.NotFound):
            ledger.review_provider(scenario.next_code(), YEAR, "compliance", "pass", "")
        with pytest.raises(errors.NotFound):
            ledger.review_provider(code, YEAR + 3, "compliance", "pass", "")


def test_provider_banned_after_termination_incl_reapply(scenario, ledger):
    # Art. 15: a provider that concealed or falsified facts is terminated at once and may never re-apply.
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    code = scenario.provider()
    for role in ("operator", "finance", "provider"):
        with as_role(role, code), pytest.raises(errors.Forbidden):
            ledger.terminate_provider(code, "x")
    with as_role("approver") as ctx:
        ledger.terminate_provider(code, "隐瞒真实情况、提供虚假材料")
    provider = ledger.get_provider(code)
    assert provider.banned and not provider.is_signed_for(YEAR)
    terminated = list(ledger.events.get(provider.id))[-1]
    assert (terminated.reason, terminated.actor["role"], terminated.request_id) == (
        "隐瞒真实情况、提供虚假材料", "approver", ctx.request_id)
    with as_role("provider", code), pytest.raises(errors.ProviderBanned):
        ledger.register_provider(code, "改名再申请", documents=[], **ELIGIBLE_PROVIDER)
    with as_role("operator"), pytest.raises(errors.ProviderBanned):
        ledger.review_provider(code, YEAR + 1, "compliance", "pass", "")
    with as_role("provider", code), pytest.raises(errors.ProviderBanned):
        ledger.submit_product(code, "新产品", "diagnosis", yuan(1000), "")
    with as_role("approver"), pytest.raises(errors.InvalidState):
        ledger.terminate_provider(code, "again")


def test_cap_exception_is_recorded_with_who_and_why(scenario, ledger):
    # "In principle" (原则上, Art. 10): the approver may raise a provider's cap; who, why, how much, for whom.
    scenario.open_year()
    code = scenario.provider()
    with as_role("approver", name="工信厅-审定人") as ctx:
        granted = ledger.grant_cap_exception(code, YEAR, yuan(300_000), "重大项目集中服务").data
        ledger.grant_cap_exception(code, YEAR, yuan(200_000), "第二批")
    assert granted["exceptions"] == yuan(300_000)
    provider_year = ledger.get_provider_year(code, YEAR)
    assert provider_year.exceptions_fen == yuan(500_000)
    first = next(e for e in ledger.events.get(ProviderYear.create_id(code, YEAR))
                 if isinstance(e, ProviderYear.ExceptionGranted))
    assert (first.amount_fen, first.reason) == (yuan(300_000), "重大项目集中服务")
    assert first.actor == {"role": "approver", "id": "工信厅-审定人"} and first.request_id == ctx.request_id
    for role in ("operator", "finance", "provider"):
        with as_role(role, code), pytest.raises(errors.Forbidden):
            ledger.grant_cap_exception(code, YEAR, yuan(1), "x")
    with as_role("approver"):
        with pytest.raises(errors.ValidationFailed):
            ledger.grant_cap_exception(code, YEAR, 0, "nothing")
        with pytest.raises(errors.NotFound):  # only a signed provider's year has a cap
            ledger.grant_cap_exception(scenario.provider(signed_for=None), YEAR, yuan(1), "x")


def product_review(ledger, product_id, stage, role, decision="pass", year=YEAR):
    with as_role(role):
        return ledger.review_product(product_id, year, stage, decision, "").data


def test_products_reviewed_and_listed(scenario, ledger):
    # Art. 7-8: submitted by its provider in a category with a price; expert review, approval, notice.
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    provider = scenario.provider()
    with as_role("provider", provider):
        submitted = ledger.submit_product(provider, "企业数字化诊断", "diagnosis", yuan(100_000), "标准化诊断服务").data
    product_id = submitted["product_id"]
    assert (submitted["category"], submitted["price"], submitted["listed_years"]) == ("diagnosis", yuan(100_000), [])
    for index, (stage, role) in enumerate(PRODUCT_REVIEW_STAGES):
        for wrong in (r for r in ROLES if r != role):
            with as_role(wrong, provider), pytest.raises(errors.Forbidden):
                ledger.review_product(product_id, YEAR, stage, "pass", "")
        for later, later_role in PRODUCT_REVIEW_STAGES[index + 1:]:
            with as_role(later_role), pytest.raises(errors.StageOutOfOrder):
                ledger.review_product(product_id, YEAR, later, "pass", "")
        assert not ledger.get_product(product_id).is_listed_for(YEAR)
        decided = product_review(ledger, product_id, stage, role)
    assert decided["listed_years"] == [YEAR] and decided["next_stage"] is None
    product = ledger.get_product(product_id)
    assert product.is_listed_for(YEAR) and not product.is_listed_for(YEAR + 1)  # listed for that year's catalogue
    with as_role("operator"), pytest.raises(errors.InvalidState):
        ledger.review_product(product_id, YEAR, "expert", "pass", "")


def test_a_rejected_product_is_not_listed(scenario, ledger):
    scenario.open_year()
    provider = scenario.provider()
    product_id = scenario.product(provider, listed_for=None)
    product_review(ledger, product_id, "expert", "operator", decision="reject")
    with as_role("approver"), pytest.raises(errors.InvalidState):
        ledger.review_product(product_id, YEAR, "approval", "pass", "")
    assert not ledger.get_product(product_id).is_listed_for(YEAR)


def test_a_provider_submits_only_its_own_products(scenario, ledger):
    provider, other = scenario.provider(signed_for=None), scenario.provider(signed_for=None)
    for role, subject in (("provider", other), ("operator", None), ("enterprise", provider)):
        with as_role(role, subject), pytest.raises(errors.Forbidden):
            ledger.submit_product(provider, "x", "legal", yuan(1), "")
    with as_role("operator"), pytest.raises(errors.NotFound):
        ledger.review_product("not-a-uuid", YEAR, "expert", "pass", "")


def test_products_and_reviews_are_validated_by_the_ledger(scenario, ledger):
    # Only the eleven categories of Art. 6, no negative price, and a decision that is pass or reject.
    scenario.open_year()
    provider = scenario.provider(signed_for=None)
    with as_role("provider", provider):
        with pytest.raises(errors.ValidationFailed):
            ledger.submit_product(provider, "诉讼代理", "litigation", yuan(1000), "")
        with pytest.raises(errors.ValidationFailed):
            ledger.submit_product(provider, "法律顾问", "legal", -1, "")
    product_id = scenario.product(provider, "legal", listed_for=None)
    with as_role("operator"):
        with pytest.raises(errors.ValidationFailed):
            ledger.review_provider(provider, YEAR, "compliance", "maybe", "")
        with pytest.raises(errors.ValidationFailed):
            ledger.review_product(product_id, YEAR, "expert", "maybe", "")
    assert ledger.get_provider(provider).next_stage(YEAR) == "compliance"
