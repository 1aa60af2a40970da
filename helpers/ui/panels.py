"""Panels for people: look up investors and investments, import a spreadsheet of investors, reconcile a ledger."""

from __future__ import annotations

import base64
import html
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML, display
from ipywidgets.widgets.widget import _instances

from helpers import saving
from helpers.core import api, checks, models
from helpers.core.client import Client, FilterIgnoredWarning, OnDuplicate
from helpers.core.errors import CashlinkError, ImportIncomplete, InputError, NotListed, PermissionDeniedError
from helpers.core.records import Record, html_badge
from helpers.core.resources import investor_name
from helpers.data import bulk, lookup, reconcile
from helpers.data.frames import to_frame
from helpers.data.ledger import UPLOADS, SpreadsheetError
from helpers.ui import tables
from helpers.ui.charts import png, reconciliation_chart, status_chart
from helpers.ui.forms import ERROR_STYLE, STYLE, close_all, error_sentence, message_html, replaces_the_last


class ClosingOutput(widgets.Output):
    """An Output whose widgets (tables, progress bars) made while something was shown in it are closed when it is
    cleared: the kernel drops them and a saved notebook keeps only what is shown."""

    def __init__(self) -> None:
        super().__init__()
        self._made: list[widgets.Widget] = []

    @contextmanager
    def showing(self) -> Iterator[None]:
        """Show into this output; note the widgets made meanwhile."""
        before = set(_instances)
        try:
            with self:
                yield
        finally:
            self._made.extend(widget for key, widget in list(_instances.items()) if key not in before)

    def clear(self) -> None:
        self.clear_output()
        for widget in self._made:
            close_all(widget)
        self._made.clear()


class Overview(widgets.VBox):
    """Where the toolkit is connected, what holds on that registry (``client.check_api()``, read-only), the
    products and campaigns, and the investments so far by status."""

    def __init__(self, client: Client, probe: bool = True) -> None:
        self.client = client
        self.findings = pd.DataFrame(client.check_api()).to_dict("records") if probe else []  # (either client)
        products = client.products.list().to_list()
        campaigns = client.campaigns.list().to_list()
        investments = client.investments.frame()
        self.counts = lookup.status_counts(investments)
        product_table = tables.people_frame(
            products,
            [
                ("Product", tables.field("name")),
                ("Type", lambda r: api.in_words("product_type", r.get("product_type"))),  # Bond, not BOND
                ("Issuance price", lambda r: tables.field("issuance_price")(r) or tables.field("price_per_unit")(r)),
                ("Product id", tables.id_of()),
            ],
        )
        campaign_table = tables.people_frame(
            campaigns,
            [
                ("Campaign", tables.field("name")),
                ("Units available", tables.field("available_units")),
                ("Price per unit", tables.field("price_per_unit")),
                ("Campaign id", tables.id_of()),
            ],
        )
        shown = self.counts[self.counts["investments"] > 0]
        parts: list[widgets.Widget] = [
            message_html(f"{STYLE}<h2>Connection {html_badge(client)}</h2><p>{html.escape(client.describe())}</p>"),
        ]
        if self.findings:
            found = pd.DataFrame(self.findings).rename(columns=str.capitalize).map(html.escape)
            parts += [
                message_html(
                    "<h3>What holds on this registry</h3><p>A read-only first contact: where the documentation "
                    "leaves a point open, what this registry answers, and what the toolkit does about it.</p>"
                ),
                message_html(tables.static_html(found)),
            ]
        parts += [
            message_html("<h3>Products</h3>"),
            tables.interactive(product_table) if len(product_table) else message_html(tables.empty_note("products")),
            message_html("<h3>Campaigns</h3>"),
            tables.interactive(campaign_table) if len(campaign_table) else message_html(tables.empty_note("campaigns")),
            message_html("<h3>Investments so far, by status</h3>"),
        ]
        if shown.empty:
            parts.append(message_html(tables.empty_note("investments yet")))
        else:
            chart = widgets.Output()
            with chart:
                figure = status_chart(self.counts)
                if figure is not None:
                    display(png(figure))
            parts += [
                message_html(
                    tables.static_html(
                        tables.humanize(
                            shown.assign(status=shown["status"].map(api.status_label)),
                            {"status": "Status", "investments": "Investments", "units": "Units"},
                        )
                    )
                ),
                chart,
            ]
        super().__init__(parts)
        self.add_class("cl-panel")
        replaces_the_last(self)  # a cell run again: the earlier panel (its tables, its people) is closed


