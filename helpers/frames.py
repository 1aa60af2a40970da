"""API objects as tidy pandas DataFrames: flattened columns, tz-aware datetimes, integer units, exact money.

Money objects ``{"amount": "40000000", "decimals": 3, "currency": "EUR"}`` become a ``Decimal`` column (never a
float) plus a ``<name>_currency`` column. Personal data (IBAN, birth date, tax id, phone, ID document number) is
masked unless ``show_personal_data=True``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

PERSONAL_FIELDS = frozenset({"iban", "birth_date", "tax_identification_number", "phone", "document_id"})
UNIT_FIELDS = frozenset({"units", "remaining_units", "amount", "available_units", "allocation", "min_units",
                         "step_size", "max_issuable_amount", "count"})
MASK = "•"


def is_money(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"amount", "decimals", "currency"}


def money_value(value: Mapping[str, Any]) -> Decimal:
    """The exact value of a Money object: ``Decimal(amount) * 10**-decimals``."""
    return Decimal(str(value["amount"])).scaleb(-int(value["decimals"]))


def mask(value: Any, field: str) -> Any:
    """Hide most of a personal value, keeping enough to recognise it."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return value
    text = str(value)
    if field == "iban":
        return f"{text[:4]} {MASK * 4} {text[-4:]}"
    if field == "birth_date":
        return f"{MASK * 4}-{MASK * 2}-{MASK * 2}"
    return MASK * max(len(text) - 3, 3) + text[-3:] if len(text) > 4 else MASK * 4


def _leaf(column: str) -> str:
    return column.rsplit(".", 1)[-1]


def flatten_record(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One flat row: nested objects joined with dots, money split into value and currency."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if is_money(value):
            row[name] = money_value(value)
            row[f"{name}_currency"] = value["currency"]
        elif isinstance(value, Mapping):
            row.update(flatten_record(value, f"{name}."))
        else:
            row[name] = value
    return row


def to_frame(records: Iterable[Mapping[str, Any]], show_personal_data: bool = False,
             columns: list[str] | None = None) -> pd.DataFrame:
    """A tidy, typed DataFrame of API objects (one row each)."""
    frame = pd.DataFrame([flatten_record(r) for r in records])
    if columns is not None:
        frame = frame.reindex(columns=columns)
    for column in frame.columns:
        leaf = _leaf(column)
        if leaf.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        elif leaf in UNIT_FIELDS and _all_ints(frame[column]):
            frame[column] = frame[column].astype("Int64")
        elif leaf in PERSONAL_FIELDS and not show_personal_data:
            frame[column] = frame[column].map(lambda v, leaf=leaf: mask(v, leaf))
    if "id" in frame.columns:
        frame = frame[["id", *[c for c in frame.columns if c != "id"]]]
    return frame


def _all_ints(series: pd.Series) -> bool:
    return all(v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, int) and not isinstance(v, bool))
               for v in series)


class Record(dict):
    """An API object (a plain dict) that shows itself as a two-column table in a notebook, personal data masked."""

    replayed: bool = False  # True when a write was answered from the journal or the registry's idempotency replay

    @property
    def id(self) -> str:
        return self["id"]

    def to_frame(self, show_personal_data: bool = False) -> pd.DataFrame:
        row = to_frame([self], show_personal_data=show_personal_data).iloc[0]
        return pd.DataFrame({"field": row.index, "value": row.values})

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        """Plain-text display in IPython: the same masked table as the HTML one."""
        printer.text(self.to_frame().to_string(index=False))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(f))}</th><td style='text-align:left'>"
            f"{html.escape('' if v is None else str(v))}</td></tr>"
            for f, v in self.to_frame().itertuples(index=False)
        )
        note = " <em>(already existed: nothing new was created)</em>" if self.replayed else ""
        return f"<table><caption style='text-align:left'>id {html.escape(str(self.get('id')))}{note}</caption>" \
               f"{rows}</table>"
