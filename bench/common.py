"""A sandbox with a known amount of data, started for one benchmark run."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers.config import Config

import helpers
from sandbox.runner import SandboxProcess, free_port


@contextmanager
def sandbox_with_tenant(investors: int = 0, investments: int = 0) -> Iterator[tuple[SandboxProcess, Config]]:
    with tempfile.TemporaryDirectory() as tmp:
        box = SandboxProcess(port=free_port(), db_path=Path(tmp) / "bench.sqlite3")
        box.start()
        try:
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


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``runs`` timings (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def client_for(config: Config) -> helpers.Client:
    return helpers.Client(config)
