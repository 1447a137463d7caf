"""The bench's HTTP query stage alone (bench/http_bench.py queries + /healthz), against one
`serve --no-projections` on a copy of the scale-1 store with its read models built:
python query_ab.py URL WORLD OUT.json [--samples 600]. The server runs the code checked out in /work/main."""
from __future__ import annotations
import json, os, pickle, random, sys, time
sys.path.insert(0, os.getcwd())
from bench import http_bench
from bench.material import Material
from bench.plan import Plan
from bench.server import Client, Server
from bench.world import Driver
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger

def main() -> int:
    url, world_path, out = sys.argv[1:4]
    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv else 600
    store = parse_database_url(url)
    app = open_ledger(store)
    world = pickle.load(open(world_path, "rb"))["world"]
    material = Material(Driver(app, world), Plan(17))
    tokens = http_bench.Tokens(material)
    result = {"started": time.strftime("%FT%TZ", time.gmtime())}
    with Server(store.url, out + ".server.log", follow=False) as server:
        client = Client(server.port)
        try:
            paths = http_bench.openapi_paths(client)
            result["healthz"] = http_bench.healthz(client, samples)
            result["queries"] = http_bench.queries(client, material, tokens, samples, paths, random.Random(5))
        finally:
            client.close()
    app.close()
    json.dump(result, open(out, "w"), indent=1)
    short = {k: (v.get("p50_ms"), v.get("p99_ms")) for k, v in result["queries"].items()}
    short["healthz"] = (result["healthz"].get("p50_ms"), result["healthz"].get("p99_ms"))
    print(json.dumps(short))
    return 0
if __name__ == "__main__":
    sys.exit(main())
