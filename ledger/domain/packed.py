"""A mapping whose values stay pickled until read: for an aggregate's large collection of which a
command touches one entry.

Why: the aggregate cache (ledger/cache.py) keeps aggregates pickled and hands every command a private
copy. A settlement batch (集中兑付结算批次) holds all its claims, 2,600 claims of 50 contracts at the
bench's scale 1 (about 7 MB pickled), so each claim and each review paid about 0.13 s (43 times the
library's one-event save) to copy the whole batch out of the cache and back while touching one claim, and
generating a year's two batches took half an hour at 6 commands/s (issue 21; bench-results/session6:
13 ms, 3.9 times, packed). Packed, a copy unpickles only the entries it reads, and pickles again
only those: a value once read may have been changed in place, so it is never assumed unchanged.

The packing is the cache's business only: equality, iteration and the snapshot's JSON (the
transcoding below) see the plain values, and a snapshot taken before packing existed decodes to a plain
dict, which works the same, only slower to copy.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, MutableMapping
from typing import Any

from eventsourcing.persistence import Transcoding


class PackedDict(MutableMapping):
    """Insertion-ordered like a dict. Its values may not be bytes: a bytes value marks a packed one."""

    __slots__ = ("_entries",)

    def __init__(self, items: Any = ()) -> None:
        self._entries: dict[Any, Any] = {}
        self.update(items)

    def __getitem__(self, key: Any) -> Any:
        value = self._entries[key]
        if type(value) is bytes:
            value = self._entries[key] = pickle.loads(value)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("a PackedDict holds no bytes values (they mark the packed ones)")
        self._entries[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._entries[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._entries  # without unpacking

    def __iter__(self) -> Iterator[Any]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"PackedDict({self.unpacked()!r})"

    def unpacked(self) -> dict[Any, Any]:
        return {key: self[key] for key in self._entries}

    def __reduce__(self) -> tuple[Any, tuple[dict[Any, bytes]]]:
        return _packed, ({key: value if type(value) is bytes else pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
                          for key, value in self._entries.items()},)


def _packed(entries: dict[Any, bytes]) -> PackedDict:
    mapping = PackedDict.__new__(PackedDict)
    mapping._entries = entries
    return mapping


class PackedDictAsDict(Transcoding):
    """A snapshot records the plain values (VoucherLedger.register_transcodings)."""

    type = PackedDict
    name = "packed_dict"

    def encode(self, obj: PackedDict) -> dict[Any, Any]:
        return obj.unpacked()

    def decode(self, data: dict[Any, Any]) -> PackedDict:
        return PackedDict(data)
