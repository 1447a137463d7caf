"""`/healthz`: is the store reachable, and which one is it."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, current_app, jsonify

blp = Blueprint("health", __name__)


def is_database_unavailable(exc: BaseException) -> bool:
    """Connection-level failures (the database is away), as opposed to bugs."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError,
                            psycopg_pool.PoolTimeout, sqlite3.OperationalError))


@blp.get("/healthz")
def healthz() -> Any:
    app = current_app.extensions["ledger"]
    views = current_app.extensions["ledger_views"]
    body: dict[str, Any] = {"store": app.store.backend}
    try:
        head = app.recorder.max_notification_id() or 0
        body.update(status="ok", position=head, views_position=views.position)
        return jsonify(body)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the store is "unhealthy"
        body.update(status="unavailable", error=type(exc).__name__)
        response = jsonify(body)
        response.status_code = 503
        return response
