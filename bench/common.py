"""What the benchmarks share: a sandbox with a known amount of data, interleaved timings, and how ratios are printed.

Timings on a shared machine are noisy: every benchmark interleaves its variants (A, B, A, B, ...) and states the
minimum and the median of each, and ratios of figures measured in the same run. ``OPTIONS`` says whether this is the
quick smoke run (small sizes, a few seconds per benchmark) or the full measurement, and which sandbox profile to use.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helpers
from helpers.core.config import Config
from sandbox.runner import SandboxProcess, free_port


@dataclass
class Options:
    quick: bool = False
    profile: str = os.environ.get("SANDBOX_PROFILE") or "strict"

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def runs(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full


OPTIONS = Options()
GOALS: list[tuple[str, bool, str]] = []  # (name, met, figure) of every goal checked in this run


def run_alone(name: str) -> None:
    """``python -m bench.NAME [--quick] [--profile P]``: the same as ``python -m bench [--quick] [--profile P] NAME``
    (its options read, its goals summed up)."""
    from bench.__main__ import main

    main([*sys.argv[1:], name])


@contextmanager
def sandbox_with_tenant(
    investors: int = 0, investments: int = 0, profile: str | None = None
) -> Iterator[tuple[SandboxProcess, Config]]:
    """A fresh sandbox (own process, temporary database) with a new distributor holding ``investments`` delivered
    investments spread over ``investors`` investors."""
    with tempfile.TemporaryDirectory() as tmp:
        box = SandboxProcess(port=free_port(), db_path=Path(tmp) / "bench.sqlite3", profile=profile or OPTIONS.profile)
        try:
            box.start()  # inside: a sandbox that fails to start is stopped too
            tenant = box.new_client()
            if investments:
                box.admin(
                    "bulk", {"client_id": tenant["client_id"], "investors": investors, "investments": investments}
                )
            seed = box.health()["seed"]
            config = Config(
                base_url=box.base_url,
                client_id=tenant["client_id"],
                client_secret=tenant["client_secret"],
                campaign_id=seed["campaign_id"],
                product_id=seed["product_id"],
                journal_path=Path(tmp) / "journal.sqlite3",
                source="benchmark",
            )
            yield box, config
        finally:
            box.stop()


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``runs`` timings (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        seconds, result = timed(work)
        best = min(best, seconds)
    return best, result


@dataclass
class Timings:
    """Seconds of one variant over several interleaved runs (and, where measured, the CPU seconds it cost this
    process and the sandbox's together: on a shared machine that cost is steadier than the time)."""

    seconds: list[float]
    cpu: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mean_cpu(self) -> float:
        """The mean CPU seconds of a run (the sandbox's are counted in ticks of 10 ms: a mean, not a minimum)."""
        return statistics.mean(self.cpu) if self.cpu else float("nan")

    def ms(self) -> str:
        return f"{self.min * 1000:7.0f} / {self.median * 1000:7.0f} ms"

    def s(self) -> str:
        return f"{self.min:6.2f} / {self.median:6.2f} s"

    def ratio(self, other: Timings) -> str:
        """This variant's time over ``other``'s, by minimum and by median."""
        return f"{self.min / other.min:4.2f}x / {self.median / other.median:4.2f}x"


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by process ``pid`` (this one by default), from /proc where needed."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def interleaved(
    runs: int, variants: dict[str, Callable[[], Any]], box: SandboxProcess | None = None
) -> dict[str, Timings]:
    """Each variant ``runs`` times, in turn (A, B, C, A, B, C, ...), so load on the machine hits them alike; with
    ``box``, also the CPU time of this process and of the sandbox's."""
    timings = {name: Timings([]) for name in variants}
    pid = box.process.pid if box is not None and box.process is not None else None
    for _ in range(runs):
        for name, work in variants.items():
            cpu = cpu_seconds() + (cpu_seconds(pid) if pid else 0.0)
            timings[name].seconds.append(timed(work)[0])
            if pid:
                timings[name].cpu.append(cpu_seconds() + cpu_seconds(pid) - cpu)
    return timings


def goal(name: str, met: bool, figure: str) -> None:
    """Print whether a goal of issue 14 is met by the figure measured in this run."""
    GOALS.append((name, met, figure))
    print(f"  goal {'met   ' if met else 'MISSED'} {name}: {figure}", flush=True)


def client_for(config: Config, **changes: Any) -> helpers.Client:
    client = helpers.Client(config.replace(**changes) if changes else config)
    client.check_connection()
    return client


def naive_token(config: Config) -> str:
    """A token the way the guide script gets one (one plain requests.post)."""
    import requests

    token: str = requests.post(
        config.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": config.scopes,
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
        },
        timeout=30,
    ).json()["access_token"]
    return token
