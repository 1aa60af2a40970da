"""Bulk onboarding from a spreadsheet: check every row locally (dry run), then create the investors and, where the
row asks for it, their identifications and wallets, concurrently and safely.

Each row's idempotency keys are derived from its own ``reference``, so an import that stopped halfway (kernel
interrupt, network fault) can simply be run again: finished rows are answered from the journal or replayed by the
registry, and only the rest is created. The template is ``helpers/templates/investors_template.csv``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, BinaryIO

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

from helpers import checks
from helpers.client import Client
from helpers.errors import CashlinkError
from helpers.journal import derive_key
from helpers.ledger import Column, SpreadsheetError, parse_table
from helpers.samples import minimal_pdf

TEMPLATE = Path(__file__).resolve().parent / "templates" / "investors_template.csv"


def _yes_no(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1", "ja", "x"}:
        return True
    if text in {"no", "n", "false", "0", "nein", ""}:
        return False
    raise checks.CheckError(f"'{value}' is not yes or no.")


def _wallet_kind(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in {"managed", "generic"}:
        raise checks.CheckError(f"'{value}' is not a wallet type; use managed, generic, or leave it empty.")
    return text


COLUMNS = [
    Column("reference", lambda v: checks.check_text(v, 64), description="your unique id of the row (makes re-runs "
                                                                        "safe)"),
    Column("salutation", checks.check_choice(*checks.SALUTATIONS), required=False, allow_blank=True),
    Column("forename", description="first name"),
    Column("surname", description="last name"),
    Column("birth_date", description="YYYY-MM-DD"),
    Column("birth_place", required=False, allow_blank=True),
    Column("citizenship", description="ISO 3166 alpha-3, e.g. DEU"),
    Column("street"), Column("zip"), Column("city"),
    Column("country", description="ISO 3166 alpha-3, e.g. DEU"),
    Column("phone", required=False, allow_blank=True),
    Column("email"),
    Column("account_holder", required=False, allow_blank=True, description="default: first and last name"),
    Column("iban"), Column("bic"),
    Column("bank", required=False, allow_blank=True),
    Column("tax_id", required=False, allow_blank=True, description="needed for a wallet"),
    Column("is_pep", _yes_no, required=False, allow_blank=True, description="yes/no"),
    Column("id_document_type", required=False, allow_blank=True, description="IDCARD or PASSPORT: fill the id_* "
                                                                             "columns to import an identification"),
    Column("id_document_number", required=False, allow_blank=True),
    Column("id_issuer", required=False, allow_blank=True),
    Column("id_valid_from", required=False, allow_blank=True),
    Column("id_valid_to", required=False, allow_blank=True),
    Column("identity_provider", required=False, allow_blank=True, description="POSTIDENT, IDNOW, ..."),
    Column("identified_on", required=False, allow_blank=True, description="YYYY-MM-DD"),
    Column("protocol_file", required=False, allow_blank=True, description="path of the identification protocol PDF "
                                                                         "(relative to the spreadsheet)"),
    Column("wallet", _wallet_kind, required=False, allow_blank=True, description="managed, generic, or empty"),
    Column("wallet_address", required=False, allow_blank=True, description="for a generic wallet"),
]

# Which spreadsheet column a field error of the request body belongs to.
FIELD_COLUMNS = {
    "natural_person.salutation": "salutation", "natural_person.forename": "forename",
    "natural_person.surname": "surname", "natural_person.birth_date": "birth_date",
    "natural_person.birth_place": "birth_place", "natural_person.citizenship": "citizenship",
    "natural_person.street": "street", "natural_person.zip": "zip", "natural_person.city": "city",
    "natural_person.country": "country", "natural_person.phone": "phone", "communication.email": "email",
    "bank_account.account_holder": "account_holder", "bank_account.iban": "iban", "bank_account.bic": "bic",
    "bank_account.bank": "bank", "tax_information.tax_identification_number": "tax_id",
    "document_type": "id_document_type", "document_id": "id_document_number", "document_issuer": "id_issuer",
    "document_valid_from": "id_valid_from", "document_valid_to": "id_valid_to",
    "identity_provider": "identity_provider", "verified_at": "identified_on", "address": "wallet_address",
}
ID_COLUMNS = ("id_document_type", "id_document_number", "id_issuer", "id_valid_from", "id_valid_to",
              "identity_provider", "identified_on")


@dataclass
class Plan:
    """The outcome of the dry run: what would be sent for each valid row, and every problem found."""

    rows: list[dict[str, Any]]
    problems: pd.DataFrame
    source: str

    @property
    def valid(self) -> int:
        return len(self.rows)

    def preview(self) -> pd.DataFrame:
        return pd.DataFrame([{"row": r["row"], "reference": r["reference"],
                              "name": f"{r['investor']['natural_person']['forename']} "
                                      f"{r['investor']['natural_person']['surname']}",
                              "identification": r["identification"] is not None, "wallet": r["wallet"] or ""}
                             for r in self.rows], columns=["row", "reference", "name", "identification", "wallet"])

    def summary(self) -> str:
        bad = self.problems["row"].nunique() if len(self.problems) else 0
        return (f"{self.source}: {self.valid} rows ready to import, {bad} rows with problems "
                f"({len(self.problems)} problems). Nothing has been sent yet.")


def read_investors(source: str | Path | bytes | BinaryIO, name: str | None = None,
                   placeholder_protocols: bool = False) -> Plan:
    """Dry run: read the spreadsheet and check every row locally; nothing is sent."""
    frame, problems, source_name = parse_table(source, COLUMNS, "investor list", name)
    base = Path(source).parent if isinstance(source, (str, Path)) else Path.cwd()
    bad_rows = {row for row, _column, _problem in problems}
    seen: dict[str, int] = {}
    rows = []
    for record in frame.to_dict("records"):
        row = record["row"]
        reference = record["reference"]
        if reference in seen:
            problems.append((row, "reference", f"Repeats the reference of row {seen[reference]}; each row needs its "
                                               "own."))
            continue
        if reference:
            seen[reference] = row
        if row in bad_rows:
            continue
        planned, row_problems = _plan_row(record, base, placeholder_protocols)
        if row_problems:
            problems += [(row, column, message) for column, message in row_problems]
        else:
            rows.append(planned)
    problem_frame = pd.DataFrame(problems, columns=["row", "column", "problem"]).astype({"row": "Int64"})
    return Plan(rows, problem_frame.sort_values("row", kind="stable").reset_index(drop=True), source_name)


def _plan_row(record: dict[str, Any], base: Path, placeholder_protocols: bool) -> tuple[dict, list[tuple[str, str]]]:
    person = {key: record.get(key) for key in ("salutation", "forename", "surname", "birth_date", "birth_place",
                                               "citizenship", "street", "zip", "city", "country", "phone")}
    person["is_pep"] = bool(record.get("is_pep"))
    body = {
        "natural_person": {k: v for k, v in person.items() if v not in (None, "")},
        "bank_account": {"account_holder": record.get("account_holder") or f"{record['forename']} "
                                                                           f"{record['surname']}",
                         "iban": record.get("iban"), "bic": record.get("bic"), "bank": record.get("bank"),
                         "country": record.get("country"), "currency": "EUR"},
        "communication": {"email": record.get("email"), "email_confirmed": True},
        "is_beneficiary": True,
    }
    if record.get("tax_id"):
        body["tax_information"] = {"tax_identification_number": record["tax_id"]}
    body["bank_account"] = {k: v for k, v in body["bank_account"].items() if v not in (None, "")}
    cleaned, errors = checks.validate_investor(body)
    problems = [(FIELD_COLUMNS.get(path, path), " ".join(messages)) for path, messages in errors.items()]
    identification, protocol = None, None
    if any(record.get(c) for c in ID_COLUMNS):
        verified = record.get("identified_on")
        ident_body = {
            "document_type": record.get("id_document_type"), "document_id": record.get("id_document_number"),
            "document_issuer": record.get("id_issuer"), "document_valid_from": record.get("id_valid_from"),
            "document_valid_to": record.get("id_valid_to"), "identity_provider": record.get("identity_provider"),
            "legitimation_process_id": f"bulk-{record['reference']}",
            "legitimation_protocol_id": "00000000-0000-0000-0000-000000000000",
            "verified_at": _noon(verified) if verified else None,
        }
        identification, id_errors = checks.validate_identification(ident_body)
        problems += [(FIELD_COLUMNS.get(path, path), " ".join(messages)) for path, messages in id_errors.items()]
        if record.get("protocol_file"):
            protocol = base / record["protocol_file"]
            if not protocol.is_file():
                problems.append(("protocol_file", f"There is no file at {protocol}."))
        elif placeholder_protocols:
            protocol = None
        else:
            problems.append(("protocol_file", "An identification needs the provider's protocol file."))
    wallet = record.get("wallet") or None
    if wallet and identification is None:
        problems.append(("wallet", "A wallet needs a successful identification: fill the id_* columns too."))
    if wallet and not record.get("tax_id"):
        problems.append(("tax_id", "A wallet needs the investor's tax id."))
    address = None
    if wallet == "generic":
        try:
            address = checks.check_eth_address(record.get("wallet_address"))
        except checks.CheckError as exc:
            problems.append(("wallet_address", str(exc)))
    planned = {"row": record["row"], "reference": record["reference"], "investor": cleaned,
               "identification": identification, "protocol": protocol, "wallet": wallet, "address": address}
    return planned, problems


def _noon(value: str) -> str:
    day = date.fromisoformat(checks.check_date(value))
    return datetime.combine(day, time(12), timezone.utc).isoformat()


RESULT_COLUMNS = ["row", "reference", "investor_id", "identification_id", "wallet_id", "status", "error"]


def _import_row(client: Client, row: dict[str, Any]) -> dict[str, Any]:
    """Create one row's investor, identification and wallet; every key derives from the row's reference."""
    result = {"row": row["row"], "reference": row["reference"], "investor_id": None, "identification_id": None,
              "wallet_id": None, "status": "failed", "error": None}

    def key(step: str) -> str:
        return derive_key(client.namespace, f"bulk {step}", row["reference"])

    try:
        investor = client.investors.create(row["investor"], key=key("investor"))
        result["investor_id"] = investor.id
        if row["identification"] is not None:
            protocol = row["protocol"]
            content = protocol.read_bytes() if protocol else minimal_pdf(f"Protocol {row['reference']}")
            document = client.documents.upload(content, protocol.name if protocol else "protocol.pdf")
            identification = client.investors.identify(
                investor.id, {**row["identification"], "legitimation_protocol_id": document.id},
                key=key("identification"))
            result["identification_id"] = identification.id
        if row["wallet"] == "managed":
            result["wallet_id"] = client.investors.create_managed_wallet(investor.id, key=key("wallet")).id
        elif row["wallet"] == "generic":
            result["wallet_id"] = client.investors.create_generic_wallet(investor.id, row["address"],
                                                                         key=key("wallet")).id
        result["status"] = "created" if not investor.replayed else "already there"
    except CashlinkError as exc:
        result["error"] = str(exc)
    return result


def import_investors(client: Client, plan: Plan, workers: int = 8, progress: bool = True,
                     on_row_done: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Create the plan's rows with ``workers`` concurrent requests; return one result row per spreadsheet row.

    Safe to run again after any stop: rows already done are not created twice. A kernel interrupt stops
    starting new rows, waits for the running ones, and returns what was done (the rest marked 'not started').
    """
    from tqdm.auto import tqdm

    results: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()
    bar = tqdm(total=plan.valid, desc="importing investors", unit=" rows", disable=not progress)
    executor = ThreadPoolExecutor(max_workers=max(1, workers))
    pending: set[Future[dict[str, Any]]] = set()
    queue = list(plan.rows)
    try:
        while queue or pending:
            while queue and len(pending) < workers * 2:
                pending.add(executor.submit(_import_row, client, queue.pop(0)))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                with lock:
                    results[result["row"]] = result
                bar.update()
                if on_row_done:
                    on_row_done(len(results))
    except KeyboardInterrupt:
        print("Interrupted: the rows already running are finished; run the import again to do the rest.")
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                result = future.result()
                results[result["row"]] = result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
    for row in plan.rows:
        results.setdefault(row["row"], {"row": row["row"], "reference": row["reference"],
                                         "status": "not started"})
    return pd.DataFrame(sorted(results.values(), key=lambda r: r["row"]), columns=RESULT_COLUMNS)


