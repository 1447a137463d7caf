"""docs/deployment.md followed step by step (issue 20): `scripts/deploy-smoke` starts the documented topology
on this machine (PostgreSQL, `migrate`, two `serve` processes, the follower, a reverse proxy), smoke-tests it
through the proxy and takes a backup; it exits 0 only if every step passed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import postgres_admin_url
from tests.servers import ROOT


@pytest.mark.slow
@pytest.mark.postgres
def test_the_deployment_guide_runs_and_passes_its_smoke_test(tmp_path: Path) -> None:
    env = {**os.environ, "LEDGER_TEST_POSTGRES_URL": postgres_admin_url() or ""}
    env.pop("LEDGER_DATABASE_URL", None)
    env.pop("LEDGER_BUSINESS_DATE", None)  # the guide runs on today's Beijing date, as production does
    done = subprocess.run([str(ROOT / "scripts" / "deploy-smoke"), str(tmp_path / "deploy")], env=env,
                          capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for step in ("== 2. voucher-ledger migrate", "== 4. two servers and the follower", "== 5. reverse proxy",
                 "ok   GET /audit/verify (auditor) → ok", "== 7. backup", "部署冒烟通过"):
        assert step in output, step
    assert "FAIL" not in output and "Traceback" not in output
    assert (tmp_path / "deploy" / "ledger.dump").stat().st_size > 0
