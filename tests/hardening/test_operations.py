"""Concurrency, crash and operations (issue 15, items 3, 4, 5, 6, 7): real `voucher-ledger serve` processes on
one PostgreSQL database (and a throwaway cluster of our own, stopped mid-test), plus the same rules in process
on both stores where they apply. Traffic to 127.0.0.1 only; each test is bounded in time and requests.

- 3: one Idempotency-Key and body sent 20 times at once across three servers: one answer, once recorded.
- 4: a committed command gets its 2xx even when the read models cannot catch up (X-Ledger-Views-Lag).
- 5: after lost commits, no server acts on its cache for an aggregate the store no longer has.
- 6: `serve` and `projections run` refuse an unmigrated store (exit 3) and run no DDL; `migrate` runs once.
- 7: with PostgreSQL down, API calls are answered 503 with Retry-After within seconds; service resumes.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest

from ledger import errors
from projections.storage.schema import SCHEMA_VERSION, schema_version
from projections.runner import Views
from service.bootstrap import open_ledger
from tests.conftest import make_store
from tests.hardening.cli import run_cli
from tests.hardening.loadworld import this_year
from tests.hardening.processes import PostgresCluster, Projections, Server
from tests.support import ELIGIBLE_FACTS, YEAR, Scenario, as_role, bearer, hooked_ledger, issue_tokens

SAME_KEY_REQUESTS = 20
ROUNDS = 3


def call(url: str, method: str = "GET", token: str | None = None, body: Any = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of one request to a server on loopback."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Authorization": f"Bearer {token}"} if token else {}), "Content-Type": "application/json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


def enterprise_body(code: str) -> dict[str, Any]:
    return {"id": code, "name": f"企业{code[-6:]}", "employees": 300, "revenue": "50000000.00",
            "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
            "major_violation": False, "industry_aligned": True, "honours": ["tech_sme"]}


@contextlib.contextmanager
def world(tmp_path: Path, enterprises: int = 0) -> Iterator[dict[str, Any]]:
    """A PostgreSQL database with this year open and funded, `enterprises` waiting for a voucher, tokens."""
    with contextlib.contextmanager(make_store)("postgres", tmp_path) as store:
        app = open_ledger(store)
        scenario = Scenario(app)
        year = scenario.open_year(this_year(), budget_yuan=10_000_000)
        codes = [scenario.enterprise(("tech_sme",)) for _ in range(enterprises)]
        tokens = issue_tokens(app)
        try:
            yield {"store": store, "app": app, "scenario": scenario, "year": year, "enterprises": codes,
                   "tokens": tokens}
        finally:
            app.close()


@contextlib.contextmanager
def running(*processes: Any) -> Iterator[None]:
    try:
        for process in processes:
            process.start()
        for process in processes:
            if isinstance(process, Server):
                process.wait_healthy()
        yield
    finally:
        for process in processes:
            process.stop()


# 3. Idempotency under concurrency ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_one_key_sent_at_once_to_three_servers_gets_the_first_answer_every_time(tmp_path: Path) -> None:
    with world(tmp_path, enterprises=ROUNDS) as w:
        servers = [Server(w["store"].url, tmp_path / f"server{n}.log") for n in range(3)]
        with running(*servers):
            for code in w["enterprises"]:
                key = f"issue-{uuid.uuid4()}"
                barrier = threading.Barrier(SAME_KEY_REQUESTS)

                def send(n: int, code: str = code, key: str = key, barrier: threading.Barrier = barrier) -> Any:
                    barrier.wait()
                    status, body, _ = call(servers[n % 3].url + "/api/v1/vouchers", "POST", w["tokens"]["operator"],
                                           {"enterprise_id": code, "year": w["year"]}, {"Idempotency-Key": key})
                    return status, body

                with ThreadPoolExecutor(SAME_KEY_REQUESTS) as pool:
                    answers = list(pool.map(send, range(SAME_KEY_REQUESTS)))
                first = answers[0]
                assert first[0] == 201, first
                assert all(answer == first for answer in answers), [a for a in answers if a != first][:3]
        year = w["app"].get_year(w["year"])
        assert year.vouchers == ROUNDS, "each key issued exactly one voucher"


# Another server's commit lands inside this one's first existence check.
Overtaken = hooked_ledger("_exists")


def test_a_refusal_caused_by_the_same_key_s_first_request_answers_that_request_s_result(store: Any,
                                                                                     clock: Any) -> None:
    """In process, on both stores: this server had not seen the key when it started; the same request with
    the same key, on another server, registered the enterprise meanwhile; so this one finds it
    ALREADY_EXISTS. It answers the first request's recorded result instead, and records nothing.

    Registration, not issuance: an issuance takes the year's turn (ledger/commands/base.py `exclusive`),
    so on PostgreSQL the other server's issuance would wait for this one's turn rather than overtake it
    (the test once hung there until the library's idle-in-transaction timeout broke the turn)."""
    from ledger.context import Actor, Idempotency, acting

    app = open_ledger(store, clock=clock, application=Overtaken)
    other = open_ledger(store, clock=clock)
    code = Scenario(app).next_code()
    operator = Actor(role="operator", id="op-1")
    key = Idempotency(key="k-1", request_hash="h-1")
    first: list[Any] = []

    def register(ledger: Any) -> Any:
        return ledger.register_enterprise(code, "先到企业", honours=["tech_sme"], **ELIGIBLE_FACTS)

    def the_same_request_elsewhere() -> None:
        with acting(operator, idempotency=key):
            first.append(register(other))

    app.hook = the_same_request_elsewhere
    head = app.recorder.max_notification_id() or 0  # an empty store has none
    started = time.monotonic()
    with acting(operator, idempotency=key):
        again = register(app)
    assert again.replayed and again.data == first[0].data and again.created
    assert app.recorder.max_notification_id() == first[0].position  # no refusal recorded after it
    assert first[0].position > head
    assert time.monotonic() - started < 3, "nothing waited for a timeout"
    app.close()
    other.close()


# 4. A committed command always gets its 2xx -------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_a_command_committed_while_the_views_are_locked_is_answered_2xx_with_the_lag(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        views = Views(w["app"])
        tracking = views.store.tracking_table_name  # type: ignore[attr-defined]
        views.close()
        server = Server(w["store"].url, tmp_path / "server.log", LEDGER_POSTGRES_STATEMENT_TIMEOUT="1",
                        LEDGER_VIEWS_WAIT_SECONDS="1")
        with running(server):
            code = w["scenario"].next_code()
            with psycopg.connect(w["store"].url) as blocker:
                blocker.execute(f"LOCK TABLE {tracking} IN ACCESS EXCLUSIVE MODE")  # held until the rollback
                started = time.monotonic()
                status, body, headers = call(server.url + "/api/v1/enterprises", "POST", w["tokens"]["operator"],
                                             enterprise_body(code), timeout=15)
                elapsed = time.monotonic() - started
                blocker.rollback()
            assert status == 201, body
            assert int(headers["X-Ledger-Views-Lag"]) >= 1 and isinstance(body["position"], int)
            assert elapsed < 8, elapsed
            # Read-your-writes: the next query waits for the views, which now catch up.
            status, shown, _ = call(server.url + f"/api/v1/enterprises/{code}", token=w["tokens"]["operator"])
            assert status == 200 and shown["name"] == enterprise_body(code)["name"], shown
        assert "Traceback" not in server.log()


def test_a_failing_view_does_not_fail_the_committed_command(ledger: Any, views: Any, client: Any,
                                                            tokens: dict[str, str], scenario: Any) -> None:
    """In process, on both stores: a read model's table is gone; the command is committed and answered 201
    with X-Ledger-Views-Lag; once the views are rebuilt, the query shows it."""
    code = scenario.next_code()
    with views.store.datastore.transaction(commit=True) as cursor:
        cursor.execute("DROP TABLE vl_enterprises")  # not the chain: a rebuild checks the stored chain first
    response = client.post("/api/v1/enterprises", json=enterprise_body(code), headers=bearer(tokens["operator"]))
    assert response.status_code == 201, response.get_json()
    assert int(response.headers["X-Ledger-Views-Lag"]) >= 1
    assert ledger.get_enterprise(code).name == enterprise_body(code)["name"]  # committed
    views.rebuild()
    shown = client.get(f"/api/v1/enterprises/{code}", headers=bearer(tokens["operator"]))
    assert shown.status_code == 200 and "X-Ledger-Views-Lag" not in shown.headers


# 5. The cache never acts on state the store does not have -----------------------------------------------------

def lose_commits_after(app: Any, position: int) -> None:
    """What a failover to a replica that missed the last commits leaves: the log's tail is gone."""
    table = app.recorder.events_table_name
    column = "rowid" if app.store.backend == "sqlite" else "notification_id"
    with app.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} > {int(position)}")


