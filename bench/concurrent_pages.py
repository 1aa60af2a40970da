"""A registry far away that serves 20 per page with page numbers: the drf profile with 100 ms latency per request.

helpers reads the first page (which gives the count), then fetches the other pages ``config.concurrency`` at a time,
in order and bounded in memory. The bound is pages x latency / concurrency; the goal is within 1.3x of it. Sequential
fetching (following ``next``, one request at a time) is measured on a subset of the pages and extrapolated per page
(fetching 5,000 pages one by one at 100 ms would take more than eight minutes); the goal is at least 6x faster.
Run: ``python -m bench.concurrent_pages [--quick]``
"""

from __future__ import annotations

import itertools

from bench.common import OPTIONS, client_for, goal, run_alone, sandbox_with_tenant, timed

LATENCY = 0.1
PAGE = 20  # the drf profile's page size


def main() -> None:
    investments = OPTIONS.size(100_000, 2_000)
    subset = OPTIONS.size(40, 10)  # pages fetched one by one for the sequential baseline
    pages = -(-investments // PAGE)
    with sandbox_with_tenant(investors=max(investments // 10, 1), investments=investments, profile="drf") as (
        box,
        config,
    ):
        client = client_for(config)
        sequential = client_for(config, concurrency=1)
        box.faults(latency=LATENCY)
        ours, frame = timed(lambda: client.investments.list().frame(progress=False))
        assert len(frame) == investments and frame["id"].is_unique, len(frame)
        first_pages, _ = timed(lambda: list(itertools.islice(sequential.investments.list().raw_pages(), subset)))
    concurrency = client.config.concurrency
    bound = pages * LATENCY / concurrency
    per_page = first_pages / subset
    estimate = per_page * pages
    print(
        f"{investments:,} investments, {pages:,} pages of {PAGE}, {LATENCY * 1000:.0f} ms latency, drf profile, "
        f"concurrency {concurrency}"
    )
    print(f"  helpers .frame():                    {ours:7.2f} s")
    print(f"  bound pages x latency / concurrency: {bound:7.2f} s   helpers {ours / bound:4.2f}x of it")
    print(
        f"  one page at a time: {per_page * 1000:.0f} ms per page over the first {subset} pages, "
        f"so {estimate:7.1f} s for all {pages:,} (extrapolated)"
    )
    goal(f"{pages:,} pages within 1.3x pages x latency / concurrency", ours / bound <= 1.3, f"{ours / bound:4.2f}x")
    goal("concurrent pages at least 6x faster than sequential", estimate / ours >= 6, f"{estimate / ours:4.1f}x")


if __name__ == "__main__":
    run_alone("concurrent_pages")
