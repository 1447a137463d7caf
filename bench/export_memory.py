"""Export memory benchmark: is the server's resident memory flat while it streams a huge export?

Fills an empty SQLite store with N enterprise registrations (one event each, saved in bulk so a
million take minutes, not hours), catches the read models up, starts a real `voucher-ledger serve`,
streams `GET /api/v1/export?format=jsonl` and samples the server's VmRSS four times a second.
With `--repeat N` it exports N times in a row and reports the server's resident memory after each:
a server should not keep, per export or per thread that served one, what an export needed.

    python -m bench.export_memory --events 1000000 --workdir /tmp/export-memory [--repeat 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from ledger.context import Actor, acting
from tests.servers import free_port, stop_process, wait_healthy

FACTS = dict(employees=300, revenue_fen=5_000_000_000, registered_in_guangxi=True, legal_person=True,
             social_insurance=True, dishonest=False, major_violation=False, industry_aligned=True)


def fill(url: str, events: int) -> dict[str, float]:
    from ledger.domain.enterprise import Enterprise
    from ledger.persistence import parse_database_url
    from service.bootstrap import open_ledger, open_views
    from service.demo import credit_code

    app = open_ledger(parse_database_url(url))
    started = time.perf_counter()
    with acting(Actor("operator", "bench-export-memory")):
        for first in range(0, events, 5000):
            app.save(*[Enterprise(code=credit_code(10_000_000 + i), name=f"广西测试企业{i}有限公司", facts=FACTS,
                                  honours=["tech_sme"]) for i in range(first, min(events, first + 5000))])
    filled = time.perf_counter() - started
    started = time.perf_counter()
    open_views(app).catch_up(page_size=2000)
    return {"fill_s": round(filled, 1), "views_catch_up_s": round(time.perf_counter() - started, 1)}


def measure(url: str, command: list[str], repeat: int = 1) -> dict[str, Any]:
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    port = free_port()
    token = subprocess.run([*command, "token", "issue", "--role", "auditor", "--name", "export-memory"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    server = subprocess.Popen([*command, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def memory(field: str) -> int:
        with open(f"/proc/{server.pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) // 1024
        return 0

    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, 120)
        idle = memory("VmRSS")
        samples: list[tuple[int, int]] = []
        progress = {"lines": 0, "done": False}

        def sample() -> None:
            while not progress["done"]:
                samples.append((progress["lines"], memory("VmRSS")))
                time.sleep(0.25)

        threading.Thread(target=sample, daemon=True).start()
        started = time.perf_counter()
        manifest = _export(port, token, progress)
        elapsed = time.perf_counter() - started
        progress["done"] = True
        lines = progress["lines"]
        by_quarter = {str(q): max((rss for n, rss in samples if n <= q * lines), default=idle)
                      for q in (0.25, 0.5, 0.75, 1.0)}
        after_each = [_settled(memory)]
        for _ in range(repeat - 1):
            _export(port, token, {"lines": 0})
            after_each.append(_settled(memory))
        return {"events_exported": manifest["count"], "seconds": round(elapsed, 1),
                "events_per_s": round(manifest["count"] / elapsed), "rss_idle_mb": idle,
                "rss_max_mb_up_to_quarter": by_quarter, "vmhwm_mb": memory("VmHWM"),
                "rss_after_each_export_mb": after_each}
    finally:
        stop_process(server, timeout=30)


def _export(port: int, token: str, progress: dict[str, Any]) -> dict[str, Any]:
    """Stream the whole JSONL export; its manifest."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/export?format=jsonl",
                                     headers={"Authorization": f"Bearer {token}"})
    last = b""
    with urllib.request.urlopen(request, timeout=3600) as response:
        for last in response:
            progress["lines"] += 1
    return json.loads(last)["manifest"]


def _settled(memory: Any) -> int:
    """VmRSS once the server has closed the response (it frees memory after the last byte is sent)."""
    time.sleep(0.3)
    return memory("VmRSS")


def command() -> list[str]:
    """`voucher-ledger` in this interpreter."""
    return [sys.executable, "-m", "service.cli"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="导出内存基准 export memory benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", required=True, help="an empty directory for the SQLite store")
    parser.add_argument("--repeat", type=int, default=1, help="exports in a row, memory after each")
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    url = f"sqlite:///{os.path.abspath(args.workdir)}/ledger.db"
    report = {"events": args.events, **fill(url, args.events),
              **measure(url, command(), repeat=args.repeat)}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
