"""A load client process: hammers the same vouchers, provider years and year budget over HTTP.

    python -m tests.hardening.load PLAN.json RESULT.json

The plan names the servers, the tokens, the contracts (with their parties), the enterprises
waiting for a voucher, the year, how many operations to run and for how long at most. Each
operation is one step of DOMAIN.md — sign, pay the deposit, complete, terminate, issue — or a read,
chosen at random (seeded). Every POST carries an Idempotency-Key; when the server is away (the
connection drops, or it answers 503) the same request is sent again with the same key until it
gets an answer, so a command is never applied twice. It stops after its operations, at its deadline,
or as soon as the plan's stop file exists. The result counts every answer by status and
error code and keeps the answered POSTs, so the test can replay their keys later.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import time
import uuid
from typing import Any

RETRYABLE = (ConnectionError, http.client.HTTPException, TimeoutError, OSError)


class Client:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.rng = random.Random(plan["seed"])
        self.deadline = time.monotonic() + plan["max_seconds"]
        self.connections: dict[str, http.client.HTTPConnection] = {}
        self.result: dict[str, Any] = {"requests": 0, "operations": 0, "statuses": {}, "codes": {},
                                       "connection_errors": 0, "unavailable": 0, "server_errors": [],
                                       "answered": [], "unavailable_bodies": []}

    def connection(self, server: str) -> http.client.HTTPConnection:
        if server not in self.connections:
            host, port = server.removeprefix("http://").split(":")
            self.connections[server] = http.client.HTTPConnection(host, int(port), timeout=30)
        return self.connections[server]

    def send(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """Send until answered (or the deadline passes); a POST keeps its Idempotency-Key throughout."""
        headers = {"Authorization": f"Bearer {self.plan['tokens'][token]}", "Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        payload = None if body is None else json.dumps(body).encode()
        while True:
            server = self.rng.choice(self.plan["servers"])
            conn = self.connection(server)
            self.result["requests"] += 1
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                status, raw = response.status, response.read()
            except RETRYABLE:
                conn.close()
                self.connections.pop(server, None)
                self.result["connection_errors"] += 1
                if time.monotonic() > self.deadline + self.plan.get("grace_seconds", 0):
                    return 0, {}
                time.sleep(0.1)
                continue
            answer = json.loads(raw or b"{}")
            self.count(status, answer)
            if status == 503 and self.plan.get("retry_unavailable"):
                self.result["unavailable"] += 1
                if len(self.result["unavailable_bodies"]) < 5:
                    self.result["unavailable_bodies"].append(answer)
                if time.monotonic() > self.deadline + self.plan.get("grace_seconds", 0):
                    return status, answer
                time.sleep(0.2)
                continue
            if status >= 500:
                self.result["server_errors"].append({"method": method, "path": path, "status": status, "body": answer})
            elif method == "POST":
                self.result["answered"].append({"key": headers["Idempotency-Key"], "token": token, "path": path,
                                                "body": body, "status": status, "answer": answer})
            return status, answer

    def count(self, status: int, answer: dict[str, Any]) -> None:
        statuses = self.result["statuses"]
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        code = (answer.get("error") or {}).get("code") if isinstance(answer, dict) else None
        if code:
            self.result["codes"][code] = self.result["codes"].get(code, 0) + 1

    # -- the operations -------------------------------------------------------------------------

    def contract(self) -> dict[str, Any]:
        return self.rng.choice(self.plan["contracts"])

    def op_sign(self) -> None:
        c = self.contract()
        self.send("POST", f"/api/v1/contracts/{c['id']}/signature", c["provider"])

    def op_deposit(self) -> None:
        c = self.contract()
        status, contract = self.send("GET", f"/api/v1/contracts/{c['id']}", c["enterprise"])
        if status == 200 and contract.get("status") == "signed":
            self.send("POST", f"/api/v1/contracts/{c['id']}/deposit", c["enterprise"], {"amount": contract["deposit"]})

    def op_complete(self) -> None:
        c = self.contract()
        status, contract = self.send("GET", f"/api/v1/contracts/{c['id']}", c["enterprise"])
        if status == 200 and contract.get("status") == "signed":
            self.send("POST", f"/api/v1/contracts/{c['id']}/deposit", c["enterprise"], {"amount": contract["deposit"]})
            status, contract = self.send("GET", f"/api/v1/contracts/{c['id']}", c["enterprise"])
        if status == 200 and contract.get("status") == "active":
            self.send("POST", f"/api/v1/contracts/{c['id']}/completion", c["enterprise"],
                      {"balance_paid": contract["balance_due"]})

    def op_terminate(self) -> None:
        c = self.contract()
        party = self.rng.choice(["operator", c["enterprise"], c["provider"]])
        self.send("POST", f"/api/v1/contracts/{c['id']}/termination", party, {"reason": "负载测试 load test"})

    def op_issue(self) -> None:
        enterprise = self.rng.choice(self.plan["waiting_enterprises"])
        self.send("POST", "/api/v1/vouchers", "operator",
                  {"enterprise_id": enterprise, "year": self.plan["year"], "kind": "general"})

    def op_read(self) -> None:
        year = self.plan["year"]
        path = self.rng.choice([f"/api/v1/vouchers/{v}" for v in self.plan["vouchers"]] + [f"/api/v1/years/{year}"]
                               + [f"/api/v1/providers/{p}/totals?year={year}" for p in self.plan["providers"]])
        self.send("GET", path, "auditor")

    def run(self) -> dict[str, Any]:
        operations = [getattr(self, f"op_{name}") for name in self.plan["mix"]]
        stop_file = self.plan.get("stop_file")
        for _ in range(self.plan["operations"]):
            if time.monotonic() > self.deadline or (stop_file and os.path.exists(stop_file)):
                break
            self.rng.choice(operations)()
            self.result["operations"] += 1
            time.sleep(self.plan.get("pause", 0))
        for conn in self.connections.values():
            conn.close()
        return self.result


def main(plan_path: str, result_path: str) -> int:
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    result = Client(plan).run()
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
