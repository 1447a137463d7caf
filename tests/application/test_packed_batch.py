"""A settlement batch's claims stay packed in the aggregate cache (ledger/domain/packed.py; issue 21).

A command's copy of a batch unpickles only the claims it reads, so claiming and reviewing no longer
cost a copy of the whole batch; the packing must change nothing a command, a snapshot or an auditor sees.
"""

from __future__ import annotations

import json
import pickle
from typing import Any
from uuid import UUID

import pytest

from ledger.application import VoucherLedger
from ledger.cache import mutate_all, state_of
from ledger.domain.packed import PackedDict
from ledger.domain.settlement import SettlementBatch
from service.bootstrap import open_ledger
from tests.application.test_settlement import World, approve, claim, notice, open_batch, pay, review
from tests.support import Scenario


def _packed_claims(batch: SettlementBatch) -> set[str]:
    return {claim_id for claim_id, value in batch.claims._entries.items() if type(value) is bytes}


def test_a_command_s_copy_of_a_batch_unpacks_only_the_claims_it_reads(scenario: Any) -> None:
    world = World(scenario)
    batch_id = open_batch(world.app)
    claim_ids = [claim(world.app, batch_id, world.provider, [world.contract()]) for _ in range(3)]
    review(world.app, batch_id, claim_ids[1])

    copy = world.app.get_batch(batch_id)  # from the cache, as a command gets it
    assert _packed_claims(copy) == set(claim_ids)
    assert copy.claims[claim_ids[1]]["status"] == "approved"
    assert _packed_claims(copy) == {claim_ids[0], claim_ids[2]}
    # A claim read may have been changed in place: the next copy carries the change.
    copy.claims[claim_ids[1]]["note"] = "changed in this copy only"
    assert pickle.loads(pickle.dumps(copy)).claims[claim_ids[1]]["note"] == "changed in this copy only"
    assert world.app.get_batch(batch_id).claims[claim_ids[1]]["note"] == "材料核对"  # the cache's own is untouched


def test_a_packed_mapping_equals_its_plain_values_and_refuses_bytes() -> None:
    plain = {"a": {"status": "pending", "amounts_fen": {"c": 1}}, "b": {"status": "approved"}}
    packed = pickle.loads(pickle.dumps(PackedDict(plain)))
    assert packed == plain and plain == packed and list(packed) == ["a", "b"] and "a" in packed
    assert dict(packed.items()) == plain and packed.unpacked() == plain
    with pytest.raises(TypeError):
        packed["c"] = b"\x80\x05"  # would read as a packed value


class SnappyBatches(VoucherLedger):
    """The same application and tables, snapshotting batches every other event."""

    name = "VoucherLedger"
    snapshotting_intervals = {SettlementBatch: 2}


def test_a_batch_s_snapshot_records_plain_claims_and_decodes_to_the_fold_of_its_events(store: Any,
                                                                                      clock: Any) -> None:
    app = open_ledger(store, clock=clock, application=SnappyBatches)
    try:
        world = World(Scenario(app))
        batch_id = open_batch(app)
        claim_ids = [claim(app, batch_id, world.provider, [world.contract()]) for _ in range(2)]
        for claim_id in claim_ids:
            review(app, batch_id, claim_id)
        approve(app, batch_id)
        notice(app, batch_id)
        pay(app, batch_id)
        stream = UUID(batch_id)
        snapshots = list(app.snapshots.get(stream))
        assert len(snapshots) >= 3
        recorded = json.loads(app.snapshots.recorder.select_events(stream, desc=True, limit=1)[0].state)
        claims = recorded["state"]["claims"]["_data_"]  # recorded plain, as JSON: no pickle in the store
        assert recorded["state"]["claims"]["_type_"] == "packed_dict" and sorted(claims) == sorted(claim_ids)
        assert all(c["status"] == "paid" and c["reviewed_by"] for c in claims.values())
        for snapshot in snapshots:
            restored = snapshot.mutate(None)
            assert isinstance(restored.claims, PackedDict)
            folded = mutate_all(None, app.events.get(originator_id=stream, lte=snapshot.originator_version))
            assert state_of(restored) == state_of(folded)
        fresh = open_ledger(store, clock=clock, create_table=False)  # an empty cache: snapshot and events
        try:
            paid = fresh.get_batch(batch_id)
            assert paid.status == "paid" and all(c["status"] == "paid" for c in paid.claims.values())
            assert state_of(paid) == state_of(mutate_all(None, app.events.get(originator_id=stream)))
        finally:
            fresh.close()
    finally:
        app.close()
