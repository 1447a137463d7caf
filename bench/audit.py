"""The audit routes over HTTP, if the server has them: export of the whole store and chain verification.

The export's rate is events per second as the client receives them; the server's resident memory
is sampled every 20 ms while it streams, and its peak (VmHWM, reset just before the export where Linux
allows: `peak_rss_since`) read when it is done.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from bench.server import Client, Server
from bench.timing import Progress, stage

EXPORT_PATH = "/api/v1/export"
VERIFY_PATH = "/api/v1/audit/verify"


def export(server: Server, client: Client, token: str, expected_events: int) -> dict[str, Any]:
    """Stream the unfiltered JSONL export to the end; events/s and the server's memory."""
    stage("导出全部事件 export everything")
    # The target is the export's peak: start-up's catch-up and the earlier stages' concurrent commands
    # had raised VmHWM to 166.9 MB at scale 1 while the export itself never went past 138.5 (session 8).
    peak_from_export = server.reset_peak_memory()
    before = server.memory_kb()
    peak_rss = [before.get("VmRSS", 0)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            try:
                peak_rss[0] = max(peak_rss[0], server.memory_kb().get("VmRSS", 0))
            except OSError:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    bar = Progress("导出 export (events)", expected_events)
    started = time.perf_counter()
    response = client.stream(f"{EXPORT_PATH}?format=jsonl", token=token)
    lines, size, tail = 0, 0, b""
    status = response.status
    while True:
        chunk = response.read(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        count = chunk.count(b"\n")
        lines += count
        tail = (tail + chunk)[-4096:]
        if count:
            bar.advance(count)
    seconds = time.perf_counter() - started
    bar.finish()
    done.set()
    sampler.join(timeout=1)
    after = server.memory_kb()
    manifest = _manifest(tail)
    events = int(manifest.get("count", max(lines - 1, 0))) if manifest else max(lines - 1, 0)
    return {
        "status": status, "events": events, "bytes": size, "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1) if seconds > 0 else 0.0,
        "rss_before_mb": round(before.get("VmRSS", 0) / 1024, 1),
        "rss_peak_sampled_mb": round(peak_rss[0] / 1024, 1),
        "peak_rss_mb": round(after.get("VmHWM", 0) / 1024, 1),
        "peak_rss_since": "export" if peak_from_export else "server start",
        "manifest": manifest,
    }


def _manifest(tail: bytes) -> dict[str, Any]:
    for line in reversed(tail.strip().split(b"\n")):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "manifest" in record:
            return dict(record["manifest"])
        break
    return {}


def verify(client: Client, token: str) -> dict[str, Any]:
    stage("验证哈希链 verify the audit chain")
    started = time.perf_counter()
    status, body = client.get(VERIFY_PATH, token=token)
    seconds = time.perf_counter() - started
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    checked = int(answer.get("checked", 0) or 0)
    return {"status": status, "ok": answer.get("ok"), "checked": checked, "seconds": round(seconds, 3),
            "events_per_s": round(checked / seconds, 1) if seconds > 0 else 0.0}
