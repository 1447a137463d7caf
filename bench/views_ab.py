"""The projection pipeline, the audit export, the chain verification and the year close, measured (and
optionally profiled) on a store that already holds a generated year, against the library's floors
read in the same run (issue 21).

    python -m bench.views_ab --database-url URL [--paths rebuild,catch_up,export,verify,close]
                             [--profile DIR] [--tag NAME] [--json FILE]

Make the store once with `python -m bench --generate-only --save-world W --database-url URL`; on
PostgreSQL measure copies of it (`CREATE DATABASE run TEMPLATE gen`), because `close` changes the
store. `catch_up` drops the read models first; `rebuild` replays into fresh ones beside them; both
as `voucher-ledger projections ...` runs them. `export` streams the whole unfiltered JSONL export
to nowhere (its peak RSS is this process's high-water mark, so run it alone for that figure);
`verify` recomputes the whole chain. The floors: the raw log read and the decoded log read
(`bench/floor.py`), medians of three rounds, taken before the paths.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

PATHS = ("catch_up", "rebuild", "export", "verify", "close")


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.views_ab", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--profile", help="write cProfile stats of each path into this directory")
    parser.add_argument("--tag", default="")
    parser.add_argument("--json", help="append the result as one JSON line to this file")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]

    from bench import timing
    from bench.floor import decoded_read_rate, log_read_rate
    from ledger.persistence import parse_database_url
    from service.bootstrap import open_ledger

    timing.QUIET = True
    store = parse_database_url(args.database_url)
    app = open_ledger(store)
    result: dict[str, Any] = {"tag": args.tag, "backend": store.backend, "paths": {}}
    try:
        events = app.recorder.max_notification_id() or 0
        result["events"] = events
        if not args.no_floor:
            result["log_read"] = log_read_rate(app)["rows_per_s"]
            result["decoded_read"] = decoded_read_rate(app)["rows_per_s"]
        for name in paths:
            run = _PATHS[name]
            if args.profile:
                from bench.profile import _dump, _profiled

                profile, seconds, measured = _profiled(lambda: run(app))
                _dump(profile, args.profile, f"{name}-{store.backend}" + (f"-{args.tag}" if args.tag else ""),
                      f"# {store.backend}, {events} events; python -m bench.views_ab {' '.join(argv or [])}\n"
                      f"# {name}: {measured} (under the profiler, {seconds:.2f} s)")
            else:
                cpu = _cpu_s()
                measured = run(app)
                # CPU seconds of this process and its children (a rebuild's second process): comparable
                # between runs on a machine too busy for wall-clock rates to be.
                measured["cpu_s"] = round(_cpu_s() - cpu, 2)
            if "log_read" in result and "events_per_s" in measured:
                measured["x_raw"] = round(measured["events_per_s"] / result["log_read"], 3)
                measured["x_decoded"] = round(measured["events_per_s"] / result["decoded_read"], 3)
            result["paths"][name] = measured
    finally:
        app.close()
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(result) + "\n")
    return 0


@contextmanager
def _views(app: Any) -> Iterator[Any]:
    from projections.runner import Views

    views = Views(app)
    try:
        yield views
    finally:
        views.close()


def _rate(events: int, seconds: float, **more: Any) -> dict[str, Any]:
    return {"events": events, "seconds": round(seconds, 3),
            "events_per_s": round(events / seconds, 1) if seconds > 0 else 0.0, **more}


def _catch_up(app: Any) -> dict[str, Any]:
    with _views(app) as views:
        views.store.drop_all()  # type: ignore[attr-defined]
        views.store.create_table()  # type: ignore[attr-defined]
        views._known = 0
        started = time.perf_counter()
        applied = views.catch_up()
        return _rate(applied, time.perf_counter() - started)


def _rebuild(app: Any) -> dict[str, Any]:
    with _views(app) as views:
        started = time.perf_counter()
        applied = views.rebuild(rechain=True)  # the replay alone: `verify` measures the chain check
        return _rate(applied, time.perf_counter() - started)


def _export(app: Any) -> dict[str, Any]:
    from projections.audit import export

    with _views(app) as views:
        before = _peak_rss_mb()
        started = time.perf_counter()
        size, lines = 0, 0
        for chunk in export.export_chunks(app, views.store, "jsonl"):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return _rate(lines - 1, time.perf_counter() - started, bytes=size, rss_before_mb=before,
                     peak_rss_mb=_peak_rss_mb())


def _verify(app: Any) -> dict[str, Any]:
    from projections.audit import chain

    with _views(app) as views:
        started = time.perf_counter()
        answer = chain.verify(app, views.store)
        seconds = time.perf_counter() - started
        assert answer["ok"], answer
        return _rate(answer["checked"], seconds)


def _close(app: Any) -> dict[str, Any]:
    import uuid

    from bench import views_bench
    from ledger.business_date import BusinessClock
    from ledger.context import Actor, acting

    with _views(app) as views:
        views.catch_up()
        year = max(row["year"] for row in views.store.query("SELECT year FROM vl_years"))
    operator = Actor("operator", "bench-operator")
    views_bench.warm(app, year)  # as the bench does: the process warmed from the read models, as `serve` is
    clock, app.clock = app.clock, BusinessClock(date(year + 1, 1, 1))
    try:
        started = time.perf_counter()
        with acting(operator, request_id=uuid.uuid4().hex):
            closed = app.close_year(year)
        seconds = time.perf_counter() - started
    finally:
        app.clock = clock
    vouchers = int(closed.data["expired_vouchers"])
    return {"vouchers": vouchers, "seconds": round(seconds, 3),
            "s_per_20000": round(seconds * 20_000 / vouchers, 2) if vouchers else None}


_PATHS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "catch_up": _catch_up, "rebuild": _rebuild, "export": _export, "verify": _verify, "close": _close,
}

if __name__ == "__main__":
    raise SystemExit(main())
