"""Where the 8-client and the contract-trace targets of issue 21 stop, on a copy of a generated store.

    python concurrency_cpu.py URL WORLD OUTDIR [--samples 300] [--traces 600] [--no-spy]

Starts what the bench starts on PostgreSQL (one `projections run`, two `serve --no-projections`), then:

1. Library floor of concurrent writes: saves/s of one event on each of 2 scratch aggregates (what an
   issuance writes) by 1 thread, and by 8 threads in 2 processes (4 each), through the library's
   recorder alone. Its table lock serialises the inserts: this is the most 8 writers can gain when
   nothing but the save runs.
2. CPU accounting of the bench's own 1-client and 8-client issue series (bench/http_bench.py
   concurrent, same requests): for each series, CPU seconds per request of every party, read from
   /proc (this process = the clients; each server; the follower; every postgres process), and the
   machine's user/system/idle/iowait/steal from /proc/stat. When the 8-client series leaves no idle
   CPU, its throughput is bounded by CPU per request: 2 cores / (CPU s per request).
3. A second 8-client series with py-spy on both servers (CPU samples, raw collapsed stacks): what the
   servers spend the CPU on; then a 1-client series with py-spy --idle (wall time) on the server and on
   this process: how much of a request's wall time is inside the server's WSGI app.
4. Contract traces: `--traces` requests of random contracts by one client, each latency with the
   response's size and the contract's status; then the same requests again with py-spy --idle on the
   server (wall time, waits included).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.getcwd())

from bench import http_bench  # noqa: E402
from bench.floor import BenchFloorScratch, PAYLOAD_TEXT, _FloorAggregate  # noqa: E402
from bench.material import Material  # noqa: E402
from bench.plan import Plan  # noqa: E402
from bench.server import Client, Follower, Server  # noqa: E402
from bench.world import Driver  # noqa: E402
from ledger.persistence import parse_database_url  # noqa: E402
from service.bootstrap import open_ledger  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PY_SPY = os.path.join(os.path.dirname(sys.executable), "py-spy")


# --- /proc -----------------------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """utime + stime of one process, seconds (its own threads included, not its children)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


POSTMASTER: int | None = None  # the measured cluster's (set in main): other clusters' processes are not counted


