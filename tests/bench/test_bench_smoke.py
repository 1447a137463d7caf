"""The bench harness at a tiny scale, so it cannot rot (issue 7). Benchmarks never run in the suite.

One run on each backend: generation through the commands, the floor, the measured commands
in-process and over HTTP against a real `voucher-ledger serve` process, the queries, the read
models' catch-up and rebuild, the audit routes if the server has them, and the year close.
Each run takes about ten seconds (well under the 30 s budget); the time is not asserted, since a
loaded CI machine would make that flaky.
"""

from __future__ import annotations

import pytest

import json
from typing import Any

from bench import report as reporting
from bench.run import Options, run
from ledger.persistence import Store

pytestmark = pytest.mark.slow  # generates and measures a year (scripts/test --fast skips it)

SCALE = 0.0003  # 10 vouchers, 4 providers, 60 contracts: the smallest year the plan makes


def positive(node: Any, path: str, *keys: str) -> None:
    assert isinstance(node, dict), f"{path}: missing ({node!r})"
    assert "error" not in node, f"{path}: {node['error']}"
    for key in keys:
        assert isinstance(node.get(key), (int, float)) and node[key] > 0, f"{path}.{key} = {node.get(key)!r}"


def test_bench_reports_every_section_with_positive_figures(store: Store, tmp_path: Any) -> None:
    options = Options(scale=SCALE, backend=store.backend, database_url=store.url, output=str(tmp_path / "results"),
                      samples=8, query_samples=8, quiet=True, command_line="pytest smoke",
                      skip_pages=True)  # Chromium's page stage has its own test (tests/browser/test_page_bounds.py)
    report = run(options)

    # Floor of the same run.
    positive(report["floor"]["insert"], "floor.insert", "ops_per_s")
    positive(report["floor"]["log_read"], "floor.log_read", "rows_per_s", "rows")
    positive(report["floor"]["point_read"], "floor.point_read", "p50_ms", "p99_ms")
    positive(report["floor"]["library_save"], "floor.library_save", "ops_per_s")
    positive(report["floor"]["library_batch_save"], "floor.library_batch_save", "events_per_s", "batch")
    for streams in ("2", "3"):
        positive(report["floor"]["library_streams_save"][streams], f"floor.library_streams_save.{streams}", "ops_per_s")
    positive(report["floor"]["decoded_read"], "floor.decoded_read", "rows_per_s", "rows")
    positive(report["floor"]["http_healthz"], "floor.http_healthz", "p50_ms", "p99_ms")
    positive(report["floor"]["http_stack"], "floor.http_stack", "p50_ms", "p99_ms")  # bare Flask + waitress
    # PostgreSQL is measured as docs/deployment.md deploys it: servers without a follower, and one follower.
    assert report["meta"]["http_topology"] == ("serve --no-projections + projections run"
                                               if store.backend == "postgres" else "serve (its own follower thread)")
    durable = report["meta"]["durability"]["durable"]
    assert durable is True or durable is False
    # A year went through the commands, settlement batches and sanctions included.
    generation = report["generation"]
    positive(generation, "generation", "commands", "events", "vouchers", "contracts", "batches", "cases")
    assert generation["contracts_by_status"].get("settled", 0) > 0
    assert report["meta"]["events"] >= generation["events"]
    # Commands in-process and over HTTP: rate, latency, and the ratio to the floor.
    for section in ("app_commands", "http_commands"):
        for name in ("issue_voucher", "sign_contract", "complete_contract"):
            figure = report[section][name]
            positive(figure, f"{section}.{name}", "count", "ops_per_s", "p50_ms", "p99_ms", "x_floor")
            if section == "app_commands":
                positive(figure, f"{section}.{name}", "x_library_save", "x_library_streams_save", "streams_written")
            assert "errors" not in figure, f"{section}.{name} refused: {figure['errors']}"
    for kind in ("voucher", "enterprise_balance", "provider_totals", "year_totals", "contract"):
        positive(report["http_queries"][kind], f"http_queries.{kind}", "p50_ms", "p99_ms", "p99_x_floor",
                 "x_http_stack_p50")
        assert "errors" not in report["http_queries"][kind]
    trace = report["http_queries"]["contract_trace"]
    if "skipped" not in trace:
        positive(trace, "http_queries.contract_trace", "p50_ms", "p99_ms")
    for name in ("catch_up", "rebuild"):
        positive(report["projections"][name], f"projections.{name}", "events", "events_per_s", "x_floor",
                 "x_decoded_read")
    audit = report["audit"]
    if "skipped" not in audit:  # the server has the audit routes: both must answer
        positive(audit["export"], "audit.export", "events", "events_per_s", "peak_rss_mb", "x_floor")
        assert audit["export"]["events"] >= generation["events"]
        # The peak is the export's own (VmHWM reset before it), at least the server's size as it began.
        assert audit["export"]["peak_rss_since"] == "export"
        assert audit["export"]["peak_rss_mb"] >= audit["export"]["rss_before_mb"] > 0
        positive(audit["verify"], "audit.verify", "checked", "events_per_s")
        assert audit["verify"]["ok"] is True
    positive(report["year_close"], "year_close", "vouchers", "seconds", "events_read", "events_saved",
             "library_floor_s", "x_library_floor")
    # The targets are listed, and the report and table are written.
    concurrent = report["http_concurrent"]
    positive(concurrent, "http_concurrent", "count", "ops_per_s", "x_one_client")
    assert concurrent["servers"] == (2 if store.backend == "postgres" else 1)
    assert concurrent["lag"]["samples"] > 0
    assert concurrent.get("conflicts") == 0  # issuance takes turns on the year's budget (ledger/commands/base.py)
    assert {t["target"] for t in report["targets"]} >= {"sign_contract (app) ÷ library one-event save",
                                                        "catch-up lag under HTTP load", "export peak RSS"}
    assert {t["target"] for t in report["targets_issue7"]} >= {"sign contract (app) ÷ insert floor",
                                                               "projection catch-up ÷ log read"}
    path = reporting.write(report, options.output)
    assert json.load(open(path, encoding="utf-8"))["meta"]["backend"] == store.backend
    assert "sign_contract" in reporting.table(report) and "one-event save" in reporting.table(report)
    assert ("持久提交 durable commits" if durable else "commits not durable") in reporting.table(report)


