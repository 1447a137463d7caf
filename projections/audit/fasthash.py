"""The chain's digest and link computed with orjson: the same bytes as `canonical.py`, several times faster.

The chain projection, `audit/verify` and the export hash every event of the store; the standard
library's `json.dumps(sort_keys=True)` was most of the chain's time in a rebuild (issue 21's
profile). `canonical.py` stays the definition, standard library only, for an auditor to check an
export with that one file; this module writes the very same text:

- orjson's OPT_SORT_KEYS orders keys by their UTF-8 bytes, which is the code-point order that
  `sort_keys` uses; its separators are "," and ":"; it writes non-ASCII as itself and escapes
  `"`, `\\` and the control characters as `json.dumps` does (`\\n`, `\\u001f`...);
- what orjson refuses (an integer beyond 64 bits, a lone surrogate) is hashed by `canonical.digest`;
- records never carry floats (`canonical.plain` and `fastlog` refuse them), the one value whose text
  the two libraries could write differently.

tests/projections/test_fasthash.py holds the two equal over arbitrary JSON values.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any, Mapping

import orjson

from projections.audit import canonical

_OPTIONS = orjson.OPT_SORT_KEYS
_FIELDS = canonical.RECORD_FIELDS


def digest(rec: Mapping[str, Any]) -> str:
    """`canonical.digest(rec)`."""
    try:
        body = orjson.dumps({name: rec[name] for name in _FIELDS}, option=_OPTIONS)
    except TypeError:
        return canonical.digest(rec)
    return sha256(body).hexdigest()


def link(prev_hash: str, rec: Mapping[str, Any]) -> str:
    """`canonical.link(prev_hash, rec)`: sha256(prev_hash ‖ digest), hex."""
    return sha256((prev_hash + digest(rec)).encode("utf-8")).hexdigest()
