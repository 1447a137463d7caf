"""A server without a follower of its own, beside `voucher-ledger projections run` (docs/deployment.md).

Its queries bring the read models to the position they need (read-your-writes). When the follower
process has already got there, one read of the views' position answers: the server must not read and
decode the log's page only to have its apply refused (issue 21: queries behind a separate follower).
"""

from __future__ import annotations

from typing import Any

from ledger.money import yuan
from service.bootstrap import open_ledger, open_views
from tests.support import Scenario


def _counting(recorder: Any, name: str) -> list[Any]:
    """Calls of one of the recorder's reads from here on (a spy: the real recorder still answers)."""
    calls: list[Any] = []
    real = getattr(recorder, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(recorder, name, counted)
    return calls


def test_a_query_behind_the_follower_process_reads_no_log(store, ledger, clock):
    scenario = Scenario(ledger)
    scenario.open_year()
    enterprise, voucher_id = scenario.holder()
    follower = open_views(ledger)  # `projections run`
    server_ledger = open_ledger(store, clock=clock)
    server = open_views(server_ledger, create_table=False)  # `serve --no-projections`
    try:
        follower.catch_up()
        server.ensure(ledger.recorder.max_notification_id())
        provider = scenario.provider()
        scenario.contract(enterprise, voucher_id, provider, scenario.product(provider), yuan(10_000))
        head = ledger.recorder.max_notification_id()
        follower.catch_up()
        pages = _counting(server_ledger.recorder, "select_notifications")
        server.ensure(head)
        assert pages == []  # the follower's position sufficed
        assert server.position == head

        # Ahead of the follower, the server still brings the views there itself (read-your-writes).
        scenario.voucher(scenario.enterprise(("tech_sme",)))
        head = ledger.recorder.max_notification_id()
        server.ensure(head)
        assert pages and server.position == head
    finally:
        server.close()
        server_ledger.close()
        follower.close()
