"""`voucher-ledger bench`: generate a year at a scale, measure, write the JSON report and the table.

Stores: --database-url (an empty store the bench may fill, SQLite or PostgreSQL); else SQLite in
a scratch directory (removed afterwards unless --keep or --workdir), or a throwaway PostgreSQL
cluster started with `scripts/start-postgres --durable` and stopped at the end.

Decision: the throwaway cluster keeps PostgreSQL's durable defaults (fsync, synchronous commit,
full page writes), unlike the test cluster. A ledger of public funds runs that way, the baselines in
EVENTSOURCING.md were measured that way, and with fsync off the insert floor measures round trips
only. The report's meta records the settings of whichever server was measured (`durability`).
"""

from __future__ import annotations

import gc
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from contextlib import contextmanager

from bench import report as reporting
from bench import timing
from bench.floor import (
    decoded_read_rate, durability, insert_rate, library_batch_save_rate, library_save_rate, library_streams_save_rate,
    log_read_rate, point_read_latency,
)
from bench.plan import Plan, Sizes
from bench.timing import stage
from ledger.persistence import Store, parse_database_url

# The checkout it measures is the working directory (scripts/bench runs from the repository root): its
# scripts/start-postgres starts the throwaway cluster, and its commit is recorded in the report.
REPO = Path.cwd()


@dataclass
class Options:
    """What to run; the defaults are the full harness at 1% of the design size on SQLite."""

    scale: float = 0.01
    backend: str = "sqlite"
    database_url: str | None = None
    output: str = "bench-results"
    workdir: str | None = None
    samples: int = 300
    query_samples: int = 300
    seed: int = 7
    skip_http: bool = False
    skip_audit: bool = False
    skip_views: bool = False
    skip_close: bool = False
    keep: bool = False
    quiet: bool = False
    command_line: str = ""
    save_world: str | None = None  # pickle the generated year here, so later runs can skip generation
    world: str | None = None  # a year pickled by --save-world; the store must hold exactly that year
    generate_only: bool = False
    pages_only: bool = False  # with --world: only the console pages' stage (issue 19)
    skip_pages: bool = False
    page_repetitions: int = 3
    page_roles: tuple[str, ...] | None = None  # None: every role that may open each page
    skipped: list[str] = field(default_factory=list)


@contextmanager
def scratch_store(options: Options) -> Iterator[Store]:
    """The store the bench fills: given, or made for the run and removed afterwards."""
    if options.database_url:
        store = parse_database_url(options.database_url)
        if store.backend != options.backend:
            raise SystemExit(f"--database-url is a {store.backend} URL but --backend is {options.backend}")
        yield store
        return
    if options.backend == "sqlite":
        workdir = options.workdir or tempfile.mkdtemp(prefix="vl-bench-")
        os.makedirs(workdir, exist_ok=True)
        try:
            yield parse_database_url(f"sqlite:///{os.path.abspath(workdir)}/ledger.db")
        finally:
            if not options.keep and not options.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        return
    cluster = tempfile.mkdtemp(prefix="vl-bench-pg-")
    try:
        stage("启动临时 PostgreSQL starting a throwaway PostgreSQL cluster")
        admin = subprocess.run([str(REPO / "scripts" / "start-postgres"), "--durable", cluster], check=True, text=True,
                               stdout=subprocess.PIPE).stdout.strip().splitlines()[-1]
        yield parse_database_url(admin)
    finally:
        if not options.keep:
            subprocess.run([str(REPO / "scripts" / "start-postgres"), "--stop", cluster], check=False)
        else:
            sys.stderr.write(f"PostgreSQL cluster kept in {cluster} (stop: scripts/start-postgres --stop {cluster})\n")


def _phase(report: dict[str, Any], name: str, run: Callable[[], Any]) -> Any:
    """Run one measured phase; a failure is recorded in the report rather than losing the run."""
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - the report says what failed; the other phases still run
        traceback.print_exc()
        report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return None
    report[name] = result
    return result


