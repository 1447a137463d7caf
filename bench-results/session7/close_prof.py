"""Profile the year close on a copy of a generated store: python close_prof.py URL WORLD OUT"""
import cProfile, pickle, pstats, sys, time, io
from bench.world import Driver
from bench import views_bench
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger

url, world_path, out = sys.argv[1:4]
store = parse_database_url(url)
app = open_ledger(store)
saved = pickle.load(open(world_path, "rb"))
world = saved["world"]
operator = Driver(app, world).actor("operator")
# As the bench's close runs: the providers' years already cached (serve warms them on start).
from uuid import UUID
from ledger.domain.provider_year import ProviderYear
from ledger.domain.year import Year
hot = [Year.create_id(world.year), *(ProviderYear.create_id(p, world.year) for p in world.providers)]
t0 = time.perf_counter()
for start in range(0, len(hot), 100):
    app.repository.prefetch(hot[start:start + 100])
print("warmed", len(hot), "in", round(time.perf_counter() - t0, 2), "s")
before = app.recorder.max_notification_id()
import os
prof = cProfile.Profile()
profiling = out != "-"
t = time.perf_counter()
if profiling: prof.enable()
result = views_bench.close_year(app, world.year, operator)
if profiling: prof.disable()
after = app.recorder.max_notification_id()
print(result, "events saved", after - before, "wall", time.perf_counter() - t)
if not profiling: sys.exit(0)
prof.dump_stats(out + ".pstats")
for order in ("cumulative", "tottime"):
    s = io.StringIO(); pstats.Stats(prof, stream=s).strip_dirs().sort_stats(order).print_stats(45)
    open(f"{out}.{order}.txt", "w").write(s.getvalue())
