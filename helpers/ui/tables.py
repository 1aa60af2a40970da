"""Tables for people, apart from the tidy ``.frame()`` for programs.

Names first, few labelled columns, short ids (the full id on hover, and in the search), dates and money formatted,
nothing shown as NaN, NaT, None or a Python list. :func:`people_frame` builds such a table (a DataFrame of text);
:func:`interactive` shows it with sort, search and paging (itables' ``ITable`` widget, which works in JupyterLab and
in the Voilà app); :func:`static_html` renders it for reports that must read without JavaScript.

    >>> people_frame(client.investors.list(), INVESTOR_COLUMNS)
"""

from __future__ import annotations

import html
import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from helpers.core import api, models
from helpers.core.errors import CashlinkError
from helpers.core.models import is_personal
from helpers.core.records import format_money, is_money, mask
from helpers.core.resources import investor_name, remaining_units
from helpers.data.people import names_may_show

Getter = Callable[[Mapping[str, Any]], Any]
Columns = Sequence[tuple[str, Getter]]
SHORT_ID = 8


def is_blank(value: Any) -> bool:
    """None, NaN, NaT, pd.NA, an empty string or an empty list: shown as an empty cell."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip().lower() in ("nan", "nat", "none", "<na>")
    if isinstance(value, (list, tuple, dict, set)):
        return not value
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def when(value: Any, with_time: bool = True) -> str:
    """A date or moment as ``2024-02-03 09:00 UTC`` (or ``2024-02-03``); empty when there is none."""
    if is_blank(value):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
    if isinstance(value, datetime):
        if not with_time or (value.tzinfo is None and value.time() == time(0)):  # (a frame's day: midnight, no zone)
            return f"{value:%Y-%m-%d}"
        zone = " UTC" if value.utcoffset() is not None and not value.utcoffset() else ""
        return f"{value:%Y-%m-%d %H:%M}{zone}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def text(value: Any, path: str = "") -> str:
    """Any cell value as people read it: money formatted, lists counted, booleans as yes/no, personal data masked."""
    if is_blank(value):
        return ""
    if path and is_personal(path):
        return str(mask(value, path.rsplit(".", 1)[-1]))
    if is_money(value):
        return format_money(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, np.integer):  # (a pandas or numpy cell: not an int)
        value = int(value)
    elif isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return when(value)
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple, set)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {text(v)}" for k, v in value.items() if not is_blank(v))
    return str(value)


class Html(str):
    """A cell that is already HTML (a short id with its hover): shown as it is; any other text is escaped."""


def short_id(value: Any) -> str:
    """An id as a short mark with the full id on hover (and in the cell, hidden, so that search finds it)."""
    if is_blank(value):
        return ""
    full = html.escape(str(value))
    return (
        whole_on_hover(f"<code>{full[:SHORT_ID]}…</code>", full, "cl-id")
        if len(full) > SHORT_ID + 1
        else Html(f"<code>{full}</code>")
    )


def whole_on_hover(shown: str, full: str, css_class: str = "") -> Html:
    """``shown`` (HTML), with ``full`` (escaped text) on hover, and in the cell, hidden, so that search finds it."""
    named = f" class='{css_class}'" if css_class else ""
    return Html(f"<span{named} title='{full}'>{shown}<span style='display:none'>{full}</span></span>")


LONG_NAME = 80  # characters: a longer name (255 are allowed) is shortened in a table, whole on hover
LONGEST_CHARACTER = 16  # code points: an emoji family with skin tones has 11; more are marks stacked on a letter
NAME_COLUMNS = frozenset({"name", "existing_name", "investor_name"})  # a frame's columns that hold people's names


def short_name(value: Any) -> Any:
    """A name for a table's cell: whole up to :data:`LONG_NAME` characters, else its beginning with the whole name on
    hover (and in the cell, hidden, so that search finds it): a name of 1,000 letters made a row 18 lines tall
    (review 81). A cell that is HTML already (an unnamed investor's short id) stays as it is. Messages are never
    shortened."""
    if is_blank(value) or isinstance(value, Html) or len(str(value)) <= LONG_NAME:
        return value
    name = str(value)
    count, longest = _characters(name)
    if count <= LONG_NAME and longest <= LONGEST_CHARACTER:  # (80 as people count them: an emoji family is one)
        return value
    cut = _whole_characters(name, LONG_NAME - 20)
    return whole_on_hover(LONG_WORD.sub(wrap_anywhere, html.escape(name[:cut], quote=False)) + "…", html.escape(name))


def _characters(text: str) -> tuple[int, int]:
    """How many characters people see in ``text`` (grapheme clusters, counted up to a little over
    :data:`LONG_NAME`), and the code points of the longest (a letter under hundreds of marks is one character, as
    long as a line: review 91)."""
    import regex

    count = longest = 0
    for cluster in regex.finditer(r"\X", text):
        count, longest = count + 1, max(longest, cluster.end() - cluster.start())
        if count > LONG_NAME:
            break
    return count, longest


def _whole_characters(text: str, cut: int) -> int:
    """``cut`` moved back to where a character as people see it ends (Unicode's extended grapheme clusters, by the
    regex library: an accent, a keycap, a flag, an emoji family, a Korean syllable in jamo, a Devanagari conjunct,
    a Thai SARA AM stay whole; reviews 83, 88). Inside a cluster longer than ``cut`` (a letter under hundreds of
    marks), at ``cut``."""
    import regex

    end = 0
    for cluster in regex.finditer(r"\X", text[: cut + 64]):
        if cluster.end() > cut:
            break
        end = cluster.end()
    return end or cut


def name_html(value: Any) -> str:
    """A name as HTML in a cell built of several parts: escaped, shortened as :func:`short_name` does."""
    shown = short_name(value)
    return shown if isinstance(shown, Html) else html.escape("" if is_blank(shown) else str(shown), quote=False)


def field(path: str) -> Getter:
    """The value at a dotted path (``natural_person.city``), as text."""

    def get(record: Mapping[str, Any]) -> Any:
        node: Any = record
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return text(node, path)

    return get


def id_of(path: str = "id") -> Getter:
    return lambda record: short_id(field(path)(record))


def people_frame(records: Iterable[Mapping[str, Any]], columns: Columns) -> pd.DataFrame:
    """A table for people: one row per record, the given (label, getter) columns, every cell text ('' if empty).
    A column empty in every row is left out (e.g. a field this registry does not send)."""
    rows = [[_cell(getter(record)) for _label, getter in columns] for record in records]
    frame = pd.DataFrame(rows, columns=[label for label, _getter in columns], dtype=object)
    if rows:
        frame = frame.loc[:, [bool((frame[label] != "").any()) for label in frame.columns]]
    return frame


LONG_WORD = re.compile(r"\S{25,}")


def _cell(value: Any) -> str:
    """A cell as HTML: text escaped (a registry's name is never markup), a cell that is HTML as it is. A word of 25
    characters or more may wrap anywhere (a name of 150 letters would widen the table); others stay whole."""
    if is_blank(value):
        return ""
    if isinstance(value, Html):
        return value
    escaped = html.escape(value if isinstance(value, str) else text(value), quote=False)
    return LONG_WORD.sub(wrap_anywhere, escaped)


def wrap_anywhere(word: re.Match[str]) -> str:
    return f"<span class='cl-long'>{word.group(0)}</span>"


def humanize(frame: pd.DataFrame, labels: Mapping[str, str] | None = None, ids: Iterable[str] = ()) -> pd.DataFrame:
    """Any DataFrame as text for people: labelled columns, ids short, dates and numbers formatted, no NaN/NaT."""
    shown = pd.DataFrame(index=frame.index)
    id_columns = set(ids)
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        if name in id_columns:
            shown[(labels or {}).get(name, name)] = [short_id(v) for v in values]
        elif name in NAME_COLUMNS:
            shown[(labels or {}).get(name, name)] = [
                v if isinstance(v, Html) else _cell(short_name(text(v, name))) for v in values
            ]
        else:
            shown[(labels or {}).get(name, name)] = [_cell(v if isinstance(v, Html) else text(v, name)) for v in values]
    return shown.reset_index(drop=True).astype(object)


# --- the toolkit's tables ---------------------------------------------------------------------------------------


def _kind(record: Mapping[str, Any]) -> str:
    return "Company" if record.get("legal_person") else "Person"


INVESTOR_COLUMNS: Columns = (
    ("Name", lambda r: short_name(investor_name(r))),
    ("Type", _kind),
    (models.label("communication.email"), field("communication.email")),
    (models.label("natural_person.city"), lambda r: field("natural_person.city")(r) or field("legal_person.city")(r)),
    ("Identification", lambda r: api.in_words("kyc_status", r.get("kyc_status")) if r.get("kyc_status") else ""),
    ("Created", lambda r: when(r.get("created_at"), with_time=False)),
    ("Id", id_of()),
)


def investor_named(names: Mapping[str, str]) -> Getter:
    """The investor's name (``names``: investor id -> name), or the short id of one without a name."""
    return lambda r: short_name(names.get(str(r.get("investor_id")), "")) or short_id(r.get("investor_id"))


def investment_columns(names: Mapping[str, str]) -> Columns:
    """Investments with their investor's name (``names``: investor id -> name)."""
    return (
        ("Investor", investor_named(names)),
        ("Status", lambda r: api.status_label(r.get("status"))),
        ("Units", field("units")),
        ("Units held", lambda r: text(remaining_units(r)) if r.get("status") == "DELIVERED" else ""),
        ("Amount", field("investment_amount")),
        ("Signed", lambda r: when(r.get("signed_at"), with_time=False)),
        ("Delivered", lambda r: when(r.get("delivered_at"), with_time=False)),
        ("Investment id", id_of()),
    )


def allocation_columns(investments: Mapping[str, Mapping[str, Any]]) -> Columns:
    """Where a redemption's units came from, in the registry's order (``investments``: id -> investment, for the
    dates an allocation does not give): the investment made first in the registry first, whatever its signing day."""

    def of(allocation: Mapping[str, Any], name: str) -> Any:
        return allocation.get(name) or investments.get(str(allocation.get("investment_id")), {}).get(name)

    return (
        ("Investment", id_of("investment_id")),
        ("Units taken", lambda r: text(r.get("units", r.get("amount")))),
        ("Made in the registry", lambda r: when(of(r, "created_at"))),  # (with the time: two made on one day)
        ("Signed", lambda r: when(of(r, "signed_at"), with_time=False)),
    )


def _remaining(statement: Mapping[str, Any]) -> str:
    """What an investment still holds after the statement: in units where the registry says so, or where its
    remaining amount tells them (with the investment's amount and units, which :func:`of_investment` adds), else in
    money."""
    try:
        units = remaining_units(statement)
    except CashlinkError:  # amounts that tell no whole number of units: the money, as the registry gives it
        units = None
    return f"{api.units_said(units)}" if units is not None else text(statement.get("remaining_amount"))


def of_investment(statements: Iterable[Mapping[str, Any]], investment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An investment's registry statements with its amount and units beside each (review 62: on a registry that
    gives no remaining units, 'Remaining' showed money where another showed units)."""
    whole = {"investment_amount": investment.get("investment_amount"), "units": investment.get("units")}
    return [{**statement, **whole} for statement in statements]  # (a statement's remaining amount, the whole's)


STATEMENT_COLUMNS: Columns = (
    ("Issued", lambda r: when(r.get("created_at"))),
    ("Reason", lambda r: api.in_words("reason", r.get("reason"))),  # Issuance, not ISSUANCE
    ("Remaining", _remaining),
    ("Statement id", id_of()),
)


def spaced_iban(iban: Any) -> str:
    """An IBAN in groups of four, as it is printed and typed ('DE89 3704 0044 0532 0130 00')."""
    compact = re.sub(r"\s", "", str(iban or ""))
    return " ".join(compact[start : start + 4] for start in range(0, len(compact), 4))


def holding_columns(
    names: Mapping[str, str], wallets: Mapping[str, str] | None = None, products: Mapping[str, str] | None = None
) -> Columns:
    """Units held per wallet and product, with the investor's name (``names``), and the product's (``products``:
    product id -> name; its short id where the name is unknown)."""
    return (
        ("Investor", investor_named(names)),
        ("Wallet", lambda r: (wallets or {}).get(str(r.get("wallet_id")), "") or short_id(r.get("wallet_id"))),
        ("Units held", field("units")),
        ("Product", lambda r: (products or {}).get(str(r.get("product_id")), "") or short_id(r.get("product_id"))),
    )


# --- showing them -----------------------------------------------------------------------------------------------

TABLE_STYLE = "table-layout:auto;width:100%;margin:0"


def withheld(frame: pd.DataFrame, caption: str = "") -> str:
    """What stands for a table that names people where it is not shown (see :func:`names_may_show`)."""
    rows = f"{len(frame):,} row{'s' if len(frame) != 1 else ''}"
    what = f"“{html.escape(caption)}”, " if caption else ""
    return (
        f"<p><i>A table that names people ({what}{rows}) is not shown: this notebook is run by a program, and the "
        "file it writes keeps every output. Open the notebook in JupyterLab (make lab) to see it.</i></p>"
    )


def interactive(frame: pd.DataFrame, caption: str = "", page_length: int = 10, *, names_people: bool = False) -> Any:
    """The table with sort, search and paging (itables' widget): long tables stay short on screen. ``names_people``:
    shown only where :func:`names_may_show` (else a sentence stands for it)."""
    if names_people and not names_may_show():
        import ipywidgets as widgets

        return widgets.HTML(withheld(frame, caption))
    from itables.widget import ITable

    return ITable(
        frame,
        caption=caption,
        allow_html=True,
        showIndex=False,
        pageLength=page_length,
        lengthMenu=[10, 25, 100],
        classes="display compact cell-border",
        style=TABLE_STYLE,
        columnDefs=[  # text left, numbers and amounts right, whatever DataTables guesses from the text
            {"className": "dt-right", "targets": numeric_columns(frame)},
            {"className": "dt-left", "targets": "_all"},
        ],
        autoWidth=False,
        maxBytes=0,
    )


NUMBER = re.compile(r"[+−-]?[0-9][0-9,.]*( units?)?|[A-Z]{3} [+−-]?[0-9][0-9,.]*")  # 1,500 · +12 units · EUR 4.00


def numeric_columns(frame: pd.DataFrame) -> list[int]:
    """Positions (from 0) of the columns whose cells all read as numbers or amounts (empty cells aside)."""
    return [
        position
        for position, column in enumerate(frame.columns)
        if len(frame)
        and any(str(v) not in ("", "nan", "None") for v in frame[column])
        and all(NUMBER.fullmatch(str(v)) or str(v) in ("", "nan", "None") for v in frame[column])
    ]


SCROLL_AFTER = 15  # rows: a longer static table scrolls in a box (a dry run of 5,000 rows is not 5,000 lines tall)


def static_html(frame: pd.DataFrame, caption: str = "", *, names_people: bool = False) -> str:
    """The table as plain HTML (for reports read without JavaScript); cells are already text. Text is aligned
    left and numbers right (JupyterLab's own style aligns every cell right). ``names_people``: shown only where
    :func:`names_may_show` (else a sentence stands for it). More than :data:`SCROLL_AFTER` rows scroll in a box of
    about as many lines (review 86)."""
    if names_people and not names_may_show():
        return withheld(frame, caption)
    head = f"<caption style='text-align:left;font-weight:bold'>{html.escape(caption)}</caption>" if caption else ""
    name = f"cl-t{zlib.crc32(repr(list(frame.columns)).encode()):08x}"
    numeric = [position + 1 for position in numeric_columns(frame)]  # (nth-child counts from 1)
    rules = [f".{name} td, .{name} th {{text-align: left !important; padding: 2px 8px;}}"] + [
        f".{name} td:nth-child({position}), .{name} th:nth-child({position}) {{text-align: right !important;}}"
        for position in numeric
    ]
    table = frame.to_html(index=False, escape=False, na_rep="", classes=f"cl-table {name}", border=0)
    table = table.replace("<table ", "<table style='border-collapse:collapse' ", 1).replace(
        "<thead>", f"{head}<thead>", 1
    )
    if len(frame) > SCROLL_AFTER:  # every row still there (read without JavaScript), in a box of its own height,
        # its header kept in sight, and every row printed (an exported report)
        rules += [
            f".{name} thead th {{position: sticky; top: 0; background: var(--jp-layout-color1, white);}}",
            "@media print {.cl-scroll {max-height: none !important; overflow: visible !important;}}",
        ]
        table = f"<div class='cl-scroll' style='max-height:32em;overflow-y:auto'>{table}</div>"
    return f"<style>{' '.join(rules)}</style>{table}"


def empty_note(what: str) -> str:
    return f"<p class='cl-empty'><i>No {html.escape(what)}.</i></p>"
