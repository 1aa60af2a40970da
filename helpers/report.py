"""Produce the reconciliation report for a ledger file, unattended:

    python -m helpers.report path/to/ledger.csv [--output reports/] [--stuck-after-days 3]

Runs notebooks/05_reconciliation_report.ipynb (parameters injected as papermill does) and writes, in the output
folder, the executed notebook, an HTML version (without code), and the differences as CSV and Excel.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_reconciliation_report.ipynb"


def run_notebook(
    path: Path, output: Path, parameters: dict[str, Any] | None = None, timeout: float | None = None
) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom with ``parameters`` injected after its cell tagged 'parameters' (as papermill
    does) and write it, with its outputs, to ``output`` (also when a cell fails).

    The kernel's channels are opened inside the running event loop (``asyncio.run``): papermill's synchronous
    wrapper opens them outside it, and zmq then sometimes misses an answer until the cell's timeout (pyzmq#1558).
    A failing cell raises :class:`nbclient.exceptions.CellExecutionError` (with ``ename`` and ``evalue``).
    """
    _without_iri_grammar()
    import nbformat
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    notebook = parameterize_notebook(load_notebook_node(str(path)), dict(parameters or {}))
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        asyncio.run(client.async_execute())
    finally:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
    return notebook


def _without_iri_grammar() -> None:
    """jsonschema (imported by nbformat) imports ``rfc3987_syntax`` where it is installed, and that builds a parser
    for IRIs at import: a second of the report's start-up. Notebook schemas check no IRI format, so the report's
    process goes without it (the kernel that runs the notebook is another process and keeps it)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def produce(ledger: Path, output: Path, stuck_after_days: int = 3, cell_timeout: float = 600) -> dict[str, Path]:
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    executed = output / f"reconciliation-{stamp}.ipynb"
    run_notebook(
        NOTEBOOK,
        executed,
        {
            "LEDGER_PATH": str(ledger.resolve()),
            "OUTPUT_DIR": str(output),
            "STUCK_AFTER_DAYS": stuck_after_days,
            "REPORT_NAME": f"reconciliation-{stamp}",
        },
        timeout=cell_timeout,
    )
    from nbconvert import HTMLExporter

    html, _resources = HTMLExporter(exclude_input=True).from_filename(str(executed))
    page = executed.with_suffix(".html")
    page.write_text(html, encoding="utf-8")
    return {
        "notebook": executed,
        "html": page,
        "csv": output / f"reconciliation-{stamp}.csv",
        "excel": output / f"reconciliation-{stamp}.xlsx",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ledger", type=Path, help="the ledger, CSV or Excel")
    parser.add_argument("--output", type=Path, default=ROOT / "reports", help="folder for the report files")
    parser.add_argument("--stuck-after-days", type=int, default=3)
    parser.add_argument("--cell-timeout", type=float, default=600, help="seconds one notebook cell may take")
    args = parser.parse_args(argv)
    if not args.ledger.is_file():
        parser.error(f"there is no ledger file at {args.ledger}")
    from nbclient.exceptions import CellExecutionError

    try:
        files = produce(args.ledger, args.output, args.stuck_after_days, args.cell_timeout)
    except CellExecutionError as exc:  # e.g. a ledger with bad rows: say what, not a traceback
        raise SystemExit(f"No report: {exc.ename}: {exc.evalue}") from None
    for kind, path in files.items():
        print(f"{kind:9} {path}")


if __name__ == "__main__":
    main()
