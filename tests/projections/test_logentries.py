"""The log check's installed reader (projections/storage/logentries.py) reads what the library's reader
reads, minus the state: the same positions, streams and versions from a position on. On both stores."""

from __future__ import annotations

from typing import Any

from projections.storage import logentries
from tests.support import Scenario


def test_the_log_checks_reader_is_the_librarys_log_without_the_state(scenario: Scenario, ledger: Any) -> None:
    scenario.open_year()
    scenario.holder()
    reader = ledger.log_check.entries
    assert isinstance(reader, (logentries.PostgresLogEntries, logentries.SQLiteLogEntries))  # installed
    head = ledger.recorder.max_notification_id()
    assert head > 3
    for start, inclusive in ((1, True), (2, False), (head, True), (head, False)):
        library = ledger.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=inclusive)
        lean = reader(start, 1000, inclusive)
        assert [(e.id, e.originator_id, e.originator_version) for e in lean] == \
            [(n.id, n.originator_id, n.originator_version) for n in library]
    assert reader(head, 1000, False) == [] and len(reader(1, 2, True)) == 2
