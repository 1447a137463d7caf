"""The bench's report: one JSON document, and a short table for the terminal.

Every figure carries its ratio against the floor measured in the same run (`x_floor`):
throughputs divided by the floor's rate, latencies divided by the floor's latency (so a smaller
ratio is better for latencies, a larger one for rates).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

# Issue 7's targets (PostgreSQL, 2 cores), kept in the JSON as `targets_issue7`.
HTTP_P99_MS = 10.0
TRACE_P99_MS = 25.0
CLOSE_SECONDS_FOR_20000 = 15.0
RSS_MB = 150.0

# Issue 21's targets, restated against the library's own floors (PostgreSQL, durable commits, scale 1).
SAVE_SHARE = {"sign_contract": 0.8, "issue_voucher": 0.9, "complete_contract": 0.9}  # × one-event save
HTTP_SHARE_OF_APP = 0.6  # each HTTP command, one client in sequence, × the same command in the application
QUERY_P50_MS = 1.0
QUERY_P99_MS = 5.0
QUERY_KINDS = ("voucher", "enterprise_balance", "provider_totals", "year_totals")  # voucher, balance, totals
TRACE_P99_MS_21 = 10.0
CONCURRENT_SPEEDUP = 1.5  # 8 clients on 2 server processes × one client
REBUILD_SHARE = 0.25  # × the library's decoded log read
LAG_SECONDS = 1.0
EXPORT_SHARE = 0.6  # × raw log read
VERIFY_SHARE = 0.4  # × raw log read
CLOSE_SECONDS_21 = 5.0
# The aggregates each measured command saves in its one transaction (ledger/commands/): the library's save of
# that many events on that many streams is the floor the command hits (bench/floor.py library_streams_save).
STREAMS_WRITTEN = {"issue_voucher": 2, "sign_contract": 3, "complete_contract": 3}

# Issue 19's targets at scale 0.1 (bench/pages.py): every list page answers under 300 ms, no page over 10,000 px.
PAGE_MS = 300.0
PAGE_HEIGHT_PX = 10_000


def _get(report: dict, path: str) -> Any:
    node: Any = report
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def add_ratios(report: dict[str, Any]) -> None:
    """Put `x_floor` beside every figure, against the matching floor of this run."""
    insert = _get(report, "floor.insert.ops_per_s") or 0
    log_read = _get(report, "floor.log_read.rows_per_s") or 0
    point = _get(report, "floor.point_read") or {}
    healthz = _get(report, "floor.http_healthz") or {}
    stack = _get(report, "floor.http_stack") or {}  # bench/http_floor.py: Flask + waitress, no database

    def rate(figure: dict | None, key: str, floor: float, against: str) -> None:
        if isinstance(figure, dict) and figure.get(key) and floor:
            figure["x_floor"] = round(figure[key] / floor, 3)
            figure["floor"] = against

    for section in ("app_commands", "http_commands"):
        for figure in (_get(report, section) or {}).values():
            rate(figure, "ops_per_s", insert, "insert")
            _latency(figure, point, "point_read")
    for name in ("catch_up", "rebuild"):
        rate(_get(report, f"projections.{name}"), "events_per_s", log_read, "log_read")
    # Against the library's own floors: how much of the cost is ours (not what the targets are stated in).
    library_save = _get(report, "floor.library_save.ops_per_s") or 0
    decoded_read = _get(report, "floor.decoded_read.rows_per_s") or 0
    for name in ("issue_voucher", "sign_contract", "complete_contract"):
        figure = _get(report, f"app_commands.{name}")
        if isinstance(figure, dict) and figure.get("ops_per_s") and library_save:
            figure["x_library_save"] = round(figure["ops_per_s"] / library_save, 3)
    for name, streams in STREAMS_WRITTEN.items():
        figure = _get(report, f"app_commands.{name}")
        floor = _get(report, f"floor.library_streams_save.{streams}.ops_per_s")
        if isinstance(figure, dict) and figure.get("ops_per_s") and floor:
            figure["x_library_streams_save"] = round(figure["ops_per_s"] / floor, 3)
            figure["streams_written"] = streams
    for name in ("catch_up", "rebuild"):
        figure = _get(report, f"projections.{name}")
        if isinstance(figure, dict) and figure.get("events_per_s") and decoded_read:
            figure["x_decoded_read"] = round(figure["events_per_s"] / decoded_read, 3)
    for name in ("issue_voucher", "sign_contract", "complete_contract"):
        http, app = _get(report, f"http_commands.{name}"), _get(report, f"app_commands.{name}")
        if isinstance(http, dict) and isinstance(app, dict) and http.get("ops_per_s") and app.get("ops_per_s"):
            http["x_app"] = round(http["ops_per_s"] / app["ops_per_s"], 3)
    rate(_get(report, "audit.export"), "events_per_s", log_read, "log_read")
    rate(_get(report, "audit.verify"), "events_per_s", log_read, "log_read")
    rate(_get(report, "year_close"), "vouchers_per_s", insert, "insert")
    _close_library_floor(report, decoded_read, _get(report, "floor.library_batch_save.events_per_s") or 0)
    rate(_get(report, "generation"), "commands_per_s", insert, "insert")
    for figure in (_get(report, "http_queries") or {}).values():
        _latency(figure, point, "point_read")
        if isinstance(figure, dict) and healthz.get("p50_ms") and figure.get("p50_ms"):
            figure["x_healthz_p50"] = round(figure["p50_ms"] / healthz["p50_ms"], 2)
        if isinstance(figure, dict) and stack.get("p50_ms") and figure.get("p50_ms"):
            figure["x_http_stack_p50"] = round(figure["p50_ms"] / stack["p50_ms"], 2)
    export = _get(report, "audit.export")
    if isinstance(export, dict) and export.get("rss_before_mb"):
        export["peak_rss_x_idle"] = round(export["peak_rss_mb"] / export["rss_before_mb"], 2)


def _close_library_floor(report: dict[str, Any], decoded_read: float, batch_save: float) -> None:
    """The year close against what the library alone would take for the same work: decode every event the
    close read, at its decoded log read rate, and save every event it wrote, at its batch save rate.

    What the close decoded is what this run's process had to: a voucher not in its cache, or whose snapshot it
    has not checked yet, is read whole (ledger/cache.py), so in a fresh process the floor grows with the
    year's events per voucher, not only with the vouchers; a warmer process decodes less.
    """
    close = _get(report, "year_close")
    if not isinstance(close, dict) or not decoded_read or not batch_save or not close.get("seconds"):
        return
    if close.get("events_read") is None or close.get("events_saved") is None:
        return  # a report from before the close counted its events
    floor_s = close["events_read"] / decoded_read + close["events_saved"] / batch_save
    close["library_floor_s"] = round(floor_s, 3)
    close["x_library_floor"] = round(floor_s / close["seconds"], 3)
    close["library_floor_s_per_20000_vouchers"] = (round(floor_s * 20_000 / close["vouchers"], 2)
                                                   if close.get("vouchers") else None)


def _latency(figure: Any, floor: dict, against: str) -> None:
    if not isinstance(figure, dict) or not floor.get("p50_ms") or "p50_ms" not in figure:
        return
    figure["p50_x_floor"] = round(figure["p50_ms"] / floor["p50_ms"], 1)
    figure["p99_x_floor"] = round(figure["p99_ms"] / max(floor["p99_ms"], 1e-9), 1)
    figure["latency_floor"] = against


def _checker(checks: list[dict[str, Any]]) -> Callable[..., None]:
    """`check(name, value, bound, at_least, unit, rule=None, why=None)` appends one target's verdict:
    met True/False, or None (n/a) when the run has no value for it (`why` says so)."""

    def check(name: str, value: Any, bound: float, at_least: bool, unit: str, rule: str | None = None,
              why: str | None = None) -> None:
        rule = rule or (">=" if at_least else "<=")
        if value is None:
            checks.append({"target": name, "value": None, "bound": bound, "met": None, "unit": unit, "rule": rule,
                           **({"why": why} if why else {})})
            return
        met = {">=": value >= bound, "<=": value <= bound, "<": value < bound}[rule]
        checks.append({"target": name, "value": value, "bound": bound, "met": met, "unit": unit, "rule": rule})

    return check


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 21's targets, checked against this run: ratios to the library's floors taken in the same run.

    They are stated for PostgreSQL with durable commits at scale 1; at other scales or on SQLite the
    verdicts are indicative. The two-process throughput target is n/a on SQLite (one server process).
    """
    checks: list[dict[str, Any]] = []
    check = _checker(checks)
    for name, share in SAVE_SHARE.items():
        check(f"{name} (app) ÷ library one-event save", _get(report, f"app_commands.{name}.x_library_save"), share,
              True, "ratio")
    for name in SAVE_SHARE:
        check(f"HTTP {name} (1 client) ÷ app", _get(report, f"http_commands.{name}.x_app"), HTTP_SHARE_OF_APP, True,
              "ratio")
    for kind in QUERY_KINDS:
        check(f"HTTP p50 {kind}", _get(report, f"http_queries.{kind}.p50_ms"), QUERY_P50_MS, False, "ms")
        check(f"HTTP p99 {kind}", _get(report, f"http_queries.{kind}.p99_ms"), QUERY_P99_MS, False, "ms")
    check("HTTP p99 contract_trace", _get(report, "http_queries.contract_trace.p99_ms"), TRACE_P99_MS_21, False, "ms")
    concurrent = _get(report, "http_concurrent") or {}
    processes = concurrent.get("servers") if isinstance(concurrent, dict) else None
    check("HTTP 8 clients on 2 processes ÷ 1 client",
          concurrent.get("x_one_client") if processes == 2 else None, CONCURRENT_SPEEDUP, True, "ratio",
          why=None if processes == 2 else "one server process on SQLite" if processes == 1 else None)
    check("HTTP 8 clients: client-visible conflicts", concurrent.get("conflicts"), 0, False, "count")
    check("projection rebuild ÷ library decoded read", _get(report, "projections.rebuild.x_decoded_read"),
          REBUILD_SHARE, True, "ratio")
    check("catch-up lag under HTTP load", _get(report, "http_concurrent.lag.max_seconds"), LAG_SECONDS, False, "s")
    check("export ÷ raw log read", _get(report, "audit.export.x_floor"), EXPORT_SHARE, True, "ratio")
    check("export peak RSS", _get(report, "audit.export.peak_rss_mb"), RSS_MB, False, "MB", rule="<")
    check("chain verify ÷ raw log read", _get(report, "audit.verify.x_floor"), VERIFY_SHARE, True, "ratio")
    check("year close, s per 20,000 vouchers", _close_projection(report), CLOSE_SECONDS_21, False, "s")
    return checks


