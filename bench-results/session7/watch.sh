#!/bin/bash
# Beside a bench run: CPU every second (vmstat -t), and py-spy of the serving process during the HTTP
# command and query stages (wall time: --idle keeps the waits). Usage: watch.sh BENCH_OUTPUT OUTDIR
out=$1; dir=$2; mkdir -p $dir
vmstat -t 1 > $dir/vmstat.txt &
vm=$!
spied=""
while kill -0 $(pgrep -f "python -m bench --scale 0.1 --backend postgres" | head -1) 2>/dev/null; do
  if [ -z "$spied" ] && grep -q "HTTP 命令吞吐" $out; then
    pid=$(pgrep -f "serve --host 127.0.0.1" | head -1)
    echo "$(date -u +%T) py-spy on serve pid $pid: $(tr '\0' ' ' < /proc/$pid/cmdline)" >> $dir/watch.log
    /work/main/.venv/bin/py-spy record --pid $pid --duration 12 --nonblocking --idle --format raw -o $dir/served-commands-idle.collapsed.txt >> $dir/watch.log 2>&1 &
    /work/main/.venv/bin/py-spy record --pid $pid --duration 12 --nonblocking --format flamegraph -o $dir/flame-served-commands.svg >> $dir/watch.log 2>&1 &
    spied=1
  fi
  sleep 2
done
kill $vm
