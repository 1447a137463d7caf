"""Upcasting an old event shape through the library's own mechanism (issue 20; EVENTSOURCING.md):
`Credential.Revoked` gained `reference` in class version 2. Events stored in the shape written before that
change (version 1: no `reference`, no `class_version` in the stored state) are read back through
`upcast_v1_v2`, the aggregate replays them, and the audit chain links and verifies them as stored."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.context import Actor, acting
from ledger.domain.credential import Credential
from projections.audit import canonical, chain
from projections.storage.eventlog import iter_records


def issued_credential(ledger: Any) -> str:
    with acting(Actor(role="system", id="cli:test")):
        return ledger.issue_credential("auditor", name="审计员乙").data["credential_id"]


def store_revocation_in_todays_shape(ledger: Any, credential_id: str) -> None:
    """What `revoke` stored before version 2, written through the application's own transcoder."""
    state = {"originator_id": credential_id, "originator_version": 2,
             "timestamp": datetime(2026, 5, 31, 8, 0, tzinfo=timezone.utc),
             "actor": {"role": "system", "id": "cli:ops"}, "request_id": "r-v1", "reason": "left the centre"}
    stored = StoredEvent(originator_id=UUID(credential_id), originator_version=2, topic=get_topic(Credential.Revoked),
                         state=ledger.mapper.transcoder.encode(state))
    ledger.recorder.insert_events([stored])


def test_an_event_stored_in_the_old_shape_reads_back_through_its_upcaster(ledger, views):
    credential_id = issued_credential(ledger)
    store_revocation_in_todays_shape(ledger, credential_id)
    # The stored row is version 1's shape: no class_version, no reference.
    raw = ledger.recorder.select_events(UUID(credential_id))[-1]
    assert json.loads(raw.state)["reason"] == "left the centre"
    assert "class_version" not in json.loads(raw.state) and "reference" not in json.loads(raw.state)

    # Read back through the library's mapper: upcast to version 2, the new field at its default.
    revoked = list(ledger.events.get(UUID(credential_id)))[-1]
    assert type(revoked) is Credential.Revoked and Credential.Revoked.class_version == 2
    assert (revoked.reason, revoked.reference) == ("left the centre", "")
    # The aggregate replays it: the token is revoked.
    assert ledger.repository.get(UUID(credential_id)).revoked is True

    # The audit chain links it as it was stored and verifies it: the upcast default is not hashed.
    views.catch_up()
    position = ledger.recorder.max_notification_id()
    # The record version 1's code hashed: the stored fields alone, built here by hand from the row.
    as_stored = {"position": position, "recorded_at": "2026-05-31T08:00:00.000000+00:00", "stream": credential_id,
                 "stream_type": "Credential", "version": 2, "type": "Credential.Revoked", "actor_role": "system",
                 "actor_id": "cli:ops", "data": {"reason": "left the centre", "request_id": "r-v1"}}
    link = chain.links_between(views.store, position, position)[position]
    assert link.hash == canonical.link(link.prev_hash, as_stored)
    assert [r for page in iter_records(ledger, after=position - 1) for r in page] == [as_stored]
    assert chain.verify(ledger, views.store)["ok"] is True


def test_a_new_revocation_is_stored_in_version_2_with_its_reference(ledger, views):
    credential_id = issued_credential(ledger)
    with acting(Actor(role="system", id="cli:test")):
        ledger.revoke_credential(credential_id, "left the centre", reference="桂工信〔2026〕12号")
    raw = json.loads(ledger.recorder.select_events(UUID(credential_id))[-1].state)
    assert (raw["class_version"], raw["reference"]) == (2, "桂工信〔2026〕12号")
    revoked = list(ledger.events.get(UUID(credential_id)))[-1]
    assert revoked.reference == "桂工信〔2026〕12号"
    views.catch_up()
    record = [r for page in iter_records(ledger, after=ledger.recorder.max_notification_id() - 1) for r in page][-1]
    assert record["data"]["reference"] == "桂工信〔2026〕12号"  # a reference given is in the chain's record
    assert chain.verify(ledger, views.store)["ok"] is True
