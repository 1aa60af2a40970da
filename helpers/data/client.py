"""The client analysts use: the core client, with lists, holdings and the audit trail as DataFrames.

>>> import helpers
>>> client = helpers.connect()
>>> client.investments.frame(status="PAID")
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import api
from helpers.core import client as core
from helpers.core.config import Config, load_config
from helpers.data.frames import EMPTY_COLUMNS, progress_bar, to_frame, with_remaining_units

ListResult = core.ListResult
log = logging.getLogger("helpers")


class Client(core.Client):
    """A connection to the registry API whose lists become DataFrames (``.frame()``)."""

    def tabulate(
        self, records: Any, show_personal_data: bool = False, progress: bool = True, **_options: Any
    ) -> pd.DataFrame:
        """``records`` as a tidy DataFrame for code (every field, one column each, personal data masked unless
        asked); a list that takes more than two seconds shows a progress bar. Screens for people (name first,
        formatted, no empty cells) are the panels' and walkthroughs' tables (``helpers.ui.tables``)."""
        path = getattr(records, "path", "")
        columns = EMPTY_COLUMNS.get(path, ("id",))
        with progress_bar(records, progress):
            frame = to_frame(records, show_personal_data=show_personal_data, columns=columns)
        return with_remaining_units(frame) if path == api.INVESTMENTS else frame

    def check_api(self) -> pd.DataFrame:  # type: ignore[override]  # (the core's rows, as the table they are)
        """Probe the registry read-only and say what holds there, one row per check (``check``, ``finding``, …);
        the client adapts to what it finds. The table to report where a message asks for it."""
        return pd.DataFrame(super().check_api())

    def holdings(self, *, investor_id: str | None = None, product_id: str | None = None) -> pd.DataFrame:
        """Units held per investor, wallet and product (delivered investments' remaining holdings)."""
        frame = pd.DataFrame(
            self.holding_rows(investor_id=investor_id, product_id=product_id),
            columns=["investor_id", "wallet_id", "product_id", "units"],
        )
        frame["units"] = frame["units"].astype("Int64")
        return frame

    def audit_frame(self) -> pd.DataFrame:
        """Every write this toolkit sent to this registry (no personal data)."""
        frame = pd.DataFrame(
            self.audit(), columns=["at", "registry", "client_id", "operation", "reference", "registry_id", "outcome"]
        )
        frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
        return frame

    def export_audit(self, path: str | Path) -> Path:
        """The audit trail of this registry as CSV."""
        return self.journal.export_audit(path, self.config.root_url)

    def _repr_html_(self) -> str:
        from helpers.core.records import html_badge

        return html_badge(self) + f"<p>{self.describe()}</p>"


def connect(config: Config | None = None, **overrides: Any) -> Client:
    """A ready client for the API configured in `.env` (the local sandbox by default): credentials are checked
    now, so a mistake shows at once. Show ``client`` in a notebook to see where it is connected."""
    client = Client(config or load_config(**overrides))
    client.check_connection()
    log.info(client.describe())
    return client
