"""The `voucher-ledger` command: serve, token, demo, close-year, projections, batch, export,
verify-export.

Messages people read on screen are in Chinese first, then English.
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import sys
from typing import Any, Sequence

from ledger import errors
from ledger.context import Actor, acting


def _cli_actor(role: str) -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = "unknown"
    return Actor(role=role, id=f"cli:{user}")


# `serve` and `projections run` exit with this when the store's schema is not current (README).
EXIT_SCHEMA_NOT_CURRENT = 3


def _ledger() -> Any:
    """The ledger for a one-off command (token, demo, close-year, export...): it migrates a store that was
    never migrated (under the schema lock, as `voucher-ledger migrate` does), and runs no DDL otherwise."""
    from projections.storage.schema import SCHEMA_VERSION, migrate, schema_version
    from service.bootstrap import open_ledger
    from ledger.persistence import parse_database_url

    store = parse_database_url()
    if schema_version(store) != SCHEMA_VERSION:
        migrate(store)
    return open_ledger(store, create_table=False)  # wired for its backend, which ledger/ may not know


def _served_ledger() -> Any:
    """The ledger for a long-running process (serve, projections run): never DDL on a live store.

    PostgreSQL: refuses unless `voucher-ledger migrate` brought the store to this program's schema.
    SQLite: migrates a new or old file itself (the same `migrate`): one host owns the file, and its
    file lock serialises a schema change with every writer, so it cannot deadlock; and `serve` on a
    fresh file stays the newcomer's one step.
    """
    from projections.storage.schema import SchemaNotCurrent, migrate, require_current_schema
    from service.bootstrap import open_ledger
    from ledger.persistence import parse_database_url

    store = parse_database_url()
    try:
        if store.backend == "sqlite":
            migrate(store)  # nothing when current
        require_current_schema(store)
    except SchemaNotCurrent as refused:
        print(f"拒绝启动 / not starting: {refused}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_SCHEMA_NOT_CURRENT) from None
    return open_ledger(store, create_table=False)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the store's tables, once, under the schema lock (projections/storage/schema.py)."""
    from projections.storage.schema import SchemaNotCurrent, migrate

    try:
        before, after = migrate()
    except SchemaNotCurrent as refused:
        print(f"无法迁移 / cannot migrate: {refused}", file=sys.stderr)
        return EXIT_SCHEMA_NOT_CURRENT
    if before == after:
        print(f"数据库结构已是最新 / schema already current: version {after}")
    else:
        print(f"数据库结构已迁移 / schema migrated: version {before} -> {after}")
    return 0


