#!/bin/bash
# One round of the query stage (query_ab.py) on t1. LABEL before* runs the code at 3bb2d7d (/work/wt-before), after* HEAD of /work/main.
set -u
label=$1; U=postgresql://postgres:postgres@127.0.0.1:56557
if [ "${label%%[0-9]*}" = before ]; then cd /work/wt-before; else cd /work/main; fi
echo "$(date -u +%T) $label $(git rev-parse --short HEAD) $(uptime | sed 's/.*load/load/')" >> /work/bench-s9/qab2.txt
/work/main/.venv/bin/python /work/bench-s9/query_ab.py $U/t1 /work/bench-s8/world1.pickle /work/bench-s9/q2-$label.json --samples 1000 2>&1 | tail -1 >> /work/bench-s9/qab2.txt
