"""Import 500 spreadsheet rows (investor, identification, managed wallet): concurrent workers vs one by one.

Run: ``python -m bench.bulk_import``
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from schwifty import IBAN

from bench.common import best_of, client_for, sandbox_with_tenant
from helpers import bulk

ROWS = 500
WORKERS = 8


def spreadsheet(path: Path, count: int) -> Path:
    template = next(csv.DictReader(bulk.TEMPLATE.open()))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(template))
        writer.writeheader()
        for number in range(count):
            writer.writerow(
                {
                    **template,
                    "reference": f"B-{number:05d}",
                    "surname": f"Bench {number:05d}",
                    "iban": IBAN.generate("DE", bank_code="37040044", account_code=str(5320130000 + number)).compact,
                }
            )
    return path


def timed_import(workers: int, latency: float, plan: bulk.Plan) -> float:
    with sandbox_with_tenant() as (box, config):
        box.faults(latency=latency)
        client = client_for(config)
        client.check_connection()
        seconds, results = best_of(1, lambda: bulk.import_investors(client, plan, workers=workers, progress=False))
        assert (results["status"] == "created").all(), results["error"].dropna().head()
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plan = bulk.read_investors(spreadsheet(Path(tmp) / "rows.csv", ROWS), placeholder_protocols=True)
    print(f"import {ROWS} rows (investor + protocol upload + identification + managed wallet = 4 writes each)")
    for latency in (0.0, 0.02):
        serial = timed_import(1, latency, plan)
        concurrent = timed_import(WORKERS, latency, plan)
        print(
            f"  latency {latency * 1000:2.0f} ms: one by one {serial:6.2f} s ({ROWS / serial:5.1f} rows/s), "
            f"{WORKERS} workers {concurrent:6.2f} s ({ROWS / concurrent:5.1f} rows/s), "
            f"speed-up {serial / concurrent:4.1f}x"
        )


if __name__ == "__main__":
    main()
