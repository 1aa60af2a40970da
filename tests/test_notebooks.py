"""What nbval (``pytest --nbval-lax notebooks/``, see notebooks/conftest.py) cannot check about the notebooks.

nbval runs each notebook once, top to bottom, with its committed parameters, and looks at nothing outside the
kernel. These tests need what it lacks: a second pass over every notebook with the registry counted before and
after (running them all again creates nothing), parameters injected as papermill does (error cases that must stop
with a sentence, parameter variants), another distributor's credentials, and the report command.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from nbclient.exceptions import CellExecutionError

import helpers
from helpers.report import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"

pytestmark = pytest.mark.notebooks


def test_notebooks_are_committed_without_outputs() -> None:
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"


def test_every_notebook_has_a_parameters_cell() -> None:
    for path in NOTEBOOKS:
        tags = [cell.get("metadata", {}).get("tags", []) for cell in json.loads(path.read_text())["cells"]]
        assert ["parameters"] in tags, f"{path.name} has no cell tagged 'parameters'"


def test_every_parameter_is_used() -> None:
    """A parameter nothing reads would promise a switch that does nothing (a walkthrough reads them all through
    ``walkthrough.parameters(globals())``)."""
    import re

    for path in NOTEBOOKS:
        cells = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
        parameters = next(cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", []))
        names = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", "".join(parameters["source"]), flags=re.MULTILINE)
        rest = "".join("".join(cell["source"]) for cell in cells if cell is not parameters)
        if "parameters(globals())" in rest:
            continue
        unused = [name for name in names if not re.search(rf"\b{name}\b", rest)]
        assert not unused, f"{path.name}: {', '.join(unused)} in its parameters cell, read by nothing"


def execute(path: Path, run: int, parameters: dict[str, Any] | None = None) -> Path:
    """Run a notebook unattended (parameters injected as papermill does); its executed copy is kept as an artifact."""
    output = ARTIFACTS / f"{path.stem}.run{run}.ipynb"
    run_notebook(path, output, parameters, timeout=120)
    return output


def registry_counts() -> dict[str, int]:
    client = helpers.Client(helpers.load_config())
    counts = {}
    for name, listing in (
        ("investors", client.investors.list()),
        ("investments", client.investments.list()),
        ("redemptions", client.redemptions.list()),
        ("wallets", None),
    ):
        if listing is None:
            counts[name] = sum(len(client.investors.wallets(i["id"])) for i in client.investors.list())
            continue
        next(listing.pages())
        counts[name] = listing.count
    return counts


def test_notebooks_run_unattended_and_rerun_creates_nothing(demo_sandbox: dict[str, Any]) -> None:
    before = registry_counts()
    for path in NOTEBOOKS:
        execute(path, 1)
    after_first = registry_counts()
    assert after_first["investors"] > before["investors"], "the onboarding notebook should create an investor"
    assert after_first["investments"] > before["investments"]
    assert after_first["redemptions"] > before["redemptions"]
    executed = [execute(path, 2) for path in NOTEBOOKS]
    assert registry_counts() == after_first
    for path in executed:  # review 53/54: a program's run kept every investor's name in outputs and widget state
        notebook = json.loads(path.read_text())
        kept = json.dumps([notebook["metadata"], *(cell.get("outputs", []) for cell in notebook["cells"])])
        assert not any(name in kept for name in ("Lovelace", "Hopper", "ada@example.com")), path.name
    assert "A table that names people" in executed[3].read_text()  # 03: said in place of the tables


def test_onboarding_notebook_shows_errors_as_sentences(demo_sandbox: dict[str, Any]) -> None:
    """A bad IBAN in the parameters stops the run with a sentence and a field table, not a traceback."""
    path = ROOT / "notebooks" / "01_onboard_investor.ipynb"
    with pytest.raises(CellExecutionError) as caught:
        execute(path, 9, {"SURNAME": "Typo", "IBAN": "DE53500105173569146252"})
    assert caught.value.ename == "InputError"
    assert "Nothing was sent" in caught.value.evalue and "not a valid IBAN" in caught.value.evalue


def test_the_report_commands_run_is_the_one_that_names_people() -> None:
    from helpers.data import people
    from helpers.report import NAMES_UNATTENDED

    assert NAMES_UNATTENDED == people.NAMES_UNATTENDED


def test_report_command_writes_html_csv_and_excel(
    demo_sandbox: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The files name investors: readable by you only (0600), in a folder of yours (0700) when the report made it."""
    from helpers.report import main

    umask = os.umask(0o022)  # the usual umask, which leaves new files readable by everyone (0644)
    try:
        main([str(ROOT / "samples" / "ledger_demo.csv"), "--output", str(tmp_path / "reports")])
    finally:
        os.umask(umask)
    printed = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert {kind: stat.S_IMODE(Path(path).stat().st_mode) for kind, path in printed.items()} == {
        "notebook": 0o600,
        "html": 0o600,
        "csv": 0o600,
        "excel": 0o600,
    }
    assert stat.S_IMODE((tmp_path / "reports").stat().st_mode) == 0o700
    page = Path(printed["html"]).read_text()
    assert "differences found comparing" in page and "reconcile.reconcile(" not in page  # results, not code
    assert printed["csv"] in page and "/.reconciliation-" not in page  # review 93: it named the scratch folder
    differences = __import__("pandas").read_csv(printed["csv"])
    assert {"in_ledger_only", "units_differ", "stuck", "redemption_failed"} <= set(differences["category"])
    assert Path(printed["excel"]).stat().st_size > 0


