"""Shares of py-spy raw (collapsed) samples whose stack contains each marker: python shares.py FILE [SECONDS]

With SECONDS (the wall time the series took) also prints samples ÷ (100 Hz × SECONDS): for one client in
sequence, the share of wall time a request was inside the app.
"""
import sys
from collections import Counter

MARKERS = [
    ("a request in the WSGI app", "WSGITask.execute"),
    ("  library save (Application.save)", "Application.save ("),
    ("  insert_events (recorder)", "insert_events"),
    ("  log check (select_notifications)", "select_notifications"),
    ("  authentication", "authenticat"),
    ("  marshmallow", "marshmallow/"),
    ("  flask_smorest", "flask_smorest/"),
    ("  json", "json/"),
    ("  psycopg (any)", "psycopg/"),
    ("  trace index / records", "trace_queries.py"),
    ("  eventlog records_at", "records_at"),
    ("  canonical records", "canonical.py"),
    ("  read models (views)", "projections/views/"),
    ("  repository get / load", "repository"),
    ("  turns", "turns.py"),
    ("waitress socket / select", "waitress/wasyncore.py"),
    ("idle waits (waitress handler waiting)", "ThreadedTaskDispatcher.handler_thread (waitress/task.py:"),
    ("client: http.client", "http/client.py"),
]


def main() -> None:
    path = sys.argv[1]
    wall = float(sys.argv[2]) if len(sys.argv) > 2 else None
    total = 0
    counts: Counter = Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        total += n
        for label, marker in MARKERS:
            if marker in stack:
                counts[label] += n
    app = counts["a request in the WSGI app"]
    print(f"{path}: {total} samples")
    for label, _ in MARKERS:
        if counts[label]:
            of_app = f"  ({counts[label] / app:.0%} of in-app)" if app and label.startswith("  ") else ""
            print(f"  {label:45s} {counts[label]:7d}  {counts[label] / total:6.1%}{of_app}")
    if wall:
        print(f"  in-app samples ÷ (100/s × {wall} s) = {app / (100 * wall):.1%} of wall time")


main()
