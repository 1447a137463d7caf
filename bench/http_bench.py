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
