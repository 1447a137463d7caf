#!/usr/bin/env bash
# The closing runs of session 9, on an idle machine: scale 1 on PostgreSQL (a template copy of the pristine
# generated store, as session 8), then scale 0.1 on SQLite (a copy of the pristine SQLite store).
set -uo pipefail
cd /work/main
S=/work/bench-s9; U=postgresql://postgres:postgres@127.0.0.1:56557
echo "start $(date -u +%FT%TZ) $(git rev-parse --short HEAD)" > $S/status
psql -q $U/postgres -c 'DROP DATABASE IF EXISTS m9' -c 'CREATE DATABASE m9 TEMPLATE postgres' >> $S/status 2>&1
vmstat 10 > $S/vmstat.txt &
VM=$!
.venv/bin/python -m bench --scale 1 --backend postgres --world /work/bench-s8/world1.pickle \
  --database-url $U/m9 --skip-pages --quiet --output $S/pg1 \
  2>&1 | while IFS= read -r line; do echo "$(date -u +%T) $line"; done > $S/pg1.txt
echo "pg done $(date -u +%FT%TZ)" >> $S/status
rm -f $S/sq-m1.db* && cp /work/bench-s8/sq-pristine/ledger.db $S/sq-m1.db
.venv/bin/python -m bench --scale 0.1 --backend sqlite --world /work/bench-s8/sq-world/world.pickle \
  --database-url sqlite:///$S/sq-m1.db --skip-pages --quiet --output $S/sq1 \
  2>&1 | while IFS= read -r line; do echo "$(date -u +%T) $line"; done > $S/sq1.txt
echo "sq done $(date -u +%FT%TZ)" >> $S/status
kill $VM
