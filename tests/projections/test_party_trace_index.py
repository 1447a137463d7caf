"""A party's own year trace pages by the index (issue 19; API.md "Data each party may see").

The trace index records, when it files an event under an enterprise or provider, whether that party may
see it (`vl_trace_hidden`, decided by the same `Viewer.reduce` the traces apply). A party's year is then
counted and paged without decoding it. These tests hold the index to the rule it replaces: on a year made
by the bench's generator (vouchers, contracts in every state, batches, sanctions, special vouchers) with a
supervision report on top, every party's paged trace is exactly its whole year decoded and scoped; and a
store upgraded from schema version 3 answers the same before and after its rebuild.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bench import timing
from bench.generate import generate
from bench.plan import Sizes
from ledger.context import Actor, acting
from projections.audit import scope, trace_queries
from projections.runner import Views
from projections.storage.schema import VERSION_TABLE, migrate
from service.bootstrap import open_ledger
from tests.projections.test_schema_upgrade import _sql
from tests.support import YEAR, Clock


@pytest.fixture
def generated_year(store: Any) -> Any:
    app = open_ledger(store, clock=Clock(date(YEAR, 6, 1)))
    timing.QUIET = True
    world, _ = generate(app, Sizes.at(0.0003), YEAR)
    views = Views(app)
    views.catch_up()
    contract = views.store.query_one("SELECT contract_id, enterprise_id, provider_id FROM vl_contracts "
                                     "ORDER BY contract_id LIMIT 1")
    findings = [{"subject_type": "provider", "subject_id": contract["provider_id"],
                 "contract_id": contract["contract_id"], "severity": "major", "text": "合同金额虚高"},
                {"subject_type": "enterprise", "subject_id": contract["enterprise_id"], "severity": "info",
                 "text": "材料齐全"}]
    with acting(Actor("supervisor", "supervisor-test")):
        app.file_supervision_report(YEAR, "2026年度监理报告", findings, [])
    views.catch_up()
    yield app, views
    views.close()
    app.close()


def _parties(views: Views) -> list[tuple[str, str]]:
    rows = views.store.query("SELECT DISTINCT subject_kind, subject_key FROM vl_trace "
                             "WHERE subject_kind IN ('enterprise-year', 'provider-year') ORDER BY 1, 2")
    return [(r["subject_kind"].split("-")[0], r["subject_key"].split("/")[0]) for r in rows
            if r["subject_key"].endswith(f"/{YEAR}")]


def _viewer(views: Views, kind: str, code: str) -> scope.Viewer:
    return scope.Viewer(kind, code, lambda entity: trace_queries.stream_facts(views.store, entity))


def _decoded(app: Any, views: Views, kind: str, code: str) -> dict[str, Any]:
    """The party's whole year decoded and scoped: what the index must reproduce."""
    whole = trace_queries._year_trace(app, views.store, kind, code, YEAR)
    return trace_queries.scoped(whole, _viewer(views, kind, code), views.store)


def _paged(app: Any, views: Views, kind: str, code: str, offset: int = 0, limit: int | None = None) -> dict:
    return trace_queries._year_trace(app, views.store, kind, code, YEAR, offset, limit,
                                     viewer=_viewer(views, kind, code))


def test_a_partys_year_trace_leaves_out_by_the_index_exactly_what_scoping_leaves_out(generated_year) -> None:
    app, views = generated_year
    parties = _parties(views)
    assert {kind for kind, _ in parties} == {"enterprise", "provider"} and len(parties) > 10
    left_out = 0
    for kind, code in parties:
        expected = _decoded(app, views, kind, code)["steps"]
        everything = trace_queries._year_trace(app, views.store, kind, code, YEAR)["steps"]
        left_out += len(everything) - len(expected)
        paged = _paged(app, views, kind, code)
        assert paged["steps"] == expected and paged["total"] == len(expected), (kind, code)
        for offset, limit in ((0, 3), (2, 5), (max(len(expected) - 2, 0), 10)):
            page = _paged(app, views, kind, code, offset, limit)
            assert page["steps"] == expected[offset:offset + limit], (kind, code, offset, limit)
            assert page["total"] == len(expected), (kind, code)
    hidden = views.store.query_one("SELECT count(*) AS n FROM vl_trace_hidden")["n"]
    assert left_out > 0 and hidden > 0  # the rule is exercised: steps filed under parties that may not see them


def test_a_store_upgraded_from_version_3_answers_the_same_before_and_after_its_rebuild(generated_year) -> None:
    app, views = generated_year
    store = app.store
    migrate(store)
    parties = _parties(views)[::3]
    expected = {party: _decoded(app, views, *party)["steps"] for party in parties}
    # A version-3 store: its events indexed with no record of what each party may not see.
    _sql(store, "DELETE FROM vl_trace_hidden")
    _sql(store, f"UPDATE {VERSION_TABLE} SET version = 3", views=False)
    assert migrate(store) == (3, 4)
    assert views.store.query_one("SELECT position FROM vl_trace_hidden_since")["position"] == views.position
    for party in parties:
        assert _paged(app, views, *party)["steps"] == expected[party], party
        assert _paged(app, views, *party, 1, 4)["steps"] == expected[party][1:5], party
    views.rebuild()
    assert views.store.query_one("SELECT position FROM vl_trace_hidden_since") is None
    assert views.store.query_one("SELECT count(*) AS n FROM vl_trace_hidden")["n"] > 0
    for party in parties:
        assert _paged(app, views, *party)["steps"] == expected[party], party
