"""Enterprises and general vouchers: eligibility (Art. 5), tier (Art. 9), one voucher per holder/year/kind (Art. 2, 16)."""

import pytest

from ledger import errors
from ledger.domain.enterprise import Enterprise
from ledger.money import yuan
from projections.views import providers
from service.bootstrap import open_ledger
from tests.support import ELIGIBLE_FACTS, YEAR, as_role, revoke_holder


@pytest.mark.parametrize("honours, tier, quota", [
    ((), "T1", 50_000), (("newly_above_scale",), "T2", 100_000), (("famous_product",), "T3", 200_000),
    (("little_giant",), "T4", 300_000), (("tech_sme", "gazelle", "national_single_champion"), "T4", 300_000),
])
def test_issue_voucher_gives_the_tier_quota(scenario, ledger, honours, tier, quota):
    # Art. 9: the highest matching tier's quota is issued.
    scenario.open_year()
    enterprise = scenario.enterprise(honours)
    with as_role("operator"):
        issued = ledger.issue_voucher(enterprise, YEAR).data
    assert (issued["tier"], issued["quota"], issued["kind"]) == (tier, yuan(quota), "general")
    voucher = ledger.get_voucher(issued["voucher_id"])
    assert voucher.figures() == {"quota": yuan(quota), "available": yuan(quota), "reserved": 0, "used": 0,
                                 "expired": 0, "clawed_back": 0}


def test_issue_voucher_uses_the_year_s_own_quotas(scenario, ledger):
    scenario.open_year(tier_quotas={"T2": yuan(80_000)})
    _, voucher_id = scenario.holder(("tech_sme",))
    assert ledger.get_voucher(voucher_id).quota_fen == yuan(80_000)


def test_issue_voucher_refuses_ineligible_enterprise_listing_every_failed_condition(scenario, ledger):
    # Art. 5: every condition the enterprise fails is named, with its article, not just the first.
    scenario.open_year()
    enterprise = scenario.enterprise(employees=1200, revenue_fen=yuan(10_000_000), social_insurance=False,
                                     dishonest=True, industry_aligned=False)
    with as_role("operator"), pytest.raises(errors.NotEligible) as refused:
        ledger.issue_voucher(enterprise, YEAR)
    conditions = refused.value.details["conditions"]
    assert [c["code"] for c in conditions] == ["above_designated_size", "social_insurance", "not_dishonest",
                                               "industry_aligned"]
    assert all(c["article"].startswith("Art. 5") and c["message"] for c in conditions)
    assert ledger.get_year(YEAR).issued_fen == 0


def test_an_ineligible_enterprise_is_registered_with_its_failed_conditions(scenario, ledger):
    scenario.open_year()
    with as_role("operator"):
        registered = ledger.register_enterprise(scenario.next_code(), "某企业", honours=[],
                                                **{**ELIGIBLE_FACTS, "legal_person": False}).data
    assert registered["eligible"] is False and registered["failed_conditions"] == ["legal_person"]


def test_an_enterprise_outside_guangxi_is_not_eligible(scenario, ledger):
    from service.demo import credit_code

    scenario.open_year()
    outsider = scenario.enterprise(code=credit_code(77, division="440300"))  # 深圳
    with as_role("operator"), pytest.raises(errors.NotEligible) as refused:
        ledger.issue_voucher(outsider, YEAR)
    assert [c["code"] for c in refused.value.details["conditions"]] == ["registered_in_guangxi"]


def test_one_voucher_per_enterprise_year_kind(scenario, ledger):
    # A voucher is bound to one holder, one year and one kind (Art. 2): a second is refused, not added.
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    with as_role("operator"), pytest.raises(errors.AlreadyIssued) as refused:
        ledger.issue_voucher(enterprise, YEAR)
    assert refused.value.details["voucher_id"] == voucher_id
    assert ledger.get_year(YEAR).issued_fen == yuan(100_000) and ledger.get_year(YEAR).vouchers == 1
    # The next year is another voucher (no carry-over, no use across years, Art. 18).
    next_year = scenario.voucher(enterprise, YEAR + 1)
    assert next_year != voucher_id


def test_only_general_vouchers_are_issued_for_now(scenario, ledger):
    scenario.open_year()
    enterprise = scenario.enterprise()
    with as_role("operator"), pytest.raises(errors.ValidationFailed):
        ledger.issue_voucher(enterprise, YEAR, "special")


