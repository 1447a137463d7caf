"""The export memory benchmark runs end to end at a tiny size, so it cannot rot."""

import pytest

from bench import export_memory

pytestmark = pytest.mark.slow  # generates and measures a year (scripts/test --fast skips it)


def test_export_memory_benchmark_runs_at_a_tiny_size(tmp_path, capsys):
    assert export_memory.main(["--events", "300", "--workdir", str(tmp_path)]) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    # Every event (plus the auditor's token) is exported, and the server's memory was sampled.
    assert report["events_exported"] == 301
    assert report["rss_idle_mb"] > 0 and report["vmhwm_mb"] >= report["rss_idle_mb"]
