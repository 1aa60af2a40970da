"""What starting costs: ``import helpers``, a notebook's first cell (``helpers.connect()``) and first ``.frame()``,
and the report command before its kernel starts. Each in a new interpreter, several times (min / median).

Goals: ``import helpers`` under 250 ms; the report command started (its imports done, ready to start the notebook's
kernel) in under 1 s. Run: ``python -m bench.startup [--quick]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import OPTIONS, Timings, goal, run_alone, sandbox_with_tenant

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK = """
import json, sys, time
started = time.perf_counter()
import helpers
imported = time.perf_counter()
client = helpers.connect(helpers.Config(**json.loads(sys.argv[1])))
connected = time.perf_counter()
frame = client.investments.frame()
framed = time.perf_counter()
print(json.dumps({"import helpers": imported - started, "helpers.connect()": connected - imported,
                  "first .frame()": framed - connected, "rows": len(frame)}))
"""
REPORT = """
import time
started = time.perf_counter()
import helpers.report as report
report._without_iri_grammar()
import nbformat, nbclient, papermill.iorw, papermill.parameterize  # what run_notebook imports before the kernel
print(time.perf_counter() - started)
"""


def python(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def main() -> None:
    runs = OPTIONS.runs(5, 2)
    python("import helpers.report, helpers.data.client")  # compiled files in place, as after installation
    with sandbox_with_tenant(investors=10, investments=100) as (_box, config):
        settings = json.dumps(
            {
                "base_url": config.base_url,
                "client_id": config.client_id,
                "client_secret": config.client_secret.get_secret_value(),
                "journal_path": str(config.journal_path),
            }
        )
        seconds: dict[str, list[float]] = {}
        for _ in range(runs):
            for name, value in json.loads(python(NOTEBOOK, settings)).items():
                if name != "rows":
                    seconds.setdefault(name, []).append(value)
            seconds.setdefault("report command, before its kernel", []).append(float(python(REPORT)))
    times = {name: Timings(values) for name, values in seconds.items()}
    print("start-up, each in a new interpreter (min / median):")
    for name, timing in times.items():
        print(f"  {name:36} {timing.ms()}")
    notebook = sum(times[name].min for name in ("import helpers", "helpers.connect()", "first .frame()"))
    print(f"  a notebook pays for its first listing: {notebook * 1000:.0f} ms (import, connect, first frame; min)")
    imported = times["import helpers"]
    goal("import helpers under 250 ms", imported.min < 0.25, imported.ms())
    report = times["report command, before its kernel"]
    goal("the report command starts in under 1 s", report.min < 1.0, report.ms())


if __name__ == "__main__":
    run_alone("startup")
