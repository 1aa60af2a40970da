"""Investments into a DataFrame: helpers against the raw transfer of the same pages, at 10,000 and 100,000 (issue 14).

Variants, interleaved in one run against one sandbox per size (the sizes in turn too, each round):

* raw transfer: one ``requests.Session`` following ``next`` from the page helpers asks for (``page_size=500``; the
  drf profile serves 20 per page whatever is asked), each page decoded with ``response.json()``; nothing else;
* raw + ``pd.json_normalize``: what a pandas user writes by hand;
* helpers: ``client.investments.frame()``, the tidy frame (exact Decimal money, Int64 units, UTC datetimes).

Goals: helpers within 1.3x the raw transfer at every size, and its cost per investment flat from the smallest to the
largest size. Then, with 20 ms latency per request, helpers against the guide's naive loop (a plain ``requests.get``
per page, no session, default page size): at least 10x. Run: ``python -m bench.list_investments [--quick]``
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pandas as pd
import requests

from bench.common import (
    OPTIONS,
    Timings,
    client_for,
    goal,
    interleaved,
    naive_token,
    run_alone,
    sandbox_with_tenant,
    timed,
)
from helpers.core.config import Config
from sandbox.runner import SandboxProcess

LATENCY = 0.02  # seconds from each request to its answer in the "far away" comparison


def raw_transfer(session: requests.Session, config: Config) -> list[dict[str, Any]]:
    url: str | None = f"{config.api_url}/investments/?page_size={config.page_size}"
    rows: list[dict[str, Any]] = []
    while url:
        page = session.get(url, timeout=30).json()
        rows += page["results"]
        url = page["next"]
    return rows


def naive(config: Config) -> pd.DataFrame:
    """As the guide script calls the API: a token, then one plain requests.get per page, no session, default pages."""
    headers = {"Authorization": f"Bearer {naive_token(config)}"}
    url, rows = f"{config.api_url}/investments/", []
    while url:
        page = requests.get(url, headers=headers, timeout=30).json()
        rows += page["results"]
        url = page["next"]
    return pd.DataFrame(rows)


def sizes() -> tuple[int, ...]:
    return (2_000,) if OPTIONS.quick else (10_000, 100_000)


def runs_per_round(investments: int) -> int:
    """Runs of each variant per round at this size: 3 rounds give 9 at 10,000 and 3 at 100,000."""
    return 1 if OPTIONS.quick else (3 if investments <= 10_000 else 1)


def variants(box: SandboxProcess, config: Config, investments: int) -> dict[str, Callable[[], Any]]:
    """The three ways to a DataFrame, each checked once against the seeded data."""
    client = client_for(config)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {client.transport.token()}"
    frame = client.investments.list().frame(progress=False)
    assert len(frame) == investments and frame["id"].is_unique, len(frame)
    assert len(raw_transfer(session, config)) == investments
    return {
        "raw transfer": lambda: raw_transfer(session, config),
        "raw + json_normalize": lambda: pd.json_normalize(raw_transfer(session, config)),
        "helpers .frame()": lambda: client.investments.list().frame(progress=False),
    }


def far_away(box: SandboxProcess, config: Config) -> tuple[float, float]:
    """Seconds of the guide's naive loop and of helpers, with 20 ms latency per request."""
    client = client_for(config)
    box.faults(latency=LATENCY)  # as far away as a real API: every answer comes 20 ms after its request
    try:
        return timed(lambda: naive(config))[0], timed(client.investments.frame)[0]
    finally:
        box.faults(latency=0)


def measure() -> tuple[dict[int, dict[str, Timings]], tuple[float, float]]:
    """Every size in its own sandbox, all started at once: rounds go through the sizes in turn (in each, the variants
    interleaved), so a change in the machine's load hits the small and the large size alike; the cost per investment
    compares the two."""
    times: dict[int, dict[str, Timings]] = {}
    with ExitStack() as stack:
        boxes = {
            investments: stack.enter_context(
                sandbox_with_tenant(investors=max(investments // 10, 1), investments=investments)
            )
            for investments in sizes()
        }
        work = {investments: variants(box, config, investments) for investments, (box, config) in boxes.items()}
        for _round in range(OPTIONS.runs(3, 2)):
            for investments, (box, _config) in boxes.items():
                for name, timings in interleaved(runs_per_round(investments), work[investments], box).items():
                    merged = times.setdefault(investments, {}).setdefault(name, Timings([]))
                    merged.seconds += timings.seconds
                    merged.cpu += timings.cpu
        far = far_away(*boxes[sizes()[0]])
    return times, far


def main() -> None:
    print(
        f"investments into a DataFrame, {OPTIONS.profile} profile (min / median of interleaved runs; the sizes "
        "interleaved too)",
        flush=True,
    )
    per_item: dict[int, float] = {}  # CPU seconds per investment, client and sandbox
    wall: dict[int, float] = {}
    measured, (far_naive, far_ours) = measure()
    for investments, times in measured.items():
        raw, ours = times["raw transfer"], times["helpers .frame()"]
        print(f"  {investments:,} investments ({len(ours.seconds)} runs of each):")
        for name in ("raw transfer", "raw + json_normalize", "helpers .frame()"):
            t = times[name]
            cpu = t.mean_cpu / investments * 1e6
            print(
                f"    {name:22} {t.ms()}  vs raw {t.ratio(raw)}  {t.min / investments * 1e6:5.1f} us per investment, "
                f"CPU {cpu:5.1f} us (client and sandbox)"
            )
        per_item[investments] = ours.mean_cpu / investments
        wall[investments] = ours.min / investments
        goal(f"helpers within 1.3x the raw transfer at {investments:,}", ours.min / raw.min <= 1.3, ours.ratio(raw))
    print(
        f"  {sizes()[0]:,} investments with {LATENCY * 1000:.0f} ms latency: the guide's naive loop "
        f"{far_naive:6.2f} s, helpers {far_ours:6.2f} s"
    )
    goal(
        f"helpers at least 10x the guide's naive loop at {LATENCY * 1000:.0f} ms latency",
        far_naive / far_ours >= 10,
        f"{far_naive / far_ours:4.1f}x",
    )
    if len(per_item) > 1:
        small, large = min(per_item), max(per_item)
        growth = per_item[large] / per_item[small]
        print(
            f"  time per investment {wall[small] * 1e6:.1f} -> {wall[large] * 1e6:.1f} us "
            f"({wall[large] / wall[small]:4.2f}x; on a shared machine the time follows its load, the CPU cost does not)"
        )
        goal(
            f"CPU cost per investment (client and sandbox) flat from {small:,} to {large:,} (within 1.2x)",
            growth <= 1.2,
            f"{per_item[small] * 1e6:.1f} -> {per_item[large] * 1e6:.1f} us per investment ({growth:4.2f}x)",
        )


if __name__ == "__main__":
    run_alone("list_investments")
