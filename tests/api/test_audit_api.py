"""HTTP: traces, the audit chain, the export and `as_of` (API.md "Audit and supervision"; Art. 21-24).

Who may see what: staff, the supervisor and auditors read every trace; an enterprise or a provider
only its own (403 otherwise); the chain's head and the export are the supervisor's and auditors';
verification is the auditors'. Bad input is a 400, an unknown subject a 404.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import pytest

from projections.audit import chain
from tests.audit_support import History, build, edit_event, now, position_of
from tests.support import bearer, issue_tokens


@pytest.fixture
def history(scenario: Any, views: Any) -> History:
    built = build(scenario)
    views.catch_up()
    return built


@pytest.fixture
def tokens(ledger: Any, history: History) -> dict[str, str]:
    ids = history.ids
    return issue_tokens(ledger, ("enterprise", ids["enterprise_a"]), ("enterprise", ids["enterprise_b"]),
                        ("provider", ids["provider"]))


def get(client: Any, tokens: dict[str, str], url: str, who: str = "auditor") -> Any:
    return client.get(url, headers=bearer(tokens[who]))


def at(instant: datetime) -> str:
    return quote(instant.isoformat(), safe="")


# --- traces ------------------------------------------------------------------------------------------------

def test_contract_trace_for_readers_and_for_its_own_parties(client, tokens, history):
    ids = history.ids
    url = f"/api/v1/trace/contracts/{ids['contract_a']}"
    for who in ("supervisor", "operator", "approver", "finance", ids["enterprise_a"], ids["provider"], "auditor"):
        response = get(client, tokens, url, who)
        assert response.status_code == 200, who
    body = response.get_json()  # the auditor's: the whole trace
    assert body["subject"]["contract_id"] == ids["contract_a"]
    steps = body["steps"]
    assert [s["position"] for s in steps] == sorted(s["position"] for s in steps)
    assert steps[0]["type"] == "Year.Opened" and steps[-1]["type"] == "Enterprise.Revoked"
    first = steps[0]
    assert set(first) >= {"position", "recorded_at", "stream", "version", "type", "actor", "data"}
    assert set(first["actor"]) == {"role", "id"}


def test_another_enterprises_contract_trace_is_forbidden(client, tokens, history):
    response = get(client, tokens, f"/api/v1/trace/contracts/{history.ids['contract_a']}", history.ids["enterprise_b"])
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"


def test_enterprise_trace_is_its_own_only(client, tokens, history):
    ids = history.ids
    own = get(client, tokens, f"/api/v1/trace/enterprises/{ids['enterprise_a']}?year=2026", ids["enterprise_a"])
    assert own.status_code == 200
    assert own.get_json()["subject"] == {"type": "enterprise", "enterprise_id": ids["enterprise_a"], "year": 2026}
    other = get(client, tokens, f"/api/v1/trace/enterprises/{ids['enterprise_b']}?year=2026", ids["enterprise_a"])
    assert other.status_code == 403
    by_provider = get(client, tokens, f"/api/v1/trace/enterprises/{ids['enterprise_a']}?year=2026", ids["provider"])
    assert by_provider.status_code == 403
    assert get(client, tokens, f"/api/v1/trace/enterprises/{ids['enterprise_b']}?year=2026", "supervisor"
               ).status_code == 200


def test_provider_trace_is_its_own_only(client, tokens, history):
    ids = history.ids
    url = f"/api/v1/trace/providers/{ids['provider']}?year=2026"
    assert get(client, tokens, url, ids["provider"]).status_code == 200
    assert get(client, tokens, url, ids["enterprise_a"]).status_code == 403
    body = get(client, tokens, url, "auditor").get_json()
    assert body["steps"][0]["type"] == "Year.Opened"


def test_a_partys_year_trace_is_read_a_page_at_a_time(client, tokens, history):
    """Issue 19: a party's year is thousands of steps; its pages put together are the whole trace, in order."""
    ids = history.ids
    for who, url in (("auditor", f"/api/v1/trace/providers/{ids['provider']}?year=2026"),
                     (ids["provider"], f"/api/v1/trace/providers/{ids['provider']}?year=2026"),
                     ("supervisor", f"/api/v1/trace/enterprises/{ids['enterprise_a']}?year=2026"),
                     (ids["enterprise_a"], f"/api/v1/trace/enterprises/{ids['enterprise_a']}?year=2026")):
        whole = get(client, tokens, url, who).get_json()
        assert whole["total"] == len(whole["steps"]) > 3, who
        pages = [get(client, tokens, f"{url}&limit=3&offset={offset}", who).get_json()
                 for offset in range(0, whole["total"], 3)]
        assert all(page["total"] == whole["total"] and len(page["steps"]) <= 3 for page in pages), who
        assert [step for page in pages for step in page["steps"]] == whole["steps"], who
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=x"):
        response = get(client, tokens, f"/api/v1/trace/providers/{ids['provider']}?year=2026&{bad}")
        assert response.status_code == 400, bad


