"""Running a command for a request: actor, request id, Idempotency-Key, read-your-writes, position."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from flask import current_app, g, request

from ledger import errors
from ledger.commands.base import CommandResult
from ledger.context import Idempotency, acting
from projections.runner import REPLAY_WAIT_S
from projections.views.idempotency import idempotent_position
from web.auth import current_actor
from web.observe import count_command

MAX_KEY_LENGTH = 200
LAG_HEADER = "X-Ledger-Views-Lag"


def request_fingerprint() -> str:
    """Method, path and the JSON body in canonical form: the same request hashes the same."""
    raw = request.get_data(cache=True) or b""
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def ledger_app() -> Any:
    return current_app.extensions["ledger"]


def views() -> Any:
    return current_app.extensions["ledger_views"]


def fresh_views() -> Any:
    """The read models, caught up with everything committed before the request (read-your-writes).

    The log's head is the one the request's authentication read (web/auth.py: after the request
    arrived, so it covers every answer a client had before sending it); without one, the store's.
    """
    store_views = views()
    head = g.get("log_head")
    store_views.ensure(head if head is not None else ledger_app().recorder.max_notification_id() or 0)
    return store_views.store


def request_idempotency() -> Idempotency | None:
    """The request's Idempotency-Key with the fingerprint of the request (API.md "Idempotency"), if sent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise errors.ValidationFailed("bad Idempotency-Key", {"Idempotency-Key": [f"1 to {MAX_KEY_LENGTH} characters"]})
    return Idempotency(key=key, request_hash=request_fingerprint())


def run(command: Callable[..., CommandResult], *args: Any, **kwargs: Any) -> Any:
    """Run a ledger command as the request's actor; answer its data, position and status.

    The status is the web's reading of what the ledger says happened: 201 Created when the command
    created its subject, 200 otherwise (a replayed key: what its first answer said).
    """
    idempotency = request_idempotency()
    name = getattr(command, "__name__", "command")
    # The command checks the aggregate cache against the log itself, although authentication has just done
    # so: trusting that check saved a round trip but made first attempts older, and with 8 clients on 2
    # processes retries ran out on the busy Year (503s; issue 21's target is none).
    try:
        with acting(current_actor(), request_id=g.request_id, idempotency=idempotency):
            result = command(*args, **kwargs)
    except errors.LedgerError as refused:
        count_command(name, refused.code)
        raise
    except Exception:
        count_command(name, "error")
        raise
    count_command(name, "replayed" if result.replayed else "ok")
    status = 201 if result.created else 200
    # Committed (or replayed): from here on the answer is the command's 2xx whatever the read models do.
    store_views = views()
    if result.replayed:
        position = None
        try:
            lag = store_views.lag_after_command(ledger_app().recorder.max_notification_id() or 0,
                                                timeout=REPLAY_WAIT_S)
            if not lag:
                position = idempotent_position(store_views.store, str(result.idempotency_key_id))
        except Exception:  # noqa: BLE001 - the store or the views failed after the record was read
            lag = 1
        return _answer({**result.data, "position": position}, status, lag)
    lag = store_views.lag_after_command(result.position)
    return _answer({**result.data, "position": result.position}, status, lag)


def _answer(body: dict, status: int, lag: int) -> Any:
    """The command's answer; `X-Ledger-Views-Lag: N` when the read models are N positions behind it
    (queries wait for them; a replayed answer's position is then null: it is read from the views)."""
    if lag:
        return body, status, {LAG_HEADER: str(lag)}
    return body, status
