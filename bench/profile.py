"""Profiles of the paths issue 21 names, with cProfile (stdlib): where a command's time goes.

    python -m bench.profile [--backend sqlite|postgres] [--database-url URL] [--scale 0.002] [--samples 100]

Generates a small year on an empty store (as the bench does), then profiles, each in this process:
(a) `sign_contract` through the application, (b) the same command over HTTP through the WSGI app
(Flask's test client: the whole request path of ours, without waitress's socket handling), the
voucher and balance queries the same way, and (c) the year close. For each it writes the pstats file
and the top 40 functions by cumulative and by own time (`<path>-<backend>.cumulative.txt` /
`.tottime.txt`) under --output.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
import uuid
from typing import Any, Callable, Sequence

TOP = 40


def _dump(profile: cProfile.Profile, output: str, name: str, header: str) -> None:
    os.makedirs(output, exist_ok=True)
    profile.dump_stats(os.path.join(output, f"{name}.pstats"))
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order)
        stats.print_stats(TOP)
        with open(os.path.join(output, f"{name}.{order}.txt"), "w", encoding="utf-8") as handle:
            handle.write(header + "\n" + text.getvalue())


def _profiled(run: Callable[[], Any]) -> tuple[cProfile.Profile, float, Any]:
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    try:
        result = run()
    finally:
        profile.disable()
    return profile, time.perf_counter() - started, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help="an empty store (default: scratch SQLite)")
    parser.add_argument("--scale", type=float, default=0.002)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--output", default="bench-results/profiles")
    parser.add_argument("--tag", default="", help="appended to the file names (e.g. 'after')")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from bench import generate, timing, views_bench
    from bench.http_bench import Tokens
    from bench.material import Material
    from bench.plan import Plan, Sizes
    from bench.world import Driver
    from ledger.business_date import BusinessClock
    from ledger.context import acting
    from ledger.persistence import parse_database_url
    from service.bootstrap import build_app, open_ledger, open_views

    timing.QUIET = True
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='vl-profile-')}/ledger.db"
    store = parse_database_url(url)
    suffix = f"-{store.backend}" + (f"-{args.tag}" if args.tag else "")
    app = open_ledger(store)
    views = open_views(app)
    try:
        year = BusinessClock.from_environ()().year
        world, _ = generate.generate(app, Sizes.at(args.scale), year, seed=args.seed)
        views.catch_up()
        views_bench.warm(app, year)
        material = Material(Driver(app, world), Plan(args.seed + 1))
        header = (f"# {store.backend} scale {args.scale}, {app.recorder.max_notification_id()} events, "
                  f"{args.samples} samples; python -m bench.profile {' '.join(argv or [])}")

        # (a) sign_contract through the application.
        proposed = material.proposed(args.samples, "proposals")

        def sign_all() -> None:
            for record in proposed:
                with acting(material.driver.actor("provider", record.provider), request_id=uuid.uuid4().hex):
                    material.signed_from(record, app.sign_contract(record.contract_id).data)

        profile, seconds, _ = _profiled(sign_all)
        _dump(profile, args.output, f"sign-app{suffix}",
              header + f"\n# sign_contract (app): {len(proposed) / seconds:.1f}/s under the profiler")

        # (b) the same command over HTTP through the WSGI app.
        web = build_app(app, views)
        client = web.test_client()
        tokens = Tokens(material)
        proposed = material.proposed(args.samples, "proposals")
        headers = {record.contract_id: {"Authorization": f"Bearer {tokens('provider', record.provider)}"}
                   for record in proposed}

        def sign_http() -> None:
            for record in proposed:
                answer = client.post(f"/api/v1/contracts/{record.contract_id}/signature", json={},
                                     headers=headers[record.contract_id])
                assert answer.status_code == 200, answer.get_data(as_text=True)

        profile, seconds, _ = _profiled(sign_http)
        _dump(profile, args.output, f"sign-http{suffix}",
              header + f"\n# sign_contract (WSGI): {len(proposed) / seconds:.1f}/s under the profiler")

        # (b2) queries over HTTP: a voucher by its id, an enterprise's balance (issue 21: p50 <= 1 ms).
        auditor = {"Authorization": f"Bearer {tokens('auditor')}"}
        paths = [f"/api/v1/vouchers/{voucher.voucher_id}" for voucher in world.vouchers[:args.samples]]
        paths += [f"/api/v1/enterprises/{voucher.enterprise}/balance?year={year}"
                  for voucher in world.vouchers[:args.samples]]

        def query_http() -> None:
            for path in paths:
                answer = client.get(path, headers=auditor)
                assert answer.status_code == 200, answer.get_data(as_text=True)

        query_http()  # the views catch up with the signatures first: not what this profile is about
        profile, seconds, _ = _profiled(query_http)
        _dump(profile, args.output, f"query-http{suffix}",
              header + f"\n# voucher and balance queries (WSGI): {len(paths) / seconds:.1f}/s under the profiler")

        # (c) the year close.
        operator = material.driver.actor("operator")
        profile, seconds, closed = _profiled(lambda: views_bench.close_year(app, year, operator))
        _dump(profile, args.output, f"close{suffix}",
              header + f"\n# year close: {closed['vouchers']} vouchers in {seconds:.2f} s under the profiler")
    finally:
        views.close()
        app.close()
    print(f"profiles in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