def test_settlement_trace_is_for_readers(client, tokens, history):
    url = f"/api/v1/trace/settlements/{history.ids['batch']}"
    body = get(client, tokens, url, "supervisor").get_json()
    assert body["subject"] == {"type": "settlement", "batch_id": history.ids["batch"], "year": 2026}
    assert [s["type"] for s in body["steps"]][-1] == "ProviderYear.Settled"
    # A batch pays many providers: it is no one party's own.
    assert get(client, tokens, url, history.ids["provider"]).status_code == 403


def test_trace_input_is_checked(client, tokens, history):
    ids = history.ids
    missing_year = get(client, tokens, f"/api/v1/trace/enterprises/{ids['enterprise_a']}")
    assert missing_year.status_code == 400 and "year" in missing_year.get_json()["error"]["details"]
    bad_code = get(client, tokens, "/api/v1/trace/enterprises/not-a-credit-code?year=2026")
    assert bad_code.status_code == 400
    assert get(client, tokens, "/api/v1/trace/providers/91450100000001003Q?year=abc").status_code == 400
    for url in ("/api/v1/trace/contracts/nope", f"/api/v1/trace/contracts/{ids['voucher_a']}",
                "/api/v1/trace/settlements/00000000-0000-0000-0000-000000000000",
                f"/api/v1/trace/providers/{ids['enterprise_a']}?year=2026"):
        response = get(client, tokens, url)
        assert response.status_code == 404, url
        assert response.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get(f"/api/v1/trace/contracts/{ids['contract_a']}").status_code == 401


# --- the chain ----------------------------------------------------------------------------------------------

def test_head_is_for_the_supervisor_and_auditors(client, tokens, history, views):
    for who in ("supervisor", "auditor"):
        response = get(client, tokens, "/api/v1/audit/head", who)
        assert response.status_code == 200
        assert response.get_json() == chain.head(views.store)
    for who in ("operator", "approver", history.ids["enterprise_a"]):
        assert get(client, tokens, "/api/v1/audit/head", who).status_code == 403


def test_verify_is_for_auditors_and_catches_an_edited_row(client, tokens, history, store, ledger):
    ok = get(client, tokens, "/api/v1/audit/verify").get_json()
    assert ok["ok"] is True and ok["checked"] == ok["head"]["position"]
    assert get(client, tokens, "/api/v1/audit/verify", "supervisor").status_code == 403
    position = position_of(ledger, "Voucher.Used")
    edit_event(store, position, lambda state: state.update(amount_fen=1))
    broken = get(client, tokens, "/api/v1/audit/verify").get_json()
    assert (broken["ok"], broken["position"], broken["reason"]) == (False, position, "altered")
    assert broken["checked"] == position - 1
    ranged = get(client, tokens, f"/api/v1/audit/verify?to_position={position - 1}").get_json()
    assert ranged["ok"] is True
    assert get(client, tokens, "/api/v1/audit/verify?from_position=9&to_position=3").status_code == 400


