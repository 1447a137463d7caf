"""A rebuild split across two processes (projections/runner.py REBUILD_GROUPS) writes the tables a serial one writes.

On PostgreSQL the rebuild replays the log in two processes at once, one group of read models each,
each group with its own tracking row (issue 21). The groups must not read each other's tables, and
the second group's tracking row must be gone before the swap: every table, row for row, and the
tracking position are compared with a serial rebuild's and with the live models caught up page by page.
On SQLite (one writer) the rebuild stays serial whatever is asked; the comparison holds all the same.
"""

from __future__ import annotations

from typing import Any

from projections import runner
from tests.audit_support import build


def _tables(views: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, in a fixed order; and every tracking row."""
    dump = {name: sorted((tuple(row.values()) for row in views.store.query(f"SELECT * FROM {name}")), key=repr)
            for name in views.store.table_names()}
    tracking = views.store.tracking_table_name if views.store.dialect == "postgres" else "tracking"
    dump["tracking"] = sorted(tuple(row.values()) for row in views.store.query(f"SELECT * FROM {tracking}"))
    return dump


def test_the_groups_hold_every_read_model_once() -> None:
    grouped = [model for group in runner.REBUILD_GROUPS for model in group]
    assert sorted(model.name for model in grouped) == sorted(model.name for model in runner.READ_MODELS)
    assert len(grouped) == len(runner.READ_MODELS)


def test_a_rebuild_in_two_processes_writes_the_serial_rebuilds_tables(scenario: Any, views: Any) -> None:
    build(scenario)
    views.catch_up()
    live = _tables(views)
    # Both groups have rows to compare: the trace index, history and settlement; the chain and the contracts.
    for table in ("vl_trace", "vl_trace_facts", "vl_year_history", "vl_claims", "vl_vouchers", "vl_audit_chain",
                  "vl_contracts", "vl_enterprises"):
        assert live[table], table

    serial = views.rebuild(page_size=7, processes=1)
    assert _tables(views) == live

    assert views._in_groups(2) is (views.app.store.backend == "postgres")  # the two processes, where they run
    parallel = views.rebuild(page_size=7, processes=2)
    assert parallel == serial == views.app.recorder.max_notification_id()
    assert _tables(views) == live
    assert views.position == views.app.recorder.max_notification_id()
