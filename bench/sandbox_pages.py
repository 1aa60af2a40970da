"""The sandbox's list cost per investment at 10,000 and 100,000 investments (issue 14).

Walks every page of ``/v2/investments/`` by following ``next`` (500 per page, strict profile), times the first and
the last page, and in the drf profile (20 per page, page numbers) times page 1 against the deepest page and fetches
every page concurrently with 100 ms latency. Run: ``python -m bench.sandbox_pages [--quick]``
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.common import OPTIONS, run_alone
from sandbox.runner import SandboxProcess, free_port


def timed(work: Any, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def measure(investments: int, profile: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        box = SandboxProcess(port=free_port(), db_path=Path(tmp) / "pages.sqlite3", profile=profile)
        box.start()
        try:
            tenant = box.new_client()
            box.admin(
                "bulk", {"client_id": tenant["client_id"], "investors": investments // 10, "investments": investments}
            )
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {box.token(tenant['client_id'], tenant['client_secret'])}"
            url = f"{box.base_url}/v2/investments/"
            result: dict[str, float] = {}
            if profile == "strict":
                pages: list[str] = []

                def walk() -> None:
                    pages.clear()
                    link: str | None = f"{url}?page_size=500"
                    while link:
                        pages.append(link)
                        link = session.get(link).json()["next"]

                result["walk_us_per_investment"] = timed(walk, 2) / investments * 1e6
                result["first_page_ms"] = timed(lambda: session.get(pages[0]).raise_for_status()) * 1000
                result["last_page_ms"] = timed(lambda: session.get(pages[-1]).raise_for_status()) * 1000
            else:
                last = -(-investments // 20)
                result["first_page_ms"] = timed(lambda: session.get(url).raise_for_status()) * 1000
                result["last_page_ms"] = timed(lambda: session.get(f"{url}?page={last}").raise_for_status()) * 1000
                if investments <= 10_000:
                    box.faults(latency=0.1)
                    started = time.perf_counter()
                    with ThreadPoolExecutor(8) as pool:
                        got = sum(
                            pool.map(
                                lambda n: len(session.get(f"{url}?page={n}").json()["results"]), range(1, last + 1)
                            )
                        )
                    assert got == investments
                    result["concurrent_8_at_100ms_s"] = time.perf_counter() - started
            return result
        finally:
            box.stop()


def main() -> None:
    for profile in ("strict", "drf"):
        for investments in (2_000,) if OPTIONS.quick else (10_000, 100_000):
            numbers = measure(investments, profile)
            print(
                f"{profile:6} {investments:>7} investments: "
                + ", ".join(f"{name} {value:.2f}" for name, value in numbers.items()),
                flush=True,
            )


if __name__ == "__main__":
    run_alone("sandbox_pages")
