"""The benchmarks' quick mode as a smoke test: every benchmark runs on small data against a sandbox of the profile
this test run uses (SANDBOX_PROFILE), and says which goals it checked. Its timings are not asserted (speed is
measured by ``make bench``, not by tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "this machine's floor" in done.stdout


def test_the_machine_floor_holds_every_request_its_latency() -> None:
    """The floor's bare server answers every request, none before its latency: 12 requests held 10 ms by 4 raw
    clients take at least 3 rounds of 10 ms."""
    from bench.wire_floor import floor_seconds

    assert floor_seconds(12, 4, 0.01) >= 3 * 0.01


def test_one_benchmark_run_alone_reads_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "== startup" in done.stdout and "(quick: small sizes)" in done.stdout


def test_the_loopback_ceiling_is_the_busiest_side_or_the_cores() -> None:
    from bench.bulk_import import loopback_ceiling

    cores = os.cpu_count() or 1
    # one by one 1.6 ms a request; 8 workers: the client 0.9 ms and the sandbox 0.7 ms of CPU per request
    expected = 1.6 / max(0.9, 0.7, 1.6 / cores)
    assert abs(loopback_ceiling(0.0016, 0.9, 0.7, 1000) - expected) < 1e-9


def test_the_help_names_the_benchmarks_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import BENCHMARKS, main

    with pytest.raises(SystemExit):
        main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "[]" not in shown and "{," not in shown and ", ".join(BENCHMARKS) in shown
    with pytest.raises(SystemExit) as caught:
        main(["--quick", "startup", "nonsense"])
    assert caught.value.code == 2 and "'nonsense'" in capsys.readouterr().err
