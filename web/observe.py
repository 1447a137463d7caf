"""Seeing it run (API.md "Following the ledger"; issue 20): the access log, `/metrics`, `/readyz`.

Access log: every request is one JSON line on the logger `voucher_ledger.access` (`serve` writes it
to standard error, or to the file `--access-log PATH` / `LEDGER_ACCESS_LOG` names): `time` (Beijing,
ISO 8601 with offset), `request_id`, `actor` {role, id} (null before authentication), `method`,
`path` (never the query string, which may carry what is not ours to keep), `status`, `duration_ms`.
Never a token, a header or a body.

Metrics (Prometheus text format, the maintained `prometheus_client`), one registry per app, so per
process: `serve` runs one process per server, and a scrape of each server gives that server's
counts (sum them in Prometheus). `/metrics` and `/readyz`, like `/healthz`, need no token: keep them
behind the reverse proxy (README "Following the ledger").
- `voucher_ledger_requests_total{method, route, status}`, `voucher_ledger_request_seconds{method, route}`
  (histogram; `route` is the URL rule, `/api/v1/contracts/<contract_id>`, never the ids);
- `voucher_ledger_commands_total{command, outcome}` (`ok`, `replayed`, or the refusal's error code);
- `voucher_ledger_conflicts_retried_total` (version conflicts retried inside the service) and
  `voucher_ledger_conflicts_total` (answers 409);
- `voucher_ledger_projection_lag_events` (the store's head minus the read models' position, at scrape
  time), `voucher_ledger_store_head_position`.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

ACCESS_LOGGER = "voucher_ledger.access"
BEIJING = timezone(timedelta(hours=8))
access_log = logging.getLogger(ACCESS_LOGGER)

blp = Blueprint("observe", __name__)


class _StoreCollector:
    """What is read at scrape time: conflicts retried, the store's head and the read models' lag."""

    def __init__(self, app: Any, views: Any) -> None:
        self.app, self.views = app, views

    def describe(self) -> list[Any]:
        return []  # nothing to read at registration (the registry would otherwise collect, querying the store)

    def collect(self) -> Any:
        retried = CounterMetricFamily("voucher_ledger_conflicts_retried",
                                      "Version conflicts this process retried inside the service")
        retried.add_metric([], getattr(self.app, "conflicts_retried", 0))
        yield retried
        try:
            head = self.app.recorder.max_notification_id() or 0
            position = self.views.position
        except Exception:  # noqa: BLE001 - the store away: /readyz says so; the scrape still answers
            return
        yield GaugeMetricFamily("voucher_ledger_store_head_position", "The store's last position", value=head)
        yield GaugeMetricFamily("voucher_ledger_projection_lag_events",
                                "Events recorded but not yet in the read models", value=max(head - position, 0))


class Metrics:
    """One app's metrics and their registry."""

    def __init__(self, app: Any, views: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("voucher_ledger_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("voucher_ledger_request_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry)
        self.commands = Counter("voucher_ledger_commands", "Commands run, by outcome (ok, replayed or error code)",
                                ["command", "outcome"], registry=self.registry)
        self.conflicts = Counter("voucher_ledger_conflicts", "Requests answered 409 (a state or duplicate conflict)",
                                 registry=self.registry)
        self.registry.register(_StoreCollector(app, views))


def metrics() -> Metrics:
    return current_app.extensions["ledger_metrics"]


def count_command(name: str, outcome: str) -> None:
    """One command's outcome (web/commands.py)."""
    metrics().commands.labels(command=name, outcome=outcome).inc()


def start_request() -> None:
    g.started = time.perf_counter()


def finish_request(response: Any) -> None:
    """Count the request and write its access-log line."""
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = response.status_code
    found = metrics()
    found.requests.labels(method=request.method, route=route, status=str(status)).inc()
    found.latency.labels(method=request.method, route=route).observe(elapsed)
    if status == 409:
        found.conflicts.inc()
    if access_log.isEnabledFor(logging.INFO):
        actor = g.get("actor")
        access_log.info(json.dumps({
            "time": datetime.now(BEIJING).isoformat(timespec="milliseconds"), "request_id": g.get("request_id"),
            "actor": None if actor is None else {"role": actor.role, "id": actor.id},
            "method": request.method, "path": request.path, "status": status,
            "duration_ms": round(elapsed * 1000, 1)}, ensure_ascii=False))


def configure_access_log(path: str | None) -> None:
    """`serve`: the access log to `path` (appended) or standard error, one JSON line per request."""
    import sys

    handler: logging.Handler = logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


@blp.get("/metrics")
def prometheus_metrics() -> Any:
    return Response(generate_latest(metrics().registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)


@blp.get("/readyz")
def readyz() -> Any:
    """Ready for traffic: the store answers and its schema is this program's (projections/storage/schema.py)."""
    from projections.storage.schema import SCHEMA_VERSION, schema_version
    from web.errors import error_response

    app = current_app.extensions["ledger"]
    try:
        found = schema_version(app.store)
        with app.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - unreachable, whatever the reason: not ready
        return error_response("SERVICE_UNAVAILABLE", "the store is unreachable",
                              {"store": app.store.backend, "error": type(exc).__name__}, status=503)
    if found != SCHEMA_VERSION:
        return error_response("SERVICE_UNAVAILABLE", "the store's schema is not this program's: run voucher-ledger migrate",
                              {"store": app.store.backend, "schema_version": found, "needs": SCHEMA_VERSION}, status=503)
    return {"status": "ready", "store": app.store.backend, "schema_version": found}
