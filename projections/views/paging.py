"""Pages of a list (issue 19): `limit` rows from `offset` in a chosen order, with the total they come from.

Every list the API serves is cut here, so a client can ask for "more" and know how many there are
instead of being stopped silently at a fixed number of rows. The order is always completed by a
unique key, so pages neither repeat nor skip a row while nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Page:
    """Which rows to return: `sort` is a key of the list's own sort table, "-" before it for descending."""

    limit: int
    offset: int = 0
    sort: str | None = None


def order_by(sorts: dict[str, str], sort: str | None, default: str, tie: str) -> str:
    """The ORDER BY clause for `sort` among the list's sort keys (already validated at the edge)."""
    key = sort or default
    descending = key.startswith("-")
    direction = " DESC" if descending else ""
    columns = [*sorts[key.lstrip("-")].split(", "), tie]
    return ", ".join(column + direction for column in columns)


def paged(store: Any, select: str, source: str, params: Sequence[Any], order: str,
          page: Page) -> tuple[list[dict[str, Any]], int]:
    """Rows of `SELECT {select} FROM {source}` in `order`, one page of them, and how many there are in all."""
    counted = store.query_one(f"SELECT COUNT(*) AS n FROM {source}", list(params))
    rows = store.query(f"SELECT {select} FROM {source} ORDER BY {order} LIMIT {int(page.limit)} "
                       f"OFFSET {int(page.offset)}", list(params))
    return rows, int(counted["n"]) if counted else 0