def run(options: Options) -> dict[str, Any]:
    from bench import app_commands, generate, views_bench
    from bench.material import Material
    from bench.world import Driver
    from ledger.business_date import BusinessClock
    from service.bootstrap import open_ledger

    timing.QUIET = options.quiet
    year = BusinessClock.from_environ()().year  # the business date's year: money moves inside its window
    sizes = Sizes.at(options.scale)
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    report: dict[str, Any] = {"meta": _meta(options, sizes, started_at, year)}
    with scratch_store(options) as store:
        app = open_ledger(store)  # as `voucher-ledger` and the web app open it (service/bootstrap.py)
        report["meta"]["durability"] = durability(store)  # after the recorder set its journal mode
        try:
            if options.world:
                world, report["generation"] = _load_world(app, options, report)
                year = world.year
            else:
                if app.recorder.max_notification_id():
                    raise SystemExit("基准测试需要空库 / the bench needs an empty store: "
                                     f"{store.url} already holds events")
                report["floor"] = {"insert_before_generation": insert_rate(store)}
                began = time.perf_counter()
                world, phases = generate.generate(app, sizes, year, seed=options.seed)
                seconds = time.perf_counter() - began
                events = app.recorder.max_notification_id() or 0
                report["generation"] = _generation(world, phases, seconds, events)
                if options.save_world:
                    _save_world(options.save_world, world, report)
                if options.generate_only:
                    report["meta"]["events"] = events
                    return report
            if options.pages_only:
                material = Material(Driver(app, world), Plan(options.seed + 1))
                _phase(report, "pages", lambda: _pages(options, store, material))
                options.skipped += ["projections", "app_commands", "http", "audit", "year_close"]
                report["meta"]["events"] = app.recorder.max_notification_id() or 0
                return _finish(report, options)
            # The bench's records of the year live to the end: out of the collector's full passes, whose
            # pauses would otherwise be timed as the latency of whatever request was in flight.
            gc.collect()
            gc.freeze()
            plan = Plan(options.seed + 1)
            material = Material(Driver(app, world), plan)
            # The insert floor in rounds around and between the command series (the disk and the other
            # tenants of the machine drift); its median is what the commands are compared with.
            rounds: list[float] = []
            floor_round = lambda: rounds.extend(insert_rate(store, rounds=2)["rounds"])  # noqa: E731
            # The read models first: the commands then run on a process warmed from them as `serve` warms
            # itself on start (projections/storage/warmup.py), as a running server is; without them, cold.
            if options.skip_views:
                options.skipped.append("projections")
            else:
                _phase(report, "projections", lambda: views_bench.measure(app))
                report["warm_cache"] = views_bench.warm(app, year)
            _phase(report, "app_commands", lambda: app_commands.measure(material, options.samples, floor_round))
            if not rounds:
                floor_round()
            report["floor"]["insert"] = {"ops_per_s": round(statistics.median(rounds), 1), "rounds": rounds,
                                         "driver": report["floor"]["insert_before_generation"]["driver"]}
            report["floor"]["log_read"] = log_read_rate(app)
            report["floor"]["point_read"] = point_read_latency(store, app)
            report["floor"]["library_save"] = library_save_rate(store)
            report["floor"]["library_streams_save"] = library_streams_save_rate(store)
            report["floor"]["library_batch_save"] = library_batch_save_rate(store)
            report["floor"]["decoded_read"] = decoded_read_rate(app)
            if options.skip_http:
                options.skipped.append("http")
            else:
                try:
                    _http(report, options, store, material, plan)
                except Exception as exc:  # noqa: BLE001 - e.g. the server did not start: say so, go on
                    traceback.print_exc()
                    for section in ("http_commands", "http_queries", "audit"):
                        report.setdefault(section, {"error": f"{type(exc).__name__}: {exc}"})
            if options.skip_pages or options.skip_http:
                options.skipped.append("pages")
            else:  # before the close: the year-end warning is a page of the open year
                _phase(report, "pages", lambda: _pages(options, store, material))
            if options.skip_close:
                options.skipped.append("year_close")
            else:
                _phase(report, "year_close",
                       lambda: views_bench.close_year(app, year, material.driver.actor("operator")))
            report["meta"]["events"] = app.recorder.max_notification_id() or 0
        finally:
            app.close()
    return _finish(report, options)