def test_the_cache_is_emptied_when_the_log_lost_commits(ledger: Any, scenario: Any) -> None:
    scenario.open_year()
    head = ledger.recorder.max_notification_id()
    code = scenario.enterprise(("tech_sme",))  # acknowledged, and cached by this server
    lose_commits_after(ledger, head)
    with as_role("operator"), pytest.raises(errors.NotFound):
        ledger.issue_voucher(code, YEAR)
    assert ledger.log_check.rewinds == 1
    # The store's own state still works: the enterprise registered again gets its voucher.
    scenario.enterprise(("tech_sme",), code=code)
    with as_role("operator"):
        assert ledger.issue_voucher(code, YEAR).data["enterprise_id"] == code


def test_positions_reused_after_a_restore_are_not_mistaken_for_the_lost_ones(ledger: Any, scenario: Any) -> None:
    """Another writer fills the lost positions again (a restored database reuses them): still detected."""
    scenario.open_year()
    head = ledger.recorder.max_notification_id()
    lost = scenario.enterprise(("tech_sme",))
    other = open_ledger(ledger.store, clock=ledger.clock)
    lose_commits_after(ledger, head)
    with as_role("operator"):  # the other server writes after the loss
        other.register_enterprise(scenario.next_code(), "另一企业", honours=[], **ELIGIBLE_FACTS)
    with as_role("operator"), pytest.raises(errors.NotFound):
        ledger.issue_voucher(lost, YEAR)
    other.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_after_lost_commits_no_server_issues_from_its_cache(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        servers = [Server(w["store"].url, tmp_path / f"server{n}.log") for n in range(2)]
        with running(*servers):
            head = w["app"].recorder.max_notification_id()
            code = w["scenario"].next_code()
            status, _, _ = call(servers[0].url + "/api/v1/enterprises", "POST", w["tokens"]["operator"],
                                enterprise_body(code))
            assert status == 201
            lose_commits_after(w["app"], head)  # the failover: the registration is gone from the store
            for server in servers:
                status, body, _ = call(server.url + "/api/v1/vouchers", "POST", w["tokens"]["operator"],
                                       {"enterprise_id": code, "year": w["year"]})
                assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), body
            assert servers[0].health()[1]["cache_rewinds"] >= 1
        assert w["app"].get_year(w["year"]).vouchers == 0


