"""API objects as tidy pandas DataFrames (for programs): flattened columns, tz-aware datetimes, integer units,
exact money.

Money objects ``{"amount": "40000000", "decimals": 3, "currency": "EUR"}`` become a ``Decimal`` column (never a
float) plus a ``<name>_currency`` column. Personal data (the fields the models mark personal) is masked unless
``show_personal_data=True``. Tables for people are built from these by :mod:`helpers.ui.tables`.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from helpers.core import api
from helpers.core.client import ListResult
from helpers.core.models import (
    INVESTOR_NAMING_FIELDS,
    Investor,
    fields_of,
    is_day,
    is_flag,
    is_known,
    is_personal,
    label,
)
from helpers.core.records import EXACT, WHOLE_AMOUNT, free_text_masked, is_free_text, mask, money_value
from helpers.core.resources import units_share

WHOLE_NUMBER_FIELDS = frozenset(  # typed as integers in a frame: the units (api.UNIT_FIELDS) and other counts
    {*api.UNIT_FIELDS, "amount", "allocation", "min_units", "step_size", "max_issuable_amount", "count"}
    | {"benefiting_persons"}  # (a company's number of beneficial owners)
)

# Columns of an empty list's DataFrame (so code that filters on them works for a distributor without data).
EMPTY_COLUMNS = {
    api.INVESTORS: tuple(  # an investor's fields as the model defines them (but what only a request says)
        dict.fromkeys(
            [
                "id",
                *INVESTOR_NAMING_FIELDS,
                *(spec.path for spec in fields_of(Investor) if spec.path != "is_beneficiary"),
                "created_at",
            ]
        )
    ),
    api.INVESTMENTS: (
        "id",
        "investor_id",
        "campaign_id",
        "product_id",
        "status",
        "units",
        "investment_amount",
        "investment_amount_currency",
        "remaining_amount",
        "remaining_amount_currency",
        "remaining_units",  # sent by some registries; else derived (with_remaining_units)
        "status_changed_at",  # sent by some registries; else empty (section 6, E)
        "signed_at",
        "accepted_at",
        "paid_at",
        "delivered_at",
        "wallet",
        "created_at",
    ),
    api.REDEMPTIONS: ("id", "investor_id", "product_id", "wallet_id", "units", "status", "error", "created_at"),
}


MONEY_KEYS = frozenset({"amount", "decimals", "currency"})


def with_remaining_units(frame: pd.DataFrame) -> pd.DataFrame:
    """An investments frame with ``remaining_units`` in every row where it can be told: sent by the registry, or
    derived from documented fields (``remaining_amount`` of ``investment_amount``, times ``units``; exact) as the
    screens do (:func:`helpers.core.resources.remaining_units`), so that code reads the same column on every
    registry (review 86). Empty where the amounts are missing, in two currencies, or give no whole number."""
    needed = {"remaining_units", "remaining_amount", "investment_amount", "units"}
    if not len(frame) or not needed <= set(frame.columns) or not frame["remaining_units"].isna().any():
        return frame
    missing = frame["remaining_units"].isna()
    rows = frame.loc[missing]
    same = rows.get("remaining_amount_currency", pd.Series(None, index=rows.index)).eq(
        rows.get("investment_amount_currency", pd.Series(None, index=rows.index))
    )
    derived: list[int | None] = []
    for remaining, total, units, comparable in zip(
        rows["remaining_amount"], rows["investment_amount"], rows["units"], same, strict=True
    ):
        derived.append(_units_left(remaining, total, units) if comparable else None)
    try:
        filled = frame["remaining_units"].astype("Int64")
        filled.loc[missing] = pd.array(derived, dtype="Int64")
    except (OverflowError, TypeError):  # beyond 64 bits: Python ints, exact (as to_frame keeps them)
        filled = frame["remaining_units"].astype(object)
        filled.loc[missing] = pd.Series(derived, index=rows.index, dtype=object)
    return frame.assign(remaining_units=filled)


def _units_left(remaining: Any, total: Any, units: Any) -> int | None:
    if not all(isinstance(v, (Decimal, int)) and not isinstance(v, bool) for v in (remaining, total)) or pd.isna(units):
        return None
    share = units_share(Decimal(remaining), Decimal(total), int(units))  # (as the screens count them)
    return int(share) if share is not None and share.denominator == 1 else None


def _flatten(record: Mapping[str, Any], prefix: str, row: dict[str, Any]) -> None:
    for key, value in record.items():
        name = prefix + key
        if type(value) is dict:
            if len(value) >= 3 and "amount" in value and "decimals" in value and "currency" in value:
                row[name] = money_value(value)
                row[name + "_currency"] = value["currency"]
                if len(value) > 3:  # what else a registry says of an amount: beside it, never in its place
                    _flatten({key: item for key, item in value.items() if key not in MONEY_KEYS}, name + ".", row)
            else:
                _flatten(value, name + ".", row)
        else:
            row[name] = value


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row: nested objects joined with dots, money split into value and currency."""
    row: dict[str, Any] = {}
    _flatten(record, "", row)
    return row


