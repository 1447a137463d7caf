#!/bin/bash
# One A/B round of the 8-client series: a fresh template copy of the measured scale-1 store (m2, read models
# built), concurrency_cpu.py on it from /work/main as it is checked out now. Usage: ab_run.sh LABEL
set -u
label=$1; U=postgresql://postgres:postgres@127.0.0.1:56557
db=ab_$label
psql -q $U/postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE m2"
cd /work/main
echo "$(date -u +%T) $label $(git rev-parse --short HEAD) cache.py $(git diff --quiet HEAD -- ledger/cache.py && echo as-committed || echo modified)" >> /work/bench-s8/ab.txt
.venv/bin/python /work/bench-s8/concurrency_cpu.py $U/$db /work/bench-s8/world1.pickle /work/bench-s8/ab-$label --samples 300 --traces 100 --no-spy --seed 13 > /work/bench-s8/ab-$label.txt 2>&1
python3 - "$label" >> /work/bench-s8/ab.txt <<'PY'
import json, sys
d = json.load(open(f"/work/bench-s8/ab-{sys.argv[1]}/concurrency_cpu.json"))
s = d["issue_series"]
one, eight = s["1 client"], s["8 clients on 2 processes"]
print(f"  1 client {one['ops_per_s']}/s cpu {one['cpu_s_per_request']['all_ms']} ms/req idle {one['machine_share']['idle']}"
      f" | 8 clients {eight['ops_per_s']}/s cpu {eight['cpu_s_per_request']['all_ms']} ms/req idle {eight['machine_share']['idle']}"
      f" | x {s['x_one_client']} | errors {eight['errors']} | library 8 threads x {d['library_concurrent_save']['x_one_thread']}")
PY
psql -q $U/postgres -c "DROP DATABASE $db"
