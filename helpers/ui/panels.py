"""Panels for people: look up investors and investments, import a spreadsheet of investors, reconcile a ledger."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

from helpers.core import api
from helpers.core.client import Client, OnDuplicate
from helpers.core.errors import CashlinkError
from helpers.core.records import html_badge
from helpers.data import bulk, lookup, reconcile
from helpers.data.ledger import SpreadsheetError
from helpers.ui.charts import reconciliation_chart, status_chart


class LookupPanel(widgets.VBox):
    """Search investors and see their investments and a chart of statuses."""

    def __init__(self, client: Client, text: str = "", status: str | None = None) -> None:
        self.client = client
        self.search = widgets.Text(
            value=text, placeholder="name, e-mail or id", description="Search", continuous_update=False
        )
        self.status = widgets.Dropdown(
            options=[("any status", None), *[(s, s) for s in api.INVESTMENT_STATUSES]],
            value=status,
            description="Status",
        )
        self.show_personal = widgets.Checkbox(value=False, description="show personal data", indent=False)
        self.button = widgets.Button(description="Look up", icon="search", button_style="info")
        self.output = widgets.Output()
        self.button.on_click(lambda _b: self.refresh())
        self.search.observe(lambda _c: self.refresh(), names="value")  # Enter (or leaving the box) searches
        super().__init__([widgets.HBox([self.search, self.status, self.show_personal, self.button]), self.output])

    def refresh(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        investors = lookup.search_investors(self.client, self.search.value, show_personal_data=self.show_personal.value)
        investments = self.client.investments.frame(status=self.status.value)
        if self.search.value.strip():
            investments = investments[investments["investor_id"].isin(investors.get("id", []))]
        self.output.clear_output()
        with self.output:
            display(widgets.HTML(f"<h4>{len(investors)} investors</h4>"), investors)
            display(widgets.HTML(f"<h4>{len(investments)} investments</h4>"), investments)
            chart = status_chart(
                lookup.status_counts(investments), f"Investments by status ({html.escape(self.search.value) or 'all'})"
            )
            if chart is not None:
                display(chart)
        return investors, investments


class BulkImportPanel(widgets.VBox):
    """Upload a spreadsheet, see the dry run (with rows that match existing investors), confirm, see the results."""

    def __init__(
        self, client: Client, placeholder_protocols: bool = False, workers: int = 8, on_duplicate: OnDuplicate = "use"
    ) -> None:
        self.client = client
        self.placeholder_protocols = placeholder_protocols and client.config.is_sandbox
        self.workers = workers
        self.plan: bulk.Plan | None = None
        self.results: pd.DataFrame | None = None
        self.upload = widgets.FileUpload(accept=".csv,.xlsx", multiple=False, description="Spreadsheet")
        self.duplicates = widgets.RadioButtons(
            options=[
                ("Use the existing investor (create nothing)", "use"),
                ("Update the existing investor with the row's data", "update"),
                ("Create another investor anyway", "create"),
            ],
            value=on_duplicate,
            description="Rows matching an existing investor:",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="auto"),
        )
        self.confirm = widgets.Button(
            description="Import the valid rows",
            icon="upload",
            button_style="success",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.confirm.add_class("cl-bulk-confirm")
        self.output = widgets.Output()
        self.upload.observe(lambda _c: self._on_upload(), names="value")
        self.confirm.on_click(lambda _b: self.run_import())
        super().__init__(
            [
                widgets.HTML(
                    f"<p>{html_badge(client.config)} Upload a CSV or Excel file in the template's "
                    "format. Nothing is sent until you confirm.</p>"
                ),
                self.upload,
                self.output,
                self.duplicates,
                self.confirm,
            ]
        )

    def _on_upload(self) -> None:
        if self.upload.value:
            item = self.upload.value[0]
            self.dry_run(bytes(item["content"]), item["name"])

    def dry_run(self, source: str | Path | bytes, name: str | None = None) -> bulk.Plan | None:
        self.output.clear_output()
        with self.output:
            try:
                self.plan = bulk.read_investors(source, name, self.placeholder_protocols, client=self.client)
            except SpreadsheetError as exc:
                display(exc)
                self.confirm.disabled = True
                return None
            print(self.plan.summary())
            if len(self.plan.problems):
                display(
                    widgets.HTML("<b>Rows with problems</b> (they will be skipped; fix and re-upload)"),
                    self.plan.problems,
                )
            if len(self.plan.matches):
                display(
                    widgets.HTML(
                        "<b>Rows that match investors the registry already has</b> (choose below what to do with them)"
                    ),
                    self.plan.matches,
                )
            display(widgets.HTML("<b>Rows ready to import</b>"), self.plan.preview())
        self.confirm.disabled = not self.plan.valid
        return self.plan

    def run_import(self) -> pd.DataFrame | None:
        if self.plan is None:
            return None
        self.confirm.disabled = True
        with self.output:
            self.results = bulk.import_investors(
                self.client, self.plan, workers=self.workers, on_duplicate=self.duplicates.value
            )
            counts = self.results["status"].value_counts().to_dict()
            print("Done: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".")
            display(self.results)
        self.confirm.disabled = False  # running again is safe: it completes what is missing
        return self.results


class ReconciliationPanel(widgets.VBox):
    """Upload a ledger, choose the threshold for 'stuck', and see the report; exports go to ``output_dir``."""

    def __init__(self, client: Client, output_dir: str | Path = "reports", stuck_after_days: int = 3) -> None:
        self.client = client
        self.output_dir = Path(output_dir)
        self.report: reconcile.Reconciliation | None = None
        self.upload = widgets.FileUpload(accept=".csv,.xlsx", multiple=False, description="Ledger")
        self.days = widgets.BoundedIntText(
            value=stuck_after_days,
            min=0,
            max=3650,
            description="Stuck after (days)",
            style={"description_width": "initial"},
        )
        self.button = widgets.Button(description="Reconcile", icon="balance-scale", button_style="primary")
        self.output = widgets.Output()
        self.button.on_click(lambda _b: self._run_upload())
        super().__init__([widgets.HBox([self.upload, self.days, self.button]), self.output])

    def _run_upload(self) -> None:
        if self.upload.value:
            item = self.upload.value[0]
            self.run(bytes(item["content"]), item["name"])

    def run(self, source: str | Path | bytes, name: str | None = None) -> reconcile.Reconciliation | None:
        """Read the ledger, reconcile, and show summary, chart, details and the exported files."""
        self.output.clear_output()
        with self.output:
            try:
                ledger = reconcile.read_ledger(source, name)
                self.report = reconcile.reconcile(self.client, ledger, stuck_after=timedelta(days=self.days.value))
            except CashlinkError as exc:
                display(exc)
                return None
            stem = Path(name).stem if name else Path(source).stem if isinstance(source, (str, Path)) else "ledger"
            print(self.report.headline())
            display(self.report.summary(), reconciliation_chart(self.report), self.report.styled())
            print(
                "Exported:",
                self.report.to_csv(self.output_dir / f"reconciliation-{stem}.csv"),
                "and",
                self.report.to_excel(self.output_dir / f"reconciliation-{stem}.xlsx"),
            )
        return self.report