class _Columns:
    """Flat columns built a page at a time, for pages whose objects all have the shape of the first one (the same
    keys, the same nested objects, money in the same places): then each column is one list, filled without building
    a row per object. The result is what :func:`flatten_record` per object would give; an object of another shape
    turns the columns back into rows (:meth:`rows`) and the rest is flattened object by object."""

    def __init__(self, first: Mapping[str, Any]) -> None:
        self.plan = self._plan(first)
        self.columns: dict[str, list[Any]] = {name: [] for name in self._names(self.plan, "")}
        self.length = 0

    @classmethod
    def _plan(cls, record: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
        """(key, kind, sub-plan) per key: kind is 'plain', 'money', 'money and more' (not filled here) or
        'nested'."""
        plan: list[tuple[str, str, Any]] = []
        for key, value in record.items():
            if type(value) is dict:
                if value.keys() == MONEY_KEYS:
                    plan.append((key, "money", None))
                elif value.keys() > MONEY_KEYS:  # money with more to say: flattened object by object
                    plan.append((key, "money and more", None))
                else:
                    plan.append((key, "nested", (frozenset(value), cls._plan(value))))
            else:
                plan.append((key, "plain", None))
        return plan

    @classmethod
    def _names(cls, plan: list[tuple[str, str, Any]], prefix: str) -> Iterator[str]:
        for key, kind, sub in plan:
            if kind == "money":
                yield prefix + key
                yield prefix + key + "_currency"
            elif kind == "nested":
                yield from cls._names(sub[1], prefix + key + ".")
            else:
                yield prefix + key

    def add(self, page: Sequence[Mapping[str, Any]]) -> bool:
        """Add a page's objects (True), or add nothing when one of them has another shape (False)."""
        if not page:
            return True
        extracted: dict[str, Sequence[Any]] = {}
        if not self._extract(self.plan, page, "", extracted):
            return False
        for name, values in extracted.items():
            self.columns[name] += values
        self.length += len(page)
        return True

    @classmethod
    def _extract(
        cls,
        plan: list[tuple[str, str, Any]],
        items: Sequence[Mapping[str, Any]],
        prefix: str,
        out: dict[str, Sequence[Any]],
    ) -> bool:
        """Each planned key's values into ``out``; False when an object lacks one or has other keys too (every
        object has as many keys as the plan, and each of them)."""
        if set(map(len, items)) != {len(plan)}:
            return False
        columns = _transposed(items, [key for key, _kind, _sub in plan])
        if columns is None:
            return False
        for (key, kind, sub), values in zip(plan, columns):
            kinds = set(map(type, values))
            name = prefix + key
            if kind == "plain":
                if dict in kinds:
                    return False
                out[name] = values
            elif kinds != {dict} or kind == "money and more":
                return False
            elif kind == "money":
                parts = _transposed(values, ["amount", "decimals", "currency"])
                if set(map(len, values)) != {3} or parts is None:
                    return False
                out[name] = _money_values(parts[0], parts[1], values)
                out[name + "_currency"] = parts[2]
            elif not cls._extract(sub[1], values, name + ".", out):
                return False
        return True

    def rows(self) -> list[dict[str, Any]]:
        """The objects added so far as flat rows (as :func:`flatten_record` makes them)."""
        names = list(self.columns)
        if not names:
            return [{} for _ in range(self.length)]
        return [dict(zip(names, values)) for values in zip(*self.columns.values())]


def _transposed(items: Sequence[Mapping[str, Any]], keys: list[str]) -> list[tuple[Any, ...]] | None:
    """The values of ``keys`` as one tuple per key (in C: itemgetter and zip), or None when an object lacks one."""
    try:
        if len(keys) == 1:
            return [tuple(map(itemgetter(keys[0]), items))]
        return list(zip(*map(itemgetter(*keys), items))) if keys else []
    except KeyError:
        return None


def _money_values(amounts: Sequence[Any], decimals: Sequence[Any], values: Sequence[Any]) -> list[Decimal]:
    """``money_value`` of each Money object; one exponent for the whole column where the amounts are text and the
    decimals all the same (the usual case), and each distinct amount converted once (a Decimal is immutable)."""
    try:
        scales = set(decimals)
    except TypeError:  # unhashable decimals: let money_value say what is wrong
        scales = set()
    if len(scales) == 1 and set(map(type, amounts)) == {str} and type(scale := scales.pop()) is int:
        try:
            written = {amount: Decimal(amount) for amount in set(amounts)}
        except InvalidOperation:
            written = {}  # text that is no number: money_value says which
        if written and all(WHOLE_AMOUNT.fullmatch(amount.strip()) for amount in written):  # digits: '1_000' no
            exact = {amount: value.scaleb(-scale, EXACT) for amount, value in written.items()}  # (whole numbers)
            return [exact[amount] for amount in amounts]
    return [money_value(value) for value in values]


def _pages(records: Iterable[Mapping[str, Any]]) -> Iterator[Sequence[Mapping[str, Any]]]:
    if isinstance(records, ListResult):
        yield from records.plain_pages()  # plain dicts, no Record per object
    else:
        yield records if isinstance(records, list) else list(records)


def _flat(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The flat DataFrame of ``records`` (one row each, columns in the order they first appear)."""
    builder: _Columns | None = None
    rows: list[dict[str, Any]] | None = None
    for page in _pages(records):
        if rows is None:
            if builder is None and page:
                builder = _Columns(page[0])
            if builder is None or builder.add(page):
                continue
            rows = builder.rows()
        rows += [flatten_record(r) for r in page]
    if rows is None and builder is not None and builder.columns:
        return pd.DataFrame(builder.columns)
    return pd.DataFrame(rows if rows is not None else (builder.rows() if builder is not None else []))


@contextmanager
def progress_bar(records: Any, enabled: bool = True, delay: float = 2.0) -> Iterator[None]:
    """While a list is read: a progress bar (tqdm, on stderr) once it has taken ``delay`` seconds, so only a long
    list shows one. The core only calls ``ListResult.progress``; the bar is filled here."""
    if not enabled or not isinstance(records, ListResult) or records.progress is not None:
        yield
        return
    from tqdm.std import tqdm

    bar = tqdm(desc=records.action.capitalize(), unit=" objects", delay=delay, dynamic_ncols=True)

    def update(fetched: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(fetched - bar.n)

    records.progress = update
    try:
        yield
    finally:
        records.progress = None
        bar.close()


def to_frame(
    records: Iterable[Mapping[str, Any]], show_personal_data: bool = False, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """A tidy, typed DataFrame of API objects (one row each)."""
    enabled = gc.isenabled()
    gc.disable()  # many small objects that live on: the cyclic collector would only walk them again and again
    try:
        return _typed(_flat(records), show_personal_data, columns)
    finally:
        if enabled:
            gc.enable()


def _typed(frame: pd.DataFrame, show_personal_data: bool, columns: Iterable[str] | None) -> pd.DataFrame:
    if columns is not None:
        wanted = list(dict.fromkeys([*frame.columns, *columns])) if len(frame) else list(columns)
        if wanted != list(frame.columns):  # (a reindex copies every column)
            added = [column for column in wanted if column not in frame.columns]
            frame = frame.reindex(columns=wanted)
            for column in added:  # nothing given: missing values, typed below as the column's field (not floats)
                frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for column in frame.columns:
        leaf = column.rsplit(".", 1)[-1]
        if not show_personal_data and is_personal(column):
            frame[column] = frame[column].map(lambda v, leaf=leaf: mask(v, leaf), na_action="ignore")
        elif (
            not show_personal_data
            and _free_text_column(column)
            and pd.api.types.is_string_dtype(frame[column])
            and frame[column].notna().any()  # (an empty column is typed as its field below)
        ):
            changed = {  # a payment reference, a note: someone's data in it masked (each value once: a status
                value: masked  # column of 100,000 rows holds a handful of values)
                for value in frame[column].dropna().unique()
                if is_free_text(column, value) and (masked := free_text_masked(value, frozenset())) != value
            }
            if changed:
                frame[column] = frame[column].map(lambda v, changed=changed: changed.get(v, v), na_action="ignore")
        elif is_day(column):
            frame[column] = days(frame[column], column)
        elif leaf.endswith("_at") or leaf.endswith("_date"):
            frame[column] = moments(frame[column], column)
        elif (frame[column].dtype == object or frame[column].isna().all()) and (
            is_flag(column) or _all_flags(frame[column])
        ):
            frame[column] = _flags(frame[column])
        elif leaf in WHOLE_NUMBER_FIELDS and _all_ints(frame[column]):
            try:
                frame[column] = frame[column].astype("Int64")
            except (OverflowError, TypeError):
                pass  # beyond 64 bits: kept as Python ints (exact), not a column of a fixed width
    if "id" in frame.columns and frame.columns[0] != "id":
        frame = frame[["id", *[c for c in frame.columns if c != "id"]]]
    return frame


def _free_text_column(column: str) -> bool:
    """A column the models do not describe, and no id or time: where free text (a payment reference) may be."""
    leaf = column.rsplit(".", 1)[-1]
    return not (leaf == "id" or leaf.endswith(("_id", "_at", "_date")) or is_known(column))


ZONE = re.compile(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$")
TIME_OF_DAY = re.compile(r"\d[T ]\d\d:\d\d")
COMMA_FRACTION = r"(\d\d:\d\d:\d\d),(\d)"  # ISO 8601 allows 14:40:05,5 for 14:40:05.5


class TimeWarning(UserWarning):
    """Times of the registry that could not be read as they are: read as UTC, or left empty."""


def moments(series: pd.Series, column: str, called: str | None = None) -> pd.Series:
    """A column of the registry's times as UTC moments: ISO 8601 with a zone, a comma before the fraction too. A
    time without a zone is read as UTC, and one that is no time is left empty: both are said, once per column
    (``called``: what the column holds, where it gathers several of the registry's fields)."""
    named = called or repr(label(column))
    missing = series.isna().to_numpy()
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    if parsed.isna().sum() > missing.sum():  # some are no time as pandas reads them: a comma, or nonsense
        fixed = series.where(missing, series.astype(str).str.replace(COMMA_FRACTION, r"\1.\2", regex=True))
        parsed = pd.to_datetime(fixed, utc=True, format="ISO8601", errors="coerce")
        _said_unread(int(parsed.isna().sum() - missing.sum()), named, "time")
    present = np.flatnonzero(~missing)
    ends = {present[0], present[-1]} if len(present) else set()  # (a column's times share one form)
    samples = [value.strip() for value in (series.iloc[position] for position in ends) if isinstance(value, str)]
    if any(TIME_OF_DAY.search(sample) and not ZONE.search(sample) for sample in samples):
        warnings.warn(
            f"The registry's times in {named} name no time zone: they are read as UTC. If its times are "
            "local (Berlin, for example), they are an hour or two off.",
            TimeWarning,
            stacklevel=4,
        )
    return parsed.astype("datetime64[us, UTC]")  # (one unit, whatever the texts' precision or none: review 92)


DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def days(series: pd.Series, column: str) -> pd.Series:
    """A column of calendar days (a birth date, an ID's validity) as dates: midnight without a zone, pandas' way
    of a date, so that no conversion to another zone moves a birthday (review 92: read as UTC moments). A day
    written with a time keeps its day as written; one that is no day is left empty, and said once."""
    missing = series.isna()
    written = series.where(missing, series.astype(str).str.strip().str.slice(0, 10))
    parsed = pd.to_datetime(
        written.where(written.str.fullmatch(DAY_TEXT, na=False)), format="%Y-%m-%d", errors="coerce"
    )
    _said_unread(int(parsed.isna().sum() - missing.sum()), repr(label(column)), "day")
    return parsed.astype("datetime64[us]")


def _said_unread(unread: int, named: str, what: str) -> None:
    """'2 values of 'Valid to' are no day the toolkit can read …', once per column (nothing when none)."""
    if unread:
        warnings.warn(
            f"{unread} value{'s' if unread > 1 else ''} of {named} {'are' if unread > 1 else 'is'} no {what} the "
            "toolkit can read: left empty. Run client.check_api() and report the table to the team.",
            TimeWarning,
            stacklevel=5,
        )


def _all_flags(series: pd.Series) -> bool:
    """Whether every value of a column of objects is True, False or missing, and one at least is not missing."""
    kinds = set(map(type, series.to_numpy()))
    return bool in kinds and kinds <= {bool, type(None), float} and all(type(v) is bool or pd.isna(v) for v in series)


def _flags(series: pd.Series) -> pd.Series:
    """A yes-or-no column as pandas' nullable booleans (missing where not given); as sent where a value is no
    boolean (a registry's "yes" is not guessed at)."""
    return series.astype("boolean") if all(type(v) is bool or pd.isna(v) for v in series) else series


def _all_ints(series: pd.Series) -> bool:
    """Whether every value is a whole number or missing (no bools, no fractions)."""
    if series.dtype.kind in "iu":
        return True
    if series.dtype.kind == "f":
        return bool(series.isna().all())
    if series.dtype != object:
        return False
    kinds = set(map(type, series.to_numpy()))
    if kinds <= {int, type(None)}:
        return True
    return all(
        v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, int) and not isinstance(v, bool))
        for v in series
    )
