"""Reading the analyst's spreadsheets (CSV or Excel) with clear, row-and-column messages for every problem.

Shared by the reconciliation (a ledger of holdings) and the bulk onboarding (a list of investors).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from helpers.core import checks
from helpers.core.errors import InputError

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
Problem = tuple[int | None, str | None, str]  # (row, column, what is wrong)


class SpreadsheetError(InputError):
    """A spreadsheet that cannot be used as it is; ``problems`` says where (row, column) and why."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        field_errors: checks.FieldErrors = {}
        for row, column, text in problems:
            field_errors.setdefault(_where(row, column), []).append(text)
        super().__init__(message, field_errors=field_errors)
        frame = pd.DataFrame(problems, columns=["row", "column", "problem"]).astype({"row": "Int64"})
        self.problems = frame.sort_values("row", kind="stable", na_position="first").reset_index(drop=True)  # by row

    def to_frame(self) -> pd.DataFrame:
        return self.problems


def _where(row: int | None, column: str | None) -> str:
    return ".".join(part for part in (f"row {row}" if row else None, column) if part) or "file"


@dataclass(frozen=True)
class Column:
    name: str
    check: Callable[[Any], Any] | None = None
    required: bool = True  # the column must exist
    allow_blank: bool = False  # a cell may be empty
    description: str = ""


def read_table(
    source: str | Path | bytes | BinaryIO,
    columns: list[Column],
    what: str,
    name: str | None = None,
    sheet: str | int = 0,
) -> pd.DataFrame:
    """Read a CSV (any of , ; tab, UTF-8) or Excel file into a DataFrame of checked values.

    The returned frame has a ``row`` column with the row number as a spreadsheet program shows it (the header is
    row 1). Every problem in the file is reported at once, as a :class:`SpreadsheetError`.
    """
    frame, problems, name = parse_table(source, columns, what, name, sheet)
    if problems:
        count = len(problems)
        raise SpreadsheetError(
            f"The {what} {name} has {count} problem{'s' if count > 1 else ''} (listed by row and column); nothing "
            "of it was used. Fix those cells and read it again.",
            problems,
        )
    return frame


def parse_table(
    source: str | Path | bytes | BinaryIO,
    columns: list[Column],
    what: str,
    name: str | None = None,
    sheet: str | int = 0,
) -> tuple[pd.DataFrame, list[Problem], str]:
    """Like :func:`read_table`, but cell problems are returned (the cell's value is None) instead of raised.

    Problems with the file as a whole (unreadable, wrong encoding, missing columns) are still raised.
    """
    raw, name = _bytes(source, name)
    excel = Path(name).suffix.lower() in EXCEL_SUFFIXES
    _refuse_other_kinds(raw, name, excel)
    if excel:
        try:
            frame = pd.read_excel(io.BytesIO(raw), sheet_name=sheet, dtype=str, keep_default_na=False)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise SpreadsheetError(
                f"Could not read {name} as an Excel workbook: it is damaged, or not a workbook saved as .xlsx. "
                "Open it in Excel and save it again as .xlsx, or save it as CSV UTF-8.",
                [(None, None, str(exc))],
            ) from None
    else:
        frame = _read_csv(raw, name)
    separated = SEPARATED.get(frame.attrs.get("delimiter", ""))  # (a file where a comma may be the decimal mark)
    frame.columns = [checks.visible(str(c)).strip() for c in frame.columns]  # (a zero-width space pasted in one)
    unreadable = [(position, c) for position, c in enumerate(frame.columns, start=1) if checks.unseen_character(c)]
    if unreadable:  # (a NUL would vanish on a screen: 'un\x00its' would read as 'units', said missing)
        shown = {c: checks.CONTROL_CHARACTER.sub("?", c) for _, c in unreadable}
        said = ", ".join(f"column {position} ({shown[c]})" for position, c in unreadable)
        raise SpreadsheetError(
            f"The header row of the {what} {name} has an invisible control character in {said}, shown as '?'. "
            "Retype that header cell and read it again.",
            [(1, shown[c], "A control character in the header.") for _position, c in unreadable],
        )
    repeated = sorted({c for c in frame.columns if frame.columns.tolist().count(c) > 1} | _renamed_repeats(frame))
    if repeated:
        raise SpreadsheetError(
            f"The {what} {name} has the column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} more than "
            "once; keep one of each and read it again.",
            [(1, column, "This column appears more than once.") for column in repeated],
        )
    frame = frame.dropna(how="all")
    frame = frame[~(frame.astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1)]
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        found = ", ".join(str(c) for c in frame.columns)
        if len(frame.columns) == 1:
            hint = "The header has a single column: is the delimiter one of comma, semicolon or tab?"
        else:
            hint = f"Add {'them' if len(missing) > 1 else 'it'} to the header row (its columns now: {found})."
        raise SpreadsheetError(
            f"The {what} {name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. {hint}",
            [(1, column, "This column is required.") for column in missing],
        )
    checked: dict[str, list[Any]] = {"row": [int(index) + 2 for index in frame.index]}
    problems: list[Problem] = []
    formulas: dict[tuple[int, str], str] | None = None if excel else {}  # (read once, where a cell seems empty)
    for column in columns:
        values: list[Any] = []
        for row, value in zip(
            checked["row"], frame[column.name] if column.name in frame.columns else [""] * len(frame)
        ):
            text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
            text = checks.visible(text).strip()  # as the cell reads: a soft hyphen or zero-width space is no part
            if not text:
                if column.required and not column.allow_blank:
                    if formulas is None:
                        formulas = _formulas(raw, sheet)
                    formula = formulas.get((row, column.name))
                    problems.append(
                        (
                            row,
                            column.name,
                            f"This cell holds a formula ({formula}) that gives no value here: if Excel shows a number "
                            "in it, open the file in Excel and save it again (its result was not saved); otherwise "
                            "type the number."
                            if formula
                            else "This cell is empty: fill it in, or delete the row.",
                        )
                    )
                values.append(None)
                continue
            if column.check is None:  # a column only shown (a ledger's name): a line break or tab is a space
                text = re.sub(r"\s*[\t\n\v\f\r\x85\u2028\u2029]+\s*", " ", text)
            unseen = checks.unseen_character(text)  # every column, checked or not (review 83: an unchecked one kept
            if unseen:  # a NUL)
                problems.append((row, column.name, unseen))
                values.append(None)
                continue
            comma = _decimal_comma(text, separated) if column.check is not None and separated else None
            if comma:  # (reviews 93, 95: German Excel's '380,000' was read as 380000, and the check's advice that
                problems.append((row, column.name, comma))  # '1,500 is read as fifteen hundred' is untrue here)
                values.append(None)
                continue
            try:
                values.append(column.check(text) if column.check else text)
            except checks.CheckError as exc:
                problems.append((row, column.name, str(exc)))
                values.append(None)
        checked[column.name] = values
    # object columns: a blank cell stays None (pandas would read a column of text and blanks as strings with NaN)
    return pd.DataFrame(checked, dtype=object), problems, name