def _finish(report: dict[str, Any], options: Options) -> dict[str, Any]:
    report["meta"]["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    report["meta"]["load_average_end"] = list(os.getloadavg())
    report["meta"]["skipped"] = options.skipped
    reporting.add_ratios(report)
    report["targets"] = reporting.targets(report)  # issue 21's
    report["targets_issue7"] = reporting.targets_issue7(report)
    report["targets_issue19"] = reporting.targets_issue19(report)
    return report


def _pages(options: Options, store: Store, material: Any) -> dict[str, Any]:
    """Issue 19: the console's pages in headless Chromium, on a server writing its access log."""
    from bench import http_bench, pages
    from bench.server import Server

    os.makedirs(options.output, exist_ok=True)
    access = os.path.join(options.output, "bench-pages-access.log")
    if os.path.exists(access):
        os.remove(access)
    tokens = http_bench.Tokens(material)
    stage("启动服务 voucher-ledger serve for the console pages")
    with Server(store.url, os.path.join(options.output, "bench-server.log"), access_log=access) as server:
        return pages.measure(f"http://127.0.0.1:{server.port}", access, material.world, tokens,
                             repetitions=options.page_repetitions, roles=options.page_roles)


def _http(report: dict[str, Any], options: Options, store: Store, material: Any, plan: Plan) -> None:
    from bench import http_bench

    log = os.path.join(options.output, "bench-server.log")
    os.makedirs(options.output, exist_ok=True)
    tokens = http_bench.Tokens(material)
    from bench import http_floor

    stage("HTTP 栈底线 the HTTP stack's floor: a bare Flask app under waitress")
    report["floor"]["http_stack"] = http_floor.measure(options.query_samples)
    if store.backend == "postgres":
        from bench.server import Follower

        # docs/deployment.md: servers without their own follower, and one `projections run` for them all.
        report["meta"]["http_topology"] = "serve --no-projections + projections run"
        with Follower(store.url, log) as follower:
            paths = _http_served(report, options, store, material, tokens, log, follow=False)
            follower.check()
            _audit(report, options, store, material, tokens, log, paths, follow=False)
            follower.check()
    else:
        report["meta"]["http_topology"] = "serve (its own follower thread)"
        paths = _http_served(report, options, store, material, tokens, log, follow=True)
        _audit(report, options, store, material, tokens, log, paths, follow=True)


def _http_served(report: dict[str, Any], options: Options, store: Store, material: Any, tokens: Any,
                 log: str, follow: bool) -> set[str]:
    from bench import http_bench
    from bench.server import Client, Server

    stage("启动服务 starting voucher-ledger serve (waitress)")
    with Server(store.url, log, follow=follow) as server:
        client = Client(server.port)
        try:
            report["floor"]["http_healthz"] = http_bench.healthz(client, options.query_samples)
            paths = http_bench.openapi_paths(client)
            _phase(report, "http_commands", lambda: http_bench.commands(client, material, tokens, options.samples))
            _phase(report, "http_queries", lambda: http_bench.queries(
                client, material, tokens, options.query_samples, paths, random.Random(options.seed)))
        finally:
            client.close()
        # Issue 21: 8 clients on 2 server processes on PostgreSQL; SQLite has one writer, so one process.
        if store.backend == "postgres":
            stage("启动第二个服务进程 a second voucher-ledger serve process")
            with Server(store.url, log, follow=follow) as second:
                _phase(report, "http_concurrent",
                       lambda: http_bench.concurrent([server, second], material, tokens, options.samples))
        else:
            _phase(report, "http_concurrent", lambda: http_bench.concurrent([server], material, tokens,
                                                                            options.samples))
    return paths


def _audit(report: dict[str, Any], options: Options, store: Store, material: Any, tokens: Any, log: str,
           paths: set[str], follow: bool) -> None:
    from bench import audit
    from bench.server import Client, Server

    auditor = tokens("auditor")
    if options.skip_audit:
        options.skipped.append("audit")
        return
    if audit.EXPORT_PATH not in paths and audit.VERIFY_PATH not in paths:
        report["audit"] = {"skipped": "no /api/v1/export or /api/v1/audit/verify route on this server"}
        return
    stage("启动新服务进程以测导出内存 fresh server for the export's memory")
    events = material.driver.app.recorder.max_notification_id() or 0
    report["audit"] = {}
    with Server(store.url, log, follow=follow) as server:
        client = Client(server.port)
        try:
            if audit.EXPORT_PATH in paths:
                _phase(report["audit"], "export", lambda: audit.export(server, client, auditor, events))
            else:
                report["audit"]["export"] = {"skipped": "no /api/v1/export route"}
            if audit.VERIFY_PATH in paths:
                _phase(report["audit"], "verify", lambda: audit.verify(client, auditor))
            else:
                report["audit"]["verify"] = {"skipped": "no /api/v1/audit/verify route"}
        finally:
            client.close()


def _save_world(path: str, world: Any, report: dict[str, Any]) -> None:
    """Keep what the measurements need from a generation (an hour at scale 1 on PostgreSQL).

    Reuse needs the store as it was right after generation: copy the SQLite files, or on PostgreSQL
    `CREATE DATABASE measured TEMPLATE generated`, because the measurements add commands and close the year.
    """
    import pickle

    with open(path, "wb") as handle:
        pickle.dump({"world": world, "generation": report["generation"], "meta": report["meta"],
                     "floor_before_generation": report["floor"]["insert_before_generation"]}, handle)
    stage(f"已保存生成结果 generated year saved to {path}")


def _load_world(app: Any, options: Options, report: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import pickle

    with open(options.world, "rb") as handle:
        saved = pickle.load(handle)
    events = app.recorder.max_notification_id() or 0
    generated = saved["generation"]["events"]
    # The pages stage only reads (and issues credentials): a copy it measured before, read models built
    # by that run's server, serves again without rebuilding them.
    if options.pages_only and events > generated:
        stage(f"页面阶段复用已测副本 {events - generated:,} events past generation (credentials): reading only")
    elif events != generated:
        raise SystemExit(f"{options.world} describes a store of {generated} events but the store "
                         f"holds {events}: reuse a copy of the store as it was right after generation")
    if saved["meta"]["scale"] != options.scale:
        raise SystemExit(f"{options.world} was generated at --scale {saved['meta']['scale']}, not {options.scale}")
    report["floor"] = {"insert_before_generation": saved["floor_before_generation"]}
    report["meta"]["generated_by"] = {k: saved["meta"].get(k) for k in ("command", "git_commit", "started_at")}
    generation = dict(saved["generation"], reused_from=os.path.abspath(options.world))
    return saved["world"], generation


def _generation(world: Any, phases: dict, seconds: float, events: int) -> dict[str, Any]:
    from collections import Counter

    return {
        "seconds": round(seconds, 2), "commands": world.commands, "events": events,
        "commands_per_s": round(world.commands / seconds, 1) if seconds else 0.0,
        "events_per_s": round(events / seconds, 1) if seconds else 0.0,
        "vouchers": len(world.vouchers), "enterprises": len(world.enterprises),
        "providers_signed": len(world.providers), "products_listed": len(world.products),
        "contracts": len(world.contracts), "contracts_by_status": dict(Counter(c.status for c in world.contracts)),
        "batches": len(world.batches), "cases": len(world.cases), "refusals": dict(world.refusals),
        "phases": phases,
    }


def _meta(options: Options, sizes: Sizes, started_at: str, year: int) -> dict[str, Any]:
    import eventsourcing
    import psycopg

    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "scale": options.scale, "backend": options.backend, "year": year, "started_at": started_at,
        "command": options.command_line, "sizes": sizes.__dict__, "events": 0, "seed": options.seed,
        "samples": options.samples, "query_samples": options.query_samples,
        "python": platform.python_version(), "eventsourcing": getattr(eventsourcing, "__version__", "9.5.x"),
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})", "cpus": os.cpu_count(),
        "load_average_start": list(os.getloadavg()), "git_commit": commit, "host": platform.node(),
    }


def main(options: Options) -> int:
    report = run(options)
    if options.generate_only:
        g = report["generation"]
        print(f"已生成 generated {g['events']:,} events in {g['seconds']:,.0f} s; "
              f"measure with --world {options.save_world} on a copy of the store")
        return 0
    path = reporting.write(report, options.output)
    print(reporting.table(report))
    print(f"报告 report: {path}")
    return 0
