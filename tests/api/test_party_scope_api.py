"""HTTP: data each party may see (API.md "Data each party may see"; issue 15, 8).

Two enterprises and two providers share one settlement batch: P1 claims E1's contract and one of
E2's, P2 claims E2's other contract. Each party reads its traces, its batch view and its statement
(资金凭证); none of them may show another party's ids, amounts, caps or totals. The auditor reads the
same trace whole, so every absence below is of something that is there to be left out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from projections.audit.export_verify import verify_export
from tests.api.support_http import Http, http  # noqa: F401 - the fixture
from tests.audit_support import shared_batch
from tests.support import YEAR, Scenario, as_role


@pytest.fixture
def world(scenario: Scenario, ledger: Any, views: Any, http: Http) -> dict[str, Any]:  # noqa: F811
    ids = shared_batch(scenario, ledger)
    with as_role("finance", name="finance-qian"):
        ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕9号")
    views.catch_up()
    for kind, key in (("enterprise", "e1"), ("enterprise", "e2"), ("provider", "p1"), ("provider", "p2")):
        http.subject(kind, ids[key])
    return ids


def _others(world: dict[str, Any], who: str) -> list[str]:
    """What `who` must never see: the other parties and what is theirs alone."""
    return {"e1": [world["e2"], world["p2"], world["c2"], world["c3"], world["claim2"]],
            "e2": [world["e1"], world["c1"]],
            "p1": [world["p2"], world["c2"], world["claim2"]],
            "p2": [world["p1"], world["e1"], world["c1"], world["c3"], world["claim1"]]}[who]


def _batch_steps(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in trace["steps"] if s.get("stream_type") == "SettlementBatch"]


def test_each_partys_traces_leave_out_the_other_parties(world, http):
    whole = json.dumps(http.get("auditor", f"/trace/providers/{world['p1']}?year={YEAR}"), ensure_ascii=False)
    assert world["p2"] in whole and world["e2"] in whole  # the batch's steps name every provider, whole
    for who, kind in (("e1", "enterprises"), ("e2", "enterprises"), ("p1", "providers"), ("p2", "providers")):
        trace = http.get(world[who], f"/trace/{kind}/{world[who]}?year={YEAR}")
        text = json.dumps(trace, ensure_ascii=False)
        assert [other for other in _others(world, who) if other in text] == [], who
        for step in _batch_steps(trace):
            data = step["data"]
            assert "amount_fen" not in data or step["type"].endswith(("ClaimSubmitted", "ContractWithdrawn")), step
            assert set(data.get("providers", {})) <= {world[who]}, step
        paid = next(s for s in _batch_steps(trace) if s["type"] == "SettlementBatch.Paid")
        assert paid["scoped"] is True
        assert "contracts" not in paid["data"] and paid["data"]["reference"] == "桂财工兑〔2026〕9号"
        if who.startswith("p"):
            assert list(paid["data"]["providers"]) == [world[who]]  # its own line of the shared payment


def test_a_partys_scoped_page_is_the_same_slice_of_its_whole_scoped_trace(world, http):
    """Issue 19: a party's page of its year is cut from its scoped year (others' steps left out, shared
    steps cut down), so every page and its `total` agree with the unpaged scoped trace."""
    for who, kind in (("e1", "enterprises"), ("e2", "enterprises"), ("p1", "providers"), ("p2", "providers")):
        url = f"/trace/{kind}/{world[who]}?year={YEAR}"
        whole = http.get(world[who], url)
        everything = http.get("auditor", url)
        assert len(whole["steps"]) < len(everything["steps"]) and any(s.get("scoped") for s in whole["steps"]), who
        for offset, limit in ((0, 2), (1, 3), (len(whole["steps"]) - 1, 5), (len(whole["steps"]), 2)):
            page = http.get(world[who], f"{url}&offset={offset}&limit={limit}")
            assert page["steps"] == whole["steps"][offset:offset + limit], (who, offset, limit)
            assert (page["total"], page["offset"], page["limit"]) == (len(whole["steps"]), offset, limit), who


def test_a_contract_trace_shows_each_side_nothing_of_the_others_identity_or_figures(world, http):
    url = f"/trace/contracts/{world['c1']}"
    whole = http.get("auditor", url)
    assert {"Enterprise", "Provider", "ProviderYear"} <= {s["stream_type"] for s in whole["steps"]}
    for who, hidden_streams, hidden_fields in (("e1", {"Provider", "ProviderYear", "Product"},
                                                {"provider_cap_fen", "provider_exceptions_fen"}),
                                               ("p1", {"Enterprise", "Voucher"}, {"voucher_available_fen"})):
        trace = http.get(world[who], url)
        assert not {s["stream_type"] for s in trace["steps"]} & hidden_streams, who
        signed = next(s for s in trace["steps"] if s["type"] == "Contract.Signed")
        assert not hidden_fields & set(signed["data"]) and signed["scoped"] is True, who
        assert "subsidy_fen" in signed["data"]  # the contract's own figures stay
        text = json.dumps(trace, ensure_ascii=False)
        assert [other for other in _others(world, who) if other in text] == [], who


def test_a_providers_batch_view_is_its_own_claims_and_its_own_paid(world, http):
    everything = http.get("auditor", f"/settlements/{world['batch']}")
    for who, claim in (("p1", "claim1"), ("p2", "claim2")):
        view = http.get(world[who], f"/settlements/{world['batch']}")
        assert [c["claim_id"] for c in view["claims"]] == [world[claim]]
        assert view["paid"] == view["claims"][0]["amount"] != everything["paid"]
        assert view["claimed"] == view["claims"][0]["amount"]
        text = json.dumps(view, ensure_ascii=False)
        assert [other for other in _others(world, who) if other in text] == [], who


def test_each_partys_statement_redacts_the_others_and_verifies(world, http, client, tmp_path):
    for who in ("e1", "e2", "p1", "p2"):
        response = client.get("/api/v1/export", headers={"Authorization": f"Bearer {http.tokens[world[who]]}"})
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        *lines, manifest = [json.loads(line) for line in text.splitlines()]
        assert manifest["manifest"]["filter"]["party"]["id"] == world[who]
        whole = [line for line in lines if "redacted" not in line]
        assert whole and manifest["manifest"]["redacted"] == len(lines) - len(whole)
        assert [other for other in _others(world, who) if other in text] == [], who
        assert not any(line["stream_type"] == "SettlementBatch" and "providers" in line["data"] for line in whole)
        path = tmp_path / f"{who}.jsonl"
        path.write_text(text, encoding="utf-8")
        assert verify_export(str(path)).ok, who
