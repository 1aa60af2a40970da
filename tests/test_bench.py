"""The benchmarks' quick mode as a smoke test: every benchmark runs on small data against a sandbox of the profile
this test run uses (SANDBOX_PROFILE), and says which goals it checked. Its timings are not asserted (speed is
measured by ``make bench``, not by tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_in_quick_mode() -> None:
    profile = os.environ.get("SANDBOX_PROFILE") or "strict"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--profile", profile],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("startup", "list_investments", "concurrent_pages", "bulk_import", "transport", "reconcile"):
        assert f"== {name}" in done.stdout
    assert "== goals:" in done.stdout and "goal " in done.stdout


def test_one_benchmark_run_alone_reads_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "== startup" in done.stdout and "(quick: small sizes)" in done.stdout
