"""A contract's kind over HTTP (issue 19), on both stores: contract answers carry their voucher's `kind`,
`GET /contracts?kind=` keeps one kind (with its own total) beside the other filters, and `?status=` takes
every state a contract can be in, held and failed acceptance included."""

from __future__ import annotations

from typing import Any

from tests.api.support_http import Http, Slice, arrange, http  # noqa: F401
from tests.projections.test_contract_kinds import world
from tests.support import YEAR, bearer

STATES = ("proposed", "signed", "active", "completed", "terminated", "clawed_back", "held", "failed_acceptance")


def test_contracts_carry_their_vouchers_kind(http: Http, arrange: Slice) -> None:  # noqa: F811
    made = world(arrange.scenario)["made"]
    for kind, ids in made.items():
        for contract_id in ids:
            assert http.get("auditor", f"/contracts/{contract_id}")["kind"] == kind
    listed = http.get("operator", f"/contracts?year={YEAR}")
    assert listed["kind"] is None and {c["kind"] for c in listed["contracts"]} == {"general", "special"}


def test_contract_list_filters_by_kind_beside_status_and_paging(http: Http, arrange: Slice) -> None:  # noqa: F811
    made = world(arrange.scenario)["made"]
    for kind, ids in made.items():
        listed = http.get("operator", f"/contracts?year={YEAR}&kind={kind}")
        assert listed["kind"] == kind and listed["total"] == len(ids)
        assert sorted(c["contract_id"] for c in listed["contracts"]) == sorted(ids)
    first = http.get("supervisor", f"/contracts?year={YEAR}&kind=special&sort=amount&limit=2")
    rest = http.get("supervisor", f"/contracts?year={YEAR}&kind=special&sort=amount&limit=2&offset=2")
    assert first["total"] == rest["total"] == 4
    assert {c["contract_id"] for c in first["contracts"] + rest["contracts"]} == set(made["special"])
    proposed = http.get("auditor", f"/contracts?year={YEAR}&kind=special&status=proposed")
    assert proposed["total"] == 2 and {c["status"] for c in proposed["contracts"]} == {"proposed"}


def test_contract_list_takes_every_contract_state(http: Http, arrange: Slice) -> None:  # noqa: F811
    arranged = world(arrange.scenario)
    for status in STATES:
        listed = http.get("operator", f"/contracts?year={YEAR}&status={status}")
        assert listed["status"] == status and all(c["status"] == status for c in listed["contracts"])
    held = http.get("operator", f"/contracts?year={YEAR}&status=held")["contracts"]
    failed = http.get("operator", f"/contracts?year={YEAR}&status=failed_acceptance")["contracts"]
    assert [c["contract_id"] for c in held] == [arranged["held"]]
    assert [c["contract_id"] for c in failed] == [arranged["failed"]]
    # The contracts workbook takes the same states (its filter is the same list).
    response = http.client.get(f"/api/v1/workbooks/contracts?year={YEAR}&status=failed_acceptance",
                               headers=bearer(http.tokens["auditor"]))
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")


def test_contract_kind_filter_is_validated_and_for_readers(http: Http, arrange: Slice) -> None:  # noqa: F811
    arranged = world(arrange.scenario)
    error = http.get("operator", f"/contracts?year={YEAR}&kind=gold", 400, "VALIDATION_ERROR")["error"]
    assert "kind" in error["details"]
    http.get("operator", f"/contracts?year={YEAR}&status=paid", 400, "VALIDATION_ERROR")
    http.get(http.subject("enterprise", arranged["special"]), f"/contracts?year={YEAR}&kind=special", 403,
             "FORBIDDEN")