def test_a_saved_year_is_measured_again_without_generating_it(tmp_path: Any) -> None:
    """--save-world / --world: generation (an hour at scale 1) once, measurements on copies of the store."""
    import shutil

    generated, copy = tmp_path / "generated", tmp_path / "copy"
    generated.mkdir()
    copy.mkdir()
    world = str(tmp_path / "world.pickle")
    first = run(Options(scale=SCALE, database_url=f"sqlite:///{generated}/ledger.db", save_world=world,
                        generate_only=True, quiet=True))
    assert "app_commands" not in first and first["generation"]["events"] > 0
    shutil.copy(generated / "ledger.db", copy / "ledger.db")
    again = run(Options(scale=SCALE, database_url=f"sqlite:///{copy}/ledger.db", world=world, samples=4,
                        query_samples=4, skip_http=True, skip_close=True, quiet=True))
    assert again["generation"]["events"] == first["generation"]["events"]
    assert again["generation"]["reused_from"] == world
    positive(again["app_commands"]["sign_contract"], "app_commands.sign_contract", "count", "ops_per_s")
    positive(again["projections"]["rebuild"], "projections.rebuild", "events")
    # The copy has moved on (measured commands): it no longer matches the saved year, and is refused.
    try:
        run(Options(scale=SCALE, database_url=f"sqlite:///{copy}/ledger.db", world=world, quiet=True))
    except SystemExit as refusal:
        assert "right after generation" in str(refusal)
    else:
        raise AssertionError("a store that moved on since generation was measured as if it had not")


def test_reuse_options_that_cannot_work_are_refused_before_anything_runs(tmp_path: Any) -> None:
    import pytest

    from bench.__main__ import main

    store = f"sqlite:///{tmp_path}/ledger.db"
    for argv, said in ((["--generate-only"], "--save-world"),
                       (["--world", str(tmp_path / "missing.pickle"), "--database-url", store], "not found"),
                       (["--world", __file__], "--database-url"),
                       (["--world", __file__, "--save-world", "x", "--database-url", store], "reuses a year"),
                       (["--pages-only"], "--world")):
        with pytest.raises(SystemExit) as refused:
            main(["--scale", "0.0003", *argv])
        assert said in str(refused.value)
    assert not (tmp_path / "ledger.db").exists()  # nothing was generated or measured
