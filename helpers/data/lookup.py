"""Status lookups for analysts: search investors, filter investments, count statuses (pandas; no widgets)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.core import api, checks, models
from helpers.core.client import Client
from helpers.core.resources import remaining_units


def searchable(investor: dict[str, Any] | Any) -> list[str]:
    """The texts a search looks in: the id and the fields that name an investor (names, company, e-mail:
    :data:`helpers.core.models.INVESTOR_NAMING_FIELDS`; never personal data)."""
    texts = [investor.get("id")]
    for path in models.INVESTOR_NAMING_FIELDS:
        node = investor
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        texts.append(node)
    return [str(v) for v in texts if v]


def matches(investor: dict[str, Any] | Any, text: str) -> bool:
    """Whether every word of a search is in what names the investor, in any order and case (review 88: "Lovelace,
    Ada" and "ada  lovelace" found no one)."""
    words = checks.visible(text).casefold().replace(",", " ").split()  # (as it reads: review 90)
    named = " ".join(searchable(investor)).casefold()
    return all(word in named for word in words)


def may_be_an_id(text: str) -> bool:
    """Whether a search may be (part of) an id: at least 8 of an id's characters (hex digits and dashes)."""
    return re.fullmatch(r"[0-9a-fA-F-]{8,36}", text.strip()) is not None


def with_id(investments: list[Any], text: str) -> list[Any]:
    """The investments whose id, or whose wallet's id, holds ``text`` (any case)."""
    wanted = text.strip().lower()
    return [
        i
        for i in investments
        if wanted in str(i.get("id") or "").lower() or wanted in str(i.get("wallet") or "").lower()
    ]


def status_counts(investments: pd.DataFrame) -> pd.DataFrame:
    """How many investments, and units, are in each status (every known status, zeros included)."""
    columns = ["status", "investments", "units"]
    if investments.empty:
        return pd.DataFrame({"status": list(api.INVESTMENT_STATUSES), "investments": 0, "units": 0})[columns]
    grouped = investments.groupby("status").agg(investments=("id", "size"), units=("units", "sum"))
    grouped = grouped.reindex(list(api.INVESTMENT_STATUSES), fill_value=0).reset_index()
    return grouped.astype({"investments": "int64", "units": "int64"})[columns]


def latest_identified_investor(client: Client) -> str | None:
    """The most recently created investor whose identification succeeded (a sensible default for forms)."""
    for investor in reversed(client.investors.list().to_list()):
        if client.investors.kyc_status(investor) == "SUCCESS":
            return str(investor["id"])
    return None


def latest_holding(client: Client, product_id: str | None = None, at_least: int = 1) -> tuple[str, str, int] | None:
    """(investor id, wallet id, units) of a wallet that holds units of the product, its investor's the most recent
    delivered investment: of the wallets that hold ``at_least`` units, else the one that holds the most (review 96:
    the demo redemption of 100 units chose a holder of 1; review 97: of 60 and 50 in two wallets, as a redemption
    takes from one). None where no wallet holds any."""
    held: dict[tuple[str, str], int] = {}
    for investment in client.investments.list(status="DELIVERED", product_id=product_id or client.config.product_id):
        if (units := remaining_units(investment)) and investment.get("wallet"):
            wallet = (str(investment["investor_id"]), str(investment["wallet"]))
            held[wallet] = held.pop(wallet, 0) + units  # (the most recent last)
    enough = [wallet for wallet, units in held.items() if units >= at_least]
    chosen = enough[-1] if enough else max(held, key=held.__getitem__, default=None)
    return (*chosen, held[chosen]) if chosen else None


def investor_by_email(client: Client, email: str | None) -> str | None:
    """The id of the first (oldest) investor with this e-mail address, or None (e-mails need not be unique)."""
    found = investors_by_email(client, email)
    return found[0] if found else None


def investors_by_email(client: Client, email: str | None) -> list[str]:
    """The ids of every investor with this e-mail address, oldest first (a joint account shares one)."""
    if not email:
        return []
    wanted = email.strip().lower()
    return [
        str(investor["id"])
        for investor in client.investors.list()
        if str((investor.get("communication") or {}).get("email", "")).strip().lower() == wanted
    ]