# 6. Schema changes run once, under a lock, outside request serving ---------------------------------------------

def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_and_the_follower_refuse_an_unmigrated_store_and_create_nothing(tmp_path: Path) -> None:
    with contextlib.contextmanager(make_store)("postgres", tmp_path) as store:
        for process in (Server(store.url, tmp_path / "server.log"), Projections(store.url, tmp_path / "follower.log")):
            process.start(migrate=False)
            assert process.popen is not None
            assert process.popen.wait(timeout=60) == 3, process.log()
            assert "voucher-ledger migrate" in process.log()
        assert tables(store.url) == set(), "a refused start ran DDL"
        # Several `migrate` at once: one creates, the others find it current.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: run_cli(store.url, "migrate", timeout=120), range(4)))
        assert all(result.returncode == 0 for result in results)
        assert sum(f"0 -> {SCHEMA_VERSION}" in result.stdout for result in results) == 1, [r.stdout for r in results]
        assert schema_version(store) == SCHEMA_VERSION
        server = Server(store.url, tmp_path / "server-migrated.log")
        with running(server):
            assert server.health()[1]["status"] == "ok"


@pytest.mark.slow
@pytest.mark.postgres
def test_servers_starting_on_a_live_store_under_writes_all_start(tmp_path: Path) -> None:
    """The deadlock of issue 15: servers starting while others write. They run no DDL, so all start."""
    with world(tmp_path) as w:
        first = Server(w["store"].url, tmp_path / "server0.log")
        late = [Server(w["store"].url, tmp_path / f"late{n}.log") for n in range(4)]
        stop = threading.Event()
        written: list[int] = []

        def write() -> None:
            while not stop.is_set() and len(written) < 300:
                status, _, _ = call(first.url + "/api/v1/enterprises", "POST", w["tokens"]["operator"],
                                    enterprise_body(w["scenario"].next_code()))
                written.append(status)

        with running(first):
            writer = threading.Thread(target=write)
            writer.start()
            try:
                with running(*late):
                    for server in late:
                        assert server.health()[1]["status"] == "ok"
            finally:
                stop.set()
                writer.join(60)
        assert written and set(written) == {201}, set(written)
        for server in late:
            assert "DeadlockDetected" not in server.log() and "Traceback" not in server.log()


