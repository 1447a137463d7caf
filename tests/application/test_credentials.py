"""Credentials: tokens issued from the command line, stored only as hashes; issuing is an event (API.md)."""

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from ledger import errors
from ledger.context import Actor
from ledger.domain.credential import Credential
from tests.support import as_role


def stored_states(ledger) -> list[bytes]:
    """Every stored event's raw state, as the database holds it."""
    states, last = [], 0
    while page := ledger.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
        states += [bytes(n.state) for n in page]
        last = page[-1].id
    return states


def test_credentials_store_only_hashes(scenario, ledger):
    with as_role("system", name="cli:root"):
        token = ledger.issue_credential("operator", name="王会计").extra["token"]
        enterprise_token = ledger.issue_credential("enterprise", subject=scenario.next_code()).extra["token"]
    states = b"".join(stored_states(ledger))
    for secret in (token, enterprise_token):
        assert secret.encode() not in states
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in states
    credential = ledger.repository.get(Credential.create_id(hashlib.sha256(token.encode()).hexdigest()))
    assert token not in repr(vars(credential))


def test_token_issue_is_an_event(ledger):
    with as_role("system", name="cli:root") as ctx:
        result = ledger.issue_credential("auditor", name="审计署-1")
    events = list(ledger.events.get(Credential.create_id(hashlib.sha256(result.extra["token"].encode()).hexdigest())))
    assert [type(e) for e in events] == [Credential.Issued]
    issued = events[0]
    assert (issued.role, issued.subject, issued.name) == ("auditor", None, "审计署-1")
    assert issued.actor == {"role": "system", "id": "cli:root"} and issued.request_id == ctx.request_id
    assert result.position == ledger.recorder.max_notification_id()


def test_a_token_stands_for_its_role_and_subject(scenario, ledger):
    code = scenario.next_code()
    with as_role("system"):
        token = ledger.issue_credential("enterprise", subject=code, name="企业经办人").extra["token"]
    assert ledger.authenticate(token) == Actor(role="enterprise", id="企业经办人", subject=code)


def test_unknown_revoked_or_expired_tokens_are_refused(ledger):
    with as_role("system"):
        revoked = ledger.issue_credential("operator", name="op")
        ledger.revoke_credential(revoked.data["credential_id"], "left the centre")
        past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
        expired = ledger.issue_credential("operator", name="op2", expires_at=past).extra["token"]
        future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        valid = ledger.issue_credential("operator", name="op3", expires_at=future).extra["token"]
    for token in ("vl_unknown", revoked.extra["token"], expired):
        with pytest.raises(errors.Unauthenticated):
            ledger.authenticate(token)
    assert ledger.authenticate(valid).role == "operator"


@pytest.mark.parametrize("role", ["approver", "operator", "auditor"])
def test_tokens_are_issued_only_by_the_command_line(ledger, role):
    with as_role(role), pytest.raises(errors.Forbidden):
        ledger.issue_credential("approver")


@pytest.mark.parametrize("role, subject", [
    ("enterprise", None), ("enterprise", "91450100000000001X"), ("provider", "not-a-code"),
    ("operator", "91450100000000005P"), ("root", None),
])
def test_token_roles_and_subjects_are_validated(ledger, role, subject):
    with as_role("system"), pytest.raises(errors.ValidationFailed):
        ledger.issue_credential(role, subject=subject)


@pytest.mark.parametrize("expires_at", ["tomorrow", "2026-12-31T00:00:00"])
def test_token_expiry_is_an_instant_with_offset(ledger, expires_at):
    with as_role("system"), pytest.raises(errors.ValidationFailed):
        ledger.issue_credential("operator", expires_at=expires_at)


def test_a_token_revoked_by_another_process_is_refused_by_one_that_had_it_cached(store, ledger, clock):
    """Each server caches credentials. Another process's revocation reaches this one's cached copy through the
    log check (ledger/cache.py: the copy is marked behind and brought forward by the revocation event)."""
    from service.bootstrap import open_ledger

    with as_role("system"):
        issued = ledger.issue_credential("operator", name="op")
    token = issued.extra["token"]
    server = open_ledger(store, create_table=False, clock=clock)
    try:
        assert server.authenticate(token).role == "operator"  # cached in this process now
        assert server.repository.pickled.get(Credential.create_id(hashlib.sha256(token.encode()).hexdigest()))
        with as_role("system"):
            ledger.revoke_credential(issued.data["credential_id"], "left the centre")
        with pytest.raises(errors.Unauthenticated):
            server.authenticate(token)
    finally:
        server.close()
