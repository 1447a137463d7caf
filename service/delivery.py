"""The webhooks' delivery worker, `voucher-ledger deliver` (API.md "Following the ledger").

For each subscription (projections/storage/webhooks.py), in turn: read the events after its cursor
through the feed (projections/audit/feed.py: the export's lines, the chain links included), POST
them one at a time, in position order, the next only after a 2xx; the body is the line's JSON
(orjson, as the feed's), signed `X-Ledger-Signature: sha256=<hex HMAC-SHA256(secret, body)>`, with
`X-Ledger-Position`, `X-Ledger-Webhook` and `X-Ledger-Attempt`. Each attempt is logged; a 2xx moves
the cursor in the same transaction. Anything else (a status, a refused connection, a timeout, a
redirect: never followed) stops that subscription until its retry, after
min(backoff_cap, backoff * 2**(attempt - 1)) seconds; the others go on. Delivery is at least once:
a worker killed between the receiver's 2xx and the cursor's commit sends that event again.

Why a process of its own rather than a thread of `serve` or `projections run`: it makes outgoing
calls that may hang for their timeout, so it must not hold a web thread or the read models' lock;
and only one runs at a time (per subscription order), which is simplest to say of one process.
A second `deliver` stands by: PostgreSQL's session advisory lock (released when its process dies,
even by kill -9), or on SQLite an exclusive `flock` on the database file's `.deliver.lock`.
It needs no read model to be current: the feed links the events the chain projection has not reached
yet (projections/audit/feed.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from projections.audit import feed
from projections.storage import webhooks
from projections.storage.listen import LogWatch

BATCH = 100  # events read per subscription per turn
SIGNATURE_HEADER = "X-Ledger-Signature"


def signature(secret: str, body: bytes) -> str:
    """The X-Ledger-Signature value of a body: `sha256=` and the hex HMAC-SHA256 keyed by the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not a 2xx: logged and retried, never followed (nor the body re-sent)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST the body; (status, error): status None when no answer came."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "voucher-ledger",
                                              **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # noqa: S310 - the operator's configured URL
            response.read(65536)
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - refused, reset, timed out, unresolvable: retried
        return None, f"{type(exc).__name__}: {exc}"[:500]


class Deliverer:
    """Delivers every subscription's events; `run_once` does what is due now, `run` loops."""

    def __init__(self, app: Any, views: Any, *, timeout: float = 10.0, backoff: float = 1.0,
                 backoff_cap: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.views = app, views
        self.timeout, self.backoff, self.backoff_cap = timeout, backoff, backoff_cap
        self.clock = clock
        self.retry_at: dict[str, float] = {}  # subscription id -> when its next attempt is due
        self.watch = LogWatch(app)

    def delay(self, attempt: int) -> float:
        """Seconds before the retry after the `attempt`-th failed attempt (exponential, capped)."""
        return min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))

    def run_once(self) -> int:
        """Deliver what is due now; how many events were delivered."""
        delivered = 0
        for subscription in webhooks.subscriptions(self.views.store):
            if self.clock() >= self.retry_at.get(subscription.id, 0.0):
                delivered += self._deliver(subscription)
        return delivered

    def _deliver(self, subscription: webhooks.Subscription) -> int:
        store = self.views.store
        lines, next_position = feed.read(self.app, store, subscription.delivered, BATCH, subscription.types or None)
        for count, line in enumerate(lines):
            if not self._send(subscription, line):
                return count
        if next_position > subscription.delivered and (not lines or next_position > lines[-1]["position"]):
            webhooks.advance(store, subscription.id, next_position)  # past events of other types
        self.retry_at.pop(subscription.id, None)
        return len(lines)

    def _send(self, subscription: webhooks.Subscription, line: dict[str, Any]) -> bool:
        store = self.views.store
        position = line["position"]
        body = orjson.dumps(line)
        attempt = webhooks.attempts_at(store, subscription.id, position) + 1
        at = datetime.now(timezone.utc).isoformat()
        started = time.monotonic()
        status, error = post(subscription.url, body, {
            SIGNATURE_HEADER: signature(subscription.secret, body), "X-Ledger-Position": str(position),
            "X-Ledger-Webhook": subscription.id, "X-Ledger-Attempt": str(attempt)}, self.timeout)
        ok = status is not None and 200 <= status < 300
        webhooks.record_attempt(store, subscription.id, position, attempt, status=status, error=None if ok else error,
                                at=at, duration_ms=int((time.monotonic() - started) * 1000), delivered=ok)
        if not ok:
            self.retry_at[subscription.id] = self.clock() + self.delay(attempt)
        return ok

    def run(self, stop: Callable[[], bool] = lambda: False, idle: float = 1.0) -> None:
        """Deliver until `stop()`; between turns wait for a new event, the next retry or `idle` seconds."""
        from web.health import wait_out_an_outage

        while not stop():
            try:
                seen = self.watch.head()
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the worker outlives a database restart
                wait_out_an_outage(exc, 1.0)
                continue
            due = [at - self.clock() for at in self.retry_at.values()]
            pause = max(min([idle, *due]), 0.0)
            if pause > 0:
                self.watch.wait_beyond(seen, pause)


def hold_the_worker_lock(app: Any) -> Any:
    """Block until this process is the one delivery worker of the store; the lock's holder (keep it).

    PostgreSQL: a session advisory lock on a connection of its own (released when the process dies).
    SQLite: an exclusive flock on `<database>.deliver.lock` (released likewise).
    """
    store = app.store
    if store.backend == "postgres":
        import psycopg

        conn = psycopg.connect(store.url, autocommit=True)
        while not conn.execute("SELECT pg_try_advisory_lock(hashtextextended('voucher-ledger:deliver', 0))"
                               ).fetchone()[0]:
            time.sleep(2.0)
        return conn
    import fcntl

    handle = open(f"{store.sqlite_path}.deliver.lock", "a")  # noqa: SIM115 - held for the process's life
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle
