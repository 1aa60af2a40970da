"""Status lookups for analysts: search investors, filter investments, count and chart statuses."""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from helpers import api
from helpers.client import Client


def search_investors(client: Client, text: str = "", kyc_status: str | None = None,
                     show_personal_data: bool = False) -> pd.DataFrame:
    """Investors whose name, company, e-mail or id contains ``text`` (case-insensitive); all when empty."""
    frame = client.investors.frame(show_personal_data=show_personal_data,
                                   **({"kyc_status": kyc_status} if kyc_status else {}))
    if frame.empty or not text.strip():
        return frame
    searchable = [c for c in ("id", "natural_person.forename", "natural_person.surname",
                              "legal_person.company_name", "communication.email") if c in frame.columns]
    haystack = frame[searchable].fillna("").astype(str).agg(" ".join, axis=1).str.lower()
    return frame[haystack.str.contains(text.strip().lower(), regex=False)].reset_index(drop=True)


def status_counts(investments: pd.DataFrame) -> pd.DataFrame:
    """How many investments, and units, are in each status (every known status, zeros included)."""
    columns = ["status", "investments", "units"]
    if investments.empty:
        return pd.DataFrame({"status": list(api.INVESTMENT_STATUSES), "investments": 0, "units": 0})[columns]
    grouped = investments.groupby("status").agg(investments=("id", "size"), units=("units", "sum"))
    grouped = grouped.reindex(list(api.INVESTMENT_STATUSES), fill_value=0).reset_index()
    return grouped.astype({"investments": "int64", "units": "int64"})[columns]


def status_chart(counts: pd.DataFrame, title: str = "Investments by status") -> plt.Figure:
    shown = counts[counts["investments"] > 0]
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.barh(shown["status"], shown["investments"], color="#3b6ea8")
    axes.invert_yaxis()
    axes.set_xlabel("investments")
    axes.set_title(title)
    for y, value in enumerate(shown["investments"]):
        axes.text(value, y, f" {value}", va="center")
    figure.tight_layout()
    plt.close(figure)
    return figure


class LookupPanel(widgets.VBox):
    """Search investors and see their investments, wallets and a chart of statuses."""

    def __init__(self, client: Client, text: str = "", status: str | None = None) -> None:
        self.client = client
        self.search = widgets.Text(value=text, placeholder="name, e-mail or id", description="Search")
        self.status = widgets.Dropdown(options=[("any status", None), *[(s, s) for s in api.INVESTMENT_STATUSES]],
                                       value=status, description="Status")
        self.show_personal = widgets.Checkbox(value=False, description="show personal data", indent=False)
        self.button = widgets.Button(description="Look up", icon="search", button_style="info")
        self.output = widgets.Output()
        self.button.on_click(lambda _b: self.refresh())
        super().__init__([widgets.HBox([self.search, self.status, self.show_personal, self.button]), self.output])

    def refresh(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        investors = search_investors(self.client, self.search.value, show_personal_data=self.show_personal.value)
        investments = self.client.investments.frame(status=self.status.value)
        if self.search.value.strip():
            investments = investments[investments["investor_id"].isin(investors.get("id", []))]
        self.output.clear_output()
        with self.output:
            display(widgets.HTML(f"<h4>{len(investors)} investors</h4>"), investors)
            display(widgets.HTML(f"<h4>{len(investments)} investments</h4>"), investments)
            counts = status_counts(investments)
            display(status_chart(counts, f"Investments by status ({html.escape(self.search.value) or 'all'})"))
        return investors, investments


def latest_identified_investor(client: Client) -> str | None:
    """The most recently created investor whose identification succeeded (a sensible default for forms)."""
    identified = [i["id"] for i in client.investors.list(kyc_status="SUCCESS")]
    return identified[-1] if identified else None


def latest_holder(client: Client, product_id: str | None = None) -> str | None:
    """The investor of the most recent delivered investment that still holds units of the product."""
    holders = [i["investor_id"] for i in client.investments.list(status="DELIVERED", product_id=product_id
                                                                 or client.config.product_id)
               if i.get("remaining_units")]
    return holders[-1] if holders else None


def investor_by_email(client: Client, email: str | None) -> str | None:
    """The id of the first (oldest) investor with this e-mail address, or None (e-mails need not be unique)."""
    if not email:
        return None
    wanted = email.strip().lower()
    for investor in client.investors.list():
        if str((investor.get("communication") or {}).get("email", "")).lower() == wanted:
            return investor["id"]
    return None
