"""Where each Idempotency-Key's command ended in the log, so a replay can answer its position."""

from __future__ import annotations

from typing import Any

from ledger.domain.idempotency import IdempotencyRecord
from projections.storage.store import ViewStore
from projections.views.model import ReadModel

MODEL = ReadModel("idempotency")

MODEL.table("CREATE TABLE IF NOT EXISTS vl_idempotency (record_id TEXT PRIMARY KEY, position BIGINT NOT NULL)")


@MODEL.handles(IdempotencyRecord.Recorded)
def key_recorded(db: Any, e: Any, position: int) -> None:
    db.insert("vl_idempotency", "record_id", record_id=str(e.originator_id), position=position)


# Queries (amounts in fen, the API's field names)

def idempotent_position(store: ViewStore, record_id: str) -> int | None:
    row = store.query_one("SELECT position FROM vl_idempotency WHERE record_id = ?", [record_id])
    return None if row is None else int(row["position"])