def _decimal_comma(text: str, separated: str) -> str | None:
    """Why a number with a comma cannot be read in a file separated by ``separated`` (semicolons, tabs: as German
    Excel saves one, where the comma is the decimal mark); None for any other cell."""
    if ONE_COMMA_GROUP.fullmatch(text):
        grouped, decimal = int(text.replace(",", "")), Decimal(text.replace(",", ".")).normalize()
        return (
            f"'{text}' can be read two ways in a file separated by {separated}, as German Excel saves it: "
            f"{grouped:,} (a comma grouping thousands) or {decimal:f} (a decimal comma). Enter it without the comma: "
            f"{grouped} or {decimal:f}."
        )
    if DECIMAL_COMMA.fullmatch(text):
        return f"'{text}' has a decimal comma; enter a whole number such as 300, without a comma."
    return None


def _formulas(raw: bytes, sheet: str | int) -> dict[tuple[int, str], str]:
    """(row, column name) -> formula, of the cells of a workbook's sheet that hold one (the header in row 1): a cell
    that reads as empty because the file does not hold its result (written by a program, or saved without
    calculating: review 96 called '=100+50' empty)."""
    import openpyxl  # (loaded only for such a cell)

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
        page = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
        rows = page.iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
        return {
            (number, header[place]): str(cell)
            for number, cells in enumerate(rows, start=2)
            for place, cell in enumerate(cells)
            if place < len(header) and isinstance(cell, str) and cell.startswith("=")
        }
    except Exception:  # (openpyxl raises many kinds for a file it reads otherwise than pandas did)
        return {}


def duplicates(frame: pd.DataFrame, keys: list[str], what: str, name: str) -> None:
    """Refuse rows that repeat the same key (e.g. the same investor and product twice)."""
    repeated = frame[frame.duplicated(keys, keep=False)]
    if repeated.empty:
        return
    problems: list[Problem] = []
    together = " and ".join(key.removesuffix("_id").replace("_", " ") for key in keys)  # 'investor and product'
    for _key, group in repeated.groupby(keys, sort=False):
        rows = group["row"].tolist()
        for row in rows[1:]:
            problems.append((row, ", ".join(keys), f"Repeats row {rows[0]} (the same {together})."))
    raise SpreadsheetError(
        f"The {what} {name} has {len(problems)} duplicate row{'s' if len(problems) > 1 else ''} (listed by row): "
        f"the same {together} may stand in one row only. Keep one row for each, delete the others (adding up what "
        "they hold, if each was right), and read it again.",
        problems,
    )


