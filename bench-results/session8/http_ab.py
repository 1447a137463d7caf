"""The bench's command stages alone, on a copy of a generated store whose read models are built:
python http_ab.py URL WORLD OUT.json [--samples 300] [--seed 17]

As bench/run.py orders them on PostgreSQL: warm this process's cache from the read models (as `serve` does),
the three commands in the application (bench/app_commands.py), then the same three over HTTP, one client in
sequence, against one `serve --no-projections` with one `projections run` (bench/http_bench.py commands).
Prints each command's HTTP ÷ app ratio. For an A/B of a change to the ledger: the servers run the code
checked out in /work/main.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time

sys.path.insert(0, os.getcwd())

from bench import app_commands, http_bench, views_bench  # noqa: E402
from bench.material import Material  # noqa: E402
from bench.plan import Plan  # noqa: E402
from bench.server import Client, Follower, Server  # noqa: E402
from bench.world import Driver  # noqa: E402
from ledger.persistence import parse_database_url  # noqa: E402
from service.bootstrap import open_ledger  # noqa: E402


def main() -> int:
    url, world_path, out = sys.argv[1:4]
    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv else 300
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 17
    store = parse_database_url(url)
    app = open_ledger(store)
    with open(world_path, "rb") as handle:
        world = pickle.load(handle)["world"]
    # Past the enterprise codes earlier runs on this store registered (they follow the world's serial).
    world.serials["enterprise"] = world.serials.get("enterprise", 0) + 10_000 * (seed - 11)
    material = Material(Driver(app, world), Plan(seed))
    tokens = http_bench.Tokens(material)
    result = {"started": time.strftime("%FT%TZ", time.gmtime()), "warm": views_bench.warm(app, world.year)}
    result["app"] = app_commands.measure(material, samples)
    log = out + ".server.log"
    with Follower(store.url, log) as follower, Server(store.url, log, follow=False) as server:
        client = Client(server.port)
        try:
            result["http"] = http_bench.commands(client, material, tokens, samples)
        finally:
            client.close()
        follower.check()
    app.close()
    result["http_over_app"] = {
        name: round(result["http"][name]["ops_per_s"] / result["app"][name]["ops_per_s"], 3)
        for name in ("issue_voucher", "sign_contract", "complete_contract")}
    result["ops_per_s"] = {side: {name: result[side][name]["ops_per_s"] for name in result["http_over_app"]}
                           for side in ("app", "http")}
    result["errors"] = {side: {name: result[side][name].get("errors") for name in result["http_over_app"]}
                        for side in ("app", "http")}
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, ensure_ascii=False)
    print(json.dumps({k: result[k] for k in ("ops_per_s", "http_over_app", "errors")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