@pytest.mark.parametrize("role", ["approver", "finance", "enterprise", "provider", "supervisor", "auditor"])
def test_only_the_operator_issues_vouchers(scenario, ledger, role):
    scenario.open_year()
    enterprise = scenario.enterprise()
    with as_role(role, enterprise), pytest.raises(errors.Forbidden):
        ledger.issue_voucher(enterprise, YEAR)


def test_issue_voucher_for_unknown_enterprise_or_year_is_not_found(scenario, ledger):
    scenario.open_year()
    enterprise = scenario.enterprise()
    with as_role("operator"):
        with pytest.raises(errors.NotFound):
            ledger.issue_voucher(scenario.next_code(), YEAR)
        with pytest.raises(errors.NotFound):
            ledger.issue_voucher(enterprise, YEAR + 5)


def test_issue_voucher_refused_to_a_revoked_holder(scenario, ledger):
    # Art. 25: revocation blocks new vouchers.
    scenario.open_year()
    enterprise = scenario.enterprise(("tech_sme",))
    revoke_holder(ledger, enterprise)
    with as_role("operator"), pytest.raises(errors.HolderRevoked):
        ledger.issue_voucher(enterprise, YEAR)


def test_vouchers_may_be_issued_before_the_window_opens(scenario, ledger, clock):
    # Vouchers are issued once the year is opened and funded; only money waits for the window.
    from datetime import date

    clock.today = date(YEAR - 1, 11, 1)
    scenario.open_year()
    _, voucher_id = scenario.holder()
    assert ledger.get_voucher(voucher_id).available_fen == yuan(100_000)


def test_an_enterprise_is_registered_once(scenario, ledger):
    code = scenario.enterprise()
    with as_role("operator"), pytest.raises(errors.AlreadyExists):
        ledger.register_enterprise(code, "另一家", honours=[], **ELIGIBLE_FACTS)


def test_an_enterprise_registers_only_itself(scenario, ledger):
    mine, other = scenario.next_code(), scenario.next_code()
    with as_role("enterprise", mine):
        with pytest.raises(errors.Forbidden):
            ledger.register_enterprise(other, "别人", honours=[], **ELIGIBLE_FACTS)
        assert ledger.register_enterprise(mine, "自己", honours=[], **ELIGIBLE_FACTS).data["id"] == mine


@pytest.mark.parametrize("role", ["approver", "finance", "provider", "supervisor", "auditor"])
def test_only_the_operator_or_the_enterprise_registers(scenario, ledger, role):
    code = scenario.next_code()
    with as_role(role, code), pytest.raises(errors.Forbidden):
        ledger.register_enterprise(code, "x", honours=[], **ELIGIBLE_FACTS)


NAMES = ["广西南宁精工机械有限公司", "桂林「智造」电子科技（集团）股份有限公司·二厂", "壮族自治区𠀀测试企业—🏭"]


@pytest.mark.parametrize("name", NAMES)
def test_chinese_names_round_trip(scenario, ledger, views, name):
    # Names are kept exactly as registered: in the events, the aggregates and the read models.
    code = scenario.next_code()
    with as_role("operator"):
        assert ledger.register_enterprise(code, name, honours=[], **ELIGIBLE_FACTS).data["name"] == name
    fresh = open_ledger(ledger.store, create_table=False)
    try:
        assert fresh.repository.get(Enterprise.create_id(code)).name == name
        stored = [fresh.mapper.to_domain_event(n) for n in fresh.recorder.select_notifications(start=1, limit=1000)]
        assert [e.name for e in stored if isinstance(e, Enterprise.Registered)] == [name]
    finally:
        fresh.close()
    provider = scenario.provider(signed_for=None)
    with as_role("provider", provider):
        product_id = ledger.submit_product(provider, name, "diagnosis", yuan(1000), name).data["product_id"]
    views.catch_up()
    assert providers.get_product(views.store, product_id)["name"] == name


@pytest.mark.parametrize("changes, field", [
    (dict(honours=["nobel_prize"]), "honours"), (dict(employees=-1), "employees"), (dict(revenue_fen=-1), "revenue"),
])
def test_enterprise_facts_are_validated_by_the_ledger(scenario, ledger, changes, field):
    # The command line and the demo call the ledger directly: an unknown honour has no tier (Art. 9).
    with as_role("operator"), pytest.raises(errors.ValidationFailed) as refused:
        ledger.register_enterprise(scenario.next_code(), "某企业", **{"honours": [], **ELIGIBLE_FACTS, **changes})
    assert field in refused.value.details