class LookupPanel(widgets.VBox):
    """Search investors (Enter or the button) and see their investments, holdings and a chart of statuses."""

    ANY = "any"
    PLACEHOLDER = "name, e-mail or id"
    KEPT = "your search is kept"  # the box once a search is read (beside "Clear the search"): review 71

    def __init__(self, client: Client, text: str = "", status: str | None = None) -> None:
        self.client = client
        self.search = widgets.Text(  # empty: a search given (a name, an e-mail) is kept in .query, not in the box
            value="", placeholder=self.PLACEHOLDER, description="Search", continuous_update=False
        )
        self.search.add_class("cl-search")
        self.status = widgets.Dropdown(
            options=[("any status", self.ANY), *[(api.status_label(s), s) for s in api.INVESTMENT_STATUSES]],
            value=status or self.ANY,
            description="Status",
        )
        self.status.add_class("cl-status-filter")
        self.show_personal = widgets.Checkbox(value=False, description="show personal data", indent=False)
        self._forgetting = False  # the search box is being emptied after a search: no new search
        self.button = widgets.Button(
            description="Look up", icon="search", button_style="info", layout=widgets.Layout(width="auto")
        )
        self.button.add_class("cl-lookup")
        self.clear_button = widgets.Button(  # shown while a search is in force (the box is emptied once read)
            description="Clear the search",
            icon="times",
            layout=widgets.Layout(width="auto", flex="0 0 auto", display="none"),  # never shrunk to 'Clear th…'
        )
        self.clear_button.add_class("cl-clear-search")
        self.clear_button.on_click(lambda _b: self._clear())
        self.output = widgets.VBox([])
        self.investors: pd.DataFrame = pd.DataFrame()
        self.investments: pd.DataFrame = pd.DataFrame()
        self.query = text.strip()  # the search shown (kept here, not in the box: see _refresh_shown)
        self.identification_note = ""  # why the investors' Identification column is left out, if it is
        self.filter_notes: list[str] = []  # that the registry ignored the status filter (the toolkit applies it)
        self.button.on_click(lambda _b: self._look_up())  # an empty box: the search in force, read again
        self.search.observe(  # Enter (or leaving the box) searches
            lambda change: self._refresh_shown(new_search=True) if change["new"] else None, names="value"
        )
        self.status.observe(lambda _c: self._refresh_shown(), names="value")
        self.show_personal.observe(lambda _c: self._refresh_shown(), names="value")  # shown at once
        super().__init__(
            [
                message_html(f"{STYLE}<p>{html_badge(client)} Read-only: nothing here changes the registry.</p>"),
                widgets.HBox([self.search, self.status, self.show_personal, self.button, self.clear_button]),
                self.output,
            ]
        )
        self.add_class("cl-panel")
        replaces_the_last(self)  # a cell run again: the earlier panel (its tables, its people) is closed

    def _look_up(self) -> None:
        """'Look up': what is typed in the box; with the box empty, the search in force again (read anew). A click
        right after typing arrives after the box's own search (the box sends its text as it loses focus, and is
        emptied once read): it is that search again, never 'everyone', which is 'Clear the search'."""
        self._refresh_shown(new_search=bool(self.search.value.strip()))

    def _clear(self) -> None:
        """'Clear the search': everyone again, with the status chosen."""
        self.query = ""
        self._refresh_shown(new_search=True)

    def _refresh_shown(self, new_search: bool = False) -> None:
        """A search started from the panel: a registry or network error is shown in it as a sentence (in a widget's
        callback it would only reach the kernel's log, and the panel would not change). A new search empties the
        box once read (a name or an e-mail typed would stay in a saved notebook); the status filter and 'show
        personal data' show the same search again."""
        if self._forgetting:
            return
        if new_search:
            self.query = self.search.value.strip()
        try:
            self.refresh()
        except CashlinkError as exc:
            self._show([message_html(error_html(exc))])  # the sentence, and a table of field errors
        if self.search.value:
            self._forgetting = True
            try:
                self.search.value = ""
            finally:
                self._forgetting = False

    IDENTIFICATIONS_READ_AT_MOST = 30  # investors shown whose identifications are read (one request each)

    def _with_identification(self, records: list[Record]) -> list[Record]:
        """The investors shown, each with its KYC status: read from its identifications where the registry sends
        none with the investor (section 6, F), for a few investors at once (many: the column is left out)."""
        self.identification_note = ""
        if any("kyc_status" in r for r in records):
            return records
        if len(records) > self.IDENTIFICATIONS_READ_AT_MOST:
            self.identification_note = (
                "This registry sends no identification status with its investors: it is read from their "
                f"identifications for up to {self.IDENTIFICATIONS_READ_AT_MOST} investors shown at once. Search to "
                "see it."
            )
            return records
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(self.client.investors.kyc_status, records))
        except (NotListed, PermissionDeniedError) as exc:  # identifications cannot be read here
            why = (
                "the registry offers no list of them" if isinstance(exc, NotListed) else "not with this client's scopes"
            )
            self.identification_note = (
                "This registry sends no identification status with its investors, and their identifications cannot "
                f"be read ({why}): the Identification column is left out."
            )
            return records
        return [Record({**record, "kyc_status": status}) for record, status in zip(records, statuses, strict=True)]

    def _product_names(self) -> dict[str, str]:
        """Product id -> name, for the holdings (none where the products cannot be listed: short ids then)."""
        try:
            return {str(p.get("id")): str(p.get("name") or "") for p in self.client.products.list()}
        except (NotListed, PermissionDeniedError):
            return {}

    def _show(self, parts: list[widgets.Widget]) -> None:
        """Show ``parts`` in place of what was shown, and close what they replace (earlier tables keep names)."""
        replaced = self.output.children
        self.output.children = tuple(parts)
        for widget in replaced:
            close_all(widget)

    def refresh(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Search now (the box's text, else the search shown); the tidy frames (for programs) are returned, people
        see formatted tables."""
        text = checks.visible(self.search.value).strip() or self.query  # (a pasted id with a direction mark)
        status = None if self.status.value == self.ANY else self.status.value
        with warnings.catch_warnings(record=True) as caught:  # said in the panel, not as a red box above it
            warnings.simplefilter("always", FilterIgnoredWarning)
            everyone = self.client.investors.list().to_list()
            records = [r for r in everyone if lookup.matches(r, text)]
            ids = {str(r["id"]) for r in records}
            listed = self.client.investments.list(status=status).to_list()  # read once
            investments = [i for i in listed if not text or str(i.get("investor_id")) in ids]
            by_id = bool(text and not records and lookup.may_be_an_id(text))
            if by_id:  # an investment's or a wallet's id: its investor (whatever the status), and what the id names
                named = lookup.with_id(self.client.investments.list().to_list() if status else listed, text)
                ids = {str(i.get("investor_id")) for i in named}
                records = [r for r in everyone if str(r["id"]) in ids]
                investments = [i for i in named if not status or str(i.get("status")) == status]
            names = {str(r["id"]): investor_name(r) for r in records}
        for warning in caught:
            if issubclass(warning.category, FilterIgnoredWarning):  # (said once by the client: kept for the panel)
                self.filter_notes = list(dict.fromkeys([*self.filter_notes, str(warning.message)]))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        notes = self.filter_notes if status else []
        self.investors = to_frame(records, show_personal_data=self.show_personal.value)
        self.investments = to_frame(investments)
        where = "matching your search" if text else "in the registry"  # (not repeated: it may be an e-mail)
        self.clear_button.layout.display = None if text else "none"
        self.search.placeholder = self.KEPT if text else self.PLACEHOLDER
        parts: list[widgets.Widget] = [
            message_html(f"<h4>{len(records)} investor{'s' if len(records) != 1 else ''} {html.escape(where)}</h4>")
        ]
        if records:  # by name, as a person looks for one (the registry's order is its own; review 71)
            records = sorted(self._with_identification(records), key=lambda r: investor_name(r).casefold())
            columns = list(tables.INVESTOR_COLUMNS)
            if self.show_personal.value:
                iban = lambda r: tables.spaced_iban((r.get("bank_account") or {}).get("iban"))  # shown as asked
                columns.insert(3, (models.label("bank_account.iban"), iban))
            parts.append(tables.interactive(tables.people_frame(records, columns), names_people=True))
            if self.identification_note:  # why the Identification column is left out
                parts.append(message_html(f"<p>{html.escape(self.identification_note)}</p>"))
        else:
            parts.append(
                message_html(
                    "<p>No investor matches. Try part of a name, an e-mail address, or an id (at least its first 8 "
                    "characters) of an investor, of an investment or of a wallet that holds one.</p>"
                )
            )
        whose = "this investor" if len(records) == 1 else "these investors"
        label = " matching your search" if by_id else f" of {whose}" if text and records else ""
        label += f", status: {api.status_label(status)}" if status else ""
        parts.append(
            message_html(f"<h4>{len(investments)} investment{'s' if len(investments) != 1 else ''}{label}</h4>")
        )
        parts += [message_html(f"<p><i>Note: {html.escape(note)}</i></p>") for note in notes]  # (of investments)
        if investments:
            parts.append(
                tables.interactive(
                    tables.people_frame(investments, tables.investment_columns(names)), names_people=True
                )
            )
            chart = status_chart(lookup.status_counts(self.investments), "Investments by status")
            if chart is not None:
                box = widgets.Output()
                with box:
                    display(png(chart))
                parts.append(box)
            holdings = self.client.holding_rows()
            held = [h for h in holdings if h["units"] and (not text or h["investor_id"] in ids)]  # (all redeemed: none)
            parts.append(
                message_html(
                    f"<h4>Holdings: {len(held)} wallet{'s' if len(held) != 1 else ''} with units (of delivered "
                    "investments)</h4>"
                )
            )
            if held:
                # every holder shown is among the investors read above (all of them when nothing is searched)
                held_columns = tables.holding_columns(names, products=self._product_names())
                parts.append(tables.interactive(tables.people_frame(held, held_columns), names_people=True))
        else:
            parts.append(message_html("<p>No investments to show (so no chart).</p>"))
        self._show(parts)
        return self.investors, self.investments


class BulkImportPanel(widgets.VBox):
    """Upload a spreadsheet, see the dry run (with rows that match existing investors), confirm, see the results."""

    def __init__(
        self, client: Client, placeholder_protocols: bool = False, workers: int = 8, on_duplicate: OnDuplicate = "use"
    ) -> None:
        self.client = client
        self.placeholder_protocols = placeholder_protocols and client.is_sandbox
        self.workers = workers
        self.plan: bulk.Plan | None = None
        self.results: pd.DataFrame | None = None
        self._imported: bulk.Plan | None = None  # the plan the results are of
        self._imported_choice: OnDuplicate | None = None  # and the choice for rows matching an investor
        self._import_asked = False  # run_import was called (a click, or an unattended run)
        self._demo = False  # the dry run's file is the demo sample as committed (its mistakes are on purpose)
        self.summary = ""  # what the last import did, in a sentence
        self.upload = widgets.FileUpload(accept=UPLOADS, multiple=False, description="Spreadsheet")
        self.duplicates = widgets.RadioButtons(
            options=[
                ("Use the existing investor (create nothing)", "use"),
                ("Update the existing investor with the row's data", "update"),
                ("Create another investor anyway", "create"),
            ],
            value=on_duplicate,
            description="Rows matching an existing investor:",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="auto", display="none"),  # shown once a dry run finds such rows
        )
        self.confirm = widgets.Button(
            description="Import the valid rows",
            icon="upload",
            button_style="success",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.confirm.add_class("cl-bulk-confirm")
        self.hint = message_html("")  # why a click sent nothing
        self.output = ClosingOutput()
        self.upload.observe(lambda _c: self._on_upload(), names="value")
        self.confirm.on_click(lambda _b: self.run_import())
        self.template = widgets.Button(  # (never shrunk to 'Save the template next to thi…' by its sentence)
            description="Save the template next to this notebook",
            icon="download",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self.template.add_class("cl-bulk-template")
        self.template_note = message_html("")
        self.template.on_click(lambda _b: self.save_template())
        super().__init__(
            [
                message_html(
                    f"{STYLE}<p>{html_badge(client)} Upload a CSV or Excel file in the template's "
                    "format. Nothing is sent until you confirm.</p>"
                ),
                widgets.HBox([self.template, self.template_note], layout=widgets.Layout(flex_flow="row wrap")),
                self.upload,
                self.output,
                self.duplicates,
                self.confirm,
                self.hint,
            ]
        )
        self.add_class("cl-panel")
        replaces_the_last(self)  # a cell run again: the earlier panel (its tables, its people) is closed

    def save_template(self, folder: str | Path | None = None) -> Path:
        """A copy of the template in ``folder`` (the notebook's, by default), where the file browser shows it; an
        earlier copy is kept (it may hold rows already)."""
        target = Path(folder or Path.cwd()) / bulk.TEMPLATE.name
        # the app (Voilà) has no file browser, and serves no .csv: a link that downloads the template itself
        download = (
            f"<a download='{html.escape(bulk.TEMPLATE.name)}' href='data:text/csv;base64,"
            f"{base64.b64encode(bulk.TEMPLATE.read_bytes()).decode()}'>download the template</a>"
        )
        if target.exists():
            self.template_note.value = (
                f"<p>{html.escape(target.name)} is there already (next to this notebook): open it from JupyterLab's "
                f"file browser (it was not replaced, as it may hold your rows), or {download}.</p>"
            )
            return target
        with open(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb") as handle:  # rows of people
            handle.write(bulk.TEMPLATE.read_bytes())  # will fill it: readable by you only, as the journal is
        self.template_note.value = (
            f"<p>Saved as {html.escape(target.name)} next to this notebook: open it from JupyterLab's file browser, "
            f"or {download}; replace the example row with your investors' rows, and upload it here.</p>"
        )
        return target

    def _on_upload(self) -> None:
        if self.upload.value:
            item = self.upload.value[0]
            content, name = bytes(item["content"]), item["name"]
            self.upload.value = ()  # read once: the people in it are not kept in the widget's (saved) state
            self.dry_run(content, name)

    def dry_run(self, source: str | Path | bytes, name: str | None = None) -> bulk.Plan | None:
        self.output.clear()
        self.hint.value = ""
        self._demo = bulk.is_demo_sample(source)
        self._import_asked = False  # (a new sheet: an earlier one's import says nothing of it; review 65)
        self.plan, self.confirm.disabled = None, True  # a file that cannot be read leaves nothing to import
        self.confirm.description = "Import the valid rows"
        with self.output.showing():
            try:
                self.plan = bulk.read_investors(source, name, self.placeholder_protocols, client=self.client)
            except SpreadsheetError as exc:
                display(HTML(error_html(exc)))
                self.confirm.disabled = True
                return None
            display(HTML(f"<p><b>{html.escape(self.plan.summary())}</b></p>"))
            if len(self.plan.problems):
                display(
                    HTML(
                        tables.static_html(
                            tables.humanize(
                                self.plan.problems, {**PROBLEM_LABELS, "reference": "Reference", "name": "Name"}
                            ),
                            "Rows with problems (they will be skipped; fix and re-upload)",
                            names_people=True,
                        )
                    )
                )
            if len(self.plan.matches):
                display(
                    HTML(
                        tables.static_html(
                            tables.humanize(self.plan.matches, BULK_MATCH_LABELS, ids=("existing_investor_id",)),
                            "Rows that match investors the registry already has or an earlier row "
                            + (
                                "(choose below what to do with them)"
                                if self.plan.deciding
                                else "(the same data: not made again)"
                            ),
                            names_people=True,
                        )
                    )
                )
            if self.plan.valid:  # (no heading over an empty table)
                ready = self.plan.preview()
                ready["wallet"] = [api.in_words("type", kind) for kind in ready["wallet"]]  # not 'eth-managed'
                preview = tables.humanize(ready, {c: c.capitalize() for c in ready.columns})
                display(HTML(tables.static_html(preview, "Rows ready to import", names_people=True)))
        self.confirm.disabled = not self.plan.valid
        self.duplicates.layout.display = None if self.plan.deciding else "none"  # asked only where it decides
        return self.plan

    def run_import(self) -> pd.DataFrame | None:
        """Import the dry run's valid rows; the results replace the dry run. A second click that arrives once every
        row is done (a double-click) changes nothing; rows that failed or wait for a decision can be run again."""
        self._import_asked = True  # (a file that could not be read: said by raise_for_rows_not_done)
        if self.plan is None:
            return None
        again = self.results is not None and self._imported is self.plan
        if again and (not self._rows_left(retry_only=self.duplicates.value == self._imported_choice)):
            if not self.hint.value:  # (said with the result already: the second click of a double-click adds nothing)
                self._say_what_waits()
            return self.results  # a second click of a double-click, or nothing a new run could change
        self.hint.value = ""
        earlier = self.results if again else None
        self.confirm.disabled = True
        self.output.clear()  # 'Nothing has been sent yet' is no longer true
        with self.output.showing():
            bar = widgets.IntProgress(
                value=0, min=0, max=max(self.plan.valid, 1), description="Importing", bar_style="info"
            )
            rows = f"{self.plan.valid} {bulk.plural(self.plan.valid, 'row')}"  # (1 of 1 row)
            counter = widgets.Label(f"0 of {rows}")
            display(widgets.HBox([bar, counter]))

            def row_done(done: int) -> None:
                bar.value, counter.value = done, f"{done} of {rows}"

            self.results = bulk.import_investors(
                self.client,
                self.plan,
                workers=self.workers,
                on_duplicate=self.duplicates.value,
                progress=False,  # the bar above, not tqdm's text lines (kept in a saved notebook)
                on_row_done=row_done,
            )
            kept: set[int] = set()
            if earlier is not None:  # a row this panel created a moment ago stays 'created' (with its ids)
                self.results, kept = _kept_outcomes(earlier, self.results)
            bar.bar_style = "warning" if self.results["status"].isin(bulk.FAILED).any() else "success"
            this_run = self.results[~self.results["row"].isin(kept)]
            counts = this_run["status"].value_counts().to_dict()
            done = ("Done in this run: " if kept else "Done: ") + (
                ", ".join(
                    f"{n} {status if n == 1 else str(status).replace('needs', 'need')}" for status, n in counts.items()
                )
                or "nothing"
            )
            if kept:
                done += f"; {len(kept)} {'row' if len(kept) == 1 else 'rows'} done by the earlier run"
            skipped = self.plan.problems["row"].nunique() if len(self.plan.problems) else 0
            if skipped:
                done += (
                    f"; {skipped} {'row' if skipped == 1 else 'rows'} with problems not imported (fix and re-upload)"
                )
            self.summary = f"{done}."
            display(HTML(f"<p><b>{html.escape(self.summary)}</b></p>"))
            matches = self.plan.matches
            names = dict(zip(matches["existing_investor_id"].astype(str), matches["existing_name"], strict=True))
            display(tables.interactive(bulk_results_table(self.results, kept, names), names_people=True))
            if len(self.plan.problems):  # still to fix: the rows the import skipped, as the dry run said
                display(
                    HTML(
                        tables.static_html(
                            tables.humanize(
                                self.plan.problems, {**PROBLEM_LABELS, "reference": "Reference", "name": "Name"}
                            ),
                            "Rows with problems, not imported (fix them and upload the spreadsheet again)",
                            names_people=True,
                        )
                    )
                )
        self._imported, self._imported_choice = self.plan, self.duplicates.value
        left = self._rows_left()
        self.confirm.disabled = not left  # running again is safe: it completes what is missing
        self.confirm.description = f"Import the {left} remaining row{'s' if left != 1 else ''}" if left else "Imported"
        if left and not self._rows_left(retry_only=True):  # what is left waits for another answer: said now, with
            self._say_what_waits(clicked=False)  # the result (a double-click's second click said it as a failure)
        return self.results

    def _say_what_waits(self, clicked: bool = True) -> None:
        """Rows left that wait for a decision the chosen answer cannot make: said under the button once a run ends
        with them, and on a click that sends nothing because of them (it looked ignored)."""
        assert self.results is not None
        waiting = self.results.loc[self.results["status"] == "needs a decision", "row"].astype(int).tolist()
        if not waiting:
            return
        rows = f"row{'s' if len(waiting) > 1 else ''} {', '.join(map(str, waiting))}"
        said = f"{rows} {'wait' if len(waiting) > 1 else 'waits'} for a decision the chosen answer cannot make"
        self.hint.value = (
            f"<p>{'Nothing was sent: ' + said if clicked else said[0].upper() + said[1:]} (see 'What to do' in the "
            "table). Choose another answer above, or do what the row says, then click again.</p>"
        )

    def raise_for_rows_not_done(self) -> None:
        """After an unattended import: raise :class:`~helpers.ImportIncomplete` where rows failed, never started, or
        were kept out by their problems, or where the file could not be read, so that the program that ran the
        notebook sees a failed run (a person sees the tables). By hand, before the click, it does nothing. The demo
        sample's two rows with mistakes are there on purpose: they do not fail a run of it (of it as committed: a
        copy edited with real rows is judged as any sheet)."""
        if not self._import_asked:  # (since the last dry run: by hand, before the click)
            return
        if self.plan is None:
            raise ImportIncomplete(
                "Nothing of the spreadsheet was imported: it could not be read (the message above says why). Correct "
                "it and run again."
            )
        refused = [] if self._demo else [int(row) for row in self.plan.problems["row"].dropna().unique()]
        ours = self._imported is self.plan  # (the results of this sheet's import, not an earlier sheet's)
        results = self.results if ours and self.results is not None else pd.DataFrame(columns=bulk.RESULT_COLUMNS)
        bulk.raise_for_rows_not_done(results, refused)

    def _rows_left(self, retry_only: bool = False) -> int:
        """Rows of the last import that are not done (failed, waiting for a decision, not started); ``retry_only``:
        only those a run with the same choices could change (a decision waits for another choice)."""
        if self.results is None:
            return 0
        done = [*bulk.DONE, *(["needs a decision"] if retry_only else [])]
        return int((~self.results["status"].isin(done)).sum())


def bulk_results_table(
    results: pd.DataFrame, kept: set[int] | frozenset[int] = frozenset(), names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """An import's results for people: a row done by the earlier run says so, and a row that waits for a decision
    shows the investor it matches as that (in its own column, by name where ``names``, id -> name, knows it), never
    as the row's own investor."""
    shown = results.copy()
    waiting = shown["status"] == "needs a decision"
    matched = [
        tables.Html(f"{tables.name_html((names or {}).get(str(i), ''))} {tables.short_id(i)}".strip()) if wait else None
        for i, wait in zip(shown["investor_id"], waiting, strict=True)
    ]
    shown.insert(list(shown.columns).index("investor_id") + 1, "matches", matched)
    shown["investor_id"] = shown["investor_id"].where(~waiting)
    earlier = shown["row"].isin(kept)
    shown["status"] = shown["status"].where(~earlier, shown["status"] + " (by the earlier run)")
    return tables.humanize(shown, BULK_RESULT_LABELS, ids=("investor_id", "identification_id", "wallet_id"))


def _kept_outcomes(earlier: pd.DataFrame, now: pd.DataFrame) -> tuple[pd.DataFrame, set[int]]:
    """The results of a run again of the same rows: a row the earlier run created, updated or completed says so
    still (the new run finds it there: 'already existed' or 'replayed'), with the ids the earlier run had; and the
    numbers of those rows."""
    before = {int(row["row"]): row for row in earlier.to_dict("records")}
    rows, kept = [], set()
    for row in now.to_dict("records"):
        first = before.get(int(row["row"]))
        if (
            first is not None
            and first["status"] in ("created", "updated", "completed")
            and row["status"] in bulk.ALREADY
        ):
            row = {**row, **{k: v for k, v in first.items() if not pd.isna(v)}}
            kept.add(int(row["row"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=now.columns), kept


PROBLEM_LABELS = {"row": "Row", "column": "Column", "problem": "Problem"}


def error_html(exc: CashlinkError) -> str:
    """An error for a person in a panel: the sentence (no class name), then where: a spreadsheet's problems by row
    and column, or the fields' errors."""
    sentence = f"<p style='{ERROR_STYLE}'>{html.escape(error_sentence(exc))}</p>"
    if isinstance(exc, SpreadsheetError):
        located = exc.problems[exc.problems["row"].notna() | exc.problems["column"].notna()]
        return sentence + (tables.static_html(tables.humanize(located, PROBLEM_LABELS)) if len(located) else "")
    if not exc.field_errors:
        return sentence
    rows = pd.DataFrame([{"Field": label, "Problem": message} for _path, label, message in exc.rows()])
    return sentence + tables.static_html(rows)


BULK_RESULT_LABELS = {
    "row": "Row",
    "reference": "Reference",
    "name": "Name",
    "status": "Status",
    "investor_id": "Investor id",
    "matches": "Matches investor",
    "identification_id": "Identification id",
    "wallet_id": "Wallet id",
    "error": "What to do",
}
BULK_MATCH_LABELS = {
    "row": "Row",
    "reference": "Reference",
    "name": "Name",
    "existing_investor_id": "Registry's investor id",
    "existing_name": "Matches",
    "existing_row": "Earlier row",
    "reason": "In common",
    "identical": "Identical",
}

RECONCILIATION_LABELS = {
    "investor_name": "Investor",
    "label": "Difference",
    "ledger_units": "Books",
    "registry_units": "Registry",
    "difference": "Registry − books",
    "cause": "Likely cause",
    "action": "What to do",
    "status": "Status",
    "since": "Since",
    "investor_ref": "Your reference",
}


def reconciliation_table(report: reconcile.Reconciliation) -> pd.DataFrame:
    """The differences for people: name first, the category in words, cause and action, related rows together."""
    detail = report.differences.copy()
    detail["label"] = detail["category"].map(reconcile.CATEGORIES)
    detail["investor_name"] = [
        name if not tables.is_blank(name) else tables.short_id(investor)
        for name, investor in zip(detail["investor_name"], detail["investor_id"])
    ]
    detail["ids"] = [
        tables.Html(" ".join(tables.short_id(v) for v in (inv, inv_id, red) if not tables.is_blank(v)))
        for inv, inv_id, red in zip(detail["investor_id"], detail["investment_id"], detail["redemption_id"])
    ]
    detail["difference"] = [
        tables.Html(f"<b style='color:{'#b00020' if d < 0 else '#1f5fa8'}'>{d:+,}</b>")
        if not tables.is_blank(d) and d
        else ""
        for d in detail["difference"]
    ]
    detail["label"] = [
        f"↳ {label} (explains the row above)"
        if cat in ("stuck", "status_unknown", "redemption_failed") and not tables.is_blank(rel)
        else label
        for label, cat, rel in zip(detail["label"], detail["category"], detail["related"])
    ]
    redemption = detail["category"].str.startswith("redemption_")  # its units are no holding: said in its message
    detail["registry_units"] = detail["registry_units"].astype(object).where(~redemption, None)
    detail["label"] = [
        f"{label} ({api.units_said(units)})" if is_redemption and not tables.is_blank(units) else label
        for label, units, is_redemption in zip(
            detail["label"], report.differences["registry_units"], redemption, strict=True
        )
    ]
    columns = ["investor_name", "label", "ledger_units", "registry_units", "difference", "cause", "action", "ids"]
    shown = detail[columns]
    return tables.humanize(shown, {**RECONCILIATION_LABELS, "ids": "Ids (hover for the full id)"})


def summary_table(report: reconcile.Reconciliation) -> pd.DataFrame:
    summary = report.summary()
    return tables.humanize(
        summary[["label", "count", "meaning", "what_to_do"]],
        {"label": "Category", "count": "Found", "meaning": "What it means", "what_to_do": "What to do"},
    )


def show_report(report: reconcile.Reconciliation) -> None:
    """The report as plain outputs (they read in the exported HTML, without JavaScript): headline, summary with
    meaning and action, a chart, and every difference with its cause and action."""
    display(HTML(f"{STYLE}<p><b>{html.escape(report.headline())}</b><br>{html.escape(report.dated())}</p>"))
    display(HTML(tables.static_html(summary_table(report), "Summary")))
    if not report.is_clean:
        display(png(reconciliation_chart(report)))
        names_people = {saving.PERSONAL: True}  # not kept in a saved notebook (see helpers.saving)
        differences = tables.static_html(reconciliation_table(report), "Every difference", names_people=True)
        display(HTML(differences), metadata=names_people)


def report_for(
    client: Client,
    ledger_path: str | Path | None,
    product_ids: list[str] | None = None,
    stuck_after_days: int = 3,
) -> reconcile.Reconciliation | None:
    """Notebook 05's report, shown: of ``ledger_path``, or without one of the sample ledger on the local sandbox;
    elsewhere nothing is compared, and a sentence points to the upload panel."""
    ledger = reconcile.chosen_ledger(client, ledger_path)
    if ledger is None:
        display(
            HTML(
                f"{STYLE}<p><b>No ledger given (LEDGER_PATH), so nothing was compared.</b> Next: upload your ledger "
                "(CSV or Excel with <code>investor_id</code>, <code>product_id</code>, <code>units</code>) in the "
                "panel below; its report appears there.</p>"
            )
        )
        return None
    report = reconcile.reconcile(client, reconcile.read_ledger(ledger), product_ids, timedelta(days=stuck_after_days))
    show_report(report)
    return report


def export_report(report: reconcile.Reconciliation | None, output_dir: str | Path, name: str) -> None:
    """The report's CSV and Excel files in ``output_dir`` (nothing without a report), and where they are."""
    if report is None:
        return
    output = Path(output_dir)
    show_exports(report.to_csv(output / f"{name}.csv"), report.to_excel(output / f"{name}.xlsx"))


def show_exports(*paths: Path, replaced: bool = False) -> None:
    """Where the exported files are (one line, full paths)."""
    where = " and ".join(f"<code>{html.escape(str(p.resolve()))}</code>" for p in paths)
    display(HTML(f"<p>Exported: {where}{' (replaced each time this ledger is reconciled)' if replaced else ''}.</p>"))


class ReconciliationPanel(widgets.VBox):
    """Upload a ledger, choose the threshold for 'stuck', and see the report; exports go to ``output_dir``."""

    def __init__(self, client: Client, output_dir: str | Path = "reports", stuck_after_days: int = 3) -> None:
        self.client = client
        self.output_dir = Path(output_dir)
        self.report: reconcile.Reconciliation | None = None
        self.upload = widgets.FileUpload(accept=UPLOADS, multiple=False, description="Ledger")
        self.days = widgets.Text(  # (a bounded number box would clamp or round what is typed without a word)
            value=str(stuck_after_days),
            description="Stuck after (days)",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="220px"),
        )
        self.button = widgets.Button(
            description="Reconcile", icon="balance-scale", button_style="primary", layout=widgets.Layout(width="auto")
        )
        self.output = ClosingOutput()
        self._ledger: tuple[bytes, str] | None = None
        self.button.on_click(lambda _b: self._run_upload())
        self.upload.observe(lambda change: self._run_upload() if change["new"] else None, names="value")
        super().__init__([widgets.HBox([self.upload, self.days, self.button]), self.output])
        self.add_class("cl-panel")
        replaces_the_last(self)  # a cell run again: the earlier panel (its tables, its people) is closed

    def _run_upload(self) -> None:
        if self.upload.value:  # kept here, not in the widget's (saved) state; the button runs it again
            item = self.upload.value[0]
            self._ledger = (bytes(item["content"]), str(item["name"]))
            self.upload.value = ()
        if self._ledger is not None:
            self.run(*self._ledger)
        else:
            self.output.clear()
            with self.output.showing():
                display(
                    HTML(
                        "<p>Upload the ledger first (a CSV or Excel file with investor_id, product_id and units; "
                        "the button 'Ledger'): the report starts when it is read, and Reconcile runs it again.</p>"
                    )
                )

    def stuck_after_days(self) -> int:
        """The days typed: a whole number from 0 to 3,650, else an :class:`InputError` saying so."""
        text = self.days.value.strip()
        if not re.fullmatch(r"[0-9]{1,4}", text) or int(text) > 3650:
            said = f"{checks.quote(text)} is no number of days from 0 to 3,650: enter a whole number such as 3."
            raise InputError(
                f"The report was not made: 'Stuck after (days)' is {checks.quote(text)}, no whole number of days "
                "from 0 to 3,650; enter one such as 3.",
                field_errors={"stuck_after": [said]},
            )
        return int(text)

    def run(self, source: str | Path | bytes, name: str | None = None) -> reconcile.Reconciliation | None:
        """Read the ledger, reconcile, and show summary, chart, details and the exported files."""
        self.output.clear()
        with self.output.showing():
            try:
                days = self.stuck_after_days()
                ledger = reconcile.read_ledger(source, name)
                self.report = reconcile.reconcile(self.client, ledger, stuck_after=timedelta(days=days))
            except CashlinkError as exc:
                display(HTML(error_html(exc)))
                return None
            stem = Path(name).stem if name else Path(source).stem if isinstance(source, (str, Path)) else "ledger"
            file = name or (Path(source).name if isinstance(source, (str, Path)) else "the ledger")
            display(
                HTML(
                    f"<p>The ledger <b>{html.escape(file)}</b> ({len(ledger):,} row{'s' if len(ledger) != 1 else ''}) "
                    f"compared with the registry at {datetime.now(UTC):%H:%M} UTC; an investment counts as stuck after "
                    f"{days:,} day{'s' if days != 1 else ''}.</p>"
                )
            )
            show_report(self.report)
            csv = self.report.to_csv(self.output_dir / f"reconciliation-{stem}.csv")
            excel = self.report.to_excel(self.output_dir / f"reconciliation-{stem}.xlsx")
            show_exports(csv, excel, replaced=True)
        return self.report
