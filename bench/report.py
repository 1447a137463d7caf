"""The bench's report: one JSON document, and a short table for the terminal.

Every figure carries its ratio against the floor measured in the same run (`x_floor`):
throughputs divided by the floor's rate, latencies divided by the floor's latency (so a smaller
ratio is better for latencies, a larger one for rates).
"""

from __future__ import annotations

import json
import os
from typing import Any

# Issue 7's targets (PostgreSQL, 2 cores): (label, where in the report, kind, bound).
HTTP_P99_MS = 10.0
TRACE_P99_MS = 25.0
CLOSE_SECONDS_FOR_20000 = 15.0
RSS_MB = 150.0


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
    for name in ("catch_up", "rebuild"):
        figure = _get(report, f"projections.{name}")
        if isinstance(figure, dict) and figure.get("events_per_s") and decoded_read:
            figure["x_decoded_read"] = round(figure["events_per_s"] / decoded_read, 3)
    rate(_get(report, "audit.export"), "events_per_s", log_read, "log_read")
    rate(_get(report, "audit.verify"), "events_per_s", log_read, "log_read")
    rate(_get(report, "year_close"), "vouchers_per_s", insert, "insert")
    rate(_get(report, "generation"), "commands_per_s", insert, "insert")
    for figure in (_get(report, "http_queries") or {}).values():
        _latency(figure, point, "point_read")
        if isinstance(figure, dict) and healthz.get("p50_ms") and figure.get("p50_ms"):
            figure["x_healthz_p50"] = round(figure["p50_ms"] / healthz["p50_ms"], 2)
    export = _get(report, "audit.export")
    if isinstance(export, dict) and export.get("rss_before_mb"):
        export["peak_rss_x_idle"] = round(export["peak_rss_mb"] / export["rss_before_mb"], 2)


def _latency(figure: Any, floor: dict, against: str) -> None:
    if not isinstance(figure, dict) or not floor.get("p50_ms") or "p50_ms" not in figure:
        return
    figure["p50_x_floor"] = round(figure["p50_ms"] / floor["p50_ms"], 1)
    figure["p99_x_floor"] = round(figure["p99_ms"] / max(floor["p99_ms"], 1e-9), 1)
    figure["latency_floor"] = against


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 7's targets, checked against this run (they are stated for PostgreSQL at scale 1)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: Any, bound: float, at_least: bool, unit: str) -> None:
        if value is None:
            checks.append({"target": name, "value": None, "bound": bound, "met": None, "unit": unit})
            return
        met = value >= bound if at_least else value <= bound
        checks.append({"target": name, "value": value, "bound": bound, "met": met, "unit": unit,
                       "rule": ">=" if at_least else "<="})

    check("sign contract (app) ÷ insert floor", _get(report, "app_commands.sign_contract.x_floor"), 0.60, True, "ratio")
    check("projection catch-up ÷ log read", _get(report, "projections.catch_up.x_floor"), 0.50, True, "ratio")
    check("projection rebuild ÷ log read", _get(report, "projections.rebuild.x_floor"), 0.50, True, "ratio")
    for kind in ("voucher", "enterprise_balance", "provider_totals", "year_totals"):
        check(f"HTTP p99 {kind}", _get(report, f"http_queries.{kind}.p99_ms"), HTTP_P99_MS, False, "ms")
    check("HTTP p99 contract_trace", _get(report, "http_queries.contract_trace.p99_ms"), TRACE_P99_MS, False, "ms")
    check("export ÷ log read", _get(report, "audit.export.x_floor"), 0.40, True, "ratio")
    check("export peak RSS", _get(report, "audit.export.peak_rss_mb"), RSS_MB, False, "MB")
    close = _get(report, "year_close")
    if isinstance(close, dict) and close.get("vouchers"):
        # Linear in the number of vouchers (each chunk is independent); stated as such.
        projected = round(close["seconds"] * 20_000 / close["vouchers"], 2)
        close["seconds_per_20000_vouchers"] = projected
        check("year close, s per 20,000 vouchers", projected, CLOSE_SECONDS_FOR_20000, False, "s")
    return checks


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
             f"{meta['started_at']}{commits}",
             f"floor: insert {floor['insert']['ops_per_s']:,.0f}/s · log read {floor['log_read']['rows_per_s']:,.0f} rows/s"
             f" · point read p50 {floor['point_read']['p50_ms']} ms p99 {floor['point_read']['p99_ms']} ms"]
    if "library_save" in floor and "decoded_read" in floor:
        lines.append(f"library: one-event save {floor['library_save']['ops_per_s']:,.0f}/s · log read decoded "
                     f"{floor['decoded_read']['rows_per_s']:,.0f} rows/s (ratios in brackets)")
    add("generation (commands)", "generation", "commands_per_s", "cmd/s")
    for section, prefix in (("app_commands", "app"), ("http_commands", "http")):
        for name in ("issue_voucher", "sign_contract", "complete_contract"):
            figure = _get(report, f"{section}.{name}") or {}
            add(f"{prefix} {name}", f"{section}.{name}", "ops_per_s", "ops/s")
            if figure.get("p50_ms"):
                rows[-1] = (rows[-1][0], rows[-1][1] + f"  p50 {figure['p50_ms']:.2f} p99 {figure['p99_ms']:.2f} ms",
                            rows[-1][2])
    for name in ("catch_up", "rebuild"):
        add(f"projection {name}", f"projections.{name}", "events_per_s", "ev/s")
    for kind, figure in (_get(report, "http_queries") or {}).items():
        if isinstance(figure, dict) and "p99_ms" in figure:
            rows.append((f"query {kind}", f"p50 {figure['p50_ms']:.2f} p99 {figure['p99_ms']:.2f} ms",
                         f"×{figure.get('p99_x_floor')} (p99)"))
        else:
            rows.append((f"query {kind}", "—", _why_missing(report, f"http_queries.{kind}")))
    add("chain verify", "audit.verify", "events_per_s", "ev/s")
    add("export", "audit.export", "events_per_s", "ev/s")
    export = _get(report, "audit.export")
    if isinstance(export, dict) and export.get("peak_rss_mb"):
        rows.append(("export peak RSS (VmHWM)", f"{export['peak_rss_mb']:.1f} MB", f"idle {export['rss_before_mb']} MB"))
    close = _get(report, "year_close")
    if isinstance(close, dict) and close.get("seconds") is not None:
        rows.append(("year close", f"{close['seconds']:.2f} s for {close.get('vouchers', 0):,} vouchers",
                     f"×{close.get('x_floor')}"))
    width = max(len(r[0]) for r in rows)
    lines += [f"  {label:<{width}}  {value:<44} {ratio}" for label, value, ratio in rows]
    lines.append("targets (issue 7, stated for PostgreSQL at scale 1):")
    for target in report.get("targets", []):
        mark = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        value = "—" if target["value"] is None else target["value"]
        lines.append(f"  {mark:<6} {target['target']}: {value} {target.get('rule', '')} {target['bound']} {target['unit']}")
    return "\n".join(lines)


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
    if parts[0] in ("http_commands", "http_queries", "audit") and "http" in report["meta"].get("skipped", []):
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
