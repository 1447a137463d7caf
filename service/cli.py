"""The `voucher-ledger` command: serve, token, demo, close-year, projections, batch, export,
verify-export.

Messages people read on screen are in Chinese first, then English. An operator's mistake (a wrong
database path, an unreachable database, a file that cannot be written, a bad argument) is one line
on standard error and an exit code from EXIT_CODES, never a traceback; a traceback means a bug.
Amounts on screen are yuan (two decimals), as the API writes them.
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


# Exit codes (README "Command line"); scripts branch on them, so they never change meaning.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check found a problem: verify-export, a rebuild stopped by the audit chain
EXIT_USAGE = 2  # bad arguments or configuration: argparse, LEDGER_DATABASE_URL, an unknown id, a path
EXIT_UNAVAILABLE = 3  # the store cannot be reached or opened, or its schema is not current
EXIT_REFUSED = 4  # a rule of the measures or the object's state refuses the command (the API's 409/422)
EXIT_CANCELLED = 5  # the operator answered no to a confirmation; nothing changed
EXIT_INTERRUPTED = 130
# `serve` and `projections run` exit with this when the store's schema is not current (README).
EXIT_SCHEMA_NOT_CURRENT = EXIT_UNAVAILABLE
EXIT_CODES = (
    (EXIT_OK, "成功 success"),
    (EXIT_CHECK_FAILED, "校验发现问题 a check found a problem (verify-export, rebuild stopped by the audit chain)"),
    (EXIT_USAGE, "用法或参数错误 usage: bad arguments, configuration, unknown id, unwritable path"),
    (EXIT_UNAVAILABLE, "数据库不可用或结构未迁移 the store is unreachable, cannot be opened, or is not migrated"),
    (EXIT_REFUSED, "被规则拒绝 refused by a rule of the measures or by the object's state"),
    (EXIT_CANCELLED, "操作员取消 cancelled at the confirmation prompt; nothing changed"),
    (EXIT_INTERRUPTED, "被中断 interrupted (Ctrl-C)"),
)
# Ledger errors that mean the operator typed something wrong rather than that a rule refused it.
USAGE_CODES = frozenset({"VALIDATION_ERROR", "NOT_FOUND"})


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
    from projections.storage.schema import HIDDEN_SINCE_VERSION, SchemaNotCurrent, migrate

    try:
        before, after = migrate()
    except SchemaNotCurrent as refused:
        print(f"无法迁移 / cannot migrate: {refused}", file=sys.stderr)
        return EXIT_SCHEMA_NOT_CURRENT
    if before == after:
        print(f"数据库结构已是最新 / schema already current: version {after}")
    else:
        print(f"数据库结构已迁移 / schema migrated: version {before} -> {after}")
        if 0 < before < HIDDEN_SINCE_VERSION:
            print("企业、服务机构查看本方年度追溯时，旧事件仍逐条解码判断可见范围；运行 `voucher-ledger projections rebuild` "
                  "后按索引分页 / a party's own year trace decodes the events indexed before this upgrade to decide "
                  "what it may see; `voucher-ledger projections rebuild` lets it page by the index")
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
        app.revoke_credential(args.credential_id, args.reason, reference=args.reference)
    print(f"已吊销令牌 / token revoked: {args.credential_id}")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """Every credential: id, role, subject, name, expiry, state; never a hash or a token."""
    app = _ledger()
    credentials = app.list_credentials()
    if not args.all:
        credentials = [c for c in credentials if not c["revoked"]]
    if args.json:
        print(json.dumps(credentials, ensure_ascii=False, indent=2))
        return 0
    print(_table(["令牌 Credential", "角色 Role", "主体 Subject", "名称 Name", "到期 Expires", "签发 Issued", "状态 State"],
                 [[c["credential_id"], c["role"], c["subject"] or "-", c["name"] or "-", c["expires_at"] or "-",
                   c["issued_at"][:19], "已吊销 revoked" if c["revoked"] else "有效 active"] for c in credentials]))
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


def _confirm(question: str) -> bool:
    """Ask on standard error (standard output stays the command's result); anything but y/yes is no,
    and so is no input at all (a script without --yes)."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes", "是")


