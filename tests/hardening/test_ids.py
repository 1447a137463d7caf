"""No 500 from any id (issue 15, item 10): every loader is typed (`CommandBase._get`), so an aggregate of
another class, an unparseable id or an integer beyond 64 bits is NOT_FOUND in the ledger, and a path
integer beyond 64 bits is a 400 at the edge. On both stores."""

from __future__ import annotations

import pytest

from ledger import errors
from tests.api.support_http import arrange, http  # noqa: F401 - fixtures
from tests.support import as_role


@pytest.fixture
def deal(arrange):
    arrange.year()
    return arrange.deal()


def test_a_voucher_s_id_is_no_contract(http, arrange, deal):
    voucher = deal["voucher_id"]
    http.post(deal["provider"], f"/contracts/{voucher}/signature", status=404, code="NOT_FOUND")
    http.post(deal["enterprise"], f"/contracts/{voucher}/deposit", {"amount": "100.00"}, status=404, code="NOT_FOUND")
    http.post("operator", f"/contracts/{voucher}/termination", {"reason": "test"}, status=404, code="NOT_FOUND")


def test_loaders_refuse_the_wrong_class_and_unparseable_ids(ledger, scenario):
    scenario.open_year()
    enterprise, voucher = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis")
    assert ledger.get_voucher(voucher).enterprise_id == enterprise  # the right class loads
    for loader, wrong in ((ledger.get_contract, voucher), (ledger.get_voucher, product), (ledger.get_product, voucher),
                          (ledger.get_batch, voucher), (ledger.get_case, voucher), (ledger.get_contract, "not-a-uuid"),
                          (ledger.get_voucher, None)):
        with pytest.raises(errors.NotFound):
            loader(wrong)
    with as_role("provider", provider), pytest.raises(errors.NotFound):
        ledger.sign_contract(voucher)


@pytest.mark.parametrize("year", [2**63, 2**63 - 1, 10**30])
def test_years_beyond_64_bits_are_not_found_in_the_ledger(ledger, year):
    with pytest.raises(errors.NotFound):
        ledger.get_year(year)


@pytest.mark.parametrize("path", ["/years/9223372036854775808", "/years/99999999999999999999999/monthly",
                                  "/years/9223372036854775808/close"])
def test_path_integers_beyond_64_bits_are_400(http, path):
    method = "POST" if path.endswith("/close") else "GET"
    http.request(method, "operator", path, status=400, code="VALIDATION_ERROR")


def test_the_largest_64_bit_year_is_simply_not_found(http):
    http.get("operator", "/years/9223372036854775807", status=404, code="NOT_FOUND")
