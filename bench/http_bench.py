"""Command throughput and query latency over HTTP, against `voucher-ledger serve` on the bench's store.

A single keep-alive client sends one request after another; each figure is the client's wall
time per request (so it includes the server's wait for its own read models: read-your-writes).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any, Callable

from bench.material import Material
from bench.server import Client
from bench.timing import Latencies, Progress, stage
from ledger.context import acting
from ledger.money import format_yuan, parse_yuan

WARM_UP = 10


class Tokens:
    """Bearer tokens issued through the ledger (as the command line does), one per role and subject."""

    def __init__(self, material: Material) -> None:
        self.material = material
        self.tokens: dict[tuple[str, str | None], str] = {}

    def __call__(self, role: str, subject: str | None = None) -> str:
        key = (role, subject)
        if key not in self.tokens:
            driver = self.material.driver
            with acting(driver.actor("system"), request_id=uuid.uuid4().hex):
                result = driver.app.issue_credential(role, subject=subject, name=f"bench-{role}")
            self.tokens[key] = result.extra["token"]
        return self.tokens[key]


def _timed(label: str, requests: list[Callable[[], tuple[int, bytes]]], expect: int) -> Latencies:
    """Run requests in order; non-`expect` answers are counted as errors by status and code."""
    latencies = Latencies()
    bar = Progress(label, len(requests))
    started = time.perf_counter()
    for request in requests:
        status, body = latencies.time(request)
        if status != expect:
            code = _code(body)
            key = f"{status}:{code}"
            latencies.errors[key] = latencies.errors.get(key, 0) + 1
        bar.advance()
    latencies.elapsed = time.perf_counter() - started
    bar.finish()
    return latencies


def _code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


def commands(client: Client, material: Material, tokens: Tokens, samples: int) -> dict[str, Any]:
    stage(f"HTTP 命令吞吐 HTTP command throughput ({samples} each)")
    world = material.world
    operator = tokens("operator")
    codes = material.enterprises_without_voucher(samples, "准备 prepare enterprises")
    issue = _timed("HTTP 签发补贴券 issue voucher", [
        (lambda code=code: client.post("/api/v1/vouchers", {"enterprise_id": code, "year": world.year,
                                                           "kind": "general"}, token=operator))
        for code in codes], 201)

    proposed = material.proposed(samples, "准备 prepare proposals")
    for record in proposed:  # tokens first, so issuing them is not timed
        tokens("provider", record.provider)
        tokens("enterprise", record.enterprise)

    def sign(record: Any) -> Callable[[], tuple[int, bytes]]:
        def run() -> tuple[int, bytes]:
            status, body = client.post(f"/api/v1/contracts/{record.contract_id}/signature",
                                       token=tokens("provider", record.provider))
            if status == 200:
                data = json.loads(body)
                material.signed_from(record, {k: parse_yuan(data[k]) for k in ("subsidy", "deposit", "balance_due")})
            return status, body
        return run

    signed = _timed("HTTP 签约 sign contract", [sign(r) for r in proposed], 200)
    active = material.paid(proposed, "准备 prepare deposits")

    def complete(record: Any) -> Callable[[], tuple[int, bytes]]:
        def run() -> tuple[int, bytes]:
            status, body = client.post(f"/api/v1/contracts/{record.contract_id}/completion",
                                       {"balance_paid": format_yuan(record.balance_due_fen)},
                                       token=tokens("enterprise", record.enterprise))
            if status == 200:
                record.status = "completed"
            return status, body
        return run

    completed = _timed("HTTP 完成 complete contract", [complete(r) for r in active], 200)
    return {"issue_voucher": issue.summary(), "sign_contract": signed.summary(),
            "complete_contract": completed.summary()}


def queries(client: Client, material: Material, tokens: Tokens, samples: int, paths: set[str],
            rng: random.Random) -> dict[str, Any]:
    """p50/p99 of the queries the issue names; the contract trace only if the server has the route."""
    stage(f"HTTP 查询延迟 HTTP query latency ({samples} each)")
    world = material.world
    auditor = tokens("auditor")
    year = world.year
    vouchers = world.vouchers
    providers = sorted({r.provider for r in world.contracts}) or world.providers
    contracts = [r for r in world.contracts if r.status not in ("proposed",)] or world.contracts
    kinds: dict[str, Callable[[], str]] = {
        "voucher": lambda: f"/api/v1/vouchers/{rng.choice(vouchers).voucher_id}",
        "enterprise_balance": lambda: f"/api/v1/enterprises/{rng.choice(vouchers).enterprise}/balance?year={year}",
        "provider_totals": lambda: f"/api/v1/providers/{rng.choice(providers)}/totals?year={year}",
        "year_totals": lambda: f"/api/v1/years/{year}",
        "contract": lambda: f"/api/v1/contracts/{rng.choice(contracts).contract_id}",
    }
    if "/api/v1/trace/contracts/{contract_id}" in paths:
        kinds["contract_trace"] = lambda: f"/api/v1/trace/contracts/{rng.choice(contracts).contract_id}"
    results: dict[str, Any] = {}
    for kind, path in kinds.items():
        for _ in range(WARM_UP):
            client.get(path(), token=auditor)
        results[kind] = _timed(f"HTTP 查询 {kind}", [
            (lambda p=path(): client.get(p, token=auditor)) for _ in range(samples)], 200).summary()
    if "contract_trace" not in kinds:
        results["contract_trace"] = {"skipped": "no /api/v1/trace/contracts/{contract_id} route on this server"}
    return results


def healthz(client: Client, samples: int) -> dict[str, Any]:
    """The cheapest request the server answers: its HTTP floor."""
    for _ in range(WARM_UP):
        client.get("/healthz")
    return _timed("HTTP /healthz", [(lambda: client.get("/healthz")) for _ in range(samples)], 200).summary()


def openapi_paths(client: Client) -> set[str]:
    status, body = client.get("/api/v1/openapi.json")
    if status != 200:
        return set()
    return set(json.loads(body).get("paths", {}))


CLIENTS = 8
LAG_INTERVAL_S = 0.02


def concurrent(servers: list[Any], material: Material, tokens: Tokens, samples: int,
               clients: int = CLIENTS) -> dict[str, Any]:
    """Issue-voucher throughput of `clients` concurrent clients spread over the server processes, against
    one client in sequence on the same servers just before (issue 21), and the read models' lag meanwhile.

    Each client keeps its own connection to server `i % len(servers)`. A client-visible conflict is an
    answer 503 (the server retries the library's IntegrityError itself and answers SERVICE_UNAVAILABLE
    only when its retries ran out, ledger/errors.py ConcurrencyConflict) or 409; every other non-201
    answer is in `errors` too.
    """
    import threading

    from bench.server import Client

    stage(f"HTTP 并发 {clients} clients on {len(servers)} server process(es) ({samples} issues each series)")
    world = material.world
    operator = tokens("operator")
    codes = material.enterprises_without_voucher(2 * samples, "准备 prepare enterprises")

    def issue(client: Client, code: str) -> tuple[int, bytes]:
        return client.post("/api/v1/vouchers", {"enterprise_id": code, "year": world.year, "kind": "general"},
                           token=operator)

    warm = min(WARM_UP, samples // 4)
    one = Client(servers[0].port)
    try:
        for code in codes[:warm]:
            issue(one, code)
        single = _timed("HTTP 1 client issue voucher", [
            (lambda code=code: issue(one, code)) for code in codes[warm:samples]], 201)
    finally:
        one.close()

    shares = [codes[samples + i::clients] for i in range(clients)]
    results = [Latencies() for _ in range(clients)]
    connections = [Client(servers[i % len(servers)].port) for i in range(clients)]
    start = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        start.wait()
        for code in shares[index]:
            status, body = results[index].time(lambda code=code: issue(connections[index], code))
            if status != 201:
                key = f"{status}:{_code(body)}"
                results[index].errors[key] = results[index].errors.get(key, 0) + 1

    lag = LagProbe(material.driver.app)
    threads = [threading.Thread(target=work, args=(i,), name=f"bench-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    lag.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    lag_figures = lag.stop()
    for connection in connections:
        connection.close()
    merged = Latencies(samples=[s for r in results for s in r.samples], elapsed=elapsed)
    for result in results:
        for key, count in result.errors.items():
            merged.errors[key] = merged.errors.get(key, 0) + count
    summary = merged.summary()
    one_client = single.summary()
    return {
        "clients": clients, "servers": len(servers), "command": "issue_voucher",
        **summary,
        "conflicts": sum(count for key, count in merged.errors.items() if key.startswith(("409:", "503:"))),
        "one_client": one_client,
        "x_one_client": round(summary["ops_per_s"] / one_client["ops_per_s"], 3) if one_client["ops_per_s"] else None,
        "lag": lag_figures,
    }


class LagProbe:
    """Samples the log's head and the read models' position in a thread, every LAG_INTERVAL_S.

    Lag in events: head − views position at a sample. Lag in seconds: how long ago the first event past
    the views' position was seen at the head (so it is short by up to one interval: the event may have
    committed just before that sample). After the load, `stop` also waits for the views to reach the
    head and reports that drain time.
    """

    def __init__(self, app: Any) -> None:
        from projections.storage.store import open_view_store

        self.app = app
        self.views = open_view_store(app.store, create_table=False)
        self.samples: list[tuple[float, int, int]] = []  # (time, head, views position)
        self.seen: list[tuple[float, int]] = []  # (first time, head) as the head advanced
        self._stop = False
        self._thread: Any = None

    def _sample(self) -> tuple[int, int]:
        head = self.app.recorder.max_notification_id() or 0
        position = self.views.max_tracking_id(self.app.name) or 0
        now = time.perf_counter()
        if not self.seen or head > self.seen[-1][1]:
            self.seen.append((now, head))
        self.samples.append((now, head, position))
        return head, position

    def start(self) -> None:
        import threading

        def loop() -> None:
            while not self._stop:
                self._sample()
                time.sleep(LAG_INTERVAL_S)

        self._thread = threading.Thread(target=loop, name="bench-lag-probe", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 30.0) -> dict[str, Any]:
        self._stop = True
        self._thread.join()
        ended = time.perf_counter()
        head, position = self._sample()
        while position < head and time.perf_counter() - ended < drain_timeout:
            time.sleep(LAG_INTERVAL_S)
            _, position = self._sample()
        drain = time.perf_counter() - ended
        self.views.datastore.close()  # type: ignore[attr-defined]
        heads = [head for _, head in self.seen]
        seconds = [self._behind_since(at, position, heads) for at, _, position in self.samples]
        events = [head - position for _, head, position in self.samples]
        from bench.timing import percentile

        return {"samples": len(self.samples), "interval_s": LAG_INTERVAL_S,
                "max_events": max(events, default=0), "p99_events": percentile(events, 0.99),
                "max_seconds": round(max(seconds, default=0.0), 3),
                "p99_seconds": round(percentile(seconds, 0.99), 3), "drain_seconds": round(drain, 3)}

    def _behind_since(self, at: float, position: int, heads: list[int]) -> float:
        """Seconds since the head was first seen past `position`, at time `at` (0 if not behind)."""
        import bisect

        # `seen` grows in time and in head: the first entry past `position` is found by bisection.
        index = bisect.bisect_right(heads, position)
        if index == len(self.seen) or self.seen[index][0] > at:
            return 0.0
        return at - self.seen[index][0]