def test_verify_against_a_published_head(client, tokens, history, views):
    """Issue 15 (12): the stored chain checked against a head published earlier (公示)."""
    head = chain.head(views.store)
    ok = get(client, tokens, f"/api/v1/audit/verify?head={head['hash']}&position={head['position']}").get_json()
    assert ok["ok"] is True and ok["published_head"] == head
    earlier = chain.links_between(views.store, 10, 10)[10].hash
    assert get(client, tokens, f"/api/v1/audit/verify?head={earlier}").get_json()["published_head"]["position"] == 10
    wrong = get(client, tokens, f"/api/v1/audit/verify?head={'e' * 64}&position=10").get_json()
    assert (wrong["ok"], wrong["reason"], wrong["position"]) == (False, "head_mismatch", 10)
    for query in (f"head={'E' * 64}", "head=abc", "position=3", f"head={'e' * 64}&position=0"):
        response = get(client, tokens, f"/api/v1/audit/verify?{query}")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "VALIDATION_ERROR", query


# --- the export ---------------------------------------------------------------------------------------------

def test_export_streams_jsonl_with_the_manifest_last(client, tokens, history, views):
    response = get(client, tokens, "/api/v1/export", "supervisor")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["Content-Disposition"]
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    manifest = lines[-1]["manifest"]
    assert manifest["count"] == len(lines) - 1 and manifest["head_hash"] == chain.head(views.store)["hash"]


def test_export_csv_filtered_by_year_and_range(client, tokens, history):
    response = get(client, tokens, "/api/v1/export?format=csv&year=2026&from_position=5&to_position=40")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "position" and rows[0][-1] == "redacted"
    positions = [int(r[0]) for r in rows[1:-1]]
    assert positions == list(range(5, 41))  # every position of the range; the other years' lines redacted
    whole = [r for r in rows[1:-1] if not r[-1]]
    assert whole and all(json.loads(r[8]).get("year") in (None, 2026) for r in whole)
    manifest = json.loads(rows[-1][1])["manifest"]
    assert manifest["filter"] == {"year": 2026, "from_position": 5, "to_position": 40}
    assert manifest["count"] == len(positions) and manifest["redacted"] == len(positions) - len(whole)


def test_export_is_for_the_supervisor_and_auditors_and_checks_its_input(client, tokens, history):
    for who in ("operator", "finance"):
        assert get(client, tokens, "/api/v1/export", who).status_code == 403
    statement = get(client, tokens, "/api/v1/export", history.ids["provider"])  # its own statement (资金凭证)
    assert statement.status_code == 200
    assert json.loads(statement.get_data(as_text=True).splitlines()[-1])["manifest"]["filter"]["party"] == {
        "kind": "provider", "id": history.ids["provider"]}
    for query in ("format=xlsx", "year=19", "from_position=0", "from_position=10&to_position=2", "year=x"):
        response = get(client, tokens, f"/api/v1/export?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


# --- as_of ----------------------------------------------------------------------------------------------------

def test_as_of_before_and_after_a_command(client, tokens, history):
    ids = history.ids
    before, after = history.before_deposit, history.after_completion  # around A's deposit and completion
    voucher_then = get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={at(before)}").get_json()
    voucher_later = get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={at(after)}").get_json()
    assert (voucher_then["reserved"], voucher_then["used"]) == ("80000.00", "0.00")
    assert (voucher_later["reserved"], voucher_later["used"]) == ("0.00", "80000.00")
    balance = get(client, tokens, f"/api/v1/enterprises/{ids['enterprise_a']}/balance?year=2026&as_of={at(after)}",
                  ids["enterprise_a"]).get_json()
    assert (balance["used"], balance["vouchers"], balance["as_of"]) == ("80000.00", 1, after.isoformat())
    totals = get(client, tokens, f"/api/v1/providers/{ids['provider']}/totals?year=2026&as_of={at(before)}",
                 ids["provider"]).get_json()
    assert (totals["reserved"], totals["used"], totals["contracts"]) == ("80000.00", "0.00", 1)
    year = get(client, tokens, f"/api/v1/years/2026?as_of={at(before)}", "supervisor").get_json()
    assert (year["budget"], year["reserved"], year["settled"]) == ("10000000.00", "80000.00", "0.00")
    # Today, after the sanction, the contract's subsidy is clawed back.
    assert get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={at(now())}").get_json()[
        "clawed_back"] == "80000.00"


