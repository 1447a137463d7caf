"""The chain's orjson digest (projections/audit/fasthash.py) writes the bytes `canonical.py` defines.

The chain projection, `audit/verify` and the export's redacted lines hash with fasthash; an auditor
checks with canonical.py alone. Any difference would break every link after it, so the two are held
equal over arbitrary JSON values (keys and strings from the whole of Unicode, control characters,
integers to and beyond 64 bits) and over the records of a whole year's history.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit import canonical, fasthash
from projections.storage import eventlog
from tests.audit_support import build

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00\x1f\x7f\u2028\u2029", '"\\/', "\ud7ff\ue000\uffff\U0001f600", "é中\t\n\r\b\f"])
_SCALAR = st.none() | st.booleans() | st.integers() | st.integers(-(2**64), 2**64) | _TEXT
_JSON = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=20)


def _record(data: Any, stream: str = "s") -> dict[str, Any]:
    return {"position": 7, "recorded_at": "2026-06-01T02:03:04.000005+00:00", "stream": stream,
            "stream_type": "Voucher", "version": 2, "type": "Voucher.Reserved", "actor_role": "provider",
            "actor_id": "p-1", "data": data}


@settings(max_examples=400, deadline=None)
@given(data=st.dictionaries(_TEXT, _JSON, max_size=6), stream=_TEXT, prev=st.sampled_from([canonical.GENESIS, "ab" * 32]))
def test_fast_digest_and_link_are_the_canonical_ones(data: dict[str, Any], stream: str, prev: str) -> None:
    rec = _record(data, stream)
    assert fasthash.digest(rec) == canonical.digest(rec)
    assert fasthash.link(prev, rec) == canonical.link(prev, rec)


def _outcome(digest: Any, rec: dict[str, Any]) -> Any:
    try:
        return digest(rec)
    except Exception as exc:  # noqa: BLE001 - the failure itself is what is compared
        return type(exc)


def test_what_orjson_refuses_is_hashed_the_canonical_way() -> None:
    big = _record({"big": 2**64 + 1})
    assert fasthash.digest(big) == canonical.digest(big)
    for data in ({"surrogate": "\ud800"}, {"\udfff": 1}):  # no UTF-8 text to hash: both refuse alike
        rec = _record(data)
        assert _outcome(fasthash.digest, rec) is _outcome(canonical.digest, rec) is UnicodeEncodeError


def test_fast_links_of_a_whole_history_are_the_canonical_ones(scenario: Any) -> None:
    built = build(scenario)
    prev, checked = canonical.GENESIS, 0
    for page in eventlog.iter_records(built.app):
        for rec in page:
            assert not isinstance(rec, eventlog.Unreadable)
            assert fasthash.link(prev, rec) == canonical.link(prev, rec)
            prev = canonical.link(prev, rec)
            checked += 1
    assert checked > 50
