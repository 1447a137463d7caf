"""The `voucher-ledger` command: serve, token, demo, close-year, projections.

Messages people read on screen are in Chinese first, then English.
"""

from __future__ import annotations

import argparse
import getpass
import json
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


def _ledger(create_table: bool = True) -> Any:
    from ledger.application import VoucherLedger

    return VoucherLedger.for_store(create_table=create_table)


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

    from projections.runner import Views
    from web import create_app

    app = _ledger()
    views = Views(app)
    views.catch_up()
    if not args.no_projections:
        views.start_polling()
    flask_app = create_app(ledger=app, views=views)
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
    from ledger.demo import load_demo

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

    from projections.runner import Views

    app = _ledger()
    views = Views(app)
    if args.action == "rebuild":
        applied = views.rebuild(progress=_progress("重建读模型 rebuilding"))
        print(f"已重建 / rebuilt: {applied} events")
    elif args.action == "catch-up":
        print(f"已追平 / caught up: {views.catch_up()} events")
    else:  # run: follow the log for web workers that do not run the projections themselves
        print("读模型跟随中 / following the log (Ctrl-C to stop)", flush=True)
        while True:
            views.catch_up()
            time.sleep(args.interval)
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
    serve.set_defaults(func=cmd_serve)

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
    projections.set_defaults(func=cmd_projections)
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
