#!/bin/bash
# B/A/B/A at scale 0.1 on PostgreSQL, only the application and HTTP stages, each on its own template copy.
U=postgresql://postgres:postgres@127.0.0.1:59341
cd /work/gen-s6
for run in i1b:e15a7a8 i2a:850c34b i3b:e15a7a8 i4a:850c34b; do
  db=${run%%:*}; rev=${run##*:}
  git checkout -q --detach $rev
  mkdir -p /work/bench-s6/$db
  echo "== $db $rev $(date -u +%H:%M:%S)"
  timeout 900 .venv/bin/python -m bench --scale 0.1 --backend postgres --world /work/bench-s5/world01.pickle \
     --database-url $U/$db --skip-pages --skip-views --skip-audit --skip-close --quiet --output /work/bench-s6/$db \
     > /work/bench-s6/$db.txt 2>&1
  echo "rc $?"
done
