"""In-process export of N events at scale 1 (no HTTP): rate, then cProfile. python export_prof.py URL OUT [--events 300000]"""
import cProfile, io, os, pstats, sys, time
sys.path.insert(0, os.getcwd())
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger, open_views
from projections.audit import export
from bench import floor
url, out = sys.argv[1:3]
n = int(sys.argv[sys.argv.index("--events") + 1]) if "--events" in sys.argv else 300000
app = open_ledger(parse_database_url(url)); views = open_views(app)
start = 1_000_000
def run():
    size = 0
    for chunk in export.export_chunks(app, views.store, "jsonl", from_position=start, to_position=start + n - 1):
        size += len(chunk)
    return size
for r in range(2):
    b = time.perf_counter(); run(); e = time.perf_counter() - b
    rows, secs = floor.read_log(app, limit=n) if hasattr(floor, "read_log") else (0, 1)
    print(f"export {n / e:,.0f} ev/s; raw library read {rows / secs:,.0f} rows/s; ratio {n / e / (rows / secs):.3f}", flush=True)
prof = cProfile.Profile(); prof.enable(); run(); prof.disable()
for key in ("tottime", "cumulative"):
    s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats(key).print_stats(35); open(f"{out}.{key}.txt", "w").write(s.getvalue())
