"""The worked example of DOMAIN.md, as an accountant would walk it through."""

from ledger.money import yuan
from projections.views import balances
from tests.support import as_role


def test_diagnosis_contract_on_a_t2_voucher_uses_the_whole_quota(scenario, views):
    # A T2 enterprise (tech-based SME) holds a ¥100,000 general voucher.
    scenario.open_year()
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    provider = scenario.provider()
    diagnosis = scenario.product(provider, "diagnosis", 100_000)
    # A ¥100,000 diagnosis contract: subsidy 80% = ¥80,000, deposit 20% = ¥20,000, balance 0.
    contract_id = scenario.propose(enterprise, voucher_id, provider, diagnosis, yuan(100_000))
    signed = scenario.sign(provider, contract_id)
    assert (signed["subsidy"], signed["deposit"], signed["balance_due"]) == (yuan(80_000), yuan(20_000), 0)
    with as_role("enterprise", enterprise):
        scenario.app.pay_deposit(contract_id, yuan(20_000))
        scenario.app.complete_contract(contract_id, 0)
    views.catch_up()
    voucher = balances.get_voucher(views.store, voucher_id)
    assert (voucher["available"], voucher["reserved"], voucher["used"]) == (yuan(20_000), 0, yuan(80_000))
    # A second contract is limited by what remains on the voucher: ¥20,000 of a 50% share of ¥100,000.
    consulting = scenario.product(provider, "management_consulting", 100_000)
    second = scenario.sign(provider, scenario.propose(enterprise, voucher_id, provider, consulting, yuan(100_000)))
    assert second["subsidy"] == yuan(20_000)
    assert second["balance_due"] == yuan(100_000) - yuan(20_000) - yuan(20_000)
    views.catch_up()
    assert balances.get_voucher(views.store, voucher_id)["available"] == 0
