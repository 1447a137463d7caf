"""Reading the store's own events as canonical records: by position range, or at chosen positions.

Events are read through the application's recorder and decoded with its mapper (the same path the
projections take), never from a read model, so what the trace, the export and `audit/verify`
show is what the event store holds now.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from projections import canonical

PAGE_SIZE = 500
# Positions closer than this are read with one range query rather than one query each.
RUN_GAP = 16


class Unreadable:
    """A stored event that no longer decodes (its state was altered into something unreadable)."""

    def __init__(self, position: int, error: Exception) -> None:
        self.position = position
        self.error = error


def decode(app: Any, notification: Any) -> dict[str, Any] | Unreadable:
    try:
        return canonical.record(app.mapper.to_domain_event(notification), notification.id)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is evidence, reported by position
        return Unreadable(notification.id, exc)


def iter_records(app: Any, after: int = 0, stop: int | None = None,
                 page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any] | Unreadable]]:
    """Pages of records with after < position <= stop, in position order."""
    last = after
    while True:
        page = app.recorder.select_notifications(start=last, limit=page_size, stop=stop, inclusive_of_start=False)
        if not page:
            return
        yield [decode(app, n) for n in page]
        last = page[-1].id
        if stop is not None and last >= stop:
            return


def runs(positions: Iterable[int], gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """Sorted positions grouped into (first, last) ranges whose members lie within `gap` of each other."""
    ranges: list[tuple[int, int]] = []
    for position in sorted(set(positions)):
        if ranges and position - ranges[-1][1] <= gap:
            ranges[-1] = (ranges[-1][0], position)
        else:
            ranges.append((position, position))
    return ranges


def records_at(app: Any, positions: Iterable[int]) -> dict[int, dict[str, Any] | Unreadable]:
    """The records at these positions (missing positions are simply absent from the answer)."""
    wanted = set(positions)
    found: dict[int, dict[str, Any] | Unreadable] = {}
    for first, last in runs(wanted):
        page = app.recorder.select_notifications(start=first, limit=last - first + 1, stop=last)
        for notification in page:
            if notification.id in wanted:
                found[notification.id] = decode(app, notification)
    return found
