"""Toolkit for Cashlink's registry (Distributor) API: a small client, checks, DataFrames and notebook screens.

    import helpers
    client = helpers.connect()            # reads .env; the local sandbox by default
    client.investors.frame()              # every investor, every page, personal data masked

Three layers, each importing only the ones below it:

* ``helpers.core``: configuration, transport, errors, journal, models, resources; no pandas, no widgets, no prints;
* ``helpers.data``: DataFrames, reconciliation, bulk import (pandas);
* ``helpers.ui``: forms, walkthroughs, panels, charts and tables for people (ipywidgets).

The names below are loaded on first use, so ``import helpers`` is quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Client": "helpers.data.client",
    "ListResult": "helpers.data.client",
    "connect": "helpers.data.client",
    "Config": "helpers.core.config",
    "load_config": "helpers.core.config",
    "Record": "helpers.core.records",
    "to_frame": "helpers.data.frames",
    "money_value": "helpers.core.records",
    **{
        name: "helpers.core.errors"
        for name in (
            "APIConnectionError",
            "AuthenticationError",
            "CashlinkError",
            "ConfigurationError",
            "ConflictError",
            "ImportIncomplete",
            "InputError",
            "JournalError",
            "NotFoundError",
            "NotListed",
            "OutcomeUnknown",
            "PermissionDeniedError",
            "PossibleDuplicate",
            "RateLimitError",
            "ServerError",
            "TaskError",
            "ValidationError",
        )
    },
}

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "CashlinkError",
    "Client",
    "Config",
    "ConfigurationError",
    "ConflictError",
    "ImportIncomplete",
    "InputError",
    "JournalError",
    "ListResult",
    "NotFoundError",
    "NotListed",
    "OutcomeUnknown",
    "PermissionDeniedError",
    "PossibleDuplicate",
    "RateLimitError",
    "Record",
    "ServerError",
    "TaskError",
    "ValidationError",
    "connect",
    "load_config",
    "money_value",
    "to_frame",
]

if TYPE_CHECKING:
    from helpers.core.config import Config, load_config
    from helpers.core.errors import (
        APIConnectionError,
        AuthenticationError,
        CashlinkError,
        ConfigurationError,
        ConflictError,
        ImportIncomplete,
        InputError,
        JournalError,
        NotFoundError,
        NotListed,
        OutcomeUnknown,
        PermissionDeniedError,
        PossibleDuplicate,
        RateLimitError,
        ServerError,
        TaskError,
        ValidationError,
    )
    from helpers.core.records import Record, money_value
    from helpers.data.client import Client, ListResult, connect
    from helpers.data.frames import to_frame


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