def postgres_pids() -> list[int]:
    """The measured cluster's postmaster and its children (backends, WAL writer, checkpointer...)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(name) == POSTMASTER or parent == POSTMASTER:
                pids.append(int(name))
    return pids


def find_postmaster(port: int) -> int:
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if argv and argv[0].endswith(b"postgres") and str(port).encode() in argv and b"-p" in argv:
                return int(name)
    raise SystemExit(f"no postmaster started with -p {port}")


def machine() -> dict[str, int]:
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    return dict(zip(("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"), values))


class CpuSnapshot:
    """CPU seconds of each party now (postgres backends come and go: sum over those alive at both ends)."""

    def __init__(self, parties: dict[str, int]) -> None:
        self.at = time.perf_counter()
        self.parties = {name: proc_cpu(pid) for name, pid in parties.items()}
        self.postgres = {pid: proc_cpu(pid) for pid in postgres_pids()}
        self.machine = machine()

    def since(self, before: "CpuSnapshot", requests: int) -> dict[str, Any]:
        wall = self.at - before.at
        spent = {name: self.parties[name] - before.parties[name] for name in self.parties}
        spent["postgres"] = sum(self.postgres[p] - before.postgres.get(p, 0.0) for p in self.postgres)
        ticks = {k: self.machine[k] - before.machine[k] for k in self.machine}
        total = sum(ticks.values()) or 1
        busy = sum(spent.values())
        return {
            "wall_s": round(wall, 3), "requests": requests, "ops_per_s": round(requests / wall, 1),
            "cpu_s_per_request": {k: round(v / requests * 1000, 3) for k, v in spent.items()} | {
                "all_ms": round(busy / requests * 1000, 3)},
            "cores_busy_by_parties": round(busy / wall, 2),
            "machine_share": {k: round(v / total, 3) for k, v in ticks.items()},
            "cpu_bound_ops_per_s": round(os.cpu_count() / (busy / requests), 1) if busy else None,
        }


# --- 1. library floor of concurrent writes ---------------------------------------------------------

def _save_loop(env: dict[str, str], threads: int, seconds: float, streams: int, out: Any) -> None:
    app = BenchFloorScratch(env=env)
    counts = [0] * threads
    barrier = threading.Barrier(threads)

    def work(index: int) -> None:
        aggregates = [_FloorAggregate() for _ in range(streams)]
        app.save(*aggregates)
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for aggregate in aggregates:
                aggregate.note(PAYLOAD_TEXT)
            app.save(*aggregates)
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    app.close()
    out.put(sum(counts))


def library_concurrent_floor(store: Any, seconds: float = 5.0, streams: int = 2) -> dict[str, Any]:
    env = store.event_store_env()
    setup = BenchFloorScratch(env=env)  # creates the scratch table once, before the writers race to
    context = multiprocessing.get_context("spawn")
    figures: dict[str, Any] = {}
    try:
        for label, processes, threads in (("1 thread", 1, 1), ("8 threads in 2 processes", 2, 4),
                                          ("1 thread again", 1, 1)):
            queue = context.Queue()
            workers = [context.Process(target=_save_loop, args=(env, threads, seconds, streams, queue))
                       for _ in range(processes)]
            for worker in workers:
                worker.start()
            total = sum(queue.get() for _ in workers)
            for worker in workers:
                worker.join()
            figures[label] = round(total / seconds, 1)
    finally:
        with setup.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {setup.recorder.events_table_name}")
        setup.close()
    one = statistics.mean([figures["1 thread"], figures["1 thread again"]])
    figures["x_one_thread"] = round(figures["8 threads in 2 processes"] / one, 3)
    figures["streams_per_save"] = streams
    return figures


# --- 2./3. the bench's 1-client and 8-client series, with CPU per party ----------------------------

def issue_series(servers: list[Server], material: Material, tokens: http_bench.Tokens, codes: list[str],
                 clients: int) -> tuple[int, dict[str, int]]:
    operator = tokens("operator")
    year = material.world.year
    connections = [Client(servers[i % len(servers)].port) for i in range(clients)]
    shares = [codes[i::clients] for i in range(clients)]
    errors: dict[str, int] = {}
    barrier = threading.Barrier(clients)

    def work(index: int) -> None:
        barrier.wait()
        for code in shares[index]:
            status, body = connections[index].post(
                "/api/v1/vouchers", {"enterprise_id": code, "year": year, "kind": "general"}, token=operator)
            if status != 201:
                key = f"{status}:{http_bench._code(body)}"
                errors[key] = errors.get(key, 0) + 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for connection in connections:
        connection.close()
    return len(codes), errors


def spy(pid: int, seconds: float, path: str, idle: bool) -> subprocess.Popen:
    return subprocess.Popen([PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--nonblocking",
                             "--format", "raw", "-o", path, *(("--idle",) if idle else ())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("world")
    parser.add_argument("out")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--traces", type=int, default=600)
    parser.add_argument("--no-spy", action="store_true")
    parser.add_argument("--seed", type=int, default=11, help="plan of the new enterprises: another on a store a run already used")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    store = parse_database_url(args.url)
    global POSTMASTER
    POSTMASTER = find_postmaster(int(args.url.rsplit(":", 1)[1].split("/")[0]))
    results: dict[str, Any] = {"url": args.url.rsplit("@", 1)[-1], "started": time.strftime("%FT%TZ", time.gmtime())}

    def save() -> None:
        with open(os.path.join(args.out, "concurrency_cpu.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, ensure_ascii=False)

    print("library floor of concurrent 2-stream saves", flush=True)
    results["library_concurrent_save"] = library_concurrent_floor(store)
    print(results["library_concurrent_save"], flush=True)
    save()

    app = open_ledger(store)
    with open(args.world, "rb") as handle:
        world = pickle.load(handle)["world"]
    # New enterprises' codes come from the world's serial: a run on a store an earlier run already used
    # (--seed other than 11) starts its serials past those that run registered.
    world.serials["enterprise"] = world.serials.get("enterprise", 0) + 10_000 * (args.seed - 11)
    material = Material(Driver(app, world), Plan(args.seed))
    tokens = http_bench.Tokens(material)
    log = os.path.join(args.out, "server.log")
    rng = random.Random(5)
    with Follower(store.url, log) as follower, Server(store.url, log, follow=False) as first, \
            Server(store.url, log, follow=False) as second:
        assert follower.process and first.process and second.process
        parties = {"clients (this process)": os.getpid(), "server 1": first.process.pid,
                   "server 2": second.process.pid, "follower": follower.process.pid}
        samples = args.samples
        codes = material.enterprises_without_voucher(4 * samples + 20, "prepare")
        warm, codes = codes[:20], codes[20:]
        issue_series([first, second], material, tokens, warm, 2)
        series = {}
        for label, clients, batch in (("1 client", 1, codes[:samples]),
                                      ("8 clients on 2 processes", 8, codes[samples:2 * samples])):
            before = CpuSnapshot(parties)
            count, errors = issue_series([first] if clients == 1 else [first, second], material, tokens, batch,
                                         clients)
            series[label] = CpuSnapshot(parties).since(before, count) | {"errors": errors}
            print(label, json.dumps(series[label]), flush=True)
        one, eight = series["1 client"]["ops_per_s"], series["8 clients on 2 processes"]["ops_per_s"]
        series["x_one_client"] = round(eight / one, 3)
        results["issue_series"] = series
        save()

        if not args.no_spy:
            estimate = samples / eight + 5
            spies = [spy(first.process.pid, estimate, os.path.join(args.out, "server1-8clients.cpu.txt"), False),
                     spy(second.process.pid, estimate, os.path.join(args.out, "server2-8clients.cpu.txt"), False)]
            time.sleep(1.0)
            before = CpuSnapshot(parties)
            count, errors = issue_series([first, second], material, tokens, codes[2 * samples:3 * samples], 8)
            results["issue_series_spied"] = CpuSnapshot(parties).since(before, count) | {"errors": errors}
            for process in spies:
                process.wait()
            save()
            # One client in sequence, wall time (--idle) in the server and in this process (the client):
            # how much of each request's wall time the server spends inside the WSGI app.
            estimate = samples / one + 5
            spies = [spy(first.process.pid, estimate, os.path.join(args.out, "server1-1client.idle.txt"), True),
                     spy(os.getpid(), estimate, os.path.join(args.out, "clients-1client.idle.txt"), True)]
            time.sleep(1.0)
            before = CpuSnapshot(parties)
            count, errors = issue_series([first], material, tokens, codes[3 * samples:4 * samples], 1)
            results["issue_1client_spied"] = CpuSnapshot(parties).since(before, count) | {"errors": errors}
            for process in spies:
                process.wait()
            save()

        # 4. contract traces: latency against what each answer holds
        auditor = tokens("auditor")
        contracts = [r for r in world.contracts if r.status != "proposed"]
        picked = [rng.choice(contracts) for _ in range(args.traces)]
        client = Client(first.port)
        for record in picked[:10]:
            client.get(f"/api/v1/trace/contracts/{record.contract_id}", token=auditor)
        rows = []
        before = CpuSnapshot(parties)
        for record in picked:
            began = time.perf_counter()
            status, body = client.get(f"/api/v1/trace/contracts/{record.contract_id}", token=auditor)
            elapsed = (time.perf_counter() - began) * 1000
            rows.append({"ms": round(elapsed, 3), "status": status, "bytes": len(body), "contract_status": record.status})
        cpu = CpuSnapshot(parties).since(before, len(picked))
        latencies = sorted(r["ms"] for r in rows)
        by_status: dict[str, list[float]] = {}
        for row in rows:
            by_status.setdefault(row["contract_status"], []).append(row["ms"])
        slowest = sorted(rows, key=lambda r: -r["ms"])[: max(1, len(rows) // 100)]
        results["contract_trace"] = {
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
            "by_contract_status": {k: {"n": len(v), "p50_ms": round(statistics.median(v), 3), "max_ms": round(max(v), 3)}
                                   for k, v in sorted(by_status.items())},
            "bytes_p50": statistics.median(r["bytes"] for r in rows),
            "slowest_1pct": slowest,
            "statuses": sorted({r["status"] for r in rows}),
            "cpu": cpu,
        }
        with open(os.path.join(args.out, "contract_trace_latencies.jsonl"), "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
        save()
        if not args.no_spy:
            process = spy(first.process.pid, cpu["wall_s"] + 5, os.path.join(args.out, "server1-traces.idle.txt"), True)
            time.sleep(1.0)
            for record in picked:
                client.get(f"/api/v1/trace/contracts/{record.contract_id}", token=auditor)
            process.wait()
        client.close()
        follower.check()
    app.close()
    results["finished"] = time.strftime("%FT%TZ", time.gmtime())
    save()
    print(json.dumps(results["contract_trace"], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
