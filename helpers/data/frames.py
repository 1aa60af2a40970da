"""API objects as tidy pandas DataFrames (for programs): flattened columns, tz-aware datetimes, integer units,
exact money.

Money objects ``{"amount": "40000000", "decimals": 3, "currency": "EUR"}`` become a ``Decimal`` column (never a
float) plus a ``<name>_currency`` column. Personal data (the fields the models mark personal) is masked unless
``show_personal_data=True``. Tables for people are built from these by :mod:`helpers.ui.tables`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from helpers.core import api
from helpers.core.models import is_personal
from helpers.core.records import mask, money_value

UNIT_FIELDS = frozenset(
    {
        "units",
        "remaining_units",
        "amount",
        "available_units",
        "allocation",
        "min_units",
        "step_size",
        "max_issuable_amount",
        "count",
    }
)

# Columns of an empty list's DataFrame (so code that filters on them works for a distributor without data).
EMPTY_COLUMNS = {
    api.INVESTORS: (
        "id",
        "natural_person.forename",
        "natural_person.surname",
        "legal_person.company_name",
        "communication.email",
        "created_at",
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
        "signed_at",
        "accepted_at",
        "paid_at",
        "delivered_at",
        "wallet",
        "created_at",
    ),
    api.REDEMPTIONS: ("id", "investor_id", "product_id", "wallet_id", "units", "status", "error", "created_at"),
}


def _flatten(record: Mapping[str, Any], prefix: str, row: dict[str, Any]) -> None:
    for key, value in record.items():
        name = prefix + key
        if type(value) is dict:
            if len(value) == 3 and "amount" in value and "decimals" in value and "currency" in value:
                row[name] = money_value(value)
                row[name + "_currency"] = value["currency"]
            else:
                _flatten(value, name + ".", row)
        else:
            row[name] = value


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row: nested objects joined with dots, money split into value and currency."""
    row: dict[str, Any] = {}
    _flatten(record, "", row)
    return row


def to_frame(
    records: Iterable[Mapping[str, Any]], show_personal_data: bool = False, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """A tidy, typed DataFrame of API objects (one row each)."""
    enabled = gc.isenabled()
    gc.disable()  # many small dicts: the cyclic collector only costs time here
    try:
        rows = [flatten_record(r) for r in records]
    finally:
        if enabled:
            gc.enable()
    frame = pd.DataFrame(rows)
    if columns is not None:
        frame = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *columns])) if len(frame) else list(columns))
    for column in frame.columns:
        leaf = column.rsplit(".", 1)[-1]
        if not show_personal_data and is_personal(column):
            frame[column] = frame[column].map(lambda v, leaf=leaf: mask(v, leaf), na_action="ignore")
        elif leaf.endswith("_at") or leaf.endswith("_date"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601", errors="coerce")
        elif leaf in UNIT_FIELDS and _all_ints(frame[column]):
            frame[column] = frame[column].astype("Int64")
    if "id" in frame.columns:
        frame = frame[["id", *[c for c in frame.columns if c != "id"]]]
    return frame


def _all_ints(series: pd.Series) -> bool:
    return all(
        v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, int) and not isinstance(v, bool))
        for v in series
    )


def decimal_sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))
