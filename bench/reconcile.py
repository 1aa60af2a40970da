"""Reconcile 10,000 investments against a ledger: helpers (one paged pull + a pandas merge) vs a naive loop
(one API call per ledger row, the way the guide script would ask).

Run: ``python -m bench.reconcile``
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import requests
from helpers.config import Config

from bench.common import best_of, client_for, sandbox_with_tenant
from helpers import reconcile

INVESTMENTS = 10_000
INVESTORS = 1_000


def naive(config: Config, ledger: pd.DataFrame) -> int:
    """Per ledger row: one plain requests.get of that investor's investments (all pages), summed in Python."""
    token = requests.post(
        config.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": config.scopes,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
    ).json()["access_token"]
    headers, differences = {"Authorization": f"Bearer {token}"}, 0
    for row in ledger.itertuples(index=False):
        url, held = f"{config.api_url}/investments/?investor_id={row.investor_id}&product_id={row.product_id}", 0
        while url:
            page = requests.get(url, headers=headers).json()
            held += sum(i["remaining_units"] for i in page["results"] if i["status"] == "DELIVERED")
            url = page["next"]
        differences += held != row.units
    return differences


def main() -> None:
    with sandbox_with_tenant(investors=INVESTORS, investments=INVESTMENTS) as (_box, config):
        client = client_for(config)
        ledger = client.holdings()[["investor_id", "product_id", "units"]]
        ledger.loc[ledger.index[::50], "units"] += 1  # every 50th investor: the books say one unit more
        expected = len(ledger.index[::50])
        ours_time, report = best_of(3, lambda: reconcile.reconcile(client, ledger, stuck_after=timedelta(days=3)))
        assert len(report.differences) == expected, report.summary()
        pull_time, (investments, redemptions) = best_of(
            3, lambda: reconcile.registry_frames(client, [config.product_id])
        )
        compare_time, _ = best_of(
            3,
            lambda: reconcile.compare(
                ledger, investments, redemptions, timedelta(days=3), pd.Timestamp.now(tz="UTC").to_pydatetime()
            ),
        )
        naive_time, naive_differences = best_of(1, lambda: naive(config, ledger))
        assert naive_differences == expected
    print(f"reconcile {INVESTMENTS} investments of {INVESTORS} investors against a ledger ({expected} differences)")
    print(f"  naive (one requests.get per ledger row):  {naive_time:6.2f} s")
    print(f"  helpers.reconcile (best of 3):            {ours_time:6.2f} s  ratio {naive_time / ours_time:4.1f}x")
    print(f"    of which: pull from the API {pull_time:5.2f} s, comparison {compare_time * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
