"""Where each Idempotency-Key's command ended in the log, so a replay can answer its position."""

from __future__ import annotations

from typing import Any

from ledger.domain.idempotency import IdempotencyRecord
from projections.registry import handles, table

table("CREATE TABLE IF NOT EXISTS vl_idempotency (record_id TEXT PRIMARY KEY, position BIGINT NOT NULL)")


@handles(IdempotencyRecord.Recorded)
def key_recorded(db: Any, e: Any, position: int) -> None:
    db.insert("vl_idempotency", "record_id", record_id=str(e.originator_id), position=position)
