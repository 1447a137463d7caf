"""Contracts over HTTP (API.md "Contracts"): the whole life of a contract and every refusal of a signature."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ledger.money import yuan
from tests.api.support_http import STAFF, arrange, http  # noqa: F401 - fixtures
from tests.support import YEAR, revoke_holder, year_ended


@pytest.fixture
def deal(arrange):
    arrange.year()
    return arrange.deal()


def sign(http, deal, contract, status=200, error=None):
    return http.post(deal["provider"], f"/contracts/{contract['contract_id']}/signature", status=status, code=error)


def test_a_contract_from_proposal_to_completion(http, arrange, deal):
    # The worked example of DOMAIN.md: ¥100,000 diagnosis on a T2 voucher: subsidy 80,000, deposit 20,000, balance 0.
    proposed = arrange.propose(deal, "100000.00")
    assert proposed["status"] == "proposed" and isinstance(proposed["position"], int)
    contract_path = f"/contracts/{proposed['contract_id']}"
    signed = sign(http, deal, proposed)
    assert {k: signed[k] for k in ("status", "amount", "subsidy", "deposit", "balance_due")} == {
        "status": "signed", "amount": "100000.00", "subsidy": "80000.00", "deposit": "20000.00",
        "balance_due": "0.00"}
    assert signed["position"] > proposed["position"]
    assert http.get("auditor", f"/vouchers/{deal['voucher_id']}")["reserved"] == "80000.00"
    active = http.post(deal["enterprise"], f"{contract_path}/deposit", {"amount": "20000.00"}, 200)
    assert active["status"] == "active" and active["deposit_paid"] == "20000.00"
    completed = http.post(deal["enterprise"], f"{contract_path}/completion", {"balance_paid": "0.00"}, 200)
    assert completed["status"] == "completed"
    voucher = http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}")
    assert (voucher["available"], voucher["reserved"], voucher["used"]) == ("20000.00", "0.00", "80000.00")
    totals = http.get(deal["provider"], f"/providers/{deal['provider']}/totals?year={YEAR}")
    assert (totals["reserved"], totals["used"], totals["contracts"]) == ("0.00", "80000.00", 1)
    # A second contract is limited by what remains: ¥20,000.
    second = arrange.propose(deal, "100000.00", "consulting")
    assert sign(http, deal, second)["subsidy"] == "20000.00"


def test_a_smaller_subsidy_may_be_asked(http, arrange, deal):
    proposed = arrange.propose(deal, "10000.00", subsidy="3000.00")
    signed = sign(http, deal, proposed)
    assert (signed["subsidy"], signed["deposit"], signed["balance_due"]) == ("3000.00", "2000.00", "5000.00")


def test_contract_readers(http, arrange, deal):
    proposed = arrange.propose(deal, "10000.00")
    path = f"/contracts/{proposed['contract_id']}"
    other_enterprise, _ = arrange.holder()
    other_provider = arrange.provider()
    for who in (*STAFF, deal["enterprise"], deal["provider"]):
        assert http.get(who, path)["contract_id"] == proposed["contract_id"]
    http.get(other_enterprise, path, 403, "FORBIDDEN")
    http.get(other_provider, path, 403, "FORBIDDEN")
    http.get(None, path, 401, "UNAUTHENTICATED")
    http.get("auditor", f"/contracts/{uuid.uuid4()}", 404, "NOT_FOUND")


def test_only_the_holder_proposes_on_its_voucher(http, arrange, deal):
    other, _ = arrange.holder()
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"],
            "amount": "10000.00"}
    for who in (other, deal["provider"], "operator", "approver"):
        http.post(who, "/contracts", body, 403, "FORBIDDEN")


@pytest.mark.parametrize("field, value", [
    ("amount", 10000.0), ("amount", 10000), ("amount", "10000.001"), ("amount", "-10000.00"), ("amount", "ten"),
    ("subsidy", 100.5), ("subsidy", "1.234"), ("voucher_id", "not-a-uuid"), ("product_id", 7),
    ("provider_id", "91450100000000001X"),
])
def test_proposal_fields_are_strict(http, arrange, deal, field, value):
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"],
            "amount": "10000.00", field: value}
    assert field in http.post(deal["enterprise"], "/contracts", body, 400, "VALIDATION_ERROR")["error"]["details"]


def test_zero_amounts_are_400(http, arrange, deal):
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"]}
    http.post(deal["enterprise"], "/contracts", {**body, "amount": "0.00"}, 400, "VALIDATION_ERROR")
    http.post(deal["enterprise"], "/contracts", {**body, "amount": "10.00", "subsidy": "10.01"}, 400,
              "VALIDATION_ERROR")


def test_unknown_voucher_or_product_is_404(http, arrange, deal):
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"],
            "amount": "10000.00"}
    http.post(deal["enterprise"], "/contracts", {**body, "voucher_id": str(uuid.uuid4())}, 404, "NOT_FOUND")
    http.post(deal["enterprise"], "/contracts", {**body, "product_id": str(uuid.uuid4())}, 404, "NOT_FOUND")
    http.post(deal["provider"], f"/contracts/{uuid.uuid4()}/signature", status=404, code="NOT_FOUND")


def test_only_the_contract_s_provider_signs(http, arrange, deal):
    proposed = arrange.propose(deal, "10000.00")
    other = arrange.provider()
    for who in (other, deal["enterprise"], "operator"):
        http.post(who, f"/contracts/{proposed['contract_id']}/signature", status=403, code="FORBIDDEN")
    sign(http, deal, proposed)
    sign(http, deal, proposed, 409, "INVALID_STATE")


# -- Each refusal of a signature (API.md: 422 with the rule's code) ------------------------------------

def test_voucher_exhausted(http, arrange, deal):
    sign(http, deal, arrange.propose(deal, "125000.00"))  # 80% of ¥125,000 = the whole ¥100,000
    details = sign(http, deal, arrange.propose(deal, "10000.00"), 422, "VOUCHER_EXHAUSTED")["error"]["details"]
    assert details["available"] == "0.00"


def test_subsidy_above_share(http, arrange, deal):
    body = sign(http, deal, arrange.propose(deal, "10000.00", "consulting", subsidy="5000.01"), 422,
                "SUBSIDY_ABOVE_SHARE")
    assert body["error"]["details"] == {"asked": "5000.01", "share": 5000, "maximum": "5000.00"}


def test_provider_not_signed(http, arrange, deal):
    unsigned = arrange.provider(signed_for=None)
    product = arrange.product(unsigned)
    proposed = arrange.propose({**deal, "provider": unsigned, "diagnosis": product}, "10000.00")
    sign(http, {"provider": unsigned}, proposed, 422, "PROVIDER_NOT_SIGNED")


def test_product_not_listed(http, arrange, deal):
    unlisted = arrange.product(deal["provider"], listed_for=None)
    sign(http, deal, arrange.propose({**deal, "diagnosis": unlisted}, "10000.00"), 422, "PRODUCT_NOT_LISTED")


def test_provider_cap_exceeded_then_an_exception_lets_it_through(http, arrange, scenario):
    arrange.year(provider_cap=yuan(100_000))
    first = arrange.deal()
    second_holder, second_voucher = arrange.holder()
    second = {**first, "enterprise": second_holder, "voucher_id": second_voucher}
    sign(http, first, arrange.propose(first, "100000.00"))
    late = arrange.propose(second, "100000.00")
    details = sign(http, second, late, 422, "PROVIDER_CAP_EXCEEDED")["error"]["details"]
    assert details == {"kind": "general", "cap": "100000.00", "exceptions": "0.00", "live": "80000.00", "asked": "80000.00"}
    http.post("approver", f"/providers/{first['provider']}/cap-exceptions",
              {"year": YEAR, "amount": "60000.00", "reason": "自治区重大项目"})
    assert sign(http, second, late)["subsidy"] == "80000.00"
    totals = http.get("auditor", f"/providers/{first['provider']}/totals?year={YEAR}")
    assert (totals["cap"], totals["exceptions"], totals["reserved"], totals["remaining_cap"], totals["contracts"]) == (
        "100000.00", "60000.00", "160000.00", "0.00", 2)


def test_holder_revoked(http, arrange, deal, ledger):
    proposed = arrange.propose(deal, "10000.00")
    revoke_holder(ledger, deal["enterprise"])
    sign(http, deal, proposed, 422, "HOLDER_REVOKED")
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"],
            "amount": "10000.00"}
    http.post(deal["enterprise"], "/contracts", body, 422, "HOLDER_REVOKED")


def test_year_closed(http, arrange, deal):
    proposed = arrange.propose(deal, "10000.00")
    year_ended(http.ledger)
    http.post("operator", f"/years/{YEAR}/close", status=200)
    sign(http, deal, proposed, 422, "YEAR_CLOSED")
    body = {"voucher_id": deal["voucher_id"], "provider_id": deal["provider"], "product_id": deal["diagnosis"],
            "amount": "10000.00"}
    http.post(deal["enterprise"], "/contracts", body, 422, "YEAR_CLOSED")


def test_year_not_started(http, arrange, deal, clock):
    proposed = arrange.propose(deal, "10000.00")
    clock.today = date(YEAR - 1, 12, 31)
    details = sign(http, deal, proposed, 422, "YEAR_NOT_STARTED")["error"]["details"]
    assert details["starts_on"] == f"{YEAR}-01-01"


def test_year_ended(http, arrange, deal, clock):
    proposed = arrange.propose(deal, "10000.00")
    clock.today = date(YEAR + 1, 1, 1)
    details = sign(http, deal, proposed, 422, "YEAR_ENDED")["error"]["details"]
    assert details["ends_on"] == f"{YEAR}-12-31"


# -- Deposit, completion, termination -----------------------------------------------------------------

def test_wrong_amount_for_deposit_and_completion(http, arrange, deal):
    proposed = arrange.propose(deal, "50000.00", "consulting")  # subsidy 25,000 · deposit 10,000 · balance 15,000
    path = f"/contracts/{proposed['contract_id']}"
    sign(http, deal, proposed)
    for amount in ("9999.99", "10000.01", "0.00"):
        details = http.post(deal["enterprise"], f"{path}/deposit", {"amount": amount}, 422,
                            "WRONG_AMOUNT")["error"]["details"]
        assert details["expected"] == "10000.00"
    for amount in (10000.0, "10000", "-10000.00", "1e4"):
        http.post(deal["enterprise"], f"{path}/deposit", {"amount": amount}, 400, "VALIDATION_ERROR")
    http.post(deal["enterprise"], f"{path}/completion", {"balance_paid": "15000.00"}, 409, "INVALID_STATE")
    http.post(deal["provider"], f"{path}/deposit", {"amount": "10000.00"}, 403, "FORBIDDEN")
    http.post(deal["enterprise"], f"{path}/deposit", {"amount": "10000.00"}, 200)
    for amount in ("14999.99", "40000.00"):
        http.post(deal["enterprise"], f"{path}/completion", {"balance_paid": amount}, 422, "WRONG_AMOUNT")
    http.post(deal["enterprise"], f"{path}/completion", {"balance_paid": 15000}, 400, "VALIDATION_ERROR")
    http.post(deal["enterprise"], f"{path}/completion", {}, 400, "VALIDATION_ERROR")
    assert http.post(deal["enterprise"], f"{path}/completion", {"balance_paid": "15000.00"}, 200)["status"] == \
        "completed"
    http.post("operator", f"{path}/termination", {"reason": "too late"}, 409, "INVALID_STATE")


def test_termination_releases_the_reservation(http, arrange, deal):
    proposed = arrange.propose(deal, "50000.00")
    path = f"/contracts/{proposed['contract_id']}"
    signed = sign(http, deal, proposed)
    other, _ = arrange.holder()
    http.post(other, f"{path}/termination", {"reason": "not mine"}, 403, "FORBIDDEN")
    http.post("approver", f"{path}/termination", {"reason": "x"}, 403, "FORBIDDEN")
    http.post(deal["enterprise"], f"{path}/termination", {"reason": ""}, 400, "VALIDATION_ERROR")
    http.post(deal["enterprise"], f"{path}/deposit", {"amount": signed["deposit"]}, 200)
    terminated = http.post(deal["provider"], f"{path}/termination", {"reason": "无法履约 (Art. 28)"}, 200)
    assert terminated["status"] == "terminated" and isinstance(terminated["position"], int)
    voucher = http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}")
    assert (voucher["available"], voucher["reserved"]) == ("100000.00", "0.00")
    http.post(deal["enterprise"], f"{path}/completion", {"balance_paid": signed["balance_due"]}, 409,
              "INVALID_STATE")
    assert http.get("operator", path)["status"] == "terminated"


def test_subsidy_preview_before_proposing(http, arrange, deal):
    # What the signature would reserve (Art. 10, 17), for the voucher's enterprise and readers only.
    path = f"/vouchers/{deal['voucher_id']}/subsidy-preview?product_id={deal['consulting']}&amount=60000.00"
    preview = http.get(deal["enterprise"], path)
    assert {k: preview[k] for k in ("category", "share", "share_maximum", "available", "asked", "subsidy")} == {
        "category": "management_consulting", "share": "0.50", "share_maximum": "30000.00", "available": "100000.00",
        "asked": None, "subsidy": "30000.00"}
    assert http.get("operator", path)["subsidy"] == "30000.00"
    assert sign(http, deal, arrange.propose(deal, "60000.00", "consulting"))["subsidy"] == preview["subsidy"]
    body = http.get(deal["enterprise"], path + "&subsidy=30000.01", 422, "SUBSIDY_ABOVE_SHARE")
    assert body["error"]["details"]["maximum"] == "30000.00"
    http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}/subsidy-preview?amount=60000.00", 400, "VALIDATION_ERROR")
    other, _ = arrange.holder()
    http.get(other, path, 403, "FORBIDDEN")


def test_subsidy_preview_refuses_what_proposing_or_signing_would(http, arrange, deal):
    # 0.00 is no contract (VALIDATION_ERROR), and a share that rounds down to nothing is SUBSIDY_ZERO (Art. 10).
    path = f"/vouchers/{deal['voucher_id']}/subsidy-preview?product_id={deal['consulting']}"
    http.get(deal["enterprise"], path + "&amount=0.00", 400, "VALIDATION_ERROR")
    http.get(deal["enterprise"], path + "&amount=100.00&subsidy=0.00", 400, "VALIDATION_ERROR")
    http.get(deal["enterprise"], path + "&amount=0.01", 422, "SUBSIDY_ZERO")
    sign(http, deal, arrange.propose(deal, "0.01", "consulting"), 422, "SUBSIDY_ZERO")
    for garbage in ("-5.00", "1e9", "abc", "1.5", "99999999999999999999.00", ""):
        http.get(deal["enterprise"], f"{path}&amount={garbage}", 400, "VALIDATION_ERROR")
    http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}/subsidy-preview?product_id={uuid.uuid4()}"
                                 "&amount=10.00", 404, "NOT_FOUND")
    http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}/subsidy-preview?product_id=x&amount=10.00",
             400, "VALIDATION_ERROR")
    http.get(deal["provider"], path + "&amount=100.00", 403, "FORBIDDEN")
    unlisted = arrange.product(deal["provider"], "management_consulting", listed_for=None)
    http.get(deal["enterprise"], f"/vouchers/{deal['voucher_id']}/subsidy-preview?product_id={unlisted}&amount=10.00",
             422, "PRODUCT_NOT_LISTED")
