import os, sys, time, pickle, random
sys.path.insert(0, os.getcwd())
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger, open_views
from projections.storage import eventlog
from projections.audit import trace_queries
url, world_path = sys.argv[1:3]
app = open_ledger(parse_database_url(url)); views = open_views(app); store = views.store
world = pickle.load(open(world_path, "rb"))["world"]
rng = random.Random(3)
settled = [r for r in world.contracts if r.status == "settled"]
big = [int(r[0]) for r in store.query_tuples("SELECT position FROM vl_trace WHERE subject_kind='batch'", [])]
def ms(f, n=200):
    xs = []
    for _ in range(n):
        b = time.perf_counter(); f(); xs.append((time.perf_counter() - b) * 1000)
    xs.sort(); return f"p50 {xs[n//2]:.2f} p99 {xs[int(n*.99)]:.2f}"
tr = trace_queries.contract_trace(app, store, str(settled[0].contract_id))
pos = [s["position"] for s in tr["steps"]]
sizes = {s["position"]: len(str(s["data"])) for s in tr["steps"]}
large = [p for p in pos if sizes[p] > 10000]
small = [p for p in pos if sizes[p] <= 10000]
print(len(pos), "steps; large", large)
print("all    ", ms(lambda: eventlog.notifications_at(app.recorder, pos)))
print("small  ", ms(lambda: eventlog.notifications_at(app.recorder, small)))
print("large  ", ms(lambda: eventlog.notifications_at(app.recorder, large)))
print("records_at all", ms(lambda: eventlog.records_at(app, pos)))
print("trace  ", ms(lambda: trace_queries.contract_trace(app, store, str(rng.choice(settled).contract_id))))
