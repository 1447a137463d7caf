"""`/healthz`: is the store reachable, and which one is it."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, current_app, jsonify

blp = Blueprint("health", __name__)


def is_database_unavailable(exc: BaseException) -> bool:
    """Connection-level failures (the database is away), as opposed to bugs; also the read models not
    reaching a query's position in time (projections/runner.py `ensure`): a 503 to retry, not a 500."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError,
                            psycopg_pool.PoolTimeout, sqlite3.OperationalError, TimeoutError))


def wait_out_an_outage(exc: BaseException, pause: float) -> None:
    """For a long-running process (the follower, the delivery worker), which outlives a database restart:
    say so and wait `pause` seconds if the database is away; anything else is raised again."""
    import sys
    import time

    if not is_database_unavailable(exc):
        raise exc
    print(f"数据库不可用，稍后重试 / database unavailable ({type(exc).__name__}); retrying", file=sys.stderr, flush=True)
    time.sleep(pause)


@blp.get("/healthz")
def healthz() -> Any:
    app = current_app.extensions["ledger"]
    views = current_app.extensions["ledger_views"]
    body: dict[str, Any] = {"store": app.store.backend}
    try:
        # One round trip first, without the library's retries (ten attempts, each waiting up to the
        # pool timeout): a health check must say "unavailable" at once, not after a minute.
        with app.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
        head = app.recorder.max_notification_id() or 0
        # conflicts_retried: version conflicts this process retried inside the service (never seen by clients).
        # cache_rewinds: times the aggregate cache was emptied because the log lost what it had seen.
        body.update(status="ok", position=head, views_position=views.position,
                    conflicts_retried=app.conflicts_retried, cache_rewinds=app.log_check.rewinds)
        fixed = getattr(app.clock, "fixed", None)
        if fixed is not None:  # LEDGER_BUSINESS_DATE: a drill's or a test's date, not today's (API.md)
            body["business_date"] = fixed.isoformat()
        return jsonify(body)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the store is "unhealthy"
        body.update(status="unavailable", error=type(exc).__name__)
        response = jsonify(body)
        response.status_code = 503
        return response
