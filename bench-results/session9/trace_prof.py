"""Contract traces in-process at scale 1: python trace_prof.py URL WORLD OUT [--samples 300]
Times trace_queries.contract_trace + the JSON body the server would send, for settled contracts, then cProfile."""
from __future__ import annotations
import cProfile, io, os, pickle, pstats, random, sys, time
sys.path.insert(0, os.getcwd())
import orjson
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger, open_views
from projections.audit import trace_queries

def main() -> int:
    url, world_path, out = sys.argv[1:4]
    n = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv else 300
    app = open_ledger(parse_database_url(url))
    views = open_views(app)
    store = views.store if hasattr(views, "store") else views
    with open(world_path, "rb") as h:
        world = pickle.load(h)["world"]
    rng = random.Random(7)
    contracts = [r for r in world.contracts if r.status not in ("proposed",)]
    pick = [rng.choice(contracts).contract_id for _ in range(n + 20)]
    def one(cid):
        t = trace_queries.contract_trace(app, store, str(cid))
        return len(orjson.dumps(t, option=orjson.OPT_NON_STR_KEYS))
    for c in pick[:20]: one(c)
    lat = []; sizes = []
    for c in pick[20:]:
        b = time.perf_counter(); sizes.append(one(c)); lat.append((time.perf_counter() - b) * 1000)
    lat.sort(); sizes.sort()
    print(f"p50 {lat[len(lat)//2]:.2f} ms p99 {lat[int(len(lat)*0.99)]:.2f} ms max {lat[-1]:.2f}; body p50 {sizes[len(sizes)//2]:,} B", flush=True)
    prof = cProfile.Profile(); prof.enable()
    for c in pick[20:]: one(c)
    prof.disable()
    for key in ("cumulative", "tottime"):
        s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats(key).print_stats(40)
        open(f"{out}.{key}.txt", "w").write(s.getvalue())
    prof.dump_stats(f"{out}.pstats")
    return 0
if __name__ == "__main__":
    raise SystemExit(main())
