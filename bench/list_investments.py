"""Investments into a DataFrame: helpers against the raw transfer of the same pages, at 10,000 and 100,000 (issue 14).

Variants, interleaved in one run against one sandbox:

* raw transfer: one ``requests.Session`` following ``next`` from the page helpers asks for (``page_size=500``; the
  drf profile serves 20 per page whatever is asked), each page decoded with ``response.json()``; nothing else;
* raw + ``pd.json_normalize``: what a pandas user writes by hand;
* helpers: ``client.investments.frame()``, the tidy frame (exact Decimal money, Int64 units, UTC datetimes).

Goals: helpers within 1.3x the raw transfer at every size, and its cost per investment flat from the smallest to the
largest size. Then, with 20 ms latency per request, helpers against the guide's naive loop (a plain ``requests.get``
per page, no session, default page size): at least 10x. Run: ``python -m bench.list_investments [--quick]``
"""

from __future__ import annotations

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


def measure(investments: int, far: bool) -> dict[str, Timings]:
    with sandbox_with_tenant(investors=max(investments // 10, 1), investments=investments) as (box, config):
        client = client_for(config)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {client.transport.token()}"
        frame = client.investments.list().frame(progress=False)
        assert len(frame) == investments and frame["id"].is_unique, len(frame)
        assert len(raw_transfer(session, config)) == investments
        runs = OPTIONS.runs(9 if investments <= 10_000 else 3, 2)
        times = interleaved(
            runs,
            {
                "raw transfer": lambda: raw_transfer(session, config),
                "raw + json_normalize": lambda: pd.json_normalize(raw_transfer(session, config)),
                "helpers .frame()": lambda: client.investments.list().frame(progress=False),
            },
            box,
        )
        if far:
            box.faults(latency=LATENCY)  # as far away as a real API: every answer comes 20 ms after its request
            far_naive, _ = timed(lambda: naive(config))
            far_ours, _ = timed(client.investments.frame)
            box.faults(latency=0)
            times["far naive"], times["far helpers"] = Timings([far_naive]), Timings([far_ours])
    return times


def main() -> None:
    print(f"investments into a DataFrame, {OPTIONS.profile} profile (min / median of interleaved runs)", flush=True)
    per_item: dict[int, float] = {}  # CPU seconds per investment, client and sandbox
    wall: dict[int, float] = {}
    for investments in sizes():
        times = measure(investments, far=investments == sizes()[0])
        raw, ours = times["raw transfer"], times["helpers .frame()"]
        print(f"  {investments:,} investments:")
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
        if "far naive" in times:
            far_naive, far_ours = times["far naive"].min, times["far helpers"].min
            print(
                f"    with {LATENCY * 1000:.0f} ms latency: the guide's naive loop {far_naive:6.2f} s, "
                f"helpers {far_ours:6.2f} s"
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