def _renamed_repeats(frame: pd.DataFrame) -> set[str]:
    """Columns pandas read twice: it names the second ``email.1``."""
    names = set(frame.columns)
    return {match[1] for c in names if (match := re.fullmatch(r"(.+)\.\d+", c)) and match[1] in names}


def _bytes(source: str | Path | bytes | BinaryIO, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise SpreadsheetError(
                f"There is no file at {path} (a relative path starts in the notebook's folder, "
                f"{Path.cwd()}). Check the name, or upload the file instead.",
                [(None, None, "File not found.")],
            )
        return path.read_bytes(), name or path.name
    raw = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read()
    # without a name (bytes, or a stream that has none), what the content is: a workbook is a ZIP archive
    return raw, name or str(
        getattr(source, "name", "") or f"upload{_zip_kind(raw)[1] if raw.startswith(ZIP) else '.csv'}"
    )


# What a ZIP archive holds, by its entries' folders, when it is not a workbook: (what it is, its file's suffix)
OFFICE_ZIPS = {"word/": ("a Word document (.docx)", ".docx"), "ppt/": ("a PowerPoint presentation (.pptx)", ".pptx")}


def _zip_kind(raw: bytes) -> tuple[str | None, str]:
    """What a ZIP archive is: (None, '.xlsx') for a workbook or an archive unreadable as one (said by the workbook's
    reader), else what it is and its suffix."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None, ".xlsx"
    if any(entry.startswith("xl/") for entry in entries):
        return None, ".xlsx"
    if ODS_MIMETYPE in raw[:200]:
        return "a spreadsheet in the OpenDocument (.ods) format", ".ods"
    return next(
        (kind for folder, kind in OFFICE_ZIPS.items() if any(e.startswith(folder) for e in entries)),
        ("a ZIP archive of other files", ".zip"),
    )


# What a file begins with when it is not a spreadsheet read here (review 81: a PDF was read as a one-column CSV, a
# PNG as text in another encoding): signatures whole enough that no CSV's first cell begins so (review 82).
OTHER_KINDS = {
    re.compile(rb"%PDF-\d\.\d"): "a PDF document",
    re.compile(rb"\x89PNG\r\n\x1a\n"): "a PNG image",
    re.compile(rb"\xff\xd8\xff"): "a JPEG image",
    re.compile(rb"GIF8[79]a"): "a GIF image",
}
OLD_OFFICE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office 97-2003's container: an .xls, and an encrypted .xlsx
SEPARATED = {";": "semicolons", "\t": "tabs"}
DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")  # 1,5 (and 380,000, which ONE_COMMA_GROUP says apart)
ONE_COMMA_GROUP = re.compile(r"[+-]?[0-9]{1,3},[0-9]{3}")  # 380,000: thousands, or 380 with a decimal comma
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"  # (an .ods file's first entry)
ZIP = b"PK\x03\x04"  # an .xlsx workbook is a ZIP archive, as other spreadsheets' files are
UPLOADS = ".csv,.tsv,.txt,.xlsx,.xlsm"  # what an upload widget offers to choose: what is read here
OTHER_SPREADSHEETS = {".ods": "OpenDocument (.ods)", ".xlsb": "Excel binary (.xlsb)", ".numbers": "Numbers"}
SAVE_AS = "Save it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8) or as .xlsx, and upload that."


def _refuse_other_kinds(raw: bytes, name: str, excel: bool) -> None:
    """Refuse a file that is plainly not a CSV or .xlsx spreadsheet, saying what it is and what to upload."""
    suffix = Path(name).suffix.lower()
    if raw.startswith(ZIP) and ODS_MIMETYPE in raw[:200]:  # (its first entry)
        suffix = ".ods"  # (an .ods renamed .xlsx)
    if suffix in OTHER_SPREADSHEETS:
        raise SpreadsheetError(
            f"{name} is a spreadsheet in the {OTHER_SPREADSHEETS[suffix]} format, which is not read here. Save it as "
            "CSV (UTF-8) or as an Excel workbook (.xlsx) from its program (File > Save As, or Export), and upload "
            "that.",
            [(None, None, f"{OTHER_SPREADSHEETS[suffix]} format.")],
        )
    if raw.startswith(OLD_OFFICE):
        if "EncryptedPackage".encode("utf-16-le") in raw:  # (its streams' names, whatever the file's own name)
            raise SpreadsheetError(
                f"{name} is an encrypted Office file (saved with a password, or with a sensitivity label), which is "
                "not read here. If it is the workbook, open it in Excel, remove the password or the label (File > "
                "Info > Protect Workbook), save it and upload it again; or save it as 'CSV UTF-8'.",
                [(None, None, "Encrypted Office file.")],
            )
        if any(f"{stream}\x00".encode("utf-16-le") in raw for stream in ("Workbook", "Book")):  # (names end so)
            raise _refused(
                name, "is in the Excel 97-2003 format (.xls), which is not read here", "Excel 97-2003 format"
            )
        raise _refused(name, "is an Office 97-2003 file, not a spreadsheet read here", "Office 97-2003 file")
    if raw.startswith(ZIP) and (other := _zip_kind(raw)[0]) is not None:
        raise SpreadsheetError(
            f"{name} is {other}, not a spreadsheet. Upload the spreadsheet itself, saved as 'CSV UTF-8' (Excel: "
            "File > Save As > CSV UTF-8) or as .xlsx.",
            [(None, None, f"Not a spreadsheet: {other}.")],
        )
    if raw.startswith(ZIP) and not excel:
        raise SpreadsheetError(
            f"{name} is a ZIP archive, as an Excel workbook (.xlsx) is, but its name does not end in .xlsx. If it is "
            "an Excel workbook, rename it to end in .xlsx and upload it again; otherwise save the spreadsheet as "
            "'CSV UTF-8' or as .xlsx.",
            [(None, None, "A ZIP archive, not a CSV file.")],
        )
    kind = next((kind for magic, kind in OTHER_KINDS.items() if magic.match(raw)), None)
    if kind is None and not excel:  # (anything else named as a workbook is said by the workbook's reader)
        if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
            raise _refused(name, "is UTF-32 text, not UTF-8", "UTF-32 text, not UTF-8")
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_mark(raw[:4096]):
            raise _refused(name, "is UTF-16 text (Excel's 'Unicode Text'), not UTF-8", "UTF-16 text, not UTF-8")
        if b"\x00" in raw[:4096] and not _text_without_nuls(raw[:4096]):  # (NULs in text are said at their cells)
            kind = "a binary file"
    if kind is not None:
        raise SpreadsheetError(
            f"{name} is {kind}, not a spreadsheet. Upload the spreadsheet itself, saved as 'CSV UTF-8' (Excel: "
            "File > Save As > CSV UTF-8) or as .xlsx.",
            [(None, None, f"Not a spreadsheet: {kind}.")],
        )


def _text_without_nuls(sample: bytes) -> bool:
    """UTF-8 text once its NUL bytes are left out (a sample's last character may be cut)."""
    try:
        sample.replace(b"\x00", b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return True


def _utf16_without_mark(sample: bytes) -> bool:
    """Text in UTF-16 without its byte order mark: a NUL in every other byte of the first line."""
    line = sample.split(b"\n\x00", 1)[0].split(b"\x00\n", 1)[0][:200]
    return len(line) >= 8 and (line[1::2].count(0) == len(line[1::2]) or line[0::2].count(0) == len(line[0::2]))


def _refused(name: str, what: str, problem: str) -> SpreadsheetError:
    """'``name`` ``what``. Save it as CSV UTF-8 or as .xlsx, and upload that.'"""
    return SpreadsheetError(f"{name} {what}. {SAVE_AS}", [(None, None, f"{problem}.")])


def _read_csv(raw: bytes, name: str) -> pd.DataFrame:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpreadsheetError(
            f"{name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} in row {line}). Save it as 'CSV UTF-8' "
            "(Excel: File > Save As > CSV UTF-8) or as .xlsx.",
            [(line, None, "Not UTF-8 encoded.")],
        ) from None
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if not text.strip():
        raise SpreadsheetError(
            f"{name} is empty. Upload the spreadsheet with its header row and one row per investor.",
            [(None, None, "The file is empty.")],
        )
    try:  # index_col=False: rows that end in a delimiter (as some programs export) keep their first column;
        # skip_blank_lines=False: an empty line is a row of the sheet (dropped later), so later rows keep their number
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            index_col=False,
            skip_blank_lines=False,
        )
        frame.attrs["delimiter"] = delimiter
        return frame
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split()).rstrip(".")
        found = re.search(r"line (\d+)", detail)
        raise SpreadsheetError(
            f"{name} is not a well-formed CSV file ({detail}). A cell that holds the delimiter "
            f"'{delimiter}' needs quotes around it; save the file again from your spreadsheet program.",
            [(int(found[1]) if found else None, None, detail + ".")],
        ) from None
