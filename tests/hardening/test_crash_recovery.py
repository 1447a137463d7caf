"""Crash recovery (slow): kill -9 the servers under load, kill -9 the projection process mid catch-up,
restart PostgreSQL under load; afterwards nothing is half-applied, the projections applied every event
exactly once, replayed Idempotency-Keys answer what they answered first, and the chain verifies.

The PostgreSQL test runs on a throwaway cluster of its own (scripts/start-postgres), never on the
shared one, since it stops and starts the server. While the database is away the service says so —
`/healthz` 503 and a 503 SERVICE_UNAVAILABLE error body — and it recovers by itself, unrestarted.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from ledger.persistence import parse_database_url
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.conftest import postgres_admin_url
from tests.hardening.fold import check_ledger
from tests.hardening.loadworld import bulk_registrations, build_load_world, merge, start_clients, wait_clients
from tests.hardening.processes import PostgresCluster, Projections, Server, get_json, send_json
from tests.support import business_clock

MIX = ["sign", "sign", "deposit", "complete", "complete", "terminate", "issue", "read"]
# The library retries a statement ten times, each waiting up to the pool timeout for a connection: with
# one second, a request finds out the database is away in about twelve seconds (503), /healthz at once.
SERVER_ENV = {"LEDGER_POSTGRES_CONNECT_TIMEOUT": "1"}


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def replay_answered(server: Server, plan: dict[str, Any], answered: list[dict[str, Any]], count: int) -> int:
    """Send answered POSTs again with their keys: each must answer exactly as it did the first time."""
    successes = [a for a in answered if 200 <= a["status"] < 300]
    sample = random.Random(8).sample(successes, min(count, len(successes)))
    for first in sample:
        status, answer = send_json(server.url + first["path"], "POST", plan["tokens"][first["token"]], first["body"],
                                   headers={"Idempotency-Key": first["key"]})
        assert (status, answer) == (first["status"], first["answer"]), (first, status, answer)
    return len(sample)


def assert_clean_logs(processes: list[Any], plan: dict[str, Any]) -> None:
    for process in processes:
        log = process.log()
        assert "Traceback" not in log, f"{process.args[0]}: {log[-3000:]}"
        assert not any(token in log for token in plan["tokens"].values()), "a token in a log"


def kill_projections_mid_catch_up(url: str, views: Views, head: int, log: Path) -> tuple[int, int]:
    """Empty the read models, let a fresh `projections run` catch up, and kill -9 it half-way.

    Answers (the position it had reached when killed, the number of kills). The views are emptied
    only while no other process applies events, as `projections rebuild` expects.
    """
    for _ in range(5):
        views.store.drop_all()  # type: ignore[attr-defined]
        views.store.create_table()  # type: ignore[attr-defined]
        follower = Projections(url, log).start()
        try:
            wait_for(lambda: views.position or None, 30, "the follower to apply a first page", interval=0.002)
            follower.kill9()
            reached = views.position
        finally:
            follower.stop()
        if reached < head:
            return reached, follower.kills
    raise AssertionError("the follower always finished before it could be killed")


@pytest.mark.slow
@pytest.mark.postgres
def test_crashes_and_a_database_restart_under_load(tmp_path: Path, capsys: Any) -> None:
    postgres_admin_url()  # skipped (or failed on CI) like every PostgreSQL test when none is configured
    cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="vlh8-", dir="/tmp")))  # short: socket paths
    try:
        cluster.start()
        url = cluster.create_database("ledger")
        app = open_ledger(parse_database_url(url), clock=business_clock())
        views = Views(app)
        plan = build_load_world(app)
        servers = [Server(url, tmp_path / f"server{n}.log", **SERVER_ENV) for n in range(2)]
        follower = Projections(url, tmp_path / "projections.log", **SERVER_ENV)
        crashes = 0
        try:
            for process in (*servers, follower):
                process.start()
            for server in servers:
                server.wait_healthy()
            stop_file = tmp_path / "stop"  # the load goes on until the database is back
            clients = start_clients({**plan, "servers": [s.url for s in servers], "operations": 10_000, "mix": MIX,
                                     "pause": 0.02, "max_seconds": 120, "grace_seconds": 30,
                                     "retry_unavailable": True, "stop_file": str(stop_file)}, 3, tmp_path)

            # 1. kill -9 each server in turn in the middle of the load; restart it on its port.
            for server in servers:
                time.sleep(1.5)
                server.kill9()
                crashes += 1
                time.sleep(0.3)
                server.start().wait_healthy()

            # 2. PostgreSQL goes away under load: unhealthy, clear 503s; back by itself when it returns.
            time.sleep(1.0)
            cluster.stop_server()
            down_at = time.monotonic()
            status, health = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(servers[0].health(timeout=15)),
                                      10, "/healthz to answer 503")
            unhealthy_after = time.monotonic() - down_at
            assert health["status"] == "unavailable", health
            status, refused = send_json(servers[1].url + "/api/v1/vouchers", "POST", plan["tokens"]["operator"],
                                        {"enterprise_id": plan["waiting_enterprises"][0], "year": plan["year"]},
                                        timeout=60)
            assert status == 503, refused
            assert refused["error"]["code"] == "SERVICE_UNAVAILABLE", refused
            cluster.start_server()
            back_at = time.monotonic()
            for server in servers:
                wait_for(lambda: server.health(timeout=15)[0] == 200, 90, "the service to recover by itself")
            outage, recovered_after = back_at - down_at, time.monotonic() - back_at
            crashes += 1
            time.sleep(1.0)  # some load on the recovered service
            stop_file.touch()
            load = merge(wait_clients(clients))
            assert load["connection_errors"] > 0, "the kills did not land under load"

            # 3. kill -9 the projection process half-way through a catch-up of the whole log.
            for process in (*servers, follower):
                process.stop()
            # The test's own connections died with the database restart: open fresh ones.
            views.close()
            app.close()
            app = open_ledger(parse_database_url(url), clock=business_clock())
            views = Views(app)
            bulk_registrations(app, 1500)
            head = app.recorder.max_notification_id()
            reached, kills = kill_projections_mid_catch_up(url, views, head, tmp_path / "projections-killed.log")
            crashes += kills
            follower.start()
            wait_for(lambda: views.position == head, 60, "the restarted follower to catch up")
            follower.stop()

            # 4. Restarted, the service answers replayed keys as the first time, and the chain verifies.
            servers[0].start().wait_healthy()
            replays = replay_answered(servers[0], plan, load["answered"], 40)
            _, document = get_json(servers[0].url + "/api/v1/openapi.json")
            chain = None
            if "/api/v1/audit/verify" in document.get("paths", {}):
                _, chain = get_json(servers[0].url + "/api/v1/audit/verify", plan["tokens"]["auditor"], timeout=120)
                assert chain["ok"] is True, chain
        finally:
            for process in (*servers, follower):
                process.stop()

        assert not load["server_errors"], load["server_errors"][:3]  # no 5xx but the database's absence
        assert all(b["error"]["code"] == "SERVICE_UNAVAILABLE" for b in load["unavailable_bodies"])
        assert_clean_logs([*servers, follower], plan)
        figures = check_ledger(app, views, tmp_path)
        views.close()
        app.close()
    finally:
        cluster.destroy()
    with capsys.disabled():
        print(f"\ncrash recovery (PostgreSQL): {load['requests']} requests ({load['operations']} operations), "
              f"{load['connection_errors']} dropped by kills, {load['unavailable']} answered 503 while the "
              f"database was away; {crashes} crashes survived (2 servers kill -9; 1 database restart: away "
              f"{outage:.1f}s, /healthz 503 after {unhealthy_after:.1f}s, service healthy again "
              f"{recovered_after:.1f}s after it returned, unrestarted; {kills} projection kill -9 at position "
              f"{reached}/{head}); "
              f"{replays} Idempotency-Keys replayed identically; views = fold = replay "
              f"({figures['view_rows']} rows); chain {'verified' if chain else 'not checked'}")


@pytest.mark.slow
def test_server_killed_under_load_on_sqlite(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    app = open_ledger(parse_database_url(url), clock=business_clock())
    views = Views(app)
    plan = build_load_world(app)
    server = Server(url, tmp_path / "server.log", projections=True)
    try:
        server.start().wait_healthy()
        stop_file = tmp_path / "stop"  # the load goes on until both kills are behind it
        clients = start_clients({**plan, "servers": [server.url], "operations": 10_000, "mix": MIX, "pause": 0.02,
                                 "max_seconds": 60, "grace_seconds": 30, "stop_file": str(stop_file)}, 3, tmp_path)
        for _ in range(2):
            time.sleep(1.5)
            server.kill9()
            time.sleep(0.3)
            server.start().wait_healthy()
        time.sleep(1.0)
        stop_file.touch()
        load = merge(wait_clients(clients))
        assert load["connection_errors"] > 0, "the kills did not land under load"
        replays = replay_answered(server, plan, load["answered"], 30)
    finally:
        server.stop()
    assert not load["server_errors"], load["server_errors"][:3]
    assert_clean_logs([server], plan)
    figures = check_ledger(app, views, tmp_path)
    views.close()
    app.close()
    with capsys.disabled():
        print(f"\ncrash recovery (SQLite): {load['requests']} requests, {load['connection_errors']} dropped by "
              f"{server.kills} kill -9 of the server; {replays} Idempotency-Keys replayed identically; "
              f"views = fold = replay ({figures['view_rows']} rows)")
