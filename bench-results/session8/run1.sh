#!/usr/bin/env bash
# Scale-1 PostgreSQL: generate (kept cluster), template copy, measure. Nothing else should run beside it.
set -uo pipefail
cd /work/main
S=/work/bench-s8
echo "start $(date -u +%FT%TZ)" > $S/status
scripts/bench --scale 1 --backend postgres --save-world $S/world1.pickle --generate-only --keep > $S/gen1.txt 2>&1
echo "gen rc $? $(date -u +%FT%TZ)" >> $S/status
dir=$(grep -o '/tmp/vl-bench-pg-[A-Za-z0-9_]*' $S/gen1.txt | head -1)
port=$(sed -n 4p $dir/data/postmaster.pid)
echo "cluster $dir port $port" >> $S/status
psql "postgresql://postgres:postgres@127.0.0.1:$port/postgres" -c 'CREATE DATABASE m1 TEMPLATE postgres' >> $S/status 2>&1
echo "copied $(date -u +%FT%TZ)" >> $S/status
.venv/bin/python -m bench --scale 1 --backend postgres --world $S/world1.pickle \
  --database-url postgresql://postgres:postgres@127.0.0.1:$port/m1 --skip-pages --quiet --output $S/pg1 \
  2>&1 | while IFS= read -r line; do echo "$(date -u +%T) $line"; done > $S/pg1.txt
echo "measure done $(date -u +%FT%TZ)" >> $S/status
