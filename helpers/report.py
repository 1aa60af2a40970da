"""Produce the reconciliation report for a ledger file, unattended:

    python -m helpers.report path/to/ledger.csv [--output reports/] [--stuck-after-days 3]

Runs notebooks/05_reconciliation_report.ipynb (parameters injected as papermill does) and writes, in the output
folder, the executed notebook, an HTML version (without code), and the differences as CSV and Excel.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the notebook libraries are imported when used: --help and argument errors answer at once
    import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_reconciliation_report.ipynb"


def run_notebook(
    path: Path,
    output: Path,
    parameters: dict[str, Any] | None = None,
    timeout: float | None = None,
    **client_options: Any,
) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom with ``parameters`` injected after its cell tagged 'parameters' (as papermill
    does) and write it, with its outputs, to ``output`` (also when a cell fails).

    A failing cell raises :class:`nbclient.exceptions.CellExecutionError` (with ``ename`` and ``evalue``);
    ``client_options`` go to :class:`nbclient.NotebookClient` (e.g. hooks).
    """
    _without_iri_grammar()
    import nbformat
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from traitlets.config import Config

    notebook = parameterize_notebook(load_notebook_node(str(path)), dict(parameters or {}))
    sockets = tempfile.mkdtemp(prefix="kernel-")
    # The kernel listens on Unix sockets in a folder of its own, not on TCP ports: jupyter_client picks free ports,
    # releases them and the kernel binds them a moment later, and on a busy machine another process sometimes takes
    # one in between ("Address already in use", the kernel dies before replying to kernel_info: 1 run in 300).
    config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        config=config,
        resources={"metadata": {"path": str(path.parent)}},
        **client_options,
    )
    # No emulation of ipywidgets' Output widget. nbclient's emulation answers the kernel's widget messages with
    # comm_msg on the *shell* socket while it awaits the cell's execute_reply on that same socket: jupyter_client's
    # Session.send writes through a synchronous shadow of the asyncio socket, and that send lets libzmq consume the
    # edge-triggered wake-up of a reply that has just arrived, without pyzmq's asyncio poller knowing. The reply
    # then sits unread until the poll's timeout (the cell timeout: 120 s in the tests, 600 s for a report), when a
    # last zmq_poll finds it. Seen with py-spy (client idle in epoll_wait with a 'poll' future pending on the shell
    # socket whose ZMQ_EVENTS already said POLLIN, kernel idle) and by tracing: only cells that show Output widgets
    # (forms, panels) stalled. Without the emulation nothing else is sent while a reply is awaited; what a cell
    # prints inside an Output widget lands in the cell's own outputs, which suits an unattended run.
    # Measured with `python -m tests.soak_notebooks`: 11 stalls in 60 runs before, none after. Upstream: nbclient
    # issue #312 (open). It happens with ipykernel 6. The ipykernel<7 pin was set for the same symptom; with this
    # change ipykernel 7.4 ran 140 soak runs without a stall, though ipykernel 7 had a kernel-side variant on
    # Windows (a raw send on the kernel's shell socket eating the edge of the next request, ipykernel PR #1529).
    client.widget_registry = {}
    try:
        asyncio.run(client.async_execute())
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
    return notebook


def _without_iri_grammar() -> None:
    """jsonschema (imported by nbformat) imports ``rfc3987_syntax`` where it is installed, and that builds a parser
    for IRIs at import: a second of the report's start-up. Notebook schemas check no IRI format, so the report's
    process goes without it (the kernel that runs the notebook is another process and keeps it)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


NAMES_UNATTENDED = "CASHLINK_NAMES_UNATTENDED"  # helpers.data.people.NAMES_UNATTENDED (not imported: start-up time)


def produce(ledger: Path, output: Path, stuck_after_days: int = 3, cell_timeout: float = 600) -> dict[str, Path]:
    """Run the reconciliation notebook for ``ledger`` and put its files into ``output``.

    Everything is written into a temporary folder beside ``output`` first and moved into place only when the whole
    report succeeded, so a failed run leaves nothing half-written behind. The files name investors: they are readable
    by you only (0600), as the journal is, and so is ``output`` (0700) when this creates it.
    """
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True, mode=0o700)  # an existing folder keeps its mode
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"reconciliation-{stamp}"
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=output) as scratch:
        work = Path(scratch)
        executed = work / f"{name}.ipynb"
        before = os.environ.get(NAMES_UNATTENDED)
        os.environ[NAMES_UNATTENDED] = "1"  # for its kernel: a report names investors (its files are yours only)
        try:
            run_notebook(
                NOTEBOOK,
                executed,
                {
                    "LEDGER_PATH": str(ledger.resolve()),
                    "OUTPUT_DIR": str(work),
                    "STUCK_AFTER_DAYS": stuck_after_days,
                    "REPORT_NAME": name,
                },
                timeout=cell_timeout,
            )
        finally:
            if before is None:
                os.environ.pop(NAMES_UNATTENDED, None)
            else:
                os.environ[NAMES_UNATTENDED] = before
        from nbconvert import HTMLExporter

        # the files are said where they end up, not in this scratch folder (review 93: the HTML named paths gone)
        executed.write_text(executed.read_text(encoding="utf-8").replace(str(work), str(output)), encoding="utf-8")
        html, _resources = HTMLExporter(exclude_input=True).from_filename(str(executed))
        executed.with_suffix(".html").write_text(html, encoding="utf-8")
        files = {"notebook": f"{name}.ipynb", "html": f"{name}.html", "csv": f"{name}.csv", "excel": f"{name}.xlsx"}
        missing = [file for file in files.values() if not (work / file).is_file()]
        if missing:
            raise RuntimeError(
                f"{NOTEBOOK.name} ran but did not write {', '.join(missing)}. Check that it still saves its files "
                "as REPORT_NAME into OUTPUT_DIR (its last cells), then run the report again."
            )
        for file in files.values():
            (work / file).chmod(0o600)  # still in the scratch folder (0700): private before anyone could read it
            os.replace(work / file, output / file)
    return {kind: output / file for kind, file in files.items()}


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
    except RuntimeError as exc:  # the notebook was changed and no longer writes every file
        raise SystemExit(f"No report: {exc}") from None
    for kind, path in files.items():
        print(f"{kind:9} {path}")


if __name__ == "__main__":
    main()
