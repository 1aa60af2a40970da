"""A read-only first contact with a registry: what holds there, among the open points of the documentation
(section 6 of the API reference). :meth:`Client.check_api` returns the rows; the client keeps what it learned in
``client.capabilities`` (e.g. the API prefix that answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpers.core import api
from helpers.core.client import numbered_pages, page_items
from helpers.core.errors import CashlinkError

if TYPE_CHECKING:
    from helpers.core.client import Client

PROBE = "00000000-0000-4000-8000-000000000000"  # an id no object has: a filter that works returns nothing


def _row(check: str, finding: str, action: str) -> dict[str, str]:
    return {"check": check, "finding": finding, "what the client does": action}


def _page(client: Client, path: str, params: dict[str, Any] | None = None) -> tuple[list[Any], int | None, Any]:
    answer = client.transport.get(path, "probe the registry", params)
    items, count, next_url = page_items(answer.body, "probe the registry")
    return items, count, (answer.body, next_url)


def probe(client: Client) -> list[dict[str, str]]:
    client.check_connection()
    rows = [*_session_rows(client), *_prefix_rows(client)]
    items, count, paging = _paging_rows(client)
    rows += [*paging, *_filter_rows(client, count), *_field_rows(client, items)]
    client.capabilities["probed"] = True
    return rows


def _session_rows(client: Client) -> list[dict[str, str]]:
    """The token's scopes and the environment."""
    rows: list[dict[str, str]] = []
    config = client.config
    granted = client.transport.granted_scopes
    rows.append(
        _row(
            "token scopes",
            granted or f"not stated (asked for: {config.scopes})",
            "asks for CASHLINK_SCOPES; a missing scope is named in the error",
        )
    )
    rows.append(
        _row(
            "environment",
            f"{client.environment} ({config.host})",
            "writes that move units on production need a second confirmation"
            if client.environment == "production"
            else "writes need no extra confirmation",
        )
    )
    return rows


def _prefix_rows(client: Client) -> list[dict[str, str]]:
    """Which API prefixes answer."""
    rows: list[dict[str, str]] = []
    config = client.config
    prefixes = []
    for prefix in dict.fromkeys((config.api_prefix, "/v2", "/distributor/v2")):
        try:
            client.transport.get(f"{config.root_url}{prefix}{api.INVESTORS}", "probe the registry", {"page_size": 1})
            prefixes.append(prefix)
        except CashlinkError:
            continue
    client.capabilities["prefixes"] = prefixes
    rows.append(
        _row(
            "API prefix",
            ", ".join(prefixes) or "none answered",
            f"uses {config.api_prefix}"
            + ("" if config.api_prefix in prefixes else " (set CASHLINK_API_PREFIX to one that answers)"),
        )
    )
    return rows


def _paging_rows(client: Client) -> tuple[list[Any], int | None, list[dict[str, str]]]:
    """How lists are paged and shaped; also the first investments and their count, which later rows look at."""
    rows: list[dict[str, str]] = []
    config = client.config
    items, count, (body, next_url) = _page(client, api.INVESTMENTS, {"page_size": 2})
    shape = "page envelope {count, next, previous, results}" if isinstance(body, dict) else "bare array"
    honoured = None if not count or count <= 2 else len(items) <= 2
    client.capabilities["page_size_honoured"] = honoured
    rows.append(
        _row(
            "page size",
            "page_size=2 "
            + {
                None: "cannot tell (2 investments or fewer)",
                True: "honoured",
                False: f"ignored ({len(items)} per page)" if next_url else f"ignored (all {len(items)} on one page)",
            }[honoured],
            f"asks for {config.page_size} per page; follows next either way",
        )
    )
    style = (
        "page numbers (?page=N)"
        if numbered_pages(next_url)
        else ("a cursor or position" if next_url else "cannot tell (one page)")
    )
    client.capabilities["numbered_pages"] = bool(numbered_pages(next_url))
    rows.append(
        _row(
            "next links",
            style,
            "fetches the remaining pages concurrently"
            if numbered_pages(next_url)
            else "follows next one page at a time",
        )
    )
    rows.append(_row("list shape (investments)", shape, "accepts an envelope or a bare array for every list"))
    return items, count, rows


def _filter_rows(client: Client, count: int | None) -> list[dict[str, str]]:
    """Which filters of the investments list the registry honours."""
    rows: list[dict[str, str]] = []
    ignored = []
    for name in ("investor_id", "product_id", "campaign_id"):
        _items, filtered, _ = _page(client, api.INVESTMENTS, {name: PROBE, "page_size": 1})
        if count and filtered:
            ignored.append(name)
    _items, filtered, _ = _page(client, api.INVESTMENTS, {"status": "PAYMENT_MISSING", "page_size": 50})
    if any(item.get("status") != "PAYMENT_MISSING" for item in _items):
        ignored.append("status")
    client.capabilities["filters_ignored_by_probe"] = ignored
    rows.append(
        _row(
            "investment filters",
            "ignored: " + ", ".join(ignored) if ignored else "investor_id, product_id, campaign_id, status honoured",
            "filters every list again on this side, and says when the registry ignored a filter",
        )
    )
    return rows


def _field_rows(client: Client, items: list[Any]) -> list[dict[str, str]]:
    """Which undocumented fields answers have, and the shape of an investor's sub-lists."""
    rows: list[dict[str, str]] = []
    sample = items[0] if items else None
    investors, _count, _ = _page(client, api.INVESTORS, {"page_size": 1})
    fields = []
    if sample is not None:
        for name in ("remaining_amount", "remaining_units", "status_changed_at"):
            fields.append(f"{name} {'present' if name in sample else 'absent'}")
        money = sample.get("investment_amount") or {}
        if isinstance(money, dict) and "decimals" in money:
            fields.append(f"money decimals {money['decimals']}")
    if investors:
        fields.append(f"kyc_status {'present' if 'kyc_status' in investors[0] else 'absent'}")
    rows.append(
        _row(
            "fields",
            ", ".join(fields) or "no investments or investors to look at",
            "holdings from remaining_amount (remaining_units when sent); time in status from the "
            "documented timestamps; KYC from identifications when kyc_status is absent",
        )
    )
    if investors:
        investor_id = investors[0]["id"]
        for what, template in (("wallets", api.WALLETS_OF_INVESTOR), ("identifications", api.IDENTIFICATIONS)):
            try:
                answer = client.transport.get(template.format(investor_id=investor_id), "probe the registry")
                kind = "page envelope" if isinstance(answer.body, dict) else "bare array"
            except CashlinkError as exc:
                kind = f"not readable ({type(exc).__name__})"
            rows.append(_row(f"list shape ({what})", kind, "accepts either"))
    return rows
