"""cProfile of the query requests through the WSGI app (Flask test client) on a scale-1 copy."""
import cProfile, io, os, pickle, pstats, random, sys, time
sys.path.insert(0, os.getcwd())
from ledger.persistence import parse_database_url
from service.bootstrap import build_app, open_ledger, open_views
from bench.material import Material
from bench.plan import Plan
from bench.world import Driver
from bench.http_bench import Tokens
url, world_path, out = sys.argv[1:4]
kind = sys.argv[4] if len(sys.argv) > 4 else "year"
app = open_ledger(parse_database_url(url)); views = open_views(app)
flask_app = build_app(app, views) if "views" in build_app.__code__.co_varnames else build_app(app)
world = pickle.load(open(world_path, "rb"))["world"]
material = Material(Driver(app, world), Plan(17)); tokens = Tokens(material)
auth = {"Authorization": f"Bearer {tokens('auditor')}"}
client = flask_app.test_client()
rng = random.Random(1)
paths = {"year": lambda: f"/api/v1/years/{world.year}",
         "voucher": lambda: f"/api/v1/vouchers/{rng.choice(world.vouchers).voucher_id}",
         "balance": lambda: f"/api/v1/enterprises/{rng.choice(world.vouchers).enterprise}/balance?year={world.year}",
         "provider": lambda: f"/api/v1/providers/{rng.choice(sorted({r.provider for r in world.contracts}))}/totals?year={world.year}"}[kind]
for _ in range(100): assert client.get(paths(), headers=auth).status_code == 200
n = 1000; xs = []
for _ in range(n):
    p = paths(); b = time.perf_counter(); r = client.get(p, headers=auth); xs.append((time.perf_counter()-b)*1000)
xs.sort(); print(kind, f"test-client p50 {xs[n//2]:.3f} ms p99 {xs[int(n*.99)]:.3f}")
prof = cProfile.Profile(); prof.enable()
for _ in range(n): client.get(paths(), headers=auth)
prof.disable()
for key in ("cumulative", "tottime"):
    s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats(key).print_stats(60); open(f"{out}-{kind}.{key}.txt", "w").write(s.getvalue())