def cmd_close_year(args: argparse.Namespace) -> int:
    """Show what the close would do (the API's close preview); close after a confirmation (Art. 18)."""
    from projections.views import balances
    from service.bootstrap import open_views
    from web.years import CloseResponse, ClosePreviewSchema

    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up()
    preview = ClosePreviewSchema().dump(balances.close_preview(views.store, app.get_year(args.year), app.today()))
    print(f"年度结转预览 close preview {args.year}: 作废券 expiring vouchers {preview['expired_vouchers']}, "
          f"作废金额 expiring amount {preview['expired_amount']} 元 yuan, 释放合同 released contracts "
          f"{preview['released_contracts']}; 可结转 can close: {'是 yes' if preview['can_close'] else '否 no'} "
          f"(窗口截止 window ends {preview['closes_after']})")
    if args.dry_run:
        print(json.dumps(preview, ensure_ascii=False))
        return EXIT_OK
    # A close the year's rule refuses is refused without a question (the command says why, exit 4).
    question = f"确认结转 {args.year} 年度？余额将作废且不可撤销 / close {args.year}? This cannot be undone"
    if not args.yes and preview["can_close"] and not _confirm(question):
        print("已取消，未作任何更改 / cancelled; nothing changed", file=sys.stderr)
        return EXIT_CANCELLED
    with acting(_cli_actor("operator")):
        result = app.close_year(args.year, progress=_progress(f"年度结转 closing {args.year}"))
    print(json.dumps(CloseResponse().dump({**result.data, "position": result.position}), ensure_ascii=False))
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


def cmd_backup(args: argparse.Namespace) -> int:
    """Back the store up while it runs; print the audit chain's head it holds, to check a restore against."""
    from projections.audit.chain import head
    from projections.storage.backup import backup
    from service.bootstrap import open_views

    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up()
    before = head(views.store)
    written = backup(app.store, args.dest)
    print(f"已备份 / backed up to {', '.join(written)}")
    print(json.dumps({"files": written, "chain_head": before}, ensure_ascii=False))
    return EXIT_OK


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


def _print_api_json(schema: Any, body: Any) -> None:
    """JSON as the API answers it (amounts as two-decimal yuan strings): the endpoint's own schema."""
    print(json.dumps(schema().dump(body), ensure_ascii=False, indent=2))


def cmd_batch(args: argparse.Namespace) -> int:
    """Show a settlement batch, or what paying it would pay per provider and contract (Art. 20)."""
    from ledger.money import format_yuan
    from projections.views import settlement
    from service.bootstrap import open_views
    from web.settlement import BatchListSchema, BatchSchema, PlanSchema

    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up()
    if args.batch_action == "list":
        batches = settlement.list_batches(views.store, args.year)
        if args.json:
            _print_api_json(BatchListSchema, {"batches": batches})
            return 0
        print(_table(["批次 Batch", "年度 Year", "名称 Name", "状态 Status", "申请 Claims", "申请金额 Claimed",
                      "待付 Payable", "已付 Paid"],
                     [[b["batch_id"], b["year"], b["name"], b["status"], b["claims"], format_yuan(b["claimed"]),
                       format_yuan(b["payable"]), format_yuan(b["paid"])] for b in batches]))
        return 0
    if args.batch_action == "plan":
        plan = settlement.get_batch_plan(views.store, args.batch_id)
        if args.json:
            _print_api_json(PlanSchema, plan)
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
        _print_api_json(BatchSchema, batch)
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

    tmp = f"{args.output}.partial"
    try:
        handle = open(tmp, "wb")  # noqa: SIM115 - closed by the with below; opened first to fail before the work
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, args.output) from None  # the path the operator gave
    app = _ledger()
    views = open_views(app, create_table=False)
    views.catch_up(progress=_progress("追平读模型 catching up"))
    report = None if args.quiet else _progress(f"导出 exporting {args.format}")
    with handle:
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


