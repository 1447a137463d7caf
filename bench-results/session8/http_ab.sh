#!/bin/bash
# One round of the command stages (http_ab.py) on a fresh template copy of m2. Usage: http_ab.sh LABEL
set -u
label=$1; U=postgresql://postgres:postgres@127.0.0.1:56557; db=hab_$label
psql -q $U/postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE m2" 2>/dev/null
cd /work/main
echo "$(date -u +%T) $label $(git rev-parse --short HEAD) cache.py $(git diff --quiet HEAD -- ledger/cache.py && echo "as in e86fcbc (HEAD)" || echo "with checked_streams")" >> /work/bench-s8/http_ab.txt
.venv/bin/python /work/bench-s8/http_ab.py $U/$db /work/bench-s8/world1.pickle /work/bench-s8/hab-$label.json --samples 300 --seed 17 2>&1 | tail -1 >> /work/bench-s8/http_ab.txt
psql -q $U/postgres -c "DROP DATABASE $db"