def targets_issue7(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 7's targets, checked against this run (they are stated for PostgreSQL at scale 1).

    Superseded by issue 21's (`targets`); kept in the JSON so earlier reports compare.
    """
    checks: list[dict[str, Any]] = []
    check = _checker(checks)

    check("sign contract (app) ÷ insert floor", _get(report, "app_commands.sign_contract.x_floor"), 0.60, True, "ratio")
    check("projection catch-up ÷ log read", _get(report, "projections.catch_up.x_floor"), 0.50, True, "ratio")
    check("projection rebuild ÷ log read", _get(report, "projections.rebuild.x_floor"), 0.50, True, "ratio")
    for kind in ("voucher", "enterprise_balance", "provider_totals", "year_totals"):
        check(f"HTTP p99 {kind}", _get(report, f"http_queries.{kind}.p99_ms"), HTTP_P99_MS, False, "ms")
    check("HTTP p99 contract_trace", _get(report, "http_queries.contract_trace.p99_ms"), TRACE_P99_MS, False, "ms")
    check("export ÷ log read", _get(report, "audit.export.x_floor"), 0.40, True, "ratio")
    check("export peak RSS", _get(report, "audit.export.peak_rss_mb"), RSS_MB, False, "MB")
    check("year close, s per 20,000 vouchers", _close_projection(report), CLOSE_SECONDS_FOR_20000, False, "s")
    return checks


def targets_issue19(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 19's targets over the console's list pages (bench/pages.py), every role that sees each:
    the slowest API request a list page makes (p95 server time), the slowest page load in Chromium (p50),
    the tallest list page and the tallest of any page at 1280 and 390 px. n/a when the stage did not run
    (no Chromium, --skip-pages, --skip-http)."""
    checks: list[dict[str, Any]] = []
    check = _checker(checks)
    pages = _get(report, "pages")
    worst = pages.get("worst") if isinstance(pages, dict) else None
    why = None if worst else _why_missing(report, "pages")
    figure = (lambda key: worst.get(key)) if worst else (lambda key: None)  # noqa: E731
    check("every list page: its API requests, p95 server time", figure("api_server_p95_ms"), PAGE_MS, False, "ms",
          rule="<", why=why)
    check("every list page: load in headless Chromium, p50", figure("load_p50_ms"), PAGE_MS, False, "ms", rule="<",
          why=why)
    check("every list page: height at 1280 and 390 px", figure("height_px"), PAGE_HEIGHT_PX, False, "px", why=why)
    check("every page (notices too): height at 1280 and 390 px", figure("height_any_page_px"), PAGE_HEIGHT_PX, False,
          "px", why=why)
    for target, key in zip(checks, ("api_where", "load_where", "height_where", "height_any_where")):
        if worst and worst.get(key):
            target["where"] = worst[key]
    return checks


def _close_projection(report: dict[str, Any]) -> float | None:
    """The year close's seconds scaled to 20,000 vouchers (linear: each chunk is independent)."""
    close = _get(report, "year_close")
    if not isinstance(close, dict) or not close.get("vouchers") or close.get("seconds") is None:
        return None
    close["seconds_per_20000_vouchers"] = round(close["seconds"] * 20_000 / close["vouchers"], 2)
    return close["seconds_per_20000_vouchers"]


def table(report: dict[str, Any]) -> str:
    """A short fixed-width table of the headline figures and the targets."""
    rows: list[tuple[str, str, str]] = []

    def add(label: str, path: str, key: str, unit: str, ratio_key: str = "x_floor") -> None:
        figure = _get(report, path)
        if not isinstance(figure, dict) or figure.get(key) in (None, 0, 0.0):
            rows.append((label, "—", _why_missing(report, path)))
            return
        ratio = figure.get(ratio_key)
        library = figure.get("x_library_save", figure.get("x_decoded_read"))
        rows.append((label, f"{figure[key]:,.1f} {unit}",
                     ("" if ratio is None else f"×{ratio}") + ("" if library is None else f" [×{library}]")))

    meta = report["meta"]
    floor = report["floor"]
    durable = (meta.get("durability") or {}).get("durable")
    commits = {None: "", True: " — 持久提交 durable commits", False: " — 非持久提交 commits not durable"}[durable]
    lines = [f"Voucher Ledger bench — {meta['backend']} scale {meta['scale']} — {meta['events']:,} events — "
             f"{meta['started_at']}{commits}"]
    if "insert" not in floor:  # --pages-only: no floor, only the console's pages
        return "\n".join(lines + pages_table(report))
    lines.append(f"floor: insert {floor['insert']['ops_per_s']:,.0f}/s · log read {floor['log_read']['rows_per_s']:,.0f} rows/s"
                 f" · point read p50 {floor['point_read']['p50_ms']} ms p99 {floor['point_read']['p99_ms']} ms")
    if "library_save" in floor and "decoded_read" in floor:
        multi = floor.get("library_streams_save") or {}
        multi_text = "".join(f" · {n}-stream save {figure['ops_per_s']:,.0f}/s" for n, figure in multi.items()
                             if isinstance(figure, dict) and figure.get("ops_per_s"))
        batch = floor.get("library_batch_save")
        batch_text = (f" · batch save ({batch['batch']} aggregates) {batch['events_per_s']:,.0f} ev/s"
                      if isinstance(batch, dict) and batch.get("events_per_s") else "")
        lines.append(f"library: one-event save {floor['library_save']['ops_per_s']:,.0f}/s · log read decoded "
                     f"{floor['decoded_read']['rows_per_s']:,.0f} rows/s{multi_text}{batch_text} (ratios in brackets)")
    if meta.get("http_topology"):
        lines.append(f"http: {meta['http_topology']}")
    for name, what in (("http_stack", "bare Flask + waitress"), ("http_healthz", "/healthz")):
        figure = floor.get(name)
        if isinstance(figure, dict) and figure.get("p50_ms"):
            lines.append(f"http floor ({what}): p50 {figure['p50_ms']:.2f} p99 {figure['p99_ms']:.2f} ms")
    add("generation (commands)", "generation", "commands_per_s", "cmd/s")
    for section, prefix in (("app_commands", "app"), ("http_commands", "http")):
        for name in ("issue_voucher", "sign_contract", "complete_contract"):
            figure = _get(report, f"{section}.{name}") or {}
            add(f"{prefix} {name}", f"{section}.{name}", "ops_per_s", "ops/s")
            if figure.get("p50_ms"):
                rows[-1] = (rows[-1][0], rows[-1][1] + f"  p50 {figure['p50_ms']:.2f} p99 {figure['p99_ms']:.2f} ms",
                            rows[-1][2] + (f" ×{figure['x_app']} of app" if figure.get("x_app") else "")
                            + (f" ×{figure['x_library_streams_save']} of a {figure['streams_written']}-stream save"
                               if figure.get("x_library_streams_save") else ""))
    for name in ("catch_up", "rebuild"):
        add(f"projection {name}", f"projections.{name}", "events_per_s", "ev/s")
    for kind, figure in (_get(report, "http_queries") or {}).items():
        if isinstance(figure, dict) and "p99_ms" in figure:
            rows.append((f"query {kind}", f"p50 {figure['p50_ms']:.2f} p99 {figure['p99_ms']:.2f} ms",
                         f"×{figure.get('p99_x_floor')} (p99)" + (f"; p50 ×{figure['x_http_stack_p50']} of the "
                                                                 "bare stack" if figure.get("x_http_stack_p50") else "")))
        else:
            rows.append((f"query {kind}", "—", _why_missing(report, f"http_queries.{kind}")))
    concurrent = _get(report, "http_concurrent")
    if isinstance(concurrent, dict) and concurrent.get("ops_per_s"):
        lag = concurrent.get("lag") or {}
        rows.append((f"http {concurrent['clients']} clients / {concurrent['servers']} proc",
                     f"{concurrent['ops_per_s']:,.1f} ops/s  conflicts {concurrent.get('conflicts')}",
                     f"×{concurrent.get('x_one_client')} of 1 client; lag max {lag.get('max_seconds')} s "
                     f"{lag.get('max_events')} ev"))
    elif concurrent is not None:
        rows.append(("http concurrent", "—", _why_missing(report, "http_concurrent")))
    add("chain verify", "audit.verify", "events_per_s", "ev/s")
    add("export", "audit.export", "events_per_s", "ev/s")
    export = _get(report, "audit.export")
    if isinstance(export, dict) and export.get("peak_rss_mb"):
        rows.append(("export peak RSS (VmHWM)", f"{export['peak_rss_mb']:.1f} MB",
                     f"idle {export['rss_before_mb']} MB; peak since {export.get('peak_rss_since', 'server start')}"))
    close = _get(report, "year_close")
    if isinstance(close, dict) and close.get("seconds") is not None:
        rows.append(("year close", f"{close['seconds']:.2f} s for {close.get('vouchers', 0):,} vouchers",
                     f"×{close.get('x_floor')}" + (f" [×{close['x_library_floor']}]" if "x_library_floor" in close
                                                   else "")))
        if "library_floor_s" in close:
            rows.append(("  library floor of the close", f"{close['library_floor_s']:.2f} s: decode "
                         f"{close['events_read']:,} + save {close['events_saved']:,} events",
                         f"{close['library_floor_s_per_20000_vouchers'] or '—'} s per 20,000 vouchers"))
    width = max(len(r[0]) for r in rows)
    lines += [f"  {label:<{width}}  {value:<44} {ratio}" for label, value, ratio in rows]
    lines.append("targets (issue 21, stated for PostgreSQL with durable commits at scale 1):")
    lines += _target_lines(report.get("targets", []))
    return "\n".join(lines + pages_table(report))


def _target_lines(checks: list[dict[str, Any]]) -> list[str]:
    """One line per target: met / MISSED / n/a, the value against its bound, why n/a or where it was worst."""
    lines = []
    for target in checks:
        mark = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        value = "—" if target["value"] is None else target["value"]
        why = f" ({target['why']})" if target.get("why") else f" — {target['where']}" if target.get("where") else ""
        lines.append(f"  {mark:<6} {target['target']}: {value} {target.get('rule', '')} {target['bound']} "
                     f"{target['unit']}{why}")
    return lines


def pages_table(report: dict[str, Any]) -> list[str]:
    """The console pages (issue 19): per page, over the roles that see it, the slowest request's p95 server
    time, the slowest load's p50 and the tallest height at each width; then issue 19's targets."""
    pages = _get(report, "pages")
    lines = ["console pages (issue 19; ms: slowest API request p95 server time · load p50 in Chromium; px: 1280 / 390):"]
    if not isinstance(pages, dict) or "pages" not in pages:
        lines.append(f"  — {_why_missing(report, 'pages')}")
    else:
        for name, page in pages["pages"].items():
            seen = {role: f for role, f in page["roles"].items() if not f.get("forbidden")}
            if not seen:
                lines.append(f"  {name:<20} forbidden to {', '.join(page['roles'])}")
                continue
            api = max((t["server"]["p95_ms"] or 0 for f in seen.values() for t in f["api"].values()), default=0)
            load = max(f["load"]["p50_ms"] or 0 for f in seen.values())
            tall = [max(f["height_px"][w] for f in seen.values()) for w in ("1280", "390")]
            lines.append(f"  {name:<20} {api:>8.1f} ms · {load:>8.1f} ms · {tall[0]:>7,} / {tall[1]:>7,} px  "
                         f"{'' if page['list_page'] else '(not a list page) '}{len(seen)} role(s)")
    lines.append("targets (issue 19, at scale 0.1):")
    return lines + _target_lines(report.get("targets_issue19", []))


def _why_missing(report: dict[str, Any], path: str) -> str:
    """The error or skip reason recorded on the figure or the nearest section above it."""
    parts = path.split(".")
    for depth in range(len(parts), 0, -1):
        node = _get(report, ".".join(parts[:depth]))
        if isinstance(node, dict):
            for key in ("error", "skipped"):
                if key in node:
                    return f"{key}: {node[key]}"[:60]
        elif isinstance(node, str):
            return node[:60]
    if parts[0] in ("http_commands", "http_queries", "http_concurrent", "audit") and "http" in report["meta"].get("skipped", []):
        return "skipped: --skip-http"
    return "skipped" if parts[0] in report["meta"].get("skipped", []) else "n/a"


def write(report: dict[str, Any], directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    meta = report["meta"]
    name = f"bench-{meta['backend']}-scale{meta['scale']}-{meta['started_at'].replace(':', '').replace('-', '')}.json"
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, ensure_ascii=False, indent=2, sort_keys=False)
        handle.write("\n")
    return path
