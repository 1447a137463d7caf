"""A server process whose aggregate cache is cold: what a command needs comes in one bulk read (issue 21).

Each `serve` process has its own cache, and most contracts a request names are not in it. Signing and
completing load the contract's voucher, enterprise, provider, product and provider year; on PostgreSQL
they are prefetched together (ledger/commands/base.py `prefetch_parties`) instead of one library read each.
Issuing reads the enterprise and the voucher that must not exist yet together.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import errors
from ledger.money import yuan
from service.bootstrap import open_ledger
from tests.support import YEAR, Scenario, as_role


def _counting_single_reads(app: Any) -> list[Any]:
    """The library's per-aggregate reads from here on (a spy: the real recorder still answers)."""
    reads: list[Any] = []
    select_events = app.recorder.select_events

    def counted(originator_id: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(originator_id)
        return select_events(originator_id, *args, **kwargs)

    app.recorder.select_events = counted
    return reads


def _cold(store: Any, clock: Any) -> tuple[Any, list[list[Any]], list[Any]]:
    """Another server process: nothing of this year cached; its bulk reads and its single reads, counted."""
    app = open_ledger(store, clock=clock)
    bulk = app.repository.stream_reader
    asked: list[list[Any]] = []
    if store.backend == "sqlite":
        assert bulk is None  # in-process: a read costs no round trip, so nothing is batched
    else:
        app.repository.stream_reader = lambda ids, *rest, **kw: asked.append(list(ids)) or bulk(ids, *rest, **kw)
    return app, asked, _counting_single_reads(app)


def test_a_cold_process_signs_and_completes_with_the_parties_read_in_one_go(store, ledger, clock):
    scenario = Scenario(ledger)
    scenario.open_year()
    enterprise, voucher_id = scenario.holder()
    provider = scenario.provider()
    product = scenario.product(provider)
    to_sign = scenario.propose(enterprise, voucher_id, provider, product, yuan(10_000))
    to_complete = scenario.contract(enterprise, voucher_id, provider, product, yuan(20_000), state="active")
    balance_due = ledger.get_contract(to_complete).balance_due_fen

    cold, asked, reads = _cold(store, clock)
    try:
        with as_role("provider", provider):
            signed = cold.sign_contract(to_sign).data
        assert signed["status"] == "signed" and signed["subsidy"] == yuan(8_000)  # 80% (T2) of 10,000 yuan
        if store.backend == "postgres":
            # The contract and the year are read alone; the voucher, enterprise, provider, product and
            # provider's year in one bulk read (before: seven reads in a row, each its own round trips).
            assert [len(ids) for ids in asked] == [5]
            assert len(reads) <= 2, reads
    finally:
        cold.close()

    cold, asked, reads = _cold(store, clock)
    try:
        with as_role("enterprise", enterprise):
            completed = cold.complete_contract(to_complete, balance_due).data
        assert completed["status"] == "completed"
        if store.backend == "postgres":
            assert [len(ids) for ids in asked] == [4]  # no product to check on completion
            assert len(reads) <= 2, reads
    finally:
        cold.close()


def test_a_cold_process_issues_with_the_enterprise_and_the_voucher_s_absence_read_in_one_go(store, ledger, clock):
    scenario = Scenario(ledger)
    scenario.open_year()
    code = scenario.enterprise(("tech_sme",))
    already = scenario.enterprise(("tech_sme",))
    scenario.voucher(already)

    cold, asked, reads = _cold(store, clock)
    try:
        with as_role("operator"):
            issued = cold.issue_voucher(code, YEAR)
            assert issued.created and issued.data["enterprise_id"] == code
            with pytest.raises(errors.AlreadyIssued):  # present in the bulk read: refused from what it found
                cold.issue_voucher(already, YEAR)
        if store.backend == "postgres":
            # Each issuance: the year alone (cached after the first), then the enterprise and the voucher
            # in one bulk read; an absent voucher is not read again (before: two cold loads in a row).
            assert [len(ids) for ids in asked] == [2, 2]
            assert len(reads) <= 1, reads
    finally:
        cold.close()
