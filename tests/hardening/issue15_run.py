"""The concurrent run of issue 15, repeated with one command: three `voucher-ledger serve` processes and a
`projections run` follower on one PostgreSQL database, 50 client threads (bounded in operations and time),
plus bursts of one Idempotency-Key sent 20 times at once across the servers. Loopback only.

    .venv/bin/python -m tests.hardening.issue15_run [--threads 50] [--operations 30] [--max-seconds 150]

PostgreSQL: LEDGER_TEST_POSTGRES_URL (a database is created in it and dropped), else a throwaway cluster of
its own (scripts/start-postgres). Prints the figures as JSON: requests, overspends (the fund identities of
DOMAIN.md over a fold of the log, and the views equal to a fold and to a replay), duplicated commands (a
repeated key answered differently from its first answer), lost commands (a 2xx whose position is not in
the log), 5xx, and client-visible conflicts (409 CONCURRENCY_CONFLICT, or 503 because retries ran out).
`tests/hardening/test_operations.py` runs a small version of it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from service.bootstrap import open_ledger

SERVERS = 3
BURSTS = 5
BURST_SIZE = 20
STORM_PER_THREAD = 4  # vouchers each thread issues in the issuance storm (every one moves the year's budget)
MIX = ["sign", "sign", "deposit", "complete", "complete", "terminate", "issue", "issue", "issue", "read"]


def run(threads: int = 50, operations: int = 30, max_seconds: float = 150, workdir: Path | None = None,
        admin_url: str | None = None) -> dict[str, Any]:
    """Run the load; answer the figures. Raises nothing for a broken invariant: it is a figure."""
    from service.demo import credit_code
    from ledger.persistence import parse_database_url
    from projections.runner import Views
    from tests.hardening.fold import check_ledger
    from tests.hardening.load import Client
    from tests.hardening.loadworld import build_load_world
    from tests.hardening.processes import PostgresCluster, Projections, Server
    from tests.servers import scratch_database
    from ledger.money import yuan
    from tests.support import Scenario, as_role

    workdir = workdir or Path(tempfile.mkdtemp(prefix="vl-issue15-"))
    cluster = None
    if admin_url is None:
        cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="vl15c-", dir="/tmp"))).start()
        admin_url = cluster.url
    scratch = scratch_database(admin_url, "vl_issue15")
    url = scratch.__enter__()  # left in the finally below
    processes: list[Any] = []
    try:
        app = open_ledger(parse_database_url(url))
        plan = build_load_world(app)
        scenario = Scenario(app)
        burst_enterprises = [scenario.enterprise(("tech_sme",), code=credit_code(950_000 + n)) for n in range(BURSTS)]
        storm = [scenario.enterprise(("tech_sme",), code=credit_code(960_000 + n))
                 for n in range(threads * STORM_PER_THREAD)]
        with as_role("finance"):  # room for every voucher of the storm and the waiting (T2: 100 000 yuan each)
            app.allocate_budget(plan["year"], yuan(100_000) * (len(storm) + len(plan["waiting_enterprises"])),
                                "issue-15-storm")
        servers = [Server(url, workdir / f"server{n}.log") for n in range(SERVERS)]
        processes = [*servers, Projections(url, workdir / "projections.log")]
        for process in processes:
            process.start()
        for server in servers:
            server.wait_healthy()
        plan.update(servers=[s.url for s in servers], operations=operations, max_seconds=max_seconds, mix=MIX)
        started = time.monotonic()

        def client(n: int) -> dict[str, Any]:
            return Client({**plan, "seed": 5000 + n}).run()

        with ThreadPoolExecutor(threads + 1) as pool:
            bursts = pool.submit(same_key_bursts, [s.url for s in servers], plan, burst_enterprises)
            results = list(pool.map(client, range(threads)))
            burst_answers = bursts.result()
        seconds = time.monotonic() - started
        storm_answers = issuance_storm([s.url for s in servers], plan, storm, threads)
        answered = [a for r in results for a in r["answered"]]
        duplicated = replay_keys(servers, plan, answered) + sum(len(set(map(json.dumps, b))) - 1 for b in burst_answers)
        head = app.recorder.max_notification_id() or 0
        positions = {a["answer"].get("position") for a in answered if 200 <= a["status"] < 300}
        lost = sum(1 for p in positions if not isinstance(p, int) or p > head or not app.recorder.select_notifications(
            start=p, limit=1) or app.recorder.select_notifications(start=p, limit=1)[0].id != p)
        healths = [server.health()[1] for server in servers]
        for process in processes:
            process.stop()
        views = Views(app)
        views.catch_up()
        try:
            check_ledger(app, views, workdir)
            overspends, broken = 0, ""
        except AssertionError as error:
            overspends, broken = 1, str(error)[:500]
        statuses: dict[str, int] = {}
        codes: dict[str, int] = {}
        for r in results:
            for key, n in r["statuses"].items():
                statuses[key] = statuses.get(key, 0) + n
            for key, n in r["codes"].items():
                codes[key] = codes.get(key, 0) + n
        issued = sum(1 for a in answered if a["path"] == "/api/v1/vouchers")
        figures = {
            "servers": SERVERS, "threads": threads, "seconds": round(seconds, 1),
            "requests": sum(r["requests"] for r in results) + BURSTS * BURST_SIZE + len(storm_answers),
            "operations": sum(r["operations"] for r in results),
            "issuance_answers": issued,
            "overspends": overspends, "broken_identity": broken,
            "duplicated_commands": duplicated, "lost_commands": lost,
            "server_errors_5xx": sum(n for key, n in statuses.items() if key.startswith("5"))
            + sum(1 for status, _ in storm_answers if status >= 500),
            "client_visible_conflicts": sum(1 for r in results for a in r["answered"] + r["server_errors"]
                                            if conflict(a["status"], a.get("answer") or a.get("body") or {}))
            + sum(1 for status, body in storm_answers if conflict(status, body)),
            "issuance_storm": {"requests": len(storm_answers),
                               "issued_201": sum(1 for status, _ in storm_answers if status == 201),
                               "client_visible_conflicts": sum(1 for status, body in storm_answers if conflict(status, body)),
                               "other": sorted({f"{status} {(body.get('error') or {}).get('code')}"
                                                for status, body in storm_answers if status != 201})},
            "conflicts_retried_inside": sum(h.get("conflicts_retried", 0) for h in healths),
            "same_key_bursts": f"{BURSTS} x {BURST_SIZE} requests, {sum(len(set(map(json.dumps, b))) for b in burst_answers)} distinct answers",
            "statuses": statuses, "codes": codes,
        }
        views.close()
        app.close()
        return figures
    finally:
        for process in processes:
            process.stop()
        scratch.__exit__(None, None, None)
        if cluster is not None:
            cluster.destroy()


def conflict(status: int, body: dict[str, Any]) -> bool:
    """An optimistic conflict the client saw: 409 CONCURRENCY_CONFLICT (before issue 15), or the 503 that
    answers retries running out (details.attempts)."""
    error = body.get("error") or {}
    return error.get("code") == "CONCURRENCY_CONFLICT" or (status == 503 and "attempts" in error.get("details", {}))


def issuance_storm(servers: list[str], plan: dict[str, Any], enterprises: list[str], threads: int) -> list[Any]:
    """Every thread issues vouchers to its own enterprises at once: each issuance moves the year's budget,
    the hottest aggregate there is (issue 15: 14-20% of such issuances got 409 CONCURRENCY_CONFLICT)."""
    from tests.hardening.processes import send_json

    barrier = threading.Barrier(threads)

    def issue(n: int) -> list[Any]:
        barrier.wait()
        return [send_json(servers[(n + i) % len(servers)] + "/api/v1/vouchers", "POST", plan["tokens"]["operator"],
                          {"enterprise_id": code, "year": plan["year"]}, {"Idempotency-Key": f"storm-{code}"})
                for i, code in enumerate(enterprises[n::threads])]

    with ThreadPoolExecutor(threads) as pool:
        return [answer for answers in pool.map(issue, range(threads)) for answer in answers]


def same_key_bursts(servers: list[str], plan: dict[str, Any], enterprises: list[str]) -> list[list[Any]]:
    """Per enterprise: one voucher issuance, one key, sent BURST_SIZE times at once across the servers."""
    from tests.hardening.processes import send_json

    answers = []
    for code in enterprises:
        key = f"burst-{uuid.uuid4()}"
        barrier = threading.Barrier(BURST_SIZE)

        def send(n: int, code: str = code, key: str = key, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            return send_json(servers[n % len(servers)] + "/api/v1/vouchers", "POST", plan["tokens"]["operator"],
                             {"enterprise_id": code, "year": plan["year"]}, {"Idempotency-Key": key})

        with ThreadPoolExecutor(BURST_SIZE) as pool:
            answers.append(list(pool.map(send, range(BURST_SIZE))))
    return answers


def replay_keys(servers: list[Any], plan: dict[str, Any], answered: list[dict[str, Any]], sample: int = 200) -> int:
    """Send answered POSTs again with their keys: each must get its first answer (status and body)."""
    from tests.hardening.processes import send_json

    rng = random.Random(15)
    differing = 0
    for first in rng.sample(answered, min(sample, len(answered))):
        server = rng.choice(servers)
        status, body = send_json(server.url + first["path"], "POST", plan["tokens"][first["token"]], first["body"],
                                 {"Idempotency-Key": first["key"]})
        if (status, body) != (first["status"], first["answer"]):
            differing += 1
    return differing


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--operations", type=int, default=30, help="per thread")
    parser.add_argument("--max-seconds", type=float, default=150)
    args = parser.parse_args(argv)
    figures = run(args.threads, args.operations, args.max_seconds,
                  admin_url=os.environ.get("LEDGER_TEST_POSTGRES_URL") or None)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    ok = not (figures["overspends"] or figures["duplicated_commands"] or figures["lost_commands"]
              or figures["server_errors_5xx"] or figures["client_visible_conflicts"])
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
