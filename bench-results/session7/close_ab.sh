#!/bin/bash
# Interleaved A/B of the year close (rounds named as arguments: `close_ab.sh 4 5`; default 1 2 3) at scale 0.1 on PostgreSQL: each run on a fresh template copy of the pristine store.
PG="psql -h 127.0.0.1 -p 59341 -U postgres -q"
for round in ${@:-1 2 3}; do
  for side in before mid after; do
    tree=/work/main; [ $side = before ] && tree=/work/ab-s7; [ $side = mid ] && tree=/work/ab2-s7
    db=close_${side}_${round}
    $PG -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE postgres"
    echo "== $side round $round ($(cd $tree && git rev-parse --short HEAD)$(cd $tree && git diff --quiet || echo +wip))"
    (cd $tree && PYTHONPATH=$tree /work/main/.venv/bin/python /work/bench-s7/close_prof.py \
       postgresql://postgres:postgres@127.0.0.1:59341/$db /work/bench-s5/world01.pickle - 2>&1 | tr '\r' '\n' | grep -E "^warmed|^\{")
    $PG -c "DROP DATABASE $db"
  done
done
