"""Rebuilding the read models under query load (issue 20): `voucher-ledger projections rebuild` builds fresh
models beside the live ones and swaps them in at once (projections/storage/bluegreen.py), so a server
answering queries throughout never answers 404 for something that exists or a wrong figure. Before,
the rebuild dropped the live tables: an existing contract answered 404 twice in 8.9 s.

A real `voucher-ledger serve` process on PostgreSQL (its views followed in-process), readers hammering it
from threads, a writer issuing vouchers meanwhile, and the rebuild as the operator runs it."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from service.bootstrap import open_ledger
from tests.conftest import make_store
from tests.hardening.cli import run_cli
from tests.hardening.processes import Server, send_json
from tests.support import YEAR, Scenario, issue_tokens

HOLDERS = 120
READERS = 4


@pytest.mark.slow
@pytest.mark.postgres
def test_a_rebuild_under_query_load_shows_no_404_and_no_wrong_figure(tmp_path: Path) -> None:
    with contextlib.contextmanager(make_store)("postgres", tmp_path) as store:
        app = open_ledger(store)
        scenario = Scenario(app)
        scenario.open_year(budget_yuan=100_000_000)
        vouchers = [scenario.holder(("tech_sme",))[1] for _ in range(HOLDERS)]
        waiting = [scenario.enterprise(("tech_sme",)) for _ in range(10)]  # vouchers issued during the rebuild
        tokens = issue_tokens(app)
        app.close()
        server = Server(store.url, tmp_path / "server.log", projections=True)
        server.start()
        try:
            server.wait_healthy()
            operator = tokens["operator"]

            def get(path: str) -> tuple[int, dict[str, Any]]:
                return send_json(server.url + "/api/v1" + path, "GET", operator)

            status, before = get(f"/years/{YEAR}")
            assert status == 200 and before["vouchers"] == HOLDERS
            quota = get(f"/vouchers/{vouchers[0]}")[1]["quota"]
            issued_during: list[str] = []
            wrong: list[Any] = []
            reads = [0]
            stop = threading.Event()

            def read(n: int) -> None:
                i = n
                while not stop.is_set():
                    voucher = vouchers[i % HOLDERS]
                    status, body = get(f"/vouchers/{voucher}")
                    if status != 200 or body.get("available") != quota:
                        wrong.append(("voucher", voucher, status, body))
                    status, year = get(f"/years/{YEAR}")
                    # Never fewer vouchers than before, nor a total that does not match their count.
                    if status != 200 or year["vouchers"] < HOLDERS or year["issued"] != year["available"]:
                        wrong.append(("year", status, year))
                    reads[0] += 2
                    i += READERS

            def write() -> None:
                for code in waiting:
                    if stop.is_set():
                        return
                    status, body = send_json(server.url + "/api/v1/vouchers", "POST", operator,
                                             {"enterprise_id": code, "year": YEAR})
                    if status != 201:
                        wrong.append(("issue", status, body))
                        return
                    issued_during.append(body["voucher_id"])
                    time.sleep(0.05)

            threads = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
            threads.append(threading.Thread(target=write))
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            try:
                rebuilt = run_cli(store.url, "projections", "rebuild", timeout=300)
                time.sleep(0.5)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=60)
            assert "已重建" in rebuilt.stdout
            assert reads[0] > 20, "the readers ran during the rebuild"
            assert wrong == [], wrong[:5]
            # Every voucher issued during the rebuild is in the rebuilt models, and the totals add up.
            status, after = get(f"/years/{YEAR}")
            assert after["vouchers"] == HOLDERS + len(issued_during)
            for voucher in issued_during:
                assert get(f"/vouchers/{voucher}")[0] == 200
            assert "Traceback" not in server.log()
        finally:
            server.stop()
