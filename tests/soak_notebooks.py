"""Run the notebooks many times and count stalls: ``python -m tests.soak_notebooks [--runs 300] [--cell-timeout 120]``.

A *stall* is a cell whose result reached this process more than ``--stall-after`` seconds after the kernel had
finished it (the kernel's own ``execute_reply`` / ``status: idle`` timestamps against the time the client returned).
One sandbox (free loopback port, temporary database) serves every run; the notebooks are taken round-robin from
``notebooks/*.ipynb``. Prints one line per stall and a summary; exits 1 if any run stalled or failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _kernel_done(cell: Any) -> float | None:
    """When the kernel had finished the cell (epoch seconds), from the timestamps nbclient records."""
    times = cell.get("metadata", {}).get("execution", {})
    stamps = [times[key] for key in ("shell.execute_reply", "iopub.status.idle") if key in times]
    if not stamps:
        return None
    return max(datetime.fromisoformat(s).astimezone(UTC).timestamp() for s in stamps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak_notebooks", description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="notebook runs in all")
    parser.add_argument("--cell-timeout", type=float, default=120)
    parser.add_argument("--stall-after", type=float, default=5.0, help="seconds of lag that count as a stall")
    parser.add_argument("--only", default="", help="run only notebooks whose name contains this")
    args = parser.parse_args(argv)

    from nbclient.exceptions import CellExecutionError

    from helpers.core.config import GUIDE_SCOPES
    from helpers.report import run_notebook
    from sandbox.runner import SandboxProcess, free_port

    notebooks = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if args.only in p.name]
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    box = SandboxProcess(port=free_port(), db_path=tmp / "registry.sqlite3")
    box.start()
    os.environ.update(box.client_environment(tmp / "journal.sqlite3", GUIDE_SCOPES), MPLBACKEND="Agg")
    durations: list[float] = []
    stalls = failures = 0
    worst_lag = 0.0
    started = time.monotonic()
    try:
        for run in range(args.runs):
            path = notebooks[run % len(notebooks)]
            lags: list[tuple[int, float]] = []

            def executed(cell: Any, cell_index: int, execute_reply: Any, lags: list = lags) -> None:
                done = _kernel_done(cell)
                if done is not None:
                    lags.append((cell_index, time.time() - done))

            begin = time.monotonic()
            try:
                run_notebook(path, tmp / "out.ipynb", timeout=args.cell_timeout, on_cell_executed=executed)
            except CellExecutionError as exc:
                failures += 1
                print(f"run {run + 1}: {path.name} failed: {exc.ename}: {str(exc.evalue)[:200]}", flush=True)
            except Exception as exc:
                failures += 1
                print(f"run {run + 1}: {path.name} failed: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            elapsed = time.monotonic() - begin
            durations.append(elapsed)
            lag_cell, lag = max(lags, key=lambda item: item[1], default=(-1, 0.0))
            worst_lag = max(worst_lag, lag)
            if lag > args.stall_after:
                stalls += 1
                print(
                    f"run {run + 1}: {path.name} STALL: cell {lag_cell} reached us {lag:.1f} s after the kernel "
                    f"finished it",
                    flush=True,
                )
            if (run + 1) % 10 == 0:
                print(
                    f"... {run + 1} runs, {stalls} stalls, {failures} failures, "
                    f"median {statistics.median(durations):.1f} s",
                    flush=True,
                )
    finally:
        box.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.monotonic() - started
    print(
        f"notebook soak: {len(durations)} runs of {len(notebooks)} notebooks, {stalls} stalls, {failures} failures; "
        f"per run median {statistics.median(durations):.1f} s, max {max(durations):.1f} s; "
        f"worst lag {worst_lag:.2f} s; "
        f"total {total:.0f} s"
    )
    return 1 if stalls or failures else 0


if __name__ == "__main__":
    sys.exit(main())
