"""Read models: catch-up over the whole generated log, then a full rebuild (drop, create, replay).

Both go through `projections.runner.Views` exactly as `voucher-ledger projections catch-up` and
`... rebuild` do, with the same page size and one transaction per page.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from bench.timing import Progress, stage
from ledger.business_date import BusinessClock


def measure(app: Any) -> dict[str, Any]:
    from projections.runner import Views

    stage("读模型 read models: catch-up and rebuild")
    head = app.recorder.max_notification_id() or 0
    views = Views(app)
    try:
        bar = Progress("追平 catch-up (position)", head)
        started = time.perf_counter()
        applied = views.catch_up(progress=lambda done, total: _to(bar, done))
        catch_up_s = time.perf_counter() - started
        bar.finish()
        bar = Progress("重建 rebuild (position)", head)
        started = time.perf_counter()
        # The replay alone: the chain check before a rebuild is what the bench's verify measures.
        rebuilt = views.rebuild(progress=lambda done, total: _to(bar, done), rechain=True)
        rebuild_s = time.perf_counter() - started
        bar.finish()
    finally:
        views.close()
    return {
        "catch_up": {"events": applied, "seconds": round(catch_up_s, 3),
                     "events_per_s": round(applied / catch_up_s, 1) if catch_up_s > 0 else 0.0},
        "rebuild": {"events": rebuilt, "seconds": round(rebuild_s, 3),
                    "events_per_s": round(rebuilt / rebuild_s, 1) if rebuild_s > 0 else 0.0},
    }


def warm(app: Any, year: int) -> dict[str, Any]:
    """Warm the aggregate cache from the read models, as `voucher-ledger serve` does on start."""
    from projections.runner import Views
    from projections.storage.warmup import warm_cache

    views = Views(app)
    try:
        started = time.perf_counter()
        cached = warm_cache(app, views.store, year)
        return {"aggregates": cached, "seconds": round(time.perf_counter() - started, 3)}
    finally:
        views.close()


def _to(bar: Progress, done: int) -> None:
    bar.advance(done - bar.done)


def close_year(app: Any, year: int, operator: Any) -> dict[str, Any]:
    """Year close of every voucher (期满作废), through the command the CLI runs."""
    import uuid

    from ledger.context import acting

    stage(f"年度结转 year close {year}")
    bar = Progress("年度结转 close (vouchers)", 0)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        bar.total = total
        _to(bar, done)

    # The close runs only after the year has ended (Art. 18): the bench replays it on the day after,
    # as a drill with LEDGER_BUSINESS_DATE would.
    clock, app.clock = app.clock, BusinessClock(date(year + 1, 1, 1))
    # What the library itself would have to do for this close: decode what it reads, save what it writes
    # (bench/report.py sets that against its floors). Counted on the mapper, which every load goes through.
    mapper, decoded = app.mapper, [0]
    to_domain_event = mapper.to_domain_event

    def counted(stored: Any) -> Any:
        decoded[0] += 1
        return to_domain_event(stored)

    head = app.recorder.max_notification_id() or 0
    mapper.to_domain_event = counted
    try:
        with acting(operator, request_id=uuid.uuid4().hex):
            result = app.close_year(year, progress=progress)
    finally:
        del mapper.to_domain_event
        app.clock = clock
    seconds = time.perf_counter() - started
    # Events only (snapshots go to their own table); a retried chunk's lost ids would count too, and none
    # is retried in the bench (one writer).
    saved = (app.recorder.max_notification_id() or 0) - head
    bar.finish()
    vouchers = int(result.data["expired_vouchers"])
    return {"vouchers": vouchers, "released_contracts": int(result.data["released_contracts"]),
            "events_read": decoded[0], "events_saved": saved, "seconds": round(seconds, 3),
            "vouchers_per_s": round(vouchers / seconds, 1) if seconds > 0 else 0.0}
