"""The measures as data: tiers (Art. 9), eligibility (Art. 5, 12), ceilings (Art. 9, 10, 17), credit codes (GB 32100)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc

from service.demo import credit_code
from ledger.money import yuan
from ledger.rules import (
    CATEGORIES, DIAGNOSIS, HONOUR_TIERS, HONOURS, PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES, TIERS,
    YearParameters, credit_code_in_guangxi, default_tier_quotas, enterprise_failures, parameters_above_ceiling,
    provider_failures, tier_for, valid_credit_code,
)
from tests.support import ELIGIBLE_FACTS, ELIGIBLE_PROVIDER

GUANGXI = credit_code(42)


# --- Tier → annual general quota (Art. 9): the highest matching tier wins -------------------------------

def test_tier_for_no_honour_is_t1():
    assert tier_for([]) == "T1"


@pytest.mark.parametrize("honour, tier", sorted(HONOUR_TIERS.items()))
def test_tier_for_each_honour(honour, tier):
    assert tier_for([honour]) == tier


def test_every_honour_of_the_api_is_known():
    assert set(HONOURS) == {
        "national_single_champion", "little_giant", "regional_single_champion", "regional_specialised_sme",
        "gazelle", "ip_advantage", "quality_benchmark", "famous_product", "tech_sme", "regional_innovative_sme",
        "digital_workshop", "itc_integration", "digital_maturity_3", "national_cluster_member", "newly_above_scale",
    }


@given(st.lists(st.sampled_from(HONOURS), max_size=6))
def test_tier_for_takes_the_highest_matching_tier(honours):
    expected = max((HONOUR_TIERS[h] for h in honours), key=TIERS.index, default="T1")
    assert tier_for(honours) == expected
    assert tier_for(list(reversed(honours))) == expected


def test_tier_quotas_default_to_the_ceilings():
    assert default_tier_quotas() == {"T1": yuan(50_000), "T2": yuan(100_000), "T3": yuan(200_000), "T4": yuan(300_000)}


# --- Enterprise eligibility for the general voucher (Art. 5) --------------------------------------------

def facts(**changes):
    return {"id": GUANGXI, **ELIGIBLE_FACTS, **changes}


def test_an_eligible_enterprise_fails_nothing():
    assert enterprise_failures(facts()) == []


@pytest.mark.parametrize("changes, condition", [
    (dict(employees=1000, revenue_fen=yuan(400_000_000)), "sme"),
    (dict(revenue_fen=yuan(20_000_000) - 1), "above_designated_size"),
    (dict(registered_in_guangxi=False), "registered_in_guangxi"),
    (dict(id=credit_code(42, division="440100")), "registered_in_guangxi"),  # a Guangzhou code
    (dict(legal_person=False), "legal_person"),
    (dict(social_insurance=False), "social_insurance"),
    (dict(dishonest=True), "not_dishonest"),
    (dict(major_violation=True), "no_major_violation"),
    (dict(industry_aligned=False), "industry_aligned"),
])
def test_each_enterprise_condition(changes, condition):
    assert [c.code for c in enterprise_failures(facts(**changes))] == [condition]


def test_sme_needs_fewer_than_1000_employees_or_revenue_below_400_million():
    # Either limit alone keeps an enterprise an SME (工信部联企业〔2011〕300号, industry).
    assert enterprise_failures(facts(employees=5000, revenue_fen=yuan(400_000_000) - 1)) == []
    assert enterprise_failures(facts(employees=999, revenue_fen=yuan(900_000_000))) == []
    assert [c.code for c in enterprise_failures(facts(employees=1000, revenue_fen=yuan(400_000_000)))] == ["sme"]


def test_above_designated_size_starts_at_20_million():
    assert enterprise_failures(facts(revenue_fen=yuan(20_000_000))) == []


def test_every_failed_enterprise_condition_is_listed_with_its_article():
    failed = enterprise_failures(facts(revenue_fen=yuan(1_000_000), registered_in_guangxi=False, legal_person=False,
                                       social_insurance=False, dishonest=True, major_violation=True,
                                       industry_aligned=False))
    assert [c.code for c in failed] == ["above_designated_size", "registered_in_guangxi", "legal_person",
                                        "social_insurance", "not_dishonest", "no_major_violation", "industry_aligned"]
    assert all(c.article.startswith("Art. 5") and c.message for c in failed)


# --- Provider eligibility (Art. 12) ------------------------------------------------------------------------

def provider(**changes):
    return {**ELIGIBLE_PROVIDER, **changes}


def test_an_eligible_provider_fails_nothing():
    assert provider_failures(provider()) == []
    assert provider_failures(provider(entity_type="partnership")) == []


@pytest.mark.parametrize("changes, condition", [
    (dict(registered_in_guangxi=False), "registered_in_guangxi"),
    (dict(entity_type="sole_trader"), "registered_in_guangxi"),
    (dict(fixed_premises=False), "fixed_premises"),
    (dict(years_operating=2), "years_operating"),
    (dict(core_staff_insured=7), "core_staff"),
    (dict(clients_last_year=9), "clients_last_year"),
    (dict(revenue_last_year_fen=yuan(2_000_000) - 1), "revenue_last_year"),
    (dict(dishonest=True), "not_dishonest"),
])
def test_each_provider_condition(changes, condition):
    assert [c.code for c in provider_failures(provider(**changes))] == [condition]


def test_provider_thresholds_are_inclusive():
    assert provider_failures(provider(years_operating=3, core_staff_insured=8, clients_last_year=10,
                                      revenue_last_year_fen=yuan(2_000_000))) == []


def test_every_failed_provider_condition_is_listed_with_its_article():
    failed = provider_failures(provider(registered_in_guangxi=False, fixed_premises=False, years_operating=0,
                                        core_staff_insured=0, clients_last_year=0, revenue_last_year_fen=0,
                                        dishonest=True))
    assert len(failed) == 7 and all(c.article.startswith("Art. 12") for c in failed)


# --- Year parameters above the measures' ceilings (Art. 9, 10, 17) ----------------------------------------

def params(**changes):
    return YearParameters(**{"tier_quotas_fen": default_tier_quotas(), **changes})


def test_the_defaults_are_within_every_ceiling():
    assert parameters_above_ceiling(params()) == {}


def test_a_stricter_year_is_allowed():
    stricter = params(tier_quotas_fen={"T1": yuan(10_000), "T2": yuan(20_000), "T3": yuan(30_000), "T4": 0},
                      diagnosis_share_bp=6000, other_share_bp=3000, deposit_share_bp=3000, provider_cap_fen=yuan(1))
    assert parameters_above_ceiling(stricter) == {}


@pytest.mark.parametrize("changes, field", [
    (dict(tier_quotas_fen={**default_tier_quotas(), "T1": yuan(50_000) + 1}), "tier_quotas.T1"),
    (dict(tier_quotas_fen={**default_tier_quotas(), "T4": yuan(300_001)}), "tier_quotas.T4"),
    (dict(tier_quotas_fen={**default_tier_quotas(), "T2": -1}), "tier_quotas.T2"),
    (dict(diagnosis_share_bp=8001), "diagnosis_share"),
    (dict(other_share_bp=5001), "other_share"),
    (dict(deposit_share_bp=1999), "deposit_share"),
    (dict(deposit_share_bp=2001), "deposit_share"),  # with the 80% diagnosis share, more than the amount
    (dict(provider_cap_fen=yuan(5_000_000) + 1), "provider_cap"),
])
def test_parameters_above_ceiling_name_the_parameter(changes, field):
    above = parameters_above_ceiling(params(**changes))
    assert field in above
    # Only the parameter at fault is named (a diagnosis share above 0.80 also leaves no room for the deposit).
    assert set(above) - {field} <= ({"deposit_share"} if field == "diagnosis_share" else set())
    assert above[field].startswith("Art.")


def test_every_parameter_above_its_ceiling_is_listed():
    above = parameters_above_ceiling(params(
        tier_quotas_fen={t: q + 1 for t, q in default_tier_quotas().items()},
        diagnosis_share_bp=9000, other_share_bp=6000, provider_cap_fen=yuan(6_000_000)))
    assert set(above) == {"tier_quotas.T1", "tier_quotas.T2", "tier_quotas.T3", "tier_quotas.T4",
                          "diagnosis_share", "other_share", "deposit_share", "provider_cap"}


def test_share_for_diagnosis_and_every_other_category():
    year = params(diagnosis_share_bp=7000, other_share_bp=4000)
    assert year.share_for(DIAGNOSIS) == 7000
    assert {year.share_for(c) for c in CATEGORIES if c != DIAGNOSIS} == {4000}
    assert len(CATEGORIES) == 11


# --- Unified social credit codes (GB 32100) ----------------------------------------------------------------

@given(st.integers(min_value=0, max_value=999_999_999))
def test_generated_guangxi_codes_are_valid(serial):
    code = credit_code(serial)
    assert valid_credit_code(code) and credit_code_in_guangxi(code)


@given(st.integers(min_value=0, max_value=999_999_999), st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY"))
def test_a_wrong_check_character_is_refused(serial, wrong):
    code = credit_code(serial)
    if wrong != code[-1]:
        assert not valid_credit_code(code[:-1] + wrong)


@pytest.mark.parametrize("code", [
    "", "91450100000000005", "91450100000000005PX", credit_code(5).lower(), " " + credit_code(5)[1:],
    credit_code(5) + "\n", "9145010000000000-P", None, 914501000000000050, "91450100000000I05P",
    "\uff19\uff11" + credit_code(5)[2:], credit_code(5)[:17] + "\uff30",
])
def test_malformed_credit_codes_are_refused(code):
    assert not valid_credit_code(code)


def test_a_code_from_outside_guangxi_is_valid_but_not_guangxi():
    beijing = credit_code(7, division="110100")
    assert uscc.is_valid(beijing) and valid_credit_code(beijing) and not credit_code_in_guangxi(beijing)


def test_review_stages_in_the_order_and_roles_of_the_measures():
    assert PROVIDER_REVIEW_STAGES == (("compliance", "operator"), ("initial", "approver"), ("expert", "operator"),
                                      ("approval", "approver"), ("notice", "operator"))
    assert PRODUCT_REVIEW_STAGES == (("expert", "operator"), ("approval", "approver"), ("notice", "operator"))