class BulkImportPanel(widgets.VBox):
    """Upload a spreadsheet, see the dry run, confirm, and see the results."""

    def __init__(self, client: Client, placeholder_protocols: bool = False, workers: int = 8) -> None:
        self.client = client
        self.placeholder_protocols = placeholder_protocols
        self.workers = workers
        self.plan: Plan | None = None
        self.results: pd.DataFrame | None = None
        self.upload = widgets.FileUpload(accept=".csv,.xlsx", multiple=False, description="Spreadsheet")
        self.confirm = widgets.Button(description="Import the valid rows", icon="upload", button_style="success",
                                      disabled=True)
        self.confirm.add_class("cl-bulk-confirm")
        self.output = widgets.Output()
        self.upload.observe(lambda _c: self._on_upload(), names="value")
        self.confirm.on_click(lambda _b: self.run_import())
        super().__init__([widgets.HTML("<p>Upload a CSV or Excel file in the template's format. Nothing is sent "
                                       "until you confirm.</p>"), self.upload, self.output, self.confirm])

    def _on_upload(self) -> None:
        if self.upload.value:
            item = self.upload.value[0]
            self.dry_run(bytes(item["content"]), item["name"])

    def dry_run(self, source: str | Path | bytes, name: str | None = None) -> Plan | None:
        self.output.clear_output()
        with self.output:
            try:
                self.plan = read_investors(source, name, self.placeholder_protocols)
            except SpreadsheetError as exc:
                display(exc)
                self.confirm.disabled = True
                return None
            print(self.plan.summary())
            if len(self.plan.problems):
                display(widgets.HTML("<b>Rows with problems</b> (they will be skipped; fix and re-upload)"),
                        self.plan.problems)
            display(widgets.HTML("<b>Rows ready to import</b>"), self.plan.preview())
        self.confirm.disabled = not self.plan.valid
        return self.plan

    def run_import(self) -> pd.DataFrame | None:
        if self.plan is None:
            return None
        self.confirm.disabled = True
        with self.output:
            self.results = import_investors(self.client, self.plan, workers=self.workers)
            counts = self.results["status"].value_counts().to_dict()
            print("Done: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".")
            display(self.results)
        self.confirm.disabled = False  # running again is safe: it completes what is missing
        return self.results
