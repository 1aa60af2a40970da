"""Reconciliation: does the registry hold what our books say?

The ledger (CSV or Excel) has one row per investor and product with the units the books say the investor holds:

=================  ========  =====================================================================
column             required  meaning
=================  ========  =====================================================================
investor_id        yes       the registry's id of the investor (UUID)
product_id         yes       the registry's id of the product (UUID)
units              yes       units held according to the books (whole number, 0 allowed)
investor_ref       no        your own reference, carried into the report
investor_name      no        shown in the report
as_of              no        date of the books (YYYY-MM-DD), shown in the report's header and as a
                             column of its CSV and Excel (several dates: from the first to the last)
=================  ========  =====================================================================

The registry side: all investments and redemptions of the products. "Held" means the remaining units of delivered
investments (what the wallets hold). All arithmetic is on integers.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

import pandas as pd

from helpers.core import api, checks
from helpers.core.client import Client
from helpers.core.errors import CashlinkError, input_error, scrubbed, without_sandbox_notes
from helpers.core.records import Record
from helpers.core.resources import held_units, investor_name, status_since, times_known
from helpers.data.frames import moments
from helpers.data.ledger import Column, duplicates, read_table

LEDGER_COLUMNS = [
    Column("investor_id", checks.check_uuid, description="the registry's id of the investor (UUID)"),
    Column("product_id", checks.check_uuid, description="the registry's id of the product (UUID)"),
    Column(
        "units", checks.check_ledger_units, description="units held according to the books (whole number, 0 allowed)"
    ),
    Column("investor_ref", required=False, allow_blank=True, description="your own reference"),
    Column("investor_name", required=False, allow_blank=True, description="shown in the report"),
    Column("as_of", checks.check_past_date, required=False, allow_blank=True, description="date of the books"),
]

CATEGORIES = {
    "in_ledger_only": "in the ledger but not in the registry",
    "in_registry_only": "in the registry but not in the ledger",
    "units_differ": "units differ",
    "name_differs": "the books name the investor otherwise",
    "stuck": "investment stuck in a status",
    "status_unknown": "investment in a status the documentation does not name",
    "redemption_failed": "redemption failed",
    "redemption_unknown": "redemption outcome unknown",
}
# What each category means and what to do about it (the summary's columns; the detail rows say it per case).
MEANINGS = {
    "in_ledger_only": "The books list units for an investor and product of which the registry has no investment.",
    "in_registry_only": "The registry holds units for an investor and product that the books do not list.",
    "units_differ": "Both list the position, with different units: a booking, a credit or a redemption is missing.",
    "name_differs": "The books give the investor's id a name that is not the registry's: a wrong id, or a name "
    "misspelt or out of date in one of them.",
    "stuck": "An investment has waited in one status longer than the threshold; its units are not delivered yet.",
    "status_unknown": "The registry gives an investment a status its documentation does not name: its units are "
    "not counted as held, as whether they are delivered is unknown.",
    "redemption_failed": "A redemption failed on the blockchain: no units moved, but the books may have booked it.",
    "redemption_unknown": "The blockchain never said whether a redemption happened: the units may or may not have "
    "moved.",
}
ACTIONS = {
    "in_ledger_only": "Check the investor id in the books; if it is right, import the signed investment (notebook 2).",
    "in_registry_only": "Add the position to the books, or find why the registry delivered units the books miss.",
    "units_differ": "Look at the likely cause in the row; correct the books or finish the missing step.",
    "name_differs": "Check the investor id in the books; if it is right, correct the name where it is wrong (the "
    "registry's with an update, notebook 01).",
    "stuck": "Finish the step it waits for (see the row), or ask Cashlink why it does not move.",
    "status_unknown": "Look at the investment in Cashlink Studio, and ask Cashlink what the status means.",
    "redemption_failed": (
        "Fix the cause, then try it again: in notebook 04, choosing the investor offers it. Reverse it in the books "
        "if booked."
    ),
    "redemption_unknown": "Do not retry it. Ask Cashlink to check it on the blockchain before booking anything.",
}
WAITING_FOR = api.WAITING_FOR
DETAIL_COLUMNS = [
    "category",
    "investor_id",
    "investor_ref",
    "investor_name",
    "product_id",
    "ledger_units",
    "registry_units",
    "difference",
    "investment_id",
    "redemption_id",
    "status",
    "since",
    "message",
    "cause",
    "action",
    "related",
]


SAMPLE_LEDGER = Path(__file__).resolve().parents[2] / "samples" / "ledger_demo.csv"  # the sandbox's demo books


def chosen_ledger(client: Client, path: str | Path | None) -> Path | None:
    """The ledger a report is made of: ``path`` when given; without one, the sample ledger on the local sandbox
    (it matches the sandbox's demo data) and none elsewhere (nothing is compared until a ledger is given). The
    sample is refused outside the sandbox: a report of it would compare a registry with made-up books."""
    if path is None or not str(path).strip():
        return SAMPLE_LEDGER if client.is_sandbox else None
    chosen = Path(path).expanduser()
    if not client.is_sandbox and chosen.resolve() == SAMPLE_LEDGER:
        raise input_error(
            "the parameters",
            {
                "LEDGER_PATH": [
                    "samples/ledger_demo.csv holds the local sandbox's demo data, not your books. Give the path "
                    "of your own ledger (LEDGER_PATH, or make report LEDGER=...), or upload it in notebook 05."
                ]
            },
        )
    return chosen


def read_ledger(source: str | Path | bytes | BinaryIO, name: str | None = None) -> pd.DataFrame:
    """The ledger as a checked DataFrame (see the module doc for its columns); problems name row and column."""
    frame = read_table(source, LEDGER_COLUMNS, "ledger", name)
    duplicates(
        frame,
        ["investor_id", "product_id"],
        "ledger",
        name or str(source) if not isinstance(source, (bytes, bytearray)) else name or "ledger",
    )
    frame["units"] = frame["units"].astype("Int64")
    return frame


@dataclass
class Reconciliation:
    """The differences between the ledger and the registry, with a summary and exports."""

    differences: pd.DataFrame
    checked_pairs: int
    investments: int
    redemptions: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    as_of: str | None = None  # the date of the books (the ledger's as_of), or "first to last" when they differ
    undated: int = 0  # rows of the ledger that give no as_of, where others give one
    books_zone: str = "UTC"  # where the books' days end (CASHLINK_BOOKS_TIME_ZONE)
    settled: int = 0  # failed redemptions a retry settled since, where the books agree: no difference

    @property
    def is_clean(self) -> bool:
        return self.differences.empty

    def __repr__(self) -> str:
        """The headline and the books' date, never the rows (they name investors: ``.differences`` holds them)."""
        return f"<Reconciliation: {self.headline()} {self.dated()}>"

    def _repr_html_(self) -> str:
        """For a notebook: the headline, the books' date and the count of each kind of difference found (no names;
        the rows, with names, are ``helpers.ui.panels.show_report(report)``'s screen and ``.differences``)."""
        found = self.summary()
        found = found[found["count"] > 0][["label", "count", "what_to_do"]]
        table = (
            found.rename(columns={"label": "Difference", "count": "Count", "what_to_do": "What to do"}).to_html(
                index=False, escape=True, border=0
            )
            if len(found)
            else ""
        )
        hint = (
            "<p>The rows: <code>helpers.ui.panels.show_report(report)</code> (a screen, names first) or "
            "<code>report.differences</code> (a DataFrame for code).</p>"
            if len(found)
            else ""
        )
        return f"<p><b>{html.escape(self.headline())}</b><br>{html.escape(self.dated())}</p>{table}{hint}"

    def summary(self) -> pd.DataFrame:
        """Number of differences per category (every category, zeros included), what it means and what to do."""
        counts = self.differences["category"].value_counts()
        return pd.DataFrame(
            {
                "category": list(CATEGORIES),
                "label": list(CATEGORIES.values()),
                "meaning": [MEANINGS[c] for c in CATEGORIES],
                "what_to_do": [ACTIONS[c] for c in CATEGORIES],
                "count": [int(counts.get(c, 0)) for c in CATEGORIES],
            }
        )

    def headline(self) -> str:
        settled = (
            f" {_count(self.settled, 'failed redemption')} tried again with success since, as the books show: "
            f"{'none is a difference' if self.settled > 1 else 'not a difference'}."
            if self.settled
            else ""
        )
        return self._counted() + settled

    def _counted(self) -> str:
        if self.is_clean and not self.checked_pairs:  # (review 83: 'Clean … for all 0 positions')
            return (
                "Nothing was compared: the ledger has no rows, and the products compared are the ledger's. Add one row "
                "per investor and product the books hold, and read it again."
            )
        if self.is_clean:
            positions = (
                f"all {_count(self.checked_pairs, 'investor/product position')}"
                if self.checked_pairs > 1
                else "the one investor/product position"
            )
            return (
                f"Clean: the registry matches the ledger for {positions} ({_count(self.investments, 'investment')}, "
                f"{_count(self.redemptions, 'redemption')} checked)."
            )
        return (  # (the positions compared, not those that differ: review 96)
            f"{_count(len(self.differences), 'difference')} found comparing "
            f"{_count(self.checked_pairs, 'investor/product position')} ({_count(self.investments, 'investment')}, "
            f"{_count(self.redemptions, 'redemption')} checked)."
        )

    def dated(self) -> str:
        """Which books were compared with the registry when (the report's header)."""
        registry = f"the registry as read at {self.created_at:%Y-%m-%d %H:%M} UTC"
        if self.as_of is None:
            return f"The books (the ledger gives no as_of date) against {registry}."
        undated = (
            f"; {self.undated} of its rows {'gives' if self.undated == 1 else 'give'} no date" if self.undated else ""
        )
        other = " (CASHLINK_BOOKS_TIME_ZONE sets the zone of books kept elsewhere)" if self.books_zone == "UTC" else ""
        return (
            f"The books as of {self.as_of} (the ledger's as_of{undated}) against {registry}; the books' day ends at "
            f"midnight {self.books_zone}{other}."
        )

    def styled(self) -> Any:
        """The detail table with the difference column highlighted (red: registry holds fewer; blue: more)."""
        return self.differences.style.map(_highlight, subset=["difference"]).set_properties(
            subset=["category"], **{"font-weight": "bold"}
        )

    def to_csv(self, path: str | Path) -> Path:
        """The differences as CSV, a file only its owner can read (it names investors)."""
        path = _private_file(path)
        _inert(self.differences).to_csv(path, index=False)
        return path

    def to_excel(self, path: str | Path) -> Path:
        """Two sheets: the summary and the highlighted differences (a file only its owner can read); times in UTC,
        the ``since_utc`` column."""
        path = _private_file(path)
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            self.summary().to_excel(writer, sheet_name="summary", index=False)
            detail = self.differences.copy()
            detail["since"] = detail["since"].dt.tz_localize(None)  # Excel cannot store time zones: the header says it
            detail = detail.rename(columns={"since": "since_utc"})
            detail.style.map(_highlight, subset=["difference"]).to_excel(writer, sheet_name="differences", index=False)
            for sheet in writer.book.worksheets:  # text that begins with '=' is text, never a formula (review 93)
                for row in sheet.iter_rows():
                    for cell in row:
                        if cell.data_type == "f":
                            cell.data_type = "s"
        return path


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # (and full-width ones)


SIGNED_NUMBER = re.compile(r"[+-][0-9]+(?:[.,][0-9]+)?")  # '-42': a number, no formula (kept as written: review 94)


def _inert(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text cell that a spreadsheet program would run as a formula ('=HYPERLINK(...)' in a name
    from the books or the registry: review 93) led by an apostrophe, which the program shows as text and a program
    reading the CSV gets as written there."""
    texts = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    changed = {
        column: frame[column].map(
            lambda v: (
                f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) and not SIGNED_NUMBER.fullmatch(v) else v
            ),
            na_action="ignore",
        )
        for column in texts
    }
    return frame.assign(**changed) if changed else frame


def _were(units: int | list[int], verb: str) -> str:
    """'1 unit was redeemed', '3 units were redeemed', '2 and 3 units were redeemed'."""
    amounts = units if isinstance(units, list) else [units]
    if amounts == [1]:
        return f"1 unit was {verb}"
    return f"{' and '.join(f'{amount:,}' for amount in amounts)} units were {verb}"


_units = api.units_said  # '1 unit', '1,500 units'


def _count(number: int, thing: str) -> str:
    """'1 difference', '2 differences', '1,204 investments'."""
    return f"{number:,} {thing}{'' if number == 1 else 's'}"


def _private_file(path: str | Path) -> Path:
    """``path``, created empty and readable by its owner only (0600) before anything is written into it; a folder
    made for it is 0700 (an existing one keeps its mode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)
    return path


def _highlight(value: Any) -> str:
    if pd.isna(value) or value == 0:
        return ""
    return "background-color: #f8d7da" if value < 0 else "background-color: #d6eaf8"


INVESTMENT_COLUMNS = ["id", "investor_id", "product_id", "status", "units", "held_units", "since", "since_given"]
SINCE_CALLED = "the investments' times of their status (status_changed_at, or paid_at and the like)"


def registry_frames(client: Client, product_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All investments and redemptions of the products (every page). Investments carry ``held_units`` (what they
    still hold, from the documented ``remaining_amount``) and ``since`` (when they entered their status)."""
    rows = [
        {
            "id": i.get("id"),
            "investor_id": i.get("investor_id"),
            "product_id": i.get("product_id"),
            "status": i.get("status"),
            "units": i.get("units"),
            "held_units": held_units(i) if i.get("status") == "DELIVERED" else 0,
            "since": status_since(i),
            "since_given": status_since(i),  # (as the registry wrote it: said where it cannot be read)
        }
        for product in product_ids
        for i in client.investments.list(product_id=product)
    ]
    investments = pd.DataFrame(rows, columns=INVESTMENT_COLUMNS)
    investments["since"] = moments(investments["since"], "status_changed_at", called=SINCE_CALLED)
    redemptions = (
        pd.concat([client.redemptions.list(product_id=p).frame() for p in product_ids], ignore_index=True)
        if product_ids
        else pd.DataFrame()
    )
    return investments, redemptions


def reconcile(
    client: Client,
    ledger: pd.DataFrame,
    product_ids: list[str] | None = None,
    stuck_after: timedelta = timedelta(days=3),
    now: datetime | None = None,
) -> Reconciliation:
    """Compare the ledger with the registry, per investor and product, and list every difference."""
    products = sorted(set(product_ids or []) | set(ledger["product_id"]))
    investments, redemptions = registry_frames(client, products)
    redemptions = with_masked_reasons(redemptions, client)
    zone = client.config.books_time_zone
    report = compare(
        ledger, investments, redemptions, stuck_after, now or datetime.now(UTC), link_failed=False, books_zone=zone
    )
    names: dict[str, str] | None = None  # the registry's names, read where needed
    if not report.is_clean:
        states = retry_states(report.differences, client)
        settled = {  # failed redemptions a retry from this journal settled: they explain no surplus (one perhaps
            str(report.differences.at[index, "redemption_id"]): latest  # redone by hand still may: its row says 'if')
            for index, (latest, _retried, _since) in states.items()
            if api.task_stage(latest.get("status")) == "successful"  # (review 84: one processing moved none yet)
        }
        differences = group_related(with_retries(report.differences, client, states), link_stuck=False, settled=settled)
        shown = {  # those whose retry the books can show: books of its day or later, or books without a date
            failed
            for failed, retry in settled.items()
            if _books_may_show(differences, failed, retry, _ledger_dates(ledger), zone)
        }
        differences, report.settled = _without_settled_failures(differences, shown)
        names = registry_names(client)
        report.differences = with_ids_checked(with_names(differences, names), set(names), _product_ids(client))
    if "investor_name" in ledger.columns and ledger["investor_name"].notna().any():  # (review 96: a name that
        report.differences = with_name_rows(report.differences, ledger, names, client)
    report.as_of = ledger_date(ledger)
    report.undated = len(ledger) - len(_ledger_dates(ledger)) if report.as_of else 0
    report.differences = with_as_of(report.differences, ledger)
    return report


def _books_may_show(
    differences: pd.DataFrame, failed: str, retry: Mapping[str, Any], dates: dict[tuple[str, str], str], zone: str
) -> bool:
    """Whether books of the failed redemption's position can show what its successful retry did: they give no date,
    or a date on or after the retry's day (review 94: books of a date before the retry showed its units as moved,
    and the failure was taken for settled)."""
    row = differences[differences["redemption_id"].astype(str) == failed]
    if row.empty:
        return False
    as_of = dates.get((str(row["investor_id"].iloc[0]), str(row["product_id"].iloc[0])))
    day = _day(retry.get("created_at"), zone)
    return as_of is None or (bool(day) and day <= as_of)


def _without_settled_failures(differences: pd.DataFrame, settled: Collection[str]) -> tuple[pd.DataFrame, int]:
    """The differences without the failed redemptions a retry from this journal settled where the books and the
    registry agree on their position and may show the retry (review 93: the books showed what the retry left, and
    the report was never clean again); where the position differs, the row stays, with the retry named."""
    positions = {
        (row.investor_id, row.product_id)
        for row in _rows(
            differences[differences["category"].isin(["units_differ", "in_ledger_only", "in_registry_only"])]
        )
    }
    done = [
        index
        for index, row in differences.iterrows()
        if row["category"] == "redemption_failed"
        and str(row["redemption_id"]) in settled
        and (row["investor_id"], row["product_id"]) not in positions
    ]
    return differences.drop(index=done).reset_index(drop=True), len(done)


def with_masked_reasons(redemptions: pd.DataFrame, client: Client) -> pd.DataFrame:
    """The failed and unknown redemptions' reasons without their investor's data (a registry may name the investor,
    a birth date, a phone number in it): masked as a TaskError's are, withheld where the investor cannot be read."""
    if redemptions.empty or "error" not in redemptions.columns:
        return redemptions
    ended = redemptions["status"].isin(["failed", "unknown"]) & redemptions["error"].notna()
    if not ended.any():
        return redemptions
    redemptions = redemptions.copy()
    redemptions.loc[ended, "error"] = [
        client.task_reason({"error": str(row["error"]), "investor_id": row["investor_id"]})
        for row in redemptions[ended].to_dict("records")
    ]
    return redemptions


RetryState = tuple[Record, bool, "Record | None"]  # the latest attempt, whether it is a retry, a redo made since


def retry_states(differences: pd.DataFrame, client: Client) -> dict[Any, RetryState]:
    """For each failed redemption of the differences (by row): its latest attempt from this journal, whether that
    is a retry, and a redemption of the same units made after it (perhaps it done again)."""
    states: dict[Any, RetryState] = {}
    for index in differences.index[differences["category"] == "redemption_failed"]:
        original = client.redemptions.get(str(differences.at[index, "redemption_id"]))
        latest = client.redemptions.latest_attempt(original)
        since = client.redemptions.done_again(latest) if latest.get("status") in api.TASK_FAILED else None
        states[index] = (latest, latest.get("id") != original.get("id"), since)
    return states


RETRY_ADVICE = {  # what the books do about a failed redemption, by where its retry stands
    "failed": "Fix the cause, then try it again in notebook 04.",
    "successful": "Book that one, not this; reverse this one in the books if booked.",
    "unknown": "Its outcome is unknown: book nothing for it, and ask Cashlink whether its units moved.",
    "running": "Book nothing for it until it is successful.",
    "other": "Book nothing for it; ask Cashlink what its status means.",
}


def _is_status(task: dict[str, Any]) -> str:
    """'is successful', 'has failed', 'has not started', 'is unknown': a task's status after its id, in words."""
    word = api.task_word(task.get("status"))
    return f"has {word}" if word in ("failed", "not started") else f"is {word}"


def with_retries(
    differences: pd.DataFrame, client: Client, states: dict[Any, RetryState] | None = None
) -> pd.DataFrame:
    """A failed redemption says what came of it since: what a retry from this journal did, or a redemption of the
    same units from the same wallet made after it (perhaps it done again, which a retry would make twice)."""
    states = retry_states(differences, client) if states is None else states
    if not states:
        return differences
    differences = differences.copy()
    for index, (latest, retried, since) in states.items():
        if not retried and since is None:
            continue  # the advice of its category stands
        said = (
            f"It was tried again from this journal: redemption {str(latest.get('id'))[:8]} {_is_status(latest)}. "
            if retried
            else ""
        )
        if since is not None:
            which = "that one" if retried else "it"
            made = (
                f"was made after {which}"
                if times_known(latest, since)
                else f"is in the registry, which gives no times to tell whether it was made after {which}"
            )
            book = (  # (review 84: one still processing, or unknown, was to be booked)
                "book that one"
                if api.task_stage(since.get("status")) == "successful"
                else "book that one once it is successful (nothing yet)"
            )
            said += (
                f"A redemption of the same units from the same wallet {made}: {str(since.get('id'))[:8]}, "
                f"{api.task_word(since.get('status'))}. If that was it done again, {book} and reverse this one in "
                "the books if booked; if not, retry it in notebook 04."
            )
        else:  # (review 83: one processing, or unknown, was to be booked)
            said += RETRY_ADVICE[api.task_stage(latest.get("status"))]
        differences.at[index, "action"] = said
    return differences


def _ledger_dates(ledger: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(investor id, product id) -> the ledger's as_of date of that row, where it gives one."""
    if "as_of" not in ledger.columns:
        return {}
    return {
        (str(row.investor_id), str(row.product_id)): str(row.as_of).strip()
        for row in _rows(ledger[["investor_id", "product_id", "as_of"]])
        if not pd.isna(row.as_of) and str(row.as_of).strip()
    }


def ledger_date(ledger: pd.DataFrame) -> str | None:
    """The date of the books: the ledger's as_of, "first to last" where its rows differ, None without one."""
    dates = sorted(set(_ledger_dates(ledger).values()))
    if not dates:
        return None
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


def with_as_of(differences: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """An ``as_of`` column after ``ledger_units``: the date of the ledger's row for the position (none where its
    row gives none), else (a position the ledger does not list) the ledger's date when it gives only one."""
    dates = _ledger_dates(ledger)
    only = next(iter(set(dates.values()))) if len(set(dates.values())) == 1 else None
    listed = {(str(investor), str(product)) for investor, product in zip(ledger["investor_id"], ledger["product_id"])}
    frame = differences.copy()
    column = [
        dates.get(pair, None if pair in listed else only)
        for pair in zip(frame["investor_id"].astype(str), frame["product_id"].astype(str))
    ]
    frame.insert(list(frame.columns).index("ledger_units") + 1, "as_of", column)
    return frame


def registry_names(client: Client) -> dict[str, str]:
    """Investor id -> name as the registry has it (for rows the ledger does not name)."""
    return {str(i["id"]): investor_name(i) for i in client.investors.list()}


def with_names(differences: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The ledger's name where it gives one, else the registry's; where the books name an investor otherwise than
    the registry does, the row says so first (review 93: ids swapped in the books read as two differences of the
    books' names, and the advice corrected the wrong investors)."""
    frame = differences.copy()
    frame["investor_name"] = frame["investor_name"].astype(object)
    missing = frame["investor_name"].isna() | (frame["investor_name"].astype(str).str.strip() == "")
    for index in frame.index[~missing & (frame["category"] == "units_differ")]:  # (once, at the position's row)
        books, registry = str(frame.at[index, "investor_name"]), names.get(str(frame.at[index, "investor_id"]))
        if registry and not same_name(books, registry):
            frame.at[index, "cause"] = (
                f"The books name this investor {books.strip()}, the registry {registry}: if they are not one person, "
                f"the investor id in the books is wrong. Otherwise, {_lowered(str(frame.at[index, 'cause']))}"
            )
            frame.at[index, "action"] = f"First check the investor id in the books. {frame.at[index, 'action']!s}"
    frame.loc[missing, "investor_name"] = frame.loc[missing, "investor_id"].map(lambda i: names.get(str(i)))
    return frame


def same_name(one: str, other: str) -> bool:
    """Whether two names may be one person's (or one company's) as books and a registry write them: case, accents
    (Müller, Mueller, Muller; Søren, Soren), word order ('Lovelace, Ada'), initials ('A. M. Lovelace'), words run
    together ('Hanspeter') and a title ('Dr.') aside. A person and a company ('Peter Müller Holding GmbH'), or a
    father and a son ('jun.'), are two (review 94)."""
    return any(_same_words(*(_name_words(name, spelling) for name in (one, other))) for spelling in (True, False))


def _one_party(one: str, other: str) -> bool:
    """Two names that name one party for sure enough to link two rows: :func:`same_name`, and more than a surname
    ('Schmidt' or 'Frau Schmidt' names any Schmidt: review 95)."""
    named = [[word for word in _name_words(name, True) if word not in TITLE_WORDS] for name in (one, other)]
    return same_name(one, other) and min(map(len, named)) > 1


def _same_words(one: list[str], other: list[str]) -> bool:
    if "".join(one) == "".join(other):
        return True
    for kind in (COMPANY_WORDS, GENERATION_WORDS):  # present in one name only: another party
        if bool(kind & set(one)) != bool(kind & set(other)):
            return False
    named = [[word for word in words if word not in TITLE_WORDS] for words in (one, other)]  # (both: review 95)
    fewer, more = sorted(named, key=len)
    if not fewer:  # a title alone ('Frau') names nobody in particular (review 97)
        return not more
    return all(any(_same_word(word, it) for it in more) for word in fewer)


def _same_word(one: str, other: str) -> bool:
    """One word of a name, or its initial."""
    return one == other or (len(one) == 1 and other.startswith(one)) or (len(other) == 1 and one.startswith(other))


COMPANY_WORDS = frozenset(  # legal forms and the like: a company's name, not a person's
    {"gmbh", "ag", "kg", "kgaa", "ug", "se", "ohg", "gbr", "ev", "eg", "mbh", "co", "ltd", "llc", "llp", "plc"}
    | {"inc", "corp", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as", "aps", "holding", "holdings"}
    | {"stiftung", "foundation", "trust", "fund", "fonds", "verein"}
)
GENERATION_WORDS = frozenset({"jun", "junior", "jr", "sen", "senior", "sr", "ii", "iii", "iv"})
TITLE_WORDS = frozenset({"dr", "prof", "mr", "mrs", "ms", "herr", "frau", "dipl", "ing", "mag"})
SPELT_OUT = {"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "ß": "ss"}  # written without the marks
FOLDED = {"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i", "ß": "ss"}  # no accent to drop


def _name_words(name: str, spelt_out: bool) -> list[str]:
    """A name's words, lower case and without accents (umlauts spelt out, 'ue', or not)."""
    text = name.casefold()
    for letter, written in [*(SPELT_OUT.items() if spelt_out else []), *FOLDED.items()]:
        text = text.replace(letter, written)
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [word for word in re.split(r"[\W_]+", plain) if word]


def with_name_rows(
    differences: pd.DataFrame, ledger: pd.DataFrame, names: dict[str, str] | None, client: Client | None = None
) -> pd.DataFrame:
    """A row for each investor the books name otherwise than the registry does, whatever its units (review 96: a
    position that matched said nothing of it, and the books' name stood on the investor's other rows unsaid).
    ``names``: the registry's names by investor id (read from ``client`` where None)."""
    names = names if names is not None else registry_names(client) if client is not None else {}
    books = ledger.dropna(subset=["investor_name"])  # (every row: a later one may name the investor otherwise)
    rows, said_of = [], set()
    for row in _rows(books):
        said, registry = str(row.investor_name).strip(), names.get(str(row.investor_id))
        if not said or not registry or same_name(said, registry) or (row.investor_id, said) in said_of:
            continue
        said_of.add((row.investor_id, said))
        rows.append(
            {
                "category": "name_differs",
                "investor_id": row.investor_id,
                "investor_ref": getattr(row, "investor_ref", None),
                "investor_name": said,
                "product_id": row.product_id,
                "message": f"The books name this investor {said}; the registry names them {registry}.",
                "cause": "If they are not one person, the investor id in the books is wrong; if they are, a name is "
                "misspelt or out of date in the books or in the registry.",
                "action": ACTIONS["name_differs"],
            }
        )
    if not rows:
        return differences
    added = pd.DataFrame(rows, columns=differences.columns)
    later = [c for c in CATEGORIES if list(CATEGORIES).index(c) > list(CATEGORIES).index("name_differs")]
    after = differences["category"].isin(later) & differences["related"].isna()  # (never inside a group of rows)
    at = int(after.to_numpy().argmax()) if after.any() else len(differences)
    parts = [differences.iloc[:at], added, differences.iloc[at:]]
    return pd.concat([part for part in parts if len(part)], ignore_index=True).astype(differences.dtypes.to_dict())


def _product_ids(client: Client) -> set[str] | None:
    """The products the registry has for these credentials, or None where they cannot be listed."""
    try:
        return {str(product["id"]) for product in client.products.list()}
    except CashlinkError:
        return None


def with_ids_checked(differences: pd.DataFrame, investors: set[str], products: set[str] | None) -> pd.DataFrame:
    """Rows of the books the registry has no investment for say which of their ids the registry does not know
    (review 93: an unknown product read as an unknown investor, and the advice was to import into it); a ledger-only
    row and a registry-only row of one product, units and name are said to be one position under a mistyped id."""
    frame = differences.copy()
    ledger_only = frame.index[frame["category"] == "in_ledger_only"]
    for index in ledger_only:
        investor_known = str(frame.at[index, "investor_id"]) in investors
        product_known = None if products is None else str(frame.at[index, "product_id"]) in products
        product = str(frame.at[index, "product_id"])  # (said whole: the screen's ids name the investor only)
        if not investor_known and product_known is False:
            frame.at[index, "cause"] = f"The registry knows neither this investor id nor the product id {product}."
            frame.at[index, "action"] = "Check both ids in the books."
        elif not investor_known:
            frame.at[index, "cause"] = "The registry has no investor with this id: a wrong investor id in the books?"
            frame.at[index, "action"] = "Check the investor id in the books (notebook 03 finds an investor by name)."
        elif product_known is False:
            frame.at[index, "cause"] = (
                f"The registry has no product with the id {product}: a wrong product id in the books?"
            )
            frame.at[index, "action"] = "Check the product id in the books."
        else:
            frame.at[index, "cause"] = (
                "The registry knows this investor and this product, but has no investment of the one in the other: "
                "an investment never imported, or a wrong id in the books."
            )
    registry_only = frame[frame["category"] == "in_registry_only"]
    for index in ledger_only:
        row = frame.loc[index]
        twins = registry_only[
            (registry_only["product_id"] == row["product_id"])
            & (registry_only["registry_units"] == row["ledger_units"])
            & registry_only["investor_name"].map(
                lambda name, row=row: isinstance(name, str) and _one_party(str(row["investor_name"] or ""), name)
            )
        ]
        if len(twins) == 1 and isinstance(row["investor_name"], str) and row["investor_name"].strip():
            count = int(row["ledger_units"])
            twin, units = twins.index[0], f"{'this' if count == 1 else 'these'} {_units(count)}"
            books_id, registry_id = str(row["investor_id"]), str(frame.at[twin, "investor_id"])  # (whole: a typo may
            frame.at[index, "cause"] = (  # lie past the first 8 characters: review 96)
                f"The registry's investor {registry_id}, of the same name, holds {units} of this product: the "
                f"investor id in the books, {books_id}, may be mistyped."
            )
            frame.at[twin, "cause"] = (
                f"The books list {units} of this product under the investor id {books_id}, of the same name: "
                f"it may be this investor's id ({registry_id}) mistyped."
            )
            for one in (index, twin):
                frame.at[one, "action"] = "Correct the investor id in the books, and read the ledger again."
    return frame


def compare(
    ledger: pd.DataFrame,
    investments: pd.DataFrame,
    redemptions: pd.DataFrame,
    stuck_after: timedelta,
    now: datetime,
    link_failed: bool = True,
    books_zone: str = "UTC",
) -> Reconciliation:
    """The pure comparison (no I/O), so it can be checked and timed on its own. ``link_failed=False``: a failed
    redemption is not yet taken to explain a surplus (:func:`reconcile` does it once it knows its retries).
    ``books_zone``: where the books' days end (their as_of dates), UTC unless said."""
    keys = ["investor_id", "product_id"]
    if investments.empty:
        investments = pd.DataFrame(columns=INVESTMENT_COLUMNS)
    delivered = investments[investments["status"] == "DELIVERED"]
    held = delivered.groupby(keys)["held_units"].sum().astype("int64").rename("registry_units")
    known = investments.groupby(keys).size().rename("registry_investments")
    registry = pd.concat([held, known], axis=1).reset_index()
    registry["registry_units"] = registry["registry_units"].fillna(0).astype("int64")
    books = ledger.rename(columns={"units": "ledger_units"})
    books = books[
        [
            c
            for c in ("investor_id", "product_id", "ledger_units", "investor_ref", "investor_name")
            if c in books.columns
        ]
    ]
    merged = books.merge(registry, on=keys, how="outer", indicator="side")
    dates = _ledger_dates(ledger)
    redeemed_since = _redeemed_since(redemptions, dates, books_zone)
    delivered_since = _delivered_since(investments, dates, books_zone)
    redeemed_until = _redeemed_until(redemptions, dates, books_zone)
    rows = _position_rows(merged, redeemed_since, delivered_since, redeemed_until)
    _date_the_positions_the_books_miss(rows, investments, redemptions, dates, books_zone)
    _name_ended_investments(rows, investments, redeemed_since, delivered_since)
    _name_moves_of_the_books_day(
        rows,
        _moves_on(investments, redemptions, dates, books_zone),
        dates,
        redeemed_since,
        delivered_since,
        redeemed_until,
    )
    names = books.set_index(keys)[[c for c in ("investor_ref", "investor_name") if c in books.columns]]
    rows += _stuck_rows(investments, names, stuck_after, now)
    rows += _unknown_status_rows(investments, names)
    rows += _redemption_rows(redemptions, names)
    detail = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    for column in ("ledger_units", "registry_units", "difference"):
        detail[column] = detail[column].astype("Int64")
    detail["since"] = pd.to_datetime(detail["since"], utc=True)
    order = {category: position for position, category in enumerate(CATEGORIES)}
    detail = detail.sort_values(
        ["category", "investor_id"], key=lambda s: s.map(order) if s.name == "category" else s, kind="stable"
    ).reset_index(drop=True)
    detail = group_related(detail, link_failed=link_failed)
    return Reconciliation(
        detail,
        checked_pairs=len(merged),
        investments=len(investments),
        redemptions=len(redemptions),
        books_zone=books_zone,
    )


def _redeemed_since(
    redemptions: pd.DataFrame, dates: dict[tuple[str, str], str], zone: str = "UTC"
) -> dict[tuple[str, str], tuple[int, str | None]]:
    """(investor id, product id) -> units redeemed successfully after the books' date of that position, and the
    date: what books of that date cannot show yet. A position the books give no date for: every redemption of it,
    and None (the books may or may not have booked them)."""
    moved: dict[tuple[str, str], tuple[int, str | None]] = {}
    if redemptions.empty or "created_at" not in redemptions.columns:
        return moved
    for redemption in _rows(redemptions[redemptions["status"] == "success"]):
        pair = (str(redemption.investor_id), str(redemption.product_id))
        as_of = dates.get(pair)
        if as_of is not None and (pd.isna(redemption.created_at) or _day(redemption.created_at, zone) <= as_of):
            continue
        moved[pair] = (moved.get(pair, (0, as_of))[0] + int(redemption.units), as_of)
    return moved


def _redeemed_until(
    redemptions: pd.DataFrame, dates: dict[tuple[str, str], str], zone: str = "UTC"
) -> dict[tuple[str, str], tuple[int, str]]:
    """(investor id, product id) -> units redeemed successfully before the books' date of that position, and the
    date: what books of that date should show (review 90: a shortfall they explain was said as a missing credit)."""
    until: dict[tuple[str, str], tuple[int, str]] = {}
    if redemptions.empty or "created_at" not in redemptions.columns or not dates:
        return until
    for redemption in _rows(redemptions[redemptions["status"] == "success"]):
        pair = (str(redemption.investor_id), str(redemption.product_id))
        as_of = dates.get(pair)
        if as_of is None or pd.isna(redemption.created_at) or _day(redemption.created_at, zone) >= as_of:
            continue  # (on the books' day itself: said as such, see _name_moves_of_the_books_day)
        until[pair] = (until.get(pair, (0, as_of))[0] + int(redemption.units), as_of)
    return until


def _day(moment: Any, zone: str = "UTC") -> str:
    """The day (YYYY-MM-DD) of a registry's time in the books' time zone (``CASHLINK_BOOKS_TIME_ZONE``, UTC unless
    set: review 93, books of New York's day), one rule for deliveries and redemptions alike (a time without a zone
    is UTC); "" when it is no time."""
    try:
        stamp = pd.Timestamp(moment)
    except (TypeError, ValueError):
        return ""
    if pd.isna(stamp):
        return ""
    return f"{(stamp.tz_localize('UTC') if stamp.tzinfo is None else stamp).tz_convert(zone):%Y-%m-%d}"


def _delivered_since(
    investments: pd.DataFrame, dates: dict[tuple[str, str], str], zone: str = "UTC"
) -> dict[tuple[str, str], tuple[int, str]]:
    """(investor id, product id) -> units of investments delivered after the books' date of that position, and the
    date: what books of that date cannot show yet."""
    delivered: dict[tuple[str, str], tuple[int, str]] = {}
    if investments.empty or not dates:
        return delivered
    for investment in _rows(investments[investments["status"] == "DELIVERED"]):
        pair = (str(investment.investor_id), str(investment.product_id))
        as_of = dates.get(pair)
        since = investment.since
        if as_of is None or pd.isna(since) or pd.isna(investment.units) or _day(since, zone) <= as_of:
            continue
        delivered[pair] = (delivered.get(pair, (0, as_of))[0] + int(investment.units), as_of)
    return delivered


def _since_cause(
    difference: int, delivered: int, redeemed: int, as_of: str, books: int | None = None, before: int = 0
) -> str:
    """Why the registry holds ``difference`` units more (less, if negative) than books of ``as_of``: what was
    delivered and redeemed since, which they cannot show, and what remains, with its size and direction."""
    moves = [_were(units, verb) for units, verb in ((delivered, "delivered"), (redeemed, "redeemed")) if units]
    said = f"After the books' date ({as_of}), {' and '.join(moves)}, which books of that date cannot show"
    rest = difference - (delivered - redeemed)
    if rest == 0:
        return f"{said}: that is the difference."
    gap = f"{_units(abs(rest))} {'more' if rest < 0 else 'fewer'} than the registry held then"
    if books is None:
        shown = f"the books show {gap}"
    else:  # what books of that date should show: the registry now, less what was delivered since, plus redeemed
        shown = f"books of that date should show {_units(books + rest)}, but show {books:,}: {gap}"
    reason = (
        "units booked before the registry delivered them, or a credit or an investment missing?"
        if rest < 0
        else "a booking missing, or a redemption booked but not made?"
    )
    if rest < 0 and before:  # redemptions before the books' date they may have missed (review 91)
        missed = f"the {_units(before)} redeemed before that date, if the books did not book them"
        reason = f"{missed}: that would be it" if before == -rest else f"{missed}; or {reason}"
    return f"{said}; so {shown} ({reason})."


def _position_rows(
    merged: pd.DataFrame,
    redeemed_since: dict[tuple[str, str], tuple[int, str | None]],
    delivered_since: dict[tuple[str, str], tuple[int, str]] | None = None,
    redeemed_until: dict[tuple[str, str], tuple[int, str]] | None = None,
) -> list[dict[str, Any]]:
    """A row for each pair (investor, product) whose units the books and the registry give otherwise
    (``redeemed_since``: units redeemed after the books' date, which explain a shortfall)."""
    rows: list[dict[str, Any]] = []
    for pair in _rows(merged):
        ledger_units = None if pd.isna(pair.ledger_units) else int(pair.ledger_units)
        registry_units = 0 if pd.isna(pair.registry_units) else int(pair.registry_units)
        base = {
            "investor_id": pair.investor_id,
            "product_id": pair.product_id,
            "investor_ref": getattr(pair, "investor_ref", None),
            "investor_name": getattr(pair, "investor_name", None),
        }
        if pair.side == "left_only":
            if ledger_units:
                rows.append(
                    {
                        **base,
                        "category": "in_ledger_only",
                        "ledger_units": ledger_units,
                        "registry_units": 0,
                        "difference": -ledger_units,
                        "message": f"The ledger says {_units(ledger_units)}; the registry has no investment of "
                        "this investor in this product.",
                        "cause": "The registry does not know this investor and product: a wrong id in the books, "
                        "or an investment never imported.",
                        "action": ACTIONS["in_ledger_only"],
                    }
                )
        elif pair.side == "right_only":
            if registry_units:
                rows.append(
                    {
                        **base,
                        "category": "in_registry_only",
                        "ledger_units": None,
                        "registry_units": registry_units,
                        "difference": registry_units,
                        "message": f"The registry holds {_units(registry_units)} that the ledger does not list.",
                        "cause": "The books miss this position (a booking not made yet?).",
                        "action": ACTIONS["in_registry_only"],
                    }
                )
        elif ledger_units != registry_units:
            difference = registry_units - (ledger_units or 0)
            more_or_fewer = "more" if difference > 0 else "fewer"
            rows.append(
                {
                    **base,
                    "category": "units_differ",
                    "ledger_units": ledger_units,
                    "registry_units": registry_units,
                    "difference": difference,
                    "message": f"The registry holds {_units(abs(difference))} "
                    f"{more_or_fewer} than the ledger "
                    f"({registry_units:,} against {ledger_units:,}).",
                    "cause": _difference_cause(
                        difference, pair, redeemed_since, delivered_since or {}, redeemed_until or {}
                    ),
                    "action": "Check the investor's investments and redemptions against the books; correct the books "
                    "or finish the missing step.",
                }
            )
    return rows


def _moves_on(
    investments: pd.DataFrame, redemptions: pd.DataFrame, dates: dict[tuple[str, str], str], zone: str = "UTC"
) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(investor id, product id) -> the deliveries and successful redemptions made on the books' date itself of that
    position, as (units, "delivered" or "redeemed"): books of that date may or may not show them."""
    moves: dict[tuple[str, str], list[tuple[int, str]]] = {}
    if not dates:
        return moves
    redeemed = redemptions[redemptions["status"] == "success"] if "created_at" in redemptions else pd.DataFrame()
    done = [
        (investments[investments["status"] == "DELIVERED"], "since", "delivered"),
        (redeemed, "created_at", "redeemed"),
    ]
    for frame, column, verb in done:
        for move in _rows(frame):
            pair = (str(move.investor_id), str(move.product_id))
            if dates.get(pair) and not pd.isna(move.units) and _day(getattr(move, column), zone) == dates[pair]:
                moves.setdefault(pair, []).append((int(move.units), verb))
    return moves


def _date_the_positions_the_books_miss(
    rows: list[dict[str, Any]],
    investments: pd.DataFrame,
    redemptions: pd.DataFrame,
    dates: dict[tuple[str, str], str],
    zone: str = "UTC",
) -> None:
    """A position the ledger does not list, with units delivered after the books' date (where the ledger gives one
    date): what books of that date should show, from what was delivered and redeemed since (review 71: it read 'the
    books miss this position' beside a header giving that date; review 72: redemptions since count too). Where a
    move of the position has no date, nothing is said beyond the books missing it."""
    if len(set(dates.values())) != 1:
        return
    books_date = next(iter(dates.values()))
    missing = {(str(row["investor_id"]), str(row["product_id"])): row for row in rows}
    missing = {pair: row for pair, row in missing.items() if row["category"] == "in_registry_only"}
    on = dict.fromkeys(missing, books_date)
    delivered, redeemed = _delivered_since(investments, on, zone), _redeemed_since(redemptions, on, zone)
    undated = {
        (str(move.investor_id), str(move.product_id))
        for frame, column, done in ((investments, "since", "DELIVERED"), (redemptions, "created_at", "success"))
        if not frame.empty and "status" in frame.columns
        for move in _rows(frame[frame["status"] == done])
        if column not in frame.columns or pd.isna(getattr(move, column))
    }
    day = _moves_on(investments, redemptions, on, zone)
    for pair in sorted((set(delivered) | set(redeemed) | set(day)) & set(missing)):
        if pair in undated:
            continue
        row, units, out = missing[pair], delivered.get(pair, (0, ""))[0], redeemed.get(pair, (0, None))[0]
        moves = " and ".join(_were(count, verb) for count, verb in ((units, "delivered"), (out, "redeemed")) if count)
        same_day = " and ".join(f"{_units(count)} {verb}" for count, verb in day.get(pair, []))
        then = max(int(row["registry_units"]) - units + out, 0)  # what the position was at the end of that date
        if same_day:  # books of that date may or may not show them: both figures (reviews 74, 75)
            before = max(then - sum(c if verb == "delivered" else -c for c, verb in day[pair]), 0)
            after = f"; after it, {moves}" if moves else ""
            row["cause"] = (
                f"On the books' date itself ({books_date}), {same_day}, which books of that date may or may not "
                f"show{after}. Books of that date should show {_units(then)} if they show that day's moves, "
                f"{before:,} if not."
            )
            if not then or not before:
                row["action"] = (
                    "Nothing to correct if the books "
                    + ("show" if not then else "do not show")
                    + " that day's moves; otherwise add the position to the books."
                )
            continue
        if then <= 0:
            row["cause"] = (
                f"{moves} after the books' date ({books_date}), which books of that date cannot show; later books "
                "should."
            )
            row["action"] = "Nothing to correct in books of that date; check that later books list the position."
        else:
            row["cause"] = (
                f"{moves} after the books' date ({books_date}), which books of that date cannot show; they should "
                f"show {_units(then)} (a booking not made yet?)."
            )


def _name_moves_of_the_books_day(
    rows: list[dict[str, Any]],
    moves: dict[tuple[str, str], list[tuple[int, str]]],
    dates: dict[tuple[str, str], str],
    redeemed_since: dict[tuple[str, str], tuple[int, str | None]],
    delivered_since: dict[tuple[str, str], tuple[int, str]],
    redeemed_until: dict[tuple[str, str], tuple[int, str]],
) -> None:
    """A difference left unexplained names the moves of the books' date itself, which books of that date may or
    may not show (review 62: a redemption made later that day was taken as booked, and the shortfall it made was
    blamed on a missing credit). Where they and the redemptions made before that date explain it together, one
    cause says both (review 91: two causes, one after the other, neither saying so)."""
    for row in rows:
        pair = (str(row["investor_id"]), str(row["product_id"]))
        if row["category"] != "units_differ" or pair not in moves:
            continue
        rest = row["difference"] - delivered_since.get(pair, (0, ""))[0] + redeemed_since.get(pair, (0, ""))[0]
        if rest == 0:
            continue
        day = moves[pair]
        said = " and ".join(
            _were([units for units, done in day if done == verb], verb)
            for verb in ("delivered", "redeemed")
            if any(done == verb for _units, done in day)
        )
        effects = [units if verb == "delivered" else -units for units, verb in day]  # on the difference, if unbooked
        one = next((index for index, effect in enumerate(effects) if effect == rest), None)
        before = redeemed_until.get(pair, (0, ""))[0]
        cause = str(row["cause"])
        merge = cause.startswith("The registry has redemptions of") and sum(effects) != rest and one is None
        if merge and before and sum(effects) - before == rest:
            ended = cause.partition(" The registry has ")[2]  # (investments that ended, said after it: kept)
            row["cause"] = (
                f"The registry has redemptions of {_units(before)} of this position made before the books' "
                f"date ({dates[pair]}), and on that date itself {said}, which books of that date may or may not "
                "show: if the books booked none of them, that would be the difference."
                + (f" The registry has {ended}" if ended else "")
            )
            continue
        if sum(effects) == rest:
            explains = ": that would be the difference" if len(day) == 1 else ": all of them would be the difference"
        elif one is not None:
            explains = f": the {_units(day[one][0])} {day[one][1]} alone would be the difference"
        else:
            explains = ""
        day_said = f"On the books' date itself ({dates[pair]}), {said}, which books of that date may or may not show"
        day_said += f"{explains}."
        if explains:  # the likely cause, first (a cause already two alternatives, an ended investment's first: a third)
            cause = cause.replace(" Otherwise, ", " If neither, ", 1)
            row["cause"] = f"{day_said} Otherwise, {cause[:1].lower()}{cause[1:]}"
        else:
            row["cause"] = f"{cause} {day_said}"


def _name_ended_investments(
    rows: list[dict[str, Any]],
    investments: pd.DataFrame,
    redeemed_since: dict[tuple[str, str], tuple[int, str | None]],
    delivered_since: dict[tuple[str, str], tuple[int, str]],
) -> None:
    """A shortfall's cause names the position's investments that ended without delivering (rejected, cancelled,
    aborted, ...): books that booked one show units the registry never delivered (review 63: they were never
    named, and the cause asked whether an investment was missing). What the moves since the books' date explain
    stays said first (review 64: it was replaced)."""
    ended = investments[investments["status"].isin(api.FINAL_STATUSES - {"DELIVERED"})]
    if ended.empty:
        return
    by_pair: dict[tuple[str, str], list[Any]] = {}
    for investment in _rows(ended):
        by_pair.setdefault((str(investment.investor_id), str(investment.product_id)), []).append(investment)
    for row in rows:
        pair = (str(row["investor_id"]), str(row["product_id"]))
        found = by_pair.get(pair)
        if not found or row["category"] != "units_differ":
            continue
        redeemed, as_of = redeemed_since.get(pair, (0, None))  # (no date: the books may or may not show them)
        moved = delivered_since.get(pair, (0, ""))[0] - (redeemed if as_of is not None else 0)
        fewer = moved - row["difference"]  # the shortfall the moves since the books' date leave unexplained
        if fewer <= 0:
            continue
        units = sum(int(i.units) for i in found if not pd.isna(i.units))
        several = len(found) > 1
        statuses = ", ".join(dict.fromkeys(api.status_phrase(i.status) for i in found))
        ids = ", ".join(str(i.id)[:8] for i in found)
        it = "them" if several else "it"
        said = (
            f"The registry has {len(found)} investment{'s' if several else ''} of {_units(units)} of this position "
            f"that ended without delivering ({statuses}: {ids})"
        )
        cause = str(row["cause"])
        if units != fewer:
            row["cause"] = f"{cause} {said}, which the books may have booked."
        elif moved:  # after what the moves since the books' date explain
            row["cause"] = (
                f"{cause} {said}: if the books booked {it}, that would be what is left of the difference; reverse {it} "
                "in the books."
            )
        else:  # the likely cause: first
            row["cause"] = (
                f"{said}: if the books booked {it}, that would be the difference; reverse {it} in the books. "
                f"Otherwise, {cause[:1].lower()}{cause[1:]}"
            )


def _difference_cause(
    difference: int,
    pair: Any,
    redeemed_since: dict[tuple[str, str], tuple[int, str | None]],
    delivered_since: dict[tuple[str, str], tuple[int, str]],
    redeemed_until: dict[tuple[str, str], tuple[int, str]] | None = None,
) -> str:
    """The likely cause of a position's difference: what was delivered and redeemed after the books' date where they
    give one, redemptions up to it that the books may have missed, else the usual suspects."""
    key = (str(pair.investor_id), str(pair.product_id))
    redeemed, delivered = redeemed_since.get(key), delivered_since.get(key)
    dated_redeemed = redeemed if redeemed is not None and redeemed[1] is not None else None
    if delivered is not None or dated_redeemed is not None:  # books with a date: what happened since, in both ways
        as_of = delivered[1] if delivered is not None else str(dated_redeemed[1] if dated_redeemed else "")
        books = getattr(pair, "ledger_units", None)
        return _since_cause(
            difference,
            delivered[0] if delivered else 0,
            dated_redeemed[0] if dated_redeemed else 0,
            as_of,
            int(books) if books is not None and not pd.isna(books) else None,
            (redeemed_until or {}).get(key, (0, ""))[0],
        )
    if difference < 0 and key in (redeemed_until or {}):  # books of a date that miss a redemption made before it
        units, as_of = (redeemed_until or {})[key]
        return _shortfall_cause(-difference, (units, as_of), as_of)
    if difference < 0:
        return _shortfall_cause(-difference, redeemed)
    return (
        "The registry delivered units the books do not show (a booking missing, or a redemption booked but not made?)."
    )


def _shortfall_cause(fewer: int, redeemed: tuple[int, str | None] | None, as_of: str | None = None) -> str:
    """Why the registry may hold ``fewer`` units than the books: redemptions they may not have booked (books that
    give no date, or, with ``as_of``, redemptions made before the books' date: review 90), else a missing delivery
    (what happened after the books' date: :func:`_since_cause`)."""
    if redeemed is None:
        return "The books booked units the registry has not delivered (a credit or an investment missing?)."
    units = redeemed[0]
    when = f"made before the books' date ({as_of})" if as_of else "(they give no date to tell)"
    said = (
        f"The registry has redemptions of {_units(units)} of this position made before the books' date ({as_of}), "
        "which the books may not have booked"
        if as_of
        else f"The registry has redemptions of {_units(units)} of this position, which the books may not have booked "
        "(they give no date to tell)"
    )
    if units == fewer:
        return f"{said}: that may be the difference."
    if units < fewer:
        return f"{said}; the other {_units(fewer - units)}: a credit or an investment missing?"
    return (  # more redeemed than the difference: the books may have booked some of them
        "The books booked units the registry has not delivered (a credit or an investment missing?), or the books "
        f"missed some of the redemptions of {_units(units)} the registry has of this position {when}."
    )


def _stuck_rows(
    investments: pd.DataFrame, names: pd.DataFrame, stuck_after: timedelta, now: datetime
) -> list[dict[str, Any]]:
    """A row for each investment waiting in one status for longer than ``stuck_after``, and for each one waiting
    since a time the registry gives but the toolkit cannot read (how long cannot be told: it is shown, not hidden)."""
    rows: list[dict[str, Any]] = []
    waiting = investments[~investments["status"].isin(api.FINAL_STATUSES)]
    for investment in _rows(waiting):
        since = investment.since
        given = getattr(investment, "since_given", None)
        unread = pd.isna(since) and isinstance(given, str) and bool(given.strip())
        if not unread and (pd.isna(since) or now - since.to_pydatetime() < stuck_after):
            continue
        units, phrase = int(investment.units), api.status_phrase(investment.status)
        if unread:
            message = (
                f"Investment of {_units(units)} is {phrase}; since when cannot be told: the registry gives its time "
                f"as '{str(given).strip()[:40]}', which the toolkit cannot read."
            )
        else:
            days = (now - since.to_pydatetime()).days
            message = f"Investment of {_units(units)} has been {phrase} for {days} days (since {since:%Y-%m-%d})."
        rows.append(
            {
                **_names(names, investment.investor_id, investment.product_id),
                "category": "stuck",
                "investor_id": investment.investor_id,
                "product_id": investment.product_id,
                "investment_id": investment.id,
                "status": investment.status,
                "since": since,
                "registry_units": units,
                "message": message,
                "cause": f"The investment is {WAITING_FOR.get(investment.status, ('waiting', ''))[0]}.",
                "action": WAITING_FOR.get(investment.status, ("", ACTIONS["stuck"]))[1] or ACTIONS["stuck"],
            }
        )
    return rows


def _unknown_status_rows(investments: pd.DataFrame, names: pd.DataFrame) -> list[dict[str, Any]]:
    """A row for each investment in a status the documentation does not name (its units are not counted as held)."""
    rows: list[dict[str, Any]] = []
    for investment in _rows(investments[~investments["status"].isin(api.INVESTMENT_STATUSES)]):
        units = None if pd.isna(investment.units) else int(investment.units)
        rows.append(
            {
                **_names(names, investment.investor_id, investment.product_id),
                "category": "status_unknown",
                "investor_id": investment.investor_id,
                "product_id": investment.product_id,
                "investment_id": investment.id,
                "status": investment.status,
                "since": investment.since,
                "registry_units": units,
                "message": (f"Investment of {_units(units)}" if units is not None else "An investment")
                + (
                    " has no status"
                    if pd.isna(investment.status)
                    else f" is in the status {str(investment.status)!r}, which the registry's documentation does not "
                    "name"
                )
                + ": its units are not counted as held.",
                "cause": "The registry answered a status this toolkit does not know (one added to the API since?).",
                "action": ACTIONS["status_unknown"],
            }
        )
    return rows


def _redemption_rows(redemptions: pd.DataFrame, names: pd.DataFrame) -> list[dict[str, Any]]:
    """A row for each redemption that failed or whose outcome is unknown."""
    rows: list[dict[str, Any]] = []
    if redemptions.empty:
        return rows
    for redemption in _rows(redemptions[redemptions["status"].isin(["failed", "unknown"])]):  # (read in lower case)
        category = f"redemption_{redemption.status}"
        reason = getattr(redemption, "error", None)
        reason = None if reason is None or pd.isna(reason) or not str(reason).strip() else str(reason)
        reason = scrubbed(without_sandbox_notes(reason)).rstrip(".") if reason else None  # (no e-mail, no IBAN)
        error = f": {reason}" if reason else ""
        advice = " Do not retry it; ask Cashlink to check it." if redemption.status == "unknown" else ""
        rows.append(
            {
                **_names(names, redemption.investor_id, redemption.product_id),
                "category": category,
                "investor_id": redemption.investor_id,
                "product_id": redemption.product_id,
                "redemption_id": redemption.id,
                "status": redemption.status,
                "since": redemption.created_at,
                "registry_units": int(redemption.units),
                "message": f"The redemption of {_units(int(redemption.units))} "
                f"{'failed' if redemption.status == 'failed' else 'has an unknown outcome'}{error}.{advice}",
                "cause": "The blockchain refused the redemption"
                + (f" ({reason[0].lower() + reason[1:]})" if reason else "")
                + "."
                if redemption.status == "failed"
                else "The blockchain has not answered whether the units moved.",
                "action": ACTIONS[category],
            }
        )
    return rows


def _lowered(sentence: str) -> str:
    """A sentence continued after a colon: its first letter small, unless the word is an abbreviation ('KYC …')."""
    return sentence[0].lower() + sentence[1:] if sentence[:2] != sentence[:2].upper() else sentence


def group_related(
    detail: pd.DataFrame,
    *,
    link_stuck: bool = True,
    link_failed: bool = True,
    settled: Collection[str] = frozenset(),
) -> pd.DataFrame:
    """A shortfall (registry holds fewer) explained by investments of the same investor and product that are stuck
    before delivery (e.g. 300 units PAID, never credited), or a surplus (registry holds more) explained by a failed
    redemption of as many units that the books booked: the cause and action name them, those rows follow the
    difference they explain, and all carry the same ``related`` mark. ``settled``: the ids of failed redemptions a
    retry or a redo settled since (they explain no surplus); ``link_stuck``/``link_failed``: which links to make."""
    if detail.empty:
        return detail
    detail = detail.copy()
    for column in ("cause", "action", "related"):
        detail[column] = detail[column].astype(object)
    shortfalls = detail[
        detail["category"].isin(["units_differ", "in_ledger_only"]) & (detail["difference"] < 0) & link_stuck
    ]
    stuck_rows = detail[detail["category"].isin(["stuck", "status_unknown"])]  # not delivered, or not known to be
    stuck_by_pair = {pair: rows.index for pair, rows in stuck_rows.groupby(["investor_id", "product_id"], sort=False)}
    # where each row goes: its own place, and the stuck rows that explain a shortfall just after that shortfall
    position = pd.Series(detail.index, index=detail.index, dtype=float)
    for index in shortfalls.index:
        row: Any = detail.loc[index]
        found = stuck_by_pair.get((row["investor_id"], row["product_id"]))
        if found is None:
            continue
        stuck = detail.loc[found]
        held, short = int(stuck["registry_units"].sum()), -int(row["difference"])
        if not 0 < held <= short:  # more than the shortfall: the books booked some of them (no link)
            continue
        ids = ", ".join(str(i)[:8] for i in stuck["investment_id"])
        statuses = ", ".join(
            sorted({"no status" if pd.isna(status) else api.status_phrase(status) for status in stuck["status"]})
        )
        investments = (
            f"{len(stuck)} investment{'s' if len(stuck) > 1 else ''} of {held:,} unit{'s' if held > 1 else ''}"
        )
        steps = list(
            dict.fromkeys(str(a).strip().rstrip(".") for a in stuck["action"] if isinstance(a, str) and a.strip())
        )
        how = _lowered(steps[0]) if len(steps) == 1 else "each row says how" if steps else "see the rows"
        if held < short:  # part of it: said before what the row says of the whole difference
            left = short - held
            rest = f"{left:,} unit{'s' if left > 1 else ''} of the difference remain{'s' if left == 1 else ''}"
            known = "not delivered" if (stuck["category"] == "stuck").all() else "not known to be delivered"
            detail.loc[index, "cause"] = " ".join(
                [
                    f"Of the {_units(short)} fewer, {held:,} are {investments} {known} ({statuses}: {ids}; see the "
                    f"rows below), which the books booked; {rest}.",
                    *([str(row["cause"])] if isinstance(row["cause"], str) and row["cause"] else []),
                ]
            )
            detail.loc[index, "action"] = " ".join(
                [
                    f"Finish the investment{'s' if len(stuck) > 1 else ''} below: {how}; then {rest}.",
                    *([str(row["action"])] if isinstance(row["action"], str) and row["action"] else []),
                ]
            )
        elif (stuck["category"] == "stuck").all():
            detail.loc[index, "cause"] = (
                f"Explained by {investments} stuck ({statuses}: {ids}): the books booked them, the registry has not "
                "delivered them yet."
            )
            detail.loc[index, "action"] = (
                f"Finish the stuck investment{'s' if len(stuck) > 1 else ''} below: {how}; the difference then "
                "disappears."
            )
        else:
            detail.loc[index, "cause"] = (
                f"Explained by {investments} in a status not known to be delivered ({statuses}: {ids}): the books "
                "booked them, and the registry does not say they are delivered."
            )
            detail.loc[index, "action"] = f"See the rows below: {stuck['action'].iloc[0]}"
        detail.loc[[index, *found], "related"] = f"{row['investor_id']}/{row['product_id']}"
        explains = f"the {_units(short)} fewer" if held == short else f"{held:,} of the {_units(short)} fewer"
        explains = (
            f"With the others marked alike, it explains {explains}" if len(found) > 1 else f"It explains {explains}"
        )
        detail.loc[found, "cause"] = [f"{cause} {explains} above." for cause in stuck["cause"]]
        position[found] = [index + step / (len(found) + 1) for step in range(1, len(found) + 1)]
    surpluses = detail[
        detail["category"].isin(["units_differ", "in_registry_only"]) & (detail["difference"] > 0) & link_failed
    ]
    failed_rows = detail[
        (detail["category"] == "redemption_failed") & ~detail["redemption_id"].astype(str).isin(list(settled))
    ]
    failed_by_pair = (
        {pair: rows for pair, rows in failed_rows.groupby(["investor_id", "product_id"], sort=False)}
        if len(failed_rows) and len(surpluses)
        else {}
    )
    for index in surpluses.index:
        row = detail.loc[index]
        failed = failed_by_pair.get((row["investor_id"], row["product_id"]))
        explaining = _failed_explaining(failed, int(row["difference"])) if failed is not None else []
        if not explaining:
            continue
        chosen = detail.loc[explaining]
        ids = ", ".join(str(i)[:8] for i in chosen["redemption_id"])
        plural = len(chosen) > 1
        detail.loc[index, "cause"] = (
            f"Explained by {'failed redemptions' if plural else 'a failed redemption'} of "
            f"{_units(int(row['difference']))} ({ids}): the books booked {'them' if plural else 'it'}, but no units "
            "moved in the registry."
        )
        detail.loc[index, "action"] = (
            "Reverse the redemption in the books, or try it again in notebook 04 (see the row below); the difference "
            "then disappears."
        )
        detail.loc[[index, *explaining], "related"] = f"{row['investor_id']}/{row['product_id']}"
        detail.loc[explaining, "cause"] = [
            f"{cause} It explains the difference of {_units(int(row['difference']))} above."
            for cause in chosen["cause"]
        ]
        position[explaining] = [index + step / (len(explaining) + 1) for step in range(1, len(explaining) + 1)]
    return detail.loc[position.sort_values(kind="stable").index].reset_index(drop=True)


def _failed_explaining(failed: pd.DataFrame, surplus: int) -> list[Any]:
    """The failed redemptions of a position that explain ``surplus`` units: all of them when their units add up to
    it, else the latest one of exactly that many units (one redemption that failed, was tried again and failed
    again is booked once), else none."""
    if int(failed["registry_units"].sum()) == surplus:
        return list(failed.index)
    equal = failed[failed["registry_units"] == surplus]
    if equal.empty:
        return []
    return [equal["since"].idxmax() if equal["since"].notna().any() else equal.index[-1]]


def _rows(frame: pd.DataFrame) -> list[Any]:
    """The rows of a frame as objects with attributes (typed loosely: pandas gives any cell type)."""
    return [SimpleNamespace(**{str(k): v for k, v in row.items()}) for row in frame.to_dict("records")]


def _names(names: pd.DataFrame, investor_id: str, product_id: str) -> dict[str, Any]:
    try:
        found: Any = names.loc[(investor_id, product_id)]
    except KeyError:
        return {}
    return {str(key): found[key] for key in names.columns}