class _Parser(argparse.ArgumentParser):
    """argparse with the usage error said in Chinese first, exiting EXIT_USAGE (argparse's own 2)."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"用法错误 / usage error: {self.prog}: {message}\n")
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voucher-ledger")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _epilog() -> str:
    lines = ["退出码 exit codes:"] + [f"  {code:<4} {text}" for code, text in EXIT_CODES]
    lines.append("配置 configuration: LEDGER_DATABASE_URL (sqlite:///PATH | postgresql://USER:PASS@HOST:PORT/DB)")
    return "\n".join(lines)


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
    parser = _Parser(prog="voucher-ledger", description="广西企业服务补贴券资金台账 Voucher Ledger",
                     epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    revoke.add_argument("--reference", default="", help="工单号 the work order or letter behind the revocation")
    revoke.set_defaults(func=cmd_token_revoke)
    token_list = token.add_parser("list", help="列出令牌（不含哈希）list tokens (never their hashes)")
    token_list.add_argument("--all", action="store_true", help="also the revoked ones")
    token_list.add_argument("--json", action="store_true")
    token_list.set_defaults(func=cmd_token_list)

    demo = sub.add_parser("demo", help="载入演示年度 load the demo year")
    demo.add_argument("--year", type=int)
    demo.set_defaults(func=cmd_demo)

    close = sub.add_parser("close-year", help="年度结转：余额作废 close a year")
    close.add_argument("year", type=int)
    close.add_argument("--dry-run", action="store_true", help="只预览 show what the close would do (the API's close preview)")
    close.add_argument("--yes", action="store_true", help="不询问确认 do not ask for confirmation (scripts)")
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
    batch_list.add_argument("--json", action="store_true", help="JSON as the API answers it (yuan)")
    batch_list.set_defaults(func=cmd_batch)
    for action, text in (("show", "查看批次与申请 show a batch and its claims"),
                         ("plan", "兑付方案：按机构与合同列出应付金额 what the batch would pay")):
        batch_cmd = batch.add_parser(action, help=text)
        batch_cmd.add_argument("batch_id")
        batch_cmd.add_argument("--json", action="store_true", help="JSON as the API answers it (yuan)")
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

    backup = sub.add_parser("backup", help="在线备份 back the store up while it runs (SQLite online backup; pg_dump -Fc)")
    backup.add_argument("dest", help="the backup file to write (refused if it exists)")
    backup.set_defaults(func=cmd_backup)
    deliver = sub.add_parser("deliver", help="投递事件推送 deliver the webhooks' events (one worker per store)")
    deliver.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a receiver's answer")
    deliver.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry (doubling)")
    deliver.add_argument("--backoff-cap", type=float, default=300.0, dest="backoff_cap",
                         help="the longest wait between retries, in seconds")
    deliver.set_defaults(func=cmd_deliver)
    return parser


def _operator_mistake(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and one line for what an operator can fix, or None for a bug (its traceback shows)."""
    from ledger.persistence import ConfigurationError
    from projections.storage.backup import BackupFailed
    from projections.storage.schema import SchemaNotCurrent
    from web.health import is_database_unavailable

    if isinstance(exc, errors.LedgerError):
        code = EXIT_USAGE if exc.code in USAGE_CODES else EXIT_REFUSED
        return code, f"错误 / error {exc.code}: {exc.message} {json.dumps(exc.details, ensure_ascii=False)}"
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE, f"配置错误 / configuration error: {exc}"
    if isinstance(exc, SchemaNotCurrent):
        return EXIT_UNAVAILABLE, f"数据库结构不符 / schema not current: {exc}"
    if isinstance(exc, BackupFailed):
        return EXIT_UNAVAILABLE, f"备份失败 / backup failed: {exc}"
    if is_database_unavailable(exc):
        return EXIT_UNAVAILABLE, (f"数据库不可用 / the database cannot be reached or opened "
                                  f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else '-'}); "
                                  "check LEDGER_DATABASE_URL and that the database is running")
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return EXIT_USAGE, f"无法读写文件 / cannot read or write{where}: {exc.strerror or exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - sorted into an operator's mistake or a bug just below
        said = _operator_mistake(exc)
        if said is None:
            raise
        print(said[1], file=sys.stderr)
        return said[0]


if __name__ == "__main__":
    sys.exit(main())
