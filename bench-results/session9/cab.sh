#!/bin/bash
# One round of the bench's command stages (session 8's http_ab.py) on a fresh template copy of m2.
# LABEL before* runs 3bb2d7d (/work/wt-before), after* HEAD of /work/main.
set -u
label=$1; U=postgresql://postgres:postgres@127.0.0.1:56557; db=cab_$label
psql -q $U/postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE m2" 2>/dev/null
case "${label%%[0-9]*}" in before) cd /work/wt-before;; nolog) cd /work/wt-nolog;; *) cd /work/main;; esac
echo "$(date -u +%T) $label $(git rev-parse --short HEAD)" >> /work/bench-s9/cab.txt
/work/main/.venv/bin/python /work/bench-s8/http_ab.py $U/$db /work/bench-s8/world1.pickle /work/bench-s9/cab-$label.json --samples 300 --seed 17 2>&1 | tail -1 >> /work/bench-s9/cab.txt
psql -q $U/postgres -c "DROP DATABASE $db"
