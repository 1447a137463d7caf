"""py-spy on a server answering one client's voucher (or other) queries: python spy_queries.py URL WORLD OUT KIND [seconds]"""
import os, pickle, random, subprocess, sys, time, threading
sys.path.insert(0, os.getcwd())
from bench import http_bench
from bench.material import Material
from bench.plan import Plan
from bench.server import Client, Server
from bench.world import Driver
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger
url, world_path, out, kind = sys.argv[1:5]
secs = int(sys.argv[5]) if len(sys.argv) > 5 else 12
store = parse_database_url(url); app = open_ledger(store)
world = pickle.load(open(world_path, "rb"))["world"]
tokens = http_bench.Tokens(Material(Driver(app, world), Plan(17)))
tok = tokens("auditor"); rng = random.Random(3)
providers = sorted({r.provider for r in world.contracts})
path = {"voucher": lambda: f"/api/v1/vouchers/{rng.choice(world.vouchers).voucher_id}",
        "provider": lambda: f"/api/v1/providers/{rng.choice(providers)}/totals?year={world.year}",
        "year": lambda: f"/api/v1/years/{world.year}"}[kind]
with Server(store.url, out + ".server.log", follow=False) as server:
    client = Client(server.port)
    for _ in range(300): client.get(path(), token=tok)
    stop = time.time() + secs + 2; n = [0]
    def load():
        while time.time() < stop:
            client.get(path(), token=tok); n[0] += 1
    t = threading.Thread(target=load); t.start()
    subprocess.run(["/work/main/.venv/bin/py-spy", "record", "-p", str(server.process.pid), "-d", str(secs), "-r", "1000",
                    "--format", "raw", "-o", out + ".txt", "--nonblocking"], check=False, capture_output=True)
    t.join(); print("requests", n[0], "in", secs + 2, "s")
