"""Produce the reconciliation report for a ledger file, unattended:

    python -m helpers.report path/to/ledger.csv [--output reports/] [--stuck-after-days 3]

Runs notebooks/05_reconciliation_report.ipynb with papermill and writes, in the output folder, the executed
notebook, an HTML version (without code), and the differences as CSV and Excel.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import papermill
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_reconciliation_report.ipynb"


def produce(ledger: Path, output: Path, stuck_after_days: int = 3) -> dict[str, Path]:
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    executed = output / f"reconciliation-{stamp}.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(executed), cwd=str(NOTEBOOK.parent), progress_bar=False,
                               parameters={"LEDGER_PATH": str(ledger.resolve()), "OUTPUT_DIR": str(output),
                                           "STUCK_AFTER_DAYS": stuck_after_days, "REPORT_NAME": f"reconciliation-{stamp}"})
    html, _resources = HTMLExporter(exclude_input=True).from_filename(str(executed))
    page = executed.with_suffix(".html")
    page.write_text(html, encoding="utf-8")
    return {"notebook": executed, "html": page, "csv": output / f"reconciliation-{stamp}.csv",
            "excel": output / f"reconciliation-{stamp}.xlsx"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ledger", type=Path, help="the ledger, CSV or Excel")
    parser.add_argument("--output", type=Path, default=ROOT / "reports", help="folder for the report files")
    parser.add_argument("--stuck-after-days", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.ledger.is_file():
        parser.error(f"there is no ledger file at {args.ledger}")
    for kind, path in produce(args.ledger, args.output, args.stuck_after_days).items():
        print(f"{kind:9} {path}")


if __name__ == "__main__":
    main()
