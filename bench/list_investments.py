"""List 10,000 investments into a DataFrame: helpers vs the guide's way (plain requests.get per page, no session).

Run: ``python -m bench.list_investments``
"""

from __future__ import annotations

import pandas as pd
import requests
from helpers.config import Config

from bench.common import best_of, client_for, sandbox_with_tenant

INVESTMENTS = 10_000
LATENCY = 0.02  # seconds added per request in the "far away" runs


def naive(config: Config) -> pd.DataFrame:
    """As the guide script calls the API: a token, then one plain requests.get per page, no session, default pages."""
    token = requests.post(
        config.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": config.scopes,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url, rows = f"{config.api_url}/investments/", []
    while url:
        page = requests.get(url, headers=headers).json()
        rows += page["results"]
        url = page["next"]
    return pd.DataFrame(rows)


def main() -> None:
    with sandbox_with_tenant(investors=200, investments=INVESTMENTS) as (box, config):
        naive_time, naive_frame = best_of(3, lambda: naive(config))
        client = client_for(config)
        client.check_connection()
        ours_time, frame = best_of(3, client.investments.frame)
        small = client_for(config.replace(page_size=20))
        small.check_connection()
        small_time, _ = best_of(3, small.investments.frame)
        assert len(frame) == len(naive_frame) == INVESTMENTS
        pages = -(-INVESTMENTS // 500)
        # Per-page cost at the start and at the end of the list (the sandbox's indexes keep them level).
        token = client.transport.token()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def page_time(url: str) -> float:
            return best_of(20, lambda: session.get(url).raise_for_status())[0]

        walked = [f"{config.api_url}/investments/?page_size=20"]
        while len(walked) < INVESTMENTS // 20:
            walked.append(session.get(walked[-1]).json()["next"])
        first, last = page_time(walked[0]), page_time(walked[-1])
        box.faults(latency=LATENCY)  # as far away as a real API: every request costs a round trip more
        far_naive, _ = best_of(1, lambda: naive(config))
        far_ours, _ = best_of(1, client.investments.frame)
    print(f"list {INVESTMENTS} investments into a DataFrame (best of 3)")
    print(
        f"  naive (requests.get per page, 20 per page, no session): {naive_time:6.2f} s  "
        f"{INVESTMENTS // 20 / naive_time:7.0f} pages/s"
    )
    print(
        f"  helpers, same 20 per page (one session):               {small_time:6.2f} s  "
        f"{INVESTMENTS // 20 / small_time:7.0f} pages/s  ratio {naive_time / small_time:4.1f}x"
    )
    print(
        f"  helpers, default 500 per page:                         {ours_time:6.2f} s  "
        f"{pages / ours_time:7.0f} pages/s  ratio {naive_time / ours_time:4.1f}x"
    )
    print(
        f"  with {LATENCY * 1000:.0f} ms latency per request: naive {far_naive:5.2f} s, helpers {far_ours:5.2f} s, "
        f"ratio {far_naive / far_ours:4.1f}x"
    )
    print(
        f"  sandbox, following next: page 1 vs page {INVESTMENTS // 20} (20 items): {first * 1000:.1f} ms vs "
        f"{last * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