# 7. Fast failure while PostgreSQL is down ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_while_postgres_is_down_calls_fail_fast_with_retry_after_and_service_resumes(tmp_path: Path) -> None:
    cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="vl15-", dir="/tmp"))).start()  # reachable by postgres
    try:
        url = cluster.create_database("ledger")
        from ledger.persistence import parse_database_url

        app = open_ledger(parse_database_url(url))
        scenario = Scenario(app)
        year = scenario.open_year(this_year())
        tokens = issue_tokens(app)
        app.close()
        server = Server(url, tmp_path / "server.log", threads=4)
        with running(server):
            cluster.stop_server()
            try:
                timings = []
                for method, path, body in (("GET", f"/api/v1/years/{year}", None),
                                           ("POST", "/api/v1/enterprises", enterprise_body(scenario.next_code())),
                                           ("GET", f"/api/v1/years/{year}", None)):
                    started = time.monotonic()
                    status, answer, headers = call(server.url + path, method, tokens["operator"], body, timeout=30)
                    timings.append(time.monotonic() - started)
                    assert (status, answer["error"]["code"]) == (503, "SERVICE_UNAVAILABLE"), answer
                    assert int(headers["Retry-After"]) >= 1
                assert max(timings) < 8, timings
                print(f"\nPostgreSQL down: 503 + Retry-After in {[round(t, 2) for t in timings]} s")
                assert server.health(timeout=10)[0] == 503
            finally:
                cluster.start_server()
            deadline = time.monotonic() + 60
            while server.health(timeout=10)[0] != 200:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.5)
            code = scenario.next_code()
            status, answer, _ = call(server.url + "/api/v1/enterprises", "POST", tokens["operator"],
                                     enterprise_body(code))
            assert status == 201, answer
        assert "Traceback" not in server.log(), server.log()[-3000:]
    finally:
        cluster.destroy()


# The concurrent run of issue 15, small: the script the README names, with fewer threads and operations.

@pytest.mark.slow
@pytest.mark.postgres
def test_the_concurrent_run_has_no_overspend_duplicate_loss_5xx_or_visible_conflict(tmp_path: Path) -> None:
    from tests.conftest import postgres_admin_url
    from tests.hardening.issue15_run import run

    figures = run(threads=20, operations=8, max_seconds=60, workdir=tmp_path, admin_url=postgres_admin_url())
    assert figures["requests"] > 200, figures
    for name in ("overspends", "duplicated_commands", "lost_commands", "server_errors_5xx", "client_visible_conflicts"):
        assert figures[name] == 0, figures
