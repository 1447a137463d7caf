"""Following the ledger with real processes on PostgreSQL (issue 20, "Done when"): two `serve`
processes without projections, the follower (`projections run`) and the delivery worker
(`voucher-ledger deliver`), a webhook receiver that is a real HTTP server in the test.

- The feed's long poll on one server answers within 100 ms of a command answered by the other.
- The receiver gets every event of a scripted day in order, at least once, each signed with the
  subscription's secret, across a kill -9 of the delivery worker (it resumes from its cursor).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest

from service.bootstrap import open_ledger
from tests.conftest import make_store
from tests.hardening.processes import Process, Projections, Server, send_json
from tests.servers import WebhookReceiver
from tests.support import BUSINESS_DATE, YEAR, Clock, Scenario, issue_tokens

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SECRET = "s3cret-of-the-treasury-0123456789"


@contextlib.contextmanager
def deployment(tmp_path: Path, holders: int) -> Iterator[dict[str, Any]]:
    """A funded year with a provider, a product and `holders` enterprises holding vouchers; two servers and
    the follower running on it; tokens."""
    with contextlib.contextmanager(make_store)("postgres", tmp_path) as store:
        app = open_ledger(store, clock=Clock(date.fromisoformat(BUSINESS_DATE)))
        processes: list[Process] = []
        try:
            scenario = Scenario(app)
            scenario.open_year(YEAR)
            provider = scenario.provider()
            product = scenario.product(provider, price_yuan=10_000)
            pairs = [scenario.holder() for _ in range(holders)]
            tokens = issue_tokens(app, ("provider", provider), *(("enterprise", code) for code, _ in pairs))
            servers = [Server(store.url, tmp_path / f"serve-{n}.log") for n in (1, 2)]
            follower = Projections(store.url, tmp_path / "follower.log")
            for process in (*servers, follower):
                processes.append(process.start())
            for server in servers:
                server.wait_healthy()
            yield {"store": store, "app": app, "servers": servers, "tokens": tokens, "provider": provider,
                   "product": product, "pairs": pairs, "processes": processes}
        finally:
            for process in processes:
                process.stop()
            app.close()


def command(server: Server, token: str, path: str, body: Any = None, status: int = 201) -> dict[str, Any]:
    code, answer = send_json(server.url + "/api/v1" + path, "POST", token, body)
    assert code == status, (path, code, answer)
    return answer


def contract_day(world: dict[str, Any]) -> None:
    """The scripted day: each holder proposes a contract on one server, the provider signs it on the other."""
    one, two = world["servers"]
    tokens = world["tokens"]
    for n, (code, voucher) in enumerate(world["pairs"]):
        first, second = (one, two) if n % 2 == 0 else (two, one)
        proposed = command(first, tokens[code], "/contracts", {
            "voucher_id": voucher, "provider_id": world["provider"], "product_id": world["product"],
            "amount": "5000.00"})
        command(second, tokens[world["provider"]], f"/contracts/{proposed['contract_id']}/signature", status=200)


def feed(server: Server, token: str, query: str, timeout: float = 40) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{server.url}/api/v1/events{query}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
        return response.status, json.loads(response.read())


def test_the_long_poll_answers_within_100_ms_of_a_command_on_another_server(tmp_path: Path) -> None:
    with deployment(tmp_path, holders=4) as world:
        one, two = world["servers"]
        auditor = world["tokens"]["auditor"]
        after = feed(one, auditor, "?after=0&limit=1000")[1]["next"]
        late: list[float] = []
        for code, voucher in world["pairs"]:
            answer: dict[str, Any] = {}

            def poll() -> None:
                answer["body"] = feed(one, auditor, f"?after={after}&wait=20")[1]
                answer["at"] = time.monotonic()

            poller = threading.Thread(target=poll)
            poller.start()
            time.sleep(0.5)  # the poll is waiting on server one
            assert "at" not in answer
            proposed = command(two, world["tokens"][code], "/contracts", {
                "voucher_id": voucher, "provider_id": world["provider"], "product_id": world["product"],
                "amount": "5000.00"})
            answered = time.monotonic()
            poller.join(timeout=20)
            assert answer["body"]["events"], answer
            assert after < answer["body"]["events"][0]["position"] <= proposed["position"]
            late.append(answer["at"] - answered)
            after = answer["body"]["next"]
            # The feed's next answers bring the rest of the command's events.
            while after < proposed["position"]:
                after = feed(one, auditor, f"?after={after}&wait=5")[1]["next"]
        assert max(late) < 0.1, late


def test_a_server_writes_one_access_log_line_per_request_with_its_request_id(tmp_path: Path) -> None:
    with deployment(tmp_path, holders=0) as world:
        one = world["servers"][0]
        ids = [f"e2e-access-{n}" for n in range(5)]
        for n, request_id in enumerate(ids):
            token = world["tokens"]["auditor"] if n % 2 else "vl_" + "x" * 43
            request = urllib.request.Request(f"{one.url}/api/v1/events?limit=1", headers={
                "Authorization": f"Bearer {token}", "X-Request-Id": request_id})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
                    assert response.headers["X-Request-Id"] == request_id
            except urllib.error.HTTPError as refused:
                assert refused.code == 401 and refused.headers["X-Request-Id"] == request_id
        one.stop()  # its log complete
        lines = [json.loads(line) for line in one.log().splitlines() if line.startswith("{")]
        logged = [line for line in lines if line.get("request_id", "").startswith("e2e-access-")]
        assert [line["request_id"] for line in logged] == ids
        assert [line["status"] for line in logged] == [401, 200, 401, 200, 401]
        assert all(line["path"] == "/api/v1/events" and line["time"].endswith("+08:00") for line in logged)
        assert world["tokens"]["auditor"] not in one.log()


def test_a_receiver_gets_every_event_in_order_signed_across_a_kill_9_of_the_delivery_worker(tmp_path: Path) -> None:
    with deployment(tmp_path, holders=10) as world, WebhookReceiver(delay=0.02) as receiver:
        one, two = world["servers"]
        status, hook = send_json(one.url + "/api/v1/webhooks", "POST", world["tokens"]["operator"],
                                 {"url": receiver.url, "secret": SECRET, "after": 0})
        assert status == 201, hook
        worker = Process(world["store"].url, ["deliver", "--backoff", "0.2", "--backoff-cap", "1"],
                         tmp_path / "deliver.log")
        world["processes"].append(worker.start())
        day = threading.Thread(target=contract_day, args=(world,))
        day.start()
        deadline = time.monotonic() + 60
        while len(receiver.received) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(receiver.received) >= 40, worker.log()
        worker.kill9()
        killed_at = len(receiver.received)
        worker.start(migrate=False)
        day.join(timeout=120)
        head = feed(two, world["tokens"]["auditor"], "?after=0&limit=1000")[1]
        expected = [event["position"] for event in head["events"]]
        deadline = time.monotonic() + 60
        while (not receiver.received or receiver.positions()[-1] < expected[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        positions = receiver.positions()
        assert positions == sorted(positions), "out of order"
        assert sorted(set(positions)) == expected, "an event was never delivered"
        assert len(positions) - len(set(positions)) <= 1, "only the event in flight at the kill may come twice"
        assert killed_at < len(positions)  # the new worker delivered the rest
        bodies = {json.loads(body)["position"]: json.loads(body) for _, body in receiver.received}
        assert [bodies[p] for p in expected] == head["events"]  # the feed's very lines
        for headers, body in receiver.received:
            assert headers["X-Ledger-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body,
                                                                          hashlib.sha256).hexdigest()
        status, log = send_json(two.url + f"/api/v1/webhooks/{hook['id']}/deliveries?limit=1000", "GET",
                                world["tokens"]["auditor"])
        assert status == 200 and log["webhook"]["delivered"] == expected[-1]
        assert {entry["position"] for entry in log["deliveries"] if entry["status"] == 200} == set(expected)