def test_as_of_needs_an_offset_and_a_time_when_the_subject_existed(client, tokens, history):
    ids = history.ids
    no_offset = get(client, tokens, "/api/v1/years/2026?as_of=2026-06-01T09:00:00")
    assert no_offset.status_code == 400 and "as_of" in no_offset.get_json()["error"]["details"]
    for bad in ("2026-06-01", "yesterday", "2026-13-01T00:00:00+08:00"):
        assert get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={quote(bad)}").status_code == 400
    # An unencoded "+" arrives as a space; it is read as the offset it was.
    assert get(client, tokens, f"/api/v1/years/2026?as_of={now().isoformat()}").status_code == 200
    long_ago = at(datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert get(client, tokens, f"/api/v1/years/2026?as_of={long_ago}").status_code == 404
    assert get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={long_ago}").status_code == 404
    assert get(client, tokens, f"/api/v1/providers/{ids['provider']}/totals?year=2026&as_of={long_ago}"
               ).status_code == 404
    empty = get(client, tokens, f"/api/v1/enterprises/{ids['enterprise_a']}/balance?year=2026&as_of={long_ago}")
    assert empty.get_json()["vouchers"] == 0


def test_as_of_keeps_ownership(client, tokens, history):
    ids = history.ids
    instant = at(now())
    assert get(client, tokens, f"/api/v1/vouchers/{ids['voucher_a']}?as_of={instant}", ids["enterprise_b"]
               ).status_code == 403
    assert get(client, tokens, f"/api/v1/enterprises/{ids['enterprise_a']}/balance?year=2026&as_of={instant}",
               ids["enterprise_b"]).status_code == 403
    assert get(client, tokens, f"/api/v1/providers/{ids['provider']}/totals?year=2026&as_of={instant}",
               ids["enterprise_a"]).status_code == 403


# --- oversight reads everything and writes nothing but cases ------------------------------------------------

def test_supervisor_and_auditor_write_nothing_but_filing_cases(client, tokens, history):
    ids = history.ids
    writes = [
        ("/api/v1/years/2026/budget", {"amount": "1.00", "reference": "监督不拨款"}),
        ("/api/v1/vouchers", {"enterprise_id": ids["enterprise_b"], "year": 2027}),
        ("/api/v1/years/2026/close", None),
        ("/api/v1/settlements", {"year": 2026, "name": "监督不开批次"}),
        (f"/api/v1/contracts/{ids['contract_b2']}/termination", {"reason": "监督不终止合同"}),
    ]
    for who in ("supervisor", "auditor"):
        for url, body in writes:
            response = client.post(url, json=body, headers=bearer(tokens[who]))
            assert response.status_code == 403, (who, url)
        reads = ["/api/v1/years/2026", f"/api/v1/vouchers/{ids['voucher_b']}",
                 f"/api/v1/enterprises/{ids['enterprise_b']}/balance?year=2026",
                 f"/api/v1/providers/{ids['provider']}/totals?year=2026", f"/api/v1/contracts/{ids['contract_b']}"]
        assert all(get(client, tokens, url, who).status_code == 200 for url in reads)
    case = {"subject_type": "provider", "subject_id": ids["provider"], "violation": "complaint",
            "contract_ids": [ids["contract_b2"]], "note": "监理受理投诉"}
    assert client.post("/api/v1/cases", json=case, headers=bearer(tokens["auditor"])).status_code == 403
    assert client.post("/api/v1/cases", json=case, headers=bearer(tokens["supervisor"])).status_code == 201
