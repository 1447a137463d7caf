"""cProfile of issuance in the application at scale 1: python issue_prof.py URL WORLD OUT [--samples 300] [--seed 19]

On a copy of the scale-1 store (read models built): warm the cache as `serve` does, then issue `samples`
vouchers to new enterprises under cProfile, as bench/app_commands.py does. Also prints the size of the
year's pickled state, which every issuance unpickles from the cache and pickles back.
"""

from __future__ import annotations

import cProfile
import io
import os
import pickle
import pstats
import sys
import time
import uuid

sys.path.insert(0, os.getcwd())

from bench import views_bench  # noqa: E402
from bench.material import Material  # noqa: E402
from bench.plan import Plan  # noqa: E402
from bench.world import Driver  # noqa: E402
from ledger.context import acting  # noqa: E402
from ledger.domain.year import Year  # noqa: E402
from ledger.persistence import parse_database_url  # noqa: E402
from service.bootstrap import open_ledger  # noqa: E402


def main() -> int:
    url, world_path, out = sys.argv[1:4]
    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv else 300
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 19
    app = open_ledger(parse_database_url(url))
    with open(world_path, "rb") as handle:
        world = pickle.load(handle)["world"]
    world.serials["enterprise"] = world.serials.get("enterprise", 0) + 10_000 * (seed - 11)
    material = Material(Driver(app, world), Plan(seed))
    print("warm", views_bench.warm(app, world.year), flush=True)
    year = app.repository.get(Year.create_id(world.year))
    blob = pickle.dumps(year, pickle.HIGHEST_PROTOCOL)
    print(f"year version {year.version}, pickled {len(blob):,} bytes", flush=True)
    codes = material.enterprises_without_voucher(samples + 10, "prepare")
    operator = material.driver.actor("operator")

    def issue(code: str) -> None:
        with acting(operator, request_id=uuid.uuid4().hex):
            app.issue_voucher(code, world.year)

    for code in codes[:10]:
        issue(code)
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    for code in codes[10:]:
        issue(code)
    profile.disable()
    wall = time.perf_counter() - began
    print(f"{samples} issuances in {wall:.3f} s: {samples / wall:.1f}/s under cProfile", flush=True)
    profile.dump_stats(out + ".pstats")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(45)
        with open(f"{out}.{order}.txt", "w", encoding="utf-8") as handle:
            handle.write(f"# {samples} issuances, year v{year.version} pickled {len(blob):,} bytes, {wall:.3f} s\n")
            handle.write(text.getvalue())
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
