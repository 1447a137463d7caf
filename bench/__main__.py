"""`scripts/bench` (`python -m bench`): generate a year at a scale and measure it (issue 7).

The harness is not part of the product: it lives outside the wheel and drives the ledger through the
composition root (service/bootstrap.py) and a `voucher-ledger serve` subprocess.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from bench.run import Options, main as bench_main


def parser() -> argparse.ArgumentParser:
    bench = argparse.ArgumentParser(prog="scripts/bench", description="基准测试：按规模生成年度数据并测速 generate a year and measure it")
    bench.add_argument("--scale", type=float, default=0.01, help="share of the design size (1 = 20,000 vouchers)")
    bench.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    bench.add_argument("--database-url",
                       help="an empty store to fill (default: scratch SQLite, or a throwaway PostgreSQL cluster)")
    bench.add_argument("--output", default="bench-results", help="directory of the JSON reports")
    bench.add_argument("--workdir", help="SQLite files here (kept) instead of a removed scratch directory")
    bench.add_argument("--samples", type=int, default=300, help="commands per measured series")
    bench.add_argument("--query-samples", type=int, default=300, help="requests per measured query")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--skip-http", action="store_true", help="no server process: no HTTP, export or verify")
    bench.add_argument("--skip-audit", action="store_true", help="no export or chain verification")
    bench.add_argument("--skip-views", action="store_true", help="no projection catch-up and rebuild")
    bench.add_argument("--skip-close", action="store_true", help="no year close")
    bench.add_argument("--keep", action="store_true", help="keep the scratch store (and cluster) afterwards")
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.add_argument("--save-world", help="pickle the generated year to this file (reuse with --world)")
    bench.add_argument("--generate-only", action="store_true", help="stop after generation (with --save-world)")
    bench.add_argument("--world", help="skip generation: --database-url holds the year this file describes "
                                       "(a copy of the store saved with --save-world, as it was then)")
    bench.add_argument("--skip-pages", action="store_true", help="no console pages in headless Chromium")
    bench.add_argument("--pages-only", action="store_true",
                       help="with --world: only the console pages' stage (issue 19), on a copy of the saved store")
    bench.add_argument("--page-repetitions", type=int, default=3, help="loads of each page per role")
    bench.add_argument("--page-roles", help="comma-separated roles to open the pages as (default: every role)")
    return bench


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)

    if not 0.0001 <= args.scale <= 1:
        raise SystemExit("--scale 须在 0.0001 与 1 之间 / must be between 0.0001 and 1")
    if args.generate_only and not args.save_world:
        raise SystemExit("--generate-only 须与 --save-world 同用 / needs --save-world (else the year is lost)")
    if args.world and (args.save_world or args.generate_only):
        raise SystemExit("--world 不生成数据 / --world reuses a year: no --save-world or --generate-only with it")
    if args.pages_only and not args.world:
        raise SystemExit("--pages-only 须与 --world 同用 / needs --world (a saved year)")
    if args.world and not os.path.isfile(args.world):
        raise SystemExit(f"找不到 / not found: --world {args.world}")
    if args.world and not args.database_url:
        raise SystemExit("--world 须指定 --database-url / needs --database-url (a copy of the generated store)")
    options = Options(scale=args.scale, backend=args.backend, database_url=args.database_url, output=args.output,
                      workdir=args.workdir, samples=args.samples, query_samples=args.query_samples, seed=args.seed,
                      skip_http=args.skip_http, skip_audit=args.skip_audit, skip_views=args.skip_views,
                      skip_close=args.skip_close, keep=args.keep, quiet=args.quiet, save_world=args.save_world,
                      world=args.world, generate_only=args.generate_only, pages_only=args.pages_only,
                      skip_pages=args.skip_pages, page_repetitions=args.page_repetitions,
                      page_roles=tuple(args.page_roles.split(",")) if args.page_roles else None,
                      command_line="scripts/bench " + " ".join(sys.argv[1:] if argv is None else argv))
    return bench_main(options)


if __name__ == "__main__":
    sys.exit(main())
