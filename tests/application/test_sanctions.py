"""Cases and sanctions (Art. 22, 25): stop the transaction, claw the subsidy back, revoke, terminate, record.

A sanction acts on each contract according to where its money stands: reserved money is released,
used money is clawed back, settled money becomes a receivable from the provider.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger import errors
from service.demo import credit_code
from ledger.domain.case import SOD_RULE
from ledger.money import yuan
from projections.views import balances, providers, settlement
from tests.application.test_settlement import (
    DOCS, World, approve, claim, file_case, notice, open_batch, pay, review, sanction, settle,
)
from tests.support import YEAR, as_role, year_ended


@pytest.fixture
def world(scenario):
    return World(scenario)


def _identity_holds(voucher) -> None:
    figures = voucher.figures()
    assert figures["quota"] == sum(figures[k] for k in ("available", "reserved", "used", "clawed_back", "expired"))
    assert all(v >= 0 for v in figures.values())


# --- filing a case ------------------------------------------------------------------------------------


def test_case_is_filed_for_a_violation_of_article_25(world, views):
    enterprise, voucher = holder = world.holder()
    contract_id = world.contract(holder=holder)
    with as_role("supervisor", name="supervisor-zhou"):
        filed = world.app.file_case("enterprise", enterprise, "transfer", [contract_id], "服务券被转让")
    assert filed.created
    assert filed.data["article"] == "Art. 25(1)" and filed.data["status"] == "filed"
    views.catch_up()
    case = settlement.get_case(views.store, filed.data["case_id"])
    assert (case["filed_by"], case["contract_ids"], case["sanction"]) == ("supervisor-zhou", [contract_id], None)


def test_only_the_operator_or_the_supervisor_files_a_case(world):
    enterprise, _ = world.holder()
    for role, subject in (("approver", None), ("finance", None), ("auditor", None), ("provider", world.provider)):
        with as_role(role, subject), pytest.raises(errors.Forbidden):
            world.app.file_case("enterprise", enterprise, "transfer", [], "")
    file_case(world.app, enterprise, [], role="operator", filer="centre-zhou")


def test_case_names_a_known_subject_and_a_violation_of_article_25(world):
    with pytest.raises(errors.NotFound):
        file_case(world.app, credit_code(9999), [])
    enterprise, _ = world.holder()
    with pytest.raises(errors.ValidationFailed):
        file_case(world.app, enterprise, [], violation="jaywalking")
    with pytest.raises(errors.ValidationFailed):
        file_case(world.app, enterprise, [], subject_type="person")
    with pytest.raises(errors.NotFound):
        file_case(world.app, enterprise, ["00000000-0000-0000-0000-000000000000"])


def test_case_names_only_the_subjects_own_contracts(world):
    enterprise, _ = world.holder()
    someone_elses = world.contract()
    with pytest.raises(errors.ValidationFailed) as refused:
        file_case(world.app, enterprise, [someone_elses])
    assert "contract_ids" in refused.value.details
    # Against the provider, its contracts are fair game.
    file_case(world.app, world.provider, [someone_elses], subject_type="provider")


# --- sanctioning: where the money stands ----------------------------------------------------------


def test_sanction_stops_a_proposed_contract(world):
    enterprise, voucher = holder = world.holder()
    contract_id = world.contract(state="proposed", holder=holder)
    done = sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])
    assert done.data["contracts"][0]["outcome"] == "stopped"
    assert world.app.get_contract(contract_id).status == "terminated"


@pytest.mark.parametrize("state", ["signed", "active"])
def test_sanction_releases_reserved_contracts_and_terminates_them(world, state, views):
    enterprise, voucher_id = holder = world.holder()
    contract_id = world.contract(state=state, holder=holder)
    done = sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])
    assert done.data["released"] == yuan(40_000)
    assert done.data["contracts"] == [{"contract_id": contract_id, "previous_status": state, "outcome": "released",
                                       "amount": yuan(40_000), "receivable": 0, "settled": False}]
    assert world.app.get_contract(contract_id).status == "terminated"
    voucher = world.app.get_voucher(voucher_id)
    assert (voucher.reserved_fen, voucher.clawed_back_fen) == (0, 0)
    _identity_holds(voucher)
    views.catch_up()
    assert providers.get_provider_totals(views.store, world.provider, YEAR)["reserved"] == 0


def test_clawback_of_used_subsidy_leaves_it_unclaimable(world, views):
    enterprise, voucher_id = holder = world.holder()
    contract_id = world.contract(holder=holder)
    done = sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])
    assert (done.data["clawed_back"], done.data["receivable"]) == (yuan(40_000), 0)
    contract = world.app.get_contract(contract_id)
    assert contract.status == "clawed_back" and not contract.claimable
    voucher = world.app.get_voucher(voucher_id)
    # The holder does not get quota back: the money moves from used to clawed_back.
    assert (voucher.used_fen, voucher.clawed_back_fen, voucher.available_fen) == (0, yuan(40_000), yuan(260_000))
    _identity_holds(voucher)
    batch_id = open_batch(world.app)
    with as_role("provider", world.provider), pytest.raises(errors.ContractNotCompleted):
        world.app.claim_settlement(batch_id, [contract_id], DOCS)
    views.catch_up()
    year = balances.get_year(views.store, YEAR)
    assert (year["used"], year["clawed_back"], year["settled"]) == (0, yuan(40_000), 0)
    totals = providers.get_provider_totals(views.store, world.provider, YEAR)
    assert (totals["used"], totals["receivable"], totals["contracts"]) == (0, 0, 0)


def test_clawback_withdraws_the_contract_from_its_claim_so_it_is_never_paid(world, views):
    app = world.app
    enterprise, _ = holder = world.holder()
    sanctioned, innocent = world.contract(holder=holder), world.contract()
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [sanctioned, innocent])
    review(app, batch_id, claim_id)
    approve(app, batch_id)
    # Found out between approval and payment.
    sanction(app, file_case(app, enterprise, [sanctioned]), [sanctioned])
    notice(app, batch_id)
    paid = pay(app, batch_id)
    assert paid.data["amount"] == yuan(40_000) and paid.data["contracts"] == 1
    assert not app.get_contract(sanctioned).settled and app.get_contract(innocent).settled
    views.catch_up()
    batch = settlement.get_batch(views.store, batch_id)
    assert batch["claims"][0]["contract_ids"] == [innocent]
    assert batch["paid"] == yuan(40_000)
    assert balances.get_year(views.store, YEAR)["settled"] == yuan(40_000)


def test_claim_whose_every_contract_was_sanctioned_is_withdrawn(world, views):
    app = world.app
    enterprise, _ = holder = world.holder()
    contract_id = world.contract(holder=holder)
    batch_id = open_batch(app)
    claim_id = claim(app, batch_id, world.provider, [contract_id])
    sanction(app, file_case(app, enterprise, [contract_id]), [contract_id])
    assert app.get_batch(batch_id).claims[claim_id]["status"] == "withdrawn"
    views.catch_up()
    assert settlement.get_batch(views.store, batch_id)["totals"]["withdrawn"]["claims"] == 1


def test_clawback_after_payment_becomes_receivable(world, views):
    app = world.app
    enterprise, voucher_id = holder = world.holder()
    contract_id = world.contract(holder=holder)
    settle(app, world.provider, [contract_id])
    done = sanction(app, file_case(app, enterprise, [contract_id]), [contract_id])
    assert done.data["receivable"] == yuan(40_000)
    assert done.data["contracts"][0]["outcome"] == "receivable"
    contract = app.get_contract(contract_id)
    # It stays settled (paid once), and the provider owes the subsidy back.
    assert contract.settled and contract.status == "clawed_back" and contract.receivable_fen == yuan(40_000)
    _identity_holds(app.get_voucher(voucher_id))
    views.catch_up()
    totals = providers.get_provider_totals(views.store, world.provider, YEAR)
    assert (totals["settled"], totals["used"], totals["receivable"]) == (yuan(40_000), 0, yuan(40_000))
    year = balances.get_year(views.store, YEAR)
    assert year["settled"] == yuan(40_000) <= year["used"] + year["clawed_back"]
    # Finance records the money recovered, in part and then in full; never more than is owed.
    with as_role("finance", name="finance-qian"):
        assert app.record_recovery(world.provider, YEAR, yuan(15_000), "缴款书-1").data["receivable"] == yuan(25_000)
        with pytest.raises(errors.RecoveryAboveReceivable):
            app.record_recovery(world.provider, YEAR, yuan(25_000) + 1, "缴款书-2")
        app.record_recovery(world.provider, YEAR, yuan(25_000), "缴款书-2")
    with as_role("operator"), pytest.raises(errors.Forbidden):
        app.record_recovery(world.provider, YEAR, yuan(1), "x")
    views.catch_up()
    assert providers.get_provider_totals(views.store, world.provider, YEAR)["receivable"] == 0


def test_nothing_is_left_to_claw_back_from_a_terminated_contract(world):
    enterprise, _ = holder = world.holder()
    contract_id = world.contract(state="terminated", holder=holder)
    with pytest.raises(errors.InvalidState):
        sanction(world.app, file_case(world.app, enterprise, [contract_id]), [contract_id])


def test_clawback_is_limited_to_the_contracts_of_the_case(world):
    enterprise, _ = holder = world.holder()
    named, other = world.contract(holder=holder), world.contract(holder=holder)
    case_id = file_case(world.app, enterprise, [named])
    with pytest.raises(errors.ValidationFailed):
        sanction(world.app, case_id, [other])
    with pytest.raises(errors.ValidationFailed):
        sanction(world.app, case_id, [named, named])


# --- revocation, termination, credit -------------------------------------------------------------


def test_revoked_enterprise_gets_no_new_vouchers_or_reservations(world, scenario):
    app = world.app
    enterprise, voucher_id = holder = world.holder()
    proposed = world.contract(state="proposed", holder=holder)
    done = sanction(app, file_case(app, enterprise, [], violation="transfer"), [], revoke_enterprise=True)
    assert done.data["enterprise_revoked"] is True
    assert app.get_enterprise(enterprise).revoked
    # No reservation on the voucher it holds, no voucher next year.
    with as_role("provider", world.provider), pytest.raises(errors.HolderRevoked):
        app.sign_contract(proposed)
    scenario.open_year(YEAR + 1)
    with as_role("operator"), pytest.raises(errors.HolderRevoked):
        app.issue_voucher(enterprise, YEAR + 1)


def test_terminated_provider_is_banned_for_good(world, scenario):
    app = world.app
    proposed = world.contract(state="proposed")
    other = world.contract(state="proposed")  # proposed before the termination, not named in the case
    done = sanction(app, file_case(app, world.provider, [proposed], subject_type="provider"), [proposed],
                    terminate_provider=True)
    assert done.data["provider_terminated"] is True
    assert app.get_provider(world.provider).banned
    # It may not sign contracts, nor be proposed new ones (DOMAIN.md "Stops" 1), nor be signed again for any year.
    with as_role("provider", world.provider), pytest.raises(errors.PartyTerminated):
        app.sign_contract(other)
    with pytest.raises(errors.PartyTerminated):
        world.contract(state="proposed")
    scenario.open_year(YEAR + 1)
    with as_role("operator"), pytest.raises(errors.ProviderBanned):
        app.review_provider(world.provider, YEAR + 1, "compliance", "pass", "")


def test_revocation_and_termination_fit_the_subject(world):
    enterprise, _ = world.holder()
    with pytest.raises(errors.ValidationFailed):
        sanction(world.app, file_case(world.app, enterprise, []), [], terminate_provider=True)
    with pytest.raises(errors.ValidationFailed):
        sanction(world.app, file_case(world.app, world.provider, [], subject_type="provider"), [],
                 revoke_enterprise=True)


def test_sanction_records_bad_credit_in_the_service_archive(world, views):
    enterprise, _ = world.holder()
    case_id = file_case(world.app, world.provider, [], subject_type="provider", violation="non_cooperation")
    sanction(world.app, case_id, [])
    views.catch_up()
    records = settlement.list_credit_records(views.store, world.provider)
    assert [(r["case_id"], r["article"], r["violation"], r["description"]) for r in records] == [
        (case_id, "Art. 25(5)", "non_cooperation", "不配合监督和检查")]
    assert settlement.list_credit_records(views.store, enterprise) == []
    case = settlement.get_case(views.store, case_id)
    assert case["status"] == "sanctioned" and case["sanctioned_by"] == "centre-sun"


# --- who may sanction ----------------------------------------------------------------------------


def test_sanctioning_actor_differs_from_the_filer(world):
    enterprise, _ = world.holder()
    case_id = file_case(world.app, enterprise, [], role="operator", filer="centre-zhou")
    with pytest.raises(errors.SegregationOfDuties) as refused:
        sanction(world.app, case_id, [], by="centre-zhou")
    assert refused.value.details["rule"] == SOD_RULE
    sanction(world.app, case_id, [], by="centre-sun")


def test_only_the_operator_sanctions(world):
    enterprise, _ = world.holder()
    case_id = file_case(world.app, enterprise, [])
    for role in ("supervisor", "approver", "finance"):
        with as_role(role, name="someone"), pytest.raises(errors.Forbidden):
            world.app.sanction_case(case_id, [])


def test_case_is_sanctioned_once(world):
    enterprise, _ = world.holder()
    case_id = file_case(world.app, enterprise, [])
    sanction(world.app, case_id, [])
    with pytest.raises(errors.InvalidState):
        sanction(world.app, case_id, [])
    with pytest.raises(errors.NotFound):
        sanction(world.app, "00000000-0000-0000-0000-000000000000", [])


def test_sanctions_go_on_after_the_year_closed(world, clock, views):
    app = world.app
    enterprise, voucher_id = holder = world.holder()
    used, settled = world.contract(holder=holder), world.contract(holder=holder)
    settle(app, world.provider, [settled])
    clock.today = date(YEAR + 1, 1, 5)
    with as_role("operator", name="centre-close"):
        year_ended(app)
        app.close_year(YEAR)
    done = sanction(app, file_case(app, enterprise, [used, settled]), [used, settled], revoke_enterprise=True)
    assert (done.data["clawed_back"], done.data["receivable"]) == (yuan(80_000), yuan(40_000))
    voucher = app.get_voucher(voucher_id)
    assert voucher.status == "expired" and voucher.clawed_back_fen == yuan(80_000)
    _identity_holds(voucher)
    views.catch_up()
    year = balances.get_year(views.store, YEAR)
    assert (year["clawed_back"], year["settled"], year["used"]) == (yuan(80_000), yuan(40_000), 0)


@pytest.mark.parametrize("wrong", ["voucher", "not-a-uuid"])
def test_a_sanction_names_only_contracts_as_proposed_contracts(world, wrong):
    # The cascade loads each named contract through the typed loader: another aggregate's id, or no
    # id at all, is NOT_FOUND, and nothing is recorded.
    app = world.app
    proposed = world.contract(state="proposed")
    named = app.get_contract(proposed).voucher_id if wrong == "voucher" else wrong
    case_id = file_case(app, world.provider, [proposed], subject_type="provider")
    before = app.recorder.max_notification_id()
    with pytest.raises(errors.NotFound):
        sanction(app, case_id, [], terminate_provider=True, proposed_contract_ids=[named])
    assert app.recorder.max_notification_id() == before and not app.get_provider(world.provider).banned