def _progress(label: str) -> Any:
    def report(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def cmd_serve(args: argparse.Namespace) -> int:
    from waitress import serve

    from projections.storage.warmup import warm_cache
    from service.bootstrap import build_app, open_views
    from web import memory
    from web.errors import install_waitress_error_bodies

    memory.one_arena()  # before the pools and waitress start their threads (web/memory.py)
    from web.observe import configure_access_log

    configure_access_log(args.access_log or os.environ.get("LEDGER_ACCESS_LOG") or None)  # stderr by default
    app = _served_ledger()
    fixed = getattr(app.clock, "fixed", None)
    if fixed is not None:
        # No handler is configured: logging's last resort writes the warning to standard error.
        logging.getLogger("voucher_ledger").warning(
            "警告 / warning: LEDGER_BUSINESS_DATE fixes the business date at %s (业务日期固定): windows, close "
            "and year range use it, not today's Beijing date", fixed.isoformat())
    views = open_views(app, create_table=False)
    views.catch_up()
    warm_cache(app, views.store, app.today().year)  # the year's hot streams, before the first request
    if not args.no_projections:
        views.start_polling()
    flask_app = build_app(app, views)
    # What start-up made (modules, the catch-up's memo) lives as long as the process: keep it out of
    # the collector's full passes, whose pauses would otherwise land on some request (issue 7: p99).
    gc.collect()
    gc.freeze()
    install_waitress_error_bodies()  # what waitress refuses itself (a body over 2 MiB) gets the error body too
    print(f"Voucher Ledger 服务已启动 / serving on http://{args.host}:{args.port}/ ({app.store.backend})", flush=True)
    serve(flask_app, host=args.host, port=args.port, threads=args.threads, ident="voucher-ledger",
          max_request_body_size=2 * 1024 * 1024, channel_timeout=60)
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    app = _ledger()
    with acting(_cli_actor("system")):
        result = app.issue_credential(args.role, subject=args.subject, name=args.name or "",
                                      expires_at=args.expires_at)
    print(f"已签发令牌 / token issued: role={args.role} subject={args.subject or '-'} "
          f"credential={result.data['credential_id']}")
    print(result.extra["token"])
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    app = _ledger()
    with acting(_cli_actor("system")):
        app.revoke_credential(args.credential_id, args.reason)
    print(f"已吊销令牌 / token revoked: {args.credential_id}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import load_demo

    app = _ledger()
    summary = load_demo(app, args.year)
    if summary["loaded"]:
        print(f"已载入演示年度 / demo year loaded: {summary['year']} ({summary['vouchers']} vouchers)")
    else:
        print(f"演示年度已存在 / demo year already present: {summary['year']}")
    return 0


def cmd_close_year(args: argparse.Namespace) -> int:
    app = _ledger()
    with acting(_cli_actor("operator")):
        result = app.close_year(args.year, progress=_progress(f"年度结转 closing {args.year}"))
    print(json.dumps({**result.data, "position": result.position}, ensure_ascii=False))
    return 0


def cmd_projections(args: argparse.Namespace) -> int:
    import time

    from service.bootstrap import open_views

    app = _served_ledger() if args.action == "run" else _ledger()
    views = open_views(app, create_table=False)
    if args.action == "rebuild":
        from projections.audit.chain import ChainMismatch, head

        old_head = head(views.store)
        try:
            applied = views.rebuild(progress=_progress("重建读模型 rebuilding"), rechain=args.rechain)
        except ChainMismatch as mismatch:
            # Re-chaining would hide the change: stop, name it, let the operator decide (projections/audit/chain.py).
            print(f"审计链与事件不符，未重建 / the audit chain no longer matches the events at position "
                  f"{mismatch.result.get('position')} ({mismatch.result.get('reason')}); nothing was rebuilt. "
                  "Investigate with GET /api/v1/audit/verify; to re-chain the altered history on purpose, "
                  "run `projections rebuild --rechain`.", file=sys.stderr)
            print(json.dumps(mismatch.result, ensure_ascii=False), file=sys.stderr)
            return 1
        if args.rechain:
            print(f"已重新链接 / re-chained; the old chain's head was {json.dumps(old_head)}")
        print(f"已重建 / rebuilt: {applied} events")
    elif args.action == "catch-up":
        print(f"已追平 / caught up: {views.catch_up()} events")
    else:  # run: follow the log for web workers that do not run the projections themselves
        from web.health import wait_out_an_outage

        print("读模型跟随中 / following the log (Ctrl-C to stop)", flush=True)
        while True:
            try:
                views.catch_up()
            except Exception as exc:  # noqa: BLE001 - a follower outlives a database restart
                wait_out_an_outage(exc, max(args.interval, 1.0))
                continue
            time.sleep(args.interval)
    return 0


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table aligned by display width (a Chinese character takes two columns)."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_batch(args: argparse.Namespace) -> int:
    """Show a settlement batch, or what paying it would pay per provider and contract (Art. 20)."""
    from ledger.money import format_yuan
    from projections.views import settlement
    from service.bootstrap import open_views

    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up()
    if args.batch_action == "list":
        batches = settlement.list_batches(views.store, args.year)
        if args.json:
            print(json.dumps(batches, ensure_ascii=False, indent=2))
            return 0
        print(_table(["批次 Batch", "年度 Year", "名称 Name", "状态 Status", "申请 Claims", "申请金额 Claimed",
                      "待付 Payable", "已付 Paid"],
                     [[b["batch_id"], b["year"], b["name"], b["status"], b["claims"], format_yuan(b["claimed"]),
                       format_yuan(b["payable"]), format_yuan(b["paid"])] for b in batches]))
        return 0
    if args.batch_action == "plan":
        plan = settlement.get_batch_plan(views.store, args.batch_id)
        if args.json:
            print(json.dumps(plan, ensure_ascii=False, indent=2))
            return 0
        print(f"兑付方案 Settlement plan: {plan['name']} ({plan['year']}) 状态 status={plan['status']}")
        rows = [[p["provider_id"], p["name"], c["contract_id"], c["enterprise_id"] or "", c["category"] or "",
                 format_yuan(c["amount"])] for p in plan["providers"] for c in p["contracts"]]
        print(_table(["服务机构 Provider", "名称 Name", "合同 Contract", "用券企业 Enterprise", "服务类别 Category",
                      "补贴金额 Subsidy"], rows))
        print()
        print(_table(["服务机构 Provider", "名称 Name", "合同数 Contracts", "应付金额 To pay"],
                     [[p["provider_id"], p["name"], len(p["contracts"]), format_yuan(p["amount"])]
                      for p in plan["providers"]]))
        print(f"合计 Total: {format_yuan(plan['amount'])} 元 yuan, {plan['contracts']} 份合同 contracts")
        return 0
    batch = settlement.get_batch(views.store, args.batch_id)
    if args.json:
        print(json.dumps(batch, ensure_ascii=False, indent=2))
        return 0
    print(f"兑付批次 Settlement batch: {batch['name']} ({batch['year']}) 状态 status={batch['status']}"
          + (f" 付款凭证 reference={batch['reference']}" if batch["reference"] else ""))
    print(_table(["申请 Claim", "服务机构 Provider", "状态 Status", "合同数 Contracts", "金额 Amount", "申请人 Claimed by",
                  "审核人 Reviewed by"],
                 [[c["claim_id"], c["provider_id"], c["status"], len(c["contract_ids"]), format_yuan(c["amount"]),
                   c["claimed_by"], c["reviewed_by"] or ""] for c in batch["claims"]]))
    print()
    print(_table(["状态 Status", "申请 Claims", "合同 Contracts", "金额 Amount"],
                 [[status, t["claims"], t["contracts"], format_yuan(t["amount"])]
                  for status, t in batch["totals"].items()]))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the export (events with their chain links, manifest last) to a file (Art. 21-24)."""
    from projections.audit.export import export_chunks
    from service.bootstrap import open_views

    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up(progress=_progress("追平读模型 catching up"))
    report = None if args.quiet else _progress(f"导出 exporting {args.format}")
    tmp = f"{args.output}.partial"
    with open(tmp, "wb") as handle:
        for chunk in export_chunks(app, views.store, args.format, year=args.year, from_position=args.from_position,
                                   to_position=args.to_position, progress=report):
            handle.write(chunk)
    os.replace(tmp, args.output)  # a finished file or none: a partial export never looks complete
    print(f"已导出 / exported to {args.output}")
    return 0


def cmd_verify_export(args: argparse.Namespace) -> int:
    """Check an export offline: every hash, the links between lines, the manifest; exit 1 on a break."""
    from projections.audit.export_verify import check_file

    if args.position is not None and args.head is None:
        print("--position needs --head", file=sys.stderr)
        return 2
    result = check_file(args.file, head=args.head, head_position=args.position)
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    if not result.ok and result.details:
        print(json.dumps(result.details, ensure_ascii=False), file=sys.stderr)
    return 0 if result.ok else 1


def cmd_deliver(args: argparse.Namespace) -> int:
    """Deliver the webhooks' events (service/delivery.py): one worker per store, the others stand by."""
    from service.bootstrap import open_views
    from service.delivery import Deliverer, hold_the_worker_lock

    app = _served_ledger()
    views = open_views(app, create_table=False)
    print("等待投递锁 / waiting to be the one delivery worker", flush=True)
    lock = hold_the_worker_lock(app)  # noqa: F841 - held while the process lives
    print("事件推送中 / delivering webhooks (Ctrl-C to stop)", flush=True)
    Deliverer(app, views, timeout=args.timeout, backoff=args.backoff, backoff_cap=args.backoff_cap).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voucher-ledger", description="广西企业服务补贴券资金台账 Voucher Ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="启动服务 serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument("--no-projections", action="store_true",
                       help="a separate `projections run` process keeps the read models current")
    serve.add_argument("--access-log", dest="access_log", metavar="PATH",
                       help="append the access log (one JSON line per request) to PATH, not standard error "
                            "(or LEDGER_ACCESS_LOG)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="创建或升级数据库结构 create or upgrade the store's tables (once, under a lock)")
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="令牌 tokens").add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="签发令牌 issue a token")
    issue.add_argument("--role", required=True)
    issue.add_argument("--subject")
    issue.add_argument("--name")
    issue.add_argument("--expires-at", help="ISO 8601 instant with offset")
    issue.set_defaults(func=cmd_token_issue)
    revoke = token.add_parser("revoke", help="吊销令牌 revoke a token")
    revoke.add_argument("credential_id")
    revoke.add_argument("--reason", default="revoked")
    revoke.set_defaults(func=cmd_token_revoke)

    demo = sub.add_parser("demo", help="载入演示年度 load the demo year")
    demo.add_argument("--year", type=int)
    demo.set_defaults(func=cmd_demo)

    close = sub.add_parser("close-year", help="年度结转：余额作废 close a year")
    close.add_argument("year", type=int)
    close.set_defaults(func=cmd_close_year)

    projections = sub.add_parser("projections", help="读模型 read models")
    projections.add_argument("action", choices=["run", "catch-up", "rebuild"])
    projections.add_argument("--interval", type=float, default=0.2)
    projections.add_argument("--rechain", action="store_true",
                             help="rebuild even if the audit chain no longer matches the events (re-chains them)")
    projections.set_defaults(func=cmd_projections)

    batch = sub.add_parser("batch", help="兑付批次 settlement batches").add_subparsers(dest="batch_action", required=True)
    batch_list = batch.add_parser("list", help="列出兑付批次 list batches")
    batch_list.add_argument("--year", type=int)
    batch_list.add_argument("--json", action="store_true", help="JSON, amounts in fen")
    batch_list.set_defaults(func=cmd_batch)
    for action, text in (("show", "查看批次与申请 show a batch and its claims"),
                         ("plan", "兑付方案：按机构与合同列出应付金额 what the batch would pay")):
        batch_cmd = batch.add_parser(action, help=text)
        batch_cmd.add_argument("batch_id")
        batch_cmd.add_argument("--json", action="store_true", help="JSON, amounts in fen")
        batch_cmd.set_defaults(func=cmd_batch)

    export = sub.add_parser("export", help="导出事件与审计哈希链 export events with their hash chain")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--year", type=int, help="only the events of this service year")
    export.add_argument("--from-position", type=int, dest="from_position")
    export.add_argument("--to-position", type=int, dest="to_position")
    export.add_argument("--output", required=True, help="the file to write")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=cmd_export)

    verify_export = sub.add_parser("verify-export", help="离线校验导出文件 verify an export offline")
    verify_export.add_argument("file")
    verify_export.add_argument("--head", help="a head hash published earlier (公示): the export must carry it")
    verify_export.add_argument("--position", type=int, help="the published head's position")
    verify_export.set_defaults(func=cmd_verify_export)

    deliver = sub.add_parser("deliver", help="投递事件推送 deliver the webhooks' events (one worker per store)")
    deliver.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a receiver's answer")
    deliver.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry (doubling)")
    deliver.add_argument("--backoff-cap", type=float, default=300.0, dest="backoff_cap",
                         help="the longest wait between retries, in seconds")
    deliver.set_defaults(func=cmd_deliver)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except errors.LedgerError as exc:
        print(f"错误 / error {exc.code}: {exc.message} {json.dumps(exc.details, ensure_ascii=False)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
