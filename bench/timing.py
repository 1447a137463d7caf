"""Stopwatches, latency percentiles and the progress bar of the benchmark (on stderr)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `samples` (0 when there are none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


@dataclass
class Latencies:
    """Per-operation wall times of one measured series, in seconds, and the series' total time."""

    samples: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def time(self, operation: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return operation()
        finally:
            self.samples.append(time.perf_counter() - started)

    def summary(self) -> dict[str, Any]:
        """ops/s over the whole series and p50/p99 in milliseconds."""
        count = len(self.samples)
        elapsed = self.elapsed or sum(self.samples)
        result: dict[str, Any] = {
            "count": count,
            "seconds": round(elapsed, 4),
            "ops_per_s": round(count / elapsed, 2) if elapsed > 0 else 0.0,
            "p50_ms": round(percentile(self.samples, 0.50) * 1000, 3),
            "p99_ms": round(percentile(self.samples, 0.99) * 1000, 3),
            "max_ms": round(max(self.samples, default=0.0) * 1000, 3),
        }
        if self.errors:
            result["errors"] = dict(self.errors)
        return result


def series(operations: list[Callable[[], Any]], label: str | None = None) -> Latencies:
    """Run the operations one after another, timing each and the whole series."""
    latencies = Latencies()
    bar = Progress(label, len(operations)) if label else None
    started = time.perf_counter()
    for operation in operations:
        latencies.time(operation)
        if bar:
            bar.advance()
    latencies.elapsed = time.perf_counter() - started
    if bar:
        bar.finish()
    return latencies


QUIET = False  # set by the run for --quiet: no bars, only the stages


class Progress:
    """A one-line progress bar on stderr with rate and remaining time; redrawn at most 5 times a second."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, quiet: bool | None = None) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = QUIET if quiet is None else quiet
        self.started = time.perf_counter()
        self._drawn = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self._drawn >= 0.2 or self.done >= self.total:
            self._draw(now)

    def _draw(self, now: float) -> None:
        if self.quiet:
            return
        self._drawn = now
        width = 28
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(width * fraction)
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.label:<34} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {rate:,.0f}/s ~{remaining:,.0f}s ")
        self.stream.flush()

    def finish(self) -> None:
        if self.quiet:
            return
        if self._drawn == 0.0 or self.done < self.total:
            self._draw(time.perf_counter())
        self.stream.write("\n")
        self.stream.flush()


def stage(label: str) -> None:
    """Announce a stage of the run on stderr (Chinese first)."""
    sys.stderr.write(f"== {label}\n")
    sys.stderr.flush()