def test_lookup_notebooks_work_for_a_distributor_without_data(
    demo_sandbox: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = demo_sandbox["box"].new_client()
    monkeypatch.setenv("CASHLINK_CLIENT_ID", fresh["client_id"])
    monkeypatch.setenv("CASHLINK_CLIENT_SECRET", fresh["client_secret"])
    for name in ("00_connect_and_check", "03_lookup_status"):
        execute(ROOT / "notebooks" / f"{name}.ipynb", 0, {"SEARCH": "nobody"} if name.startswith("03") else {})


def test_onboarding_notebook_for_a_legal_person(demo_sandbox: dict[str, Any]) -> None:
    execute(
        ROOT / "notebooks" / "01_onboard_investor.ipynb",
        3,
        {
            "KIND": "legal_person",
            "COMPANY_NAME": "Notebook Holding AG",
            "LEGAL_FORM": "AG",
            "EMAIL": "ag@example.com",
            "IBAN": "DE57370400445320130777",
            "ID_DOCUMENT_NUMBER": "AG000001",
        },
    )
    client = helpers.Client(helpers.load_config())
    company = next(
        i for i in client.investors.list() if (i.get("legal_person") or {}).get("company_name") == "Notebook Holding AG"
    )
    assert company.get("benefiting_persons", 1) == 1 and client.investors.kyc_status(company) == "SUCCESS"
    assert len(client.investors.wallets(company["id"])) == 1


def test_a_wrong_file_parameter_reads_as_a_sentence(demo_sandbox: dict[str, Any]) -> None:
    with pytest.raises(CellExecutionError) as caught:
        execute(ROOT / "notebooks" / "02_invest_and_credit.ipynb", 8, {"SIGNED_PDF": "/nowhere/signed.pdf"})
    assert caught.value.ename == "InputError" and "There is no file at '/nowhere/signed.pdf'" in caught.value.evalue


def test_report_command_explains_a_bad_ledger(demo_sandbox: dict[str, Any], tmp_path: Path) -> None:
    from helpers.report import main

    ledger = tmp_path / "bad.csv"
    ledger.write_text("investor_id,product_id,units\nnot-an-id,also-not,ten\n")
    with pytest.raises(SystemExit) as caught:
        main([str(ledger), "--output", str(tmp_path / "reports")])
    assert str(caught.value).startswith("No report: SpreadsheetError: The ledger bad.csv has 3 problems")
    assert not list((tmp_path / "reports").iterdir()), "a failed report leaves nothing half-written"


def test_a_report_notebook_that_writes_nothing_leaves_nothing(
    demo_sandbox: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    import helpers.report

    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    notebook = nbformat.v4.new_notebook(metadata={**kernel, "language_info": {"name": "python"}})
    parameters = nbformat.v4.new_code_cell("LEDGER_PATH = OUTPUT_DIR = REPORT_NAME = STUCK_AFTER_DAYS = None")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell("print('a changed report that saves no files')")]
    changed = tmp_path / "changed.ipynb"
    nbformat.write(notebook, changed)
    monkeypatch.setattr(helpers.report, "NOTEBOOK", changed)
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("investor_id,product_id,units\n")
    with pytest.raises(SystemExit) as caught:
        helpers.report.main([str(ledger), "--output", str(tmp_path / "reports")])
    assert str(caught.value).startswith("No report: changed.ipynb ran but did not write reconciliation-")
    assert str(caught.value).endswith("then run the report again.")
    assert not list((tmp_path / "reports").iterdir())
