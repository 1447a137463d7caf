"""A server whose memory does not creep up with each request that reads the whole store.

glibc gives threads malloc arenas of their own (up to eight per core) and keeps what a thread
freed in its arena. waitress serves each request on one of its threads, so a full export of two
million events left about 28 MB in the arena of whichever thread served it: a server exporting six
times in a row grew from 110 MB to 230 MB resident (issue 7), and `malloc_trim` alone could not
give it back. Python holds the GIL anyway, so one arena costs no contention: with one, and the free
pages trimmed after such a request, the sixth export peaks where the first did and the idle server
returns to its size before it. Without glibc there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

M_ARENA_MAX = -8  # glibc's malloc.h


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def one_arena() -> bool:
    """Every thread allocates from the main arena; call before the server starts its threads."""
    return _LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, 1) == 1


def give_back() -> bool:
    """Return the arenas' free pages to the operating system; True if some were."""
    return _LIBC is not None and _LIBC.malloc_trim(0) == 1
