"""Reconcile 10,000 investments (quick: 1,000) against a ledger: helpers (one paged pull + a pandas merge) vs a
naive loop (one API call per ledger row, the way the guide script would ask).

Run: ``python -m bench.reconcile [--quick]``
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import requests

from bench.common import OPTIONS, best_of, client_for, naive_token, run_alone, sandbox_with_tenant
from helpers.core.config import Config
from helpers.core.resources import remaining_units
from helpers.data import reconcile


def naive(config: Config, ledger: pd.DataFrame) -> int:
    """Per ledger row: one plain requests.get of that investor's investments (all pages), summed in Python."""
    headers, differences = {"Authorization": f"Bearer {naive_token(config)}"}, 0
    for row in ledger.itertuples(index=False):
        url, held = f"{config.api_url}/investments/?investor_id={row.investor_id}&product_id={row.product_id}", 0
        while url:
            page = requests.get(url, headers=headers, timeout=30).json()
            held += sum(remaining_units(i) or 0 for i in page["results"] if i["status"] == "DELIVERED")
            url = page["next"]
        differences += held != row.units
    return differences


def main() -> None:
    count, investors = OPTIONS.size(10_000, 1_000), OPTIONS.size(1_000, 100)
    runs = OPTIONS.runs(3)
    with sandbox_with_tenant(investors=investors, investments=count) as (_box, config):
        client = client_for(config)
        ledger = client.holdings()[["investor_id", "product_id", "units"]]
        ledger.loc[ledger.index[::50], "units"] += 1  # every 50th investor: the books say one unit more
        expected = len(ledger.index[::50])
        ours_time, report = best_of(runs, lambda: reconcile.reconcile(client, ledger, stuck_after=timedelta(days=3)))
        assert len(report.differences) == expected, report.summary()
        pull_time, (investments, redemptions) = best_of(
            runs, lambda: reconcile.registry_frames(client, [str(config.product_id)])
        )
        compare_time, _ = best_of(
            runs,
            lambda: reconcile.compare(
                ledger, investments, redemptions, timedelta(days=3), pd.Timestamp.now(tz="UTC").to_pydatetime()
            ),
        )
        naive_time = None
        if OPTIONS.profile == "strict":  # the drf profile ignores investor_id: each row would read every page
            naive_time, naive_differences = best_of(1, lambda: naive(config, ledger))
            assert naive_differences == expected
    print(f"reconcile {count} investments of {investors} investors against a ledger ({expected} differences)")
    if naive_time is not None:
        print(f"  naive (one requests.get per ledger row):  {naive_time:6.2f} s")
        print(
            f"  helpers.reconcile (best of {runs}):            {ours_time:6.2f} s  ratio {naive_time / ours_time:4.1f}x"
        )
    else:
        print(f"  helpers.reconcile (best of {runs}):            {ours_time:6.2f} s (naive loop: strict profile only)")
    print(f"    of which: pull from the API {pull_time:5.2f} s, comparison {compare_time * 1000:6.1f} ms")


if __name__ == "__main__":
    run_alone("reconcile")
