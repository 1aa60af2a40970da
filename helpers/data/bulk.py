"""Bulk onboarding from a spreadsheet: check every row locally (dry run), then create the investors and, where the
row asks for it, their identifications and wallets, concurrently and safely.

The spreadsheet's columns are the models' columns (:func:`helpers.core.models.columns`), plus ``reference`` (your
own id of the row), ``protocol_file`` and ``wallet``. Each row's idempotency keys are derived from its reference, so
an import that stopped halfway (kernel interrupt, network fault) can simply be run again: finished rows are answered
from the journal or replayed by the registry, and only the rest is created. Rows that describe an investor the
registry already has (same e-mail, IBAN, or name and birth date) are flagged by the dry run, and the import does
with them what ``on_duplicate`` says. So are rows that share one of these with an earlier row of the file but are
perhaps another person (a namesake, a joint account): the import makes the earlier row's investor first, then
compares the row with it as it would compare a row imported afterwards. The same person twice is a problem of the
row. The template is ``helpers/templates/investors_template.csv``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any, BinaryIO

import pandas as pd

from helpers.core import checks, models
from helpers.core.client import Client, Match, OnDuplicate
from helpers.core.errors import (
    CashlinkError,
    ConflictError,
    ImportIncomplete,
    NotListed,
    OutcomeUnknown,
    PermissionDeniedError,
    PossibleDuplicate,
    input_error,
)
from helpers.core.journal import derive_key
from helpers.core.records import Record
from helpers.core.resources import InvestorIndex, identification_status, investor_name
from helpers.core.transport import AmbiguousWrite
from helpers.data.ledger import Column, parse_table

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "investors_template.csv"
DEMO_SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "investors_demo.csv"  # two rows with mistakes
DEMO_SAMPLE_SHA256 = "96baf8de8281ce98b19dafb212c4209345377471e365f79ffc31f1b1a51be127"  # its content as committed
EXAMPLE_REFERENCE = "CRM-EXAMPLE-"  # the template's example rows: imported on the sandbox only
PERSON_GROUPS = (None, "natural_person", "bank_account", "tax_information", "communication")
PLACEHOLDER_PROTOCOL_ID = "00000000-0000-4000-8000-000000000000"  # stands in for the upload during the dry run


def _wallet_kind(value: Any) -> str:
    """The API's name of the wallet's kind (``eth-managed``, ``eth-generic``), given in either spelling."""
    try:
        return models.wallet_kind(value)
    except checks.CheckError:
        raise checks.CheckError(
            f"{checks.quote(value)} is not a wallet type; use managed (kept by Cashlink) or own (the investor's own "
            "address, in wallet_address), or leave it empty for no wallet."
        ) from None


def is_demo_sample(source: Any) -> bool:
    """Whether ``source`` is the demo sample as committed, whose two mistakes are there on purpose (the sample, or a
    copy of it, edited with real rows is any other sheet)."""
    if not isinstance(source, (str, Path)) or not Path(source).is_file():
        return False
    return hashlib.sha256(Path(source).read_bytes()).hexdigest() == DEMO_SAMPLE_SHA256


def _model_columns(model: type[models.Model], groups: tuple[str | None, ...], optional: bool = False) -> list[Column]:
    """The spreadsheet columns of a model's fields: required where the model requires the field (and the part is
    not optional as a whole); checked with the model when the row is checked."""
    result = []
    for name, spec in models.columns(model, groups).items():
        required = spec.required and not optional
        hint = f"e.g. {spec.meta.placeholder}" if spec.meta.placeholder else ""
        blank_means = FILLED_IN.get(name)
        result.append(
            Column(
                name,
                required=required,
                allow_blank=not required or blank_means is not None,  # (a blank cell is then filled in)
                description="; ".join(p for p in (spec.label, hint, blank_means and f"blank: {blank_means}") if p),
            )
        )
    return result


FILLED_IN = {"account_holder": "the investor's name"}  # columns a row may leave blank: filled in as said


IDENTIFICATION_COLUMNS = _model_columns(models.Identification, (None,), optional=True)
COLUMNS = [
    Column("reference", checks.text_of(64), description="your own unique id of the row (makes re-runs safe)"),
    *_model_columns(models.Investor, PERSON_GROUPS),
    *IDENTIFICATION_COLUMNS,
    Column(
        "protocol_file",
        required=False,
        allow_blank=True,
        description="path of the identification protocol PDF (relative to the spreadsheet)",
    ),
    Column(
        "wallet",
        _wallet_kind,
        required=False,
        allow_blank=True,
        description="managed, generic (or eth-managed, eth-generic), or empty",
    ),
    *_model_columns(models.GenericWallet, (None,), optional=True),
]
COLUMN_OF = {
    spec.path: column
    for model, groups in ((models.Investor, PERSON_GROUPS), (models.Identification, None), (models.GenericWallet, None))
    for column, spec in models.columns(model, groups).items()
}
RESULT_COLUMNS = ["row", "reference", "name", "status", "investor_id", "identification_id", "wallet_id", "error"]
# A row's status from what the investor's write did (the registry's answer, as the forms say it: Record.happened)
OUTCOME_STATUS = {"created": "created", "updated": "updated", "existed": "already existed", "replayed": "replayed"}
ALREADY = ("already existed", "replayed")  # the investor was there before this run: nothing new was created
DONE = ("created", "updated", *ALREADY, "completed")  # the statuses of a row done
FAILED = ("failed", "incomplete")  # nothing made; or the investor made or there, a later step refused
MATCH_COLUMNS = [
    "row",
    "reference",
    "name",
    "existing_investor_id",
    "existing_name",
    "existing_row",  # the earlier row of the file it matches (empty: an investor of the registry)
    "reason",
    "identical",
]


@dataclass
class Plan:
    """The outcome of the dry run: what would be sent for each valid row, every problem found, and the rows that
    match an investor the registry already has or an earlier row (perhaps another person: asked about)."""

    rows: list[dict[str, Any]]
    problems: pd.DataFrame
    source: str
    matches: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MATCH_COLUMNS))
    namesakes: list[int] = field(default_factory=list)  # rows whose name only an investor of the registry has

    def __repr__(self) -> str:  # (never the rows: a repr ends up in a saved notebook, a log or a traceback)
        return f"Plan({self.summary()})"

    @property
    def valid(self) -> int:
        return len(self.rows)

    @property
    def deciding(self) -> int:
        """Matches the duplicates' choice decides (not the same data): the choice is shown only where there are."""
        return int((self.matches["identical"] != "yes").sum()) if len(self.matches) else 0

    def preview(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "row": r["row"],
                    "reference": r["reference"],
                    "name": investor_name(r["investor"]),
                    "identification": "yes" if r["identification"] is not None else "no",
                    "wallet": r["wallet"] or "none",
                }
                for r in self.rows
            ],
            columns=["row", "reference", "name", "identification", "wallet"],
        )

    def summary(self) -> str:
        bad = self.problems["row"].nunique() if len(self.problems) else 0
        in_registry = self.matches[self.matches["existing_row"].isna()]
        there = in_registry.loc[in_registry["identical"] == "yes", "row"].nunique()
        similar = in_registry["row"].nunique() - there
        earlier = self.matches[self.matches["existing_row"].notna()]  # (a row counted once: it may match both)
        in_file = earlier.loc[~earlier["row"].isin(in_registry["row"]), "row"].nunique()
        matching = (
            f", {there} of them {'are' if there > 1 else 'is'} in the registry already (the same data: the investor is "
            + ("not made again, unless you choose to create another)" if self.deciding else "not made again)")
            if there
            else ""
        )
        if similar:
            matching += (
                f", {similar} of them {'match investors' if similar > 1 else 'matches an investor'} the registry "
                "already has, with other data (the choice below decides)"
            )
        if in_file:
            matching += (
                f", {in_file} of them "
                f"{'match earlier rows and need' if in_file > 1 else 'matches an earlier row and needs'} a decision"
            )
        if self.namesakes:
            shown = ", ".join(map(str, self.namesakes[:10])) + (", …" if len(self.namesakes) > 10 else "")
            matching += (
                f", {len(self.namesakes)} of them (row{'s' if len(self.namesakes) > 1 else ''} {shown}) "
                f"{'share' if len(self.namesakes) > 1 else 'shares'} only a name with an investor the registry has "
                "(another birth date, e-mail and IBAN): made as new people"
            )
        problems = (
            f"{bad} {plural(bad, 'row')} with problems ({len(self.problems)} {plural(len(self.problems), 'problem')})"
        )
        return (
            f"{self.source}: {self.valid} {plural(self.valid, 'row')} ready to import{matching}; "
            f"{problems if bad else 'no row has a problem'}. Nothing has been sent yet."
        )


def plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def raise_for_rows_not_done(results: pd.DataFrame, refused: list[int] | None = None) -> None:
    """Raise :class:`ImportIncomplete` where rows failed or never started, or (``refused``: their numbers) had
    problems that kept them out of the import: a program that ran the import unattended (papermill, a scheduler)
    sees it as a failed run, not a success. Rows waiting for a decision are not failures: they wait for a person,
    as the results say."""
    failed = results.loc[results["status"] == "failed", "row"].astype(int).tolist()
    incomplete = results.loc[results["status"] == "incomplete", "row"].astype(int).tolist()
    not_started = results.loc[results["status"] == "not started", "row"].astype(int).tolist()
    refused = sorted(refused or [])
    if not failed and not incomplete and not not_started and not refused:
        return
    parts = [
        f"{len(rows)} {plural(len(rows), 'row')} {what} ({plural(len(rows), 'row')} {', '.join(map(str, rows))})"
        for rows, what in (
            (failed, "failed"),
            (incomplete, "were left incomplete" if len(incomplete) > 1 else "was left incomplete"),
            (not_started, "did not start"),
            (refused, "had problems and were not sent" if len(refused) > 1 else "had problems and was not sent"),
        )
        if rows
    ]
    raise ImportIncomplete(
        f"The import is not complete: {' and '.join(parts)} of {len(results) + len(refused)}; the results table and "
        "the dry run's problems say why for each. Correct what they name and import again: rows already done are "
        "not created twice."
    )


def read_investors(
    source: str | Path | bytes | BinaryIO,
    name: str | None = None,
    placeholder_protocols: bool = False,
    client: Client | None = None,
) -> Plan:
    """Dry run: read the spreadsheet and check every row locally; nothing is sent. A row that describes the same
    person as an earlier row is a problem; one that shares an e-mail, IBAN, or name and birth date with an earlier
    row but is perhaps another person (a namesake, a joint account) is a match, asked about by the import. With a
    ``client``, the registry's investors are read (only read) to flag rows that would duplicate one of them."""
    frame, problems, source_name = parse_table(source, COLUMNS, "investor list", name)
    base = Path(source).parent if isinstance(source, (str, Path)) else Path.cwd()
    bad_rows = {row for row, _column, _problem in problems}
    seen: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    in_file = InvestorIndex()
    earlier_matches: list[dict[str, Any]] = []
    for record in _records(frame):
        row, reference = record["row"], record["reference"]
        if reference in seen:
            problems.append(
                (row, "reference", f"Repeats the reference of row {seen[reference]}; each row needs its own.")
            )
            continue
        if reference:
            seen[reference] = row
        planned, row_problems = _planned_with_known_values(record, base, placeholder_protocols)
        if row in bad_rows:  # its other problems too, so that one upload lists them all (a column's once)
            said = {column for bad, column, _problem in problems if bad == row}
            problems += [(row, column, message) for column, message in row_problems if column not in said]
            continue
        if str(reference or "").startswith(EXAMPLE_REFERENCE) and client is not None and not client.is_sandbox:
            row_problems = [
                (
                    "reference",
                    f"This is the template's example row ({reference}), not an investor: delete it, and put your "
                    "investors' rows in its place.",
                )
            ]
        earlier = None if row_problems else in_file.match(planned["investor"])
        if earlier is not None and earlier.same_party:
            row_problems = [
                (
                    "whole row",  # (not 'reference': the one column that differs; review 71)
                    f"Describes the same person as row {earlier.existing['row']} "
                    f"({earlier.reason.removeprefix('the same ')}); import each person once.",
                )
            ]
        if row_problems:
            problems += [(row, column, message) for column, message in row_problems]
        else:
            rows.append(planned)
            if earlier is not None:  # a namesake or a joint account: perhaps another person, asked about
                earlier_matches.append(_match_row(planned, earlier))
            in_file.add({**planned["investor"], "row": row})
    problem_frame = pd.DataFrame(problems, columns=["row", "column", "problem"]).astype({"row": "Int64"})
    who = {record["row"]: record for record in _records(frame)}  # whose row it is, for the person fixing it
    problem_frame.insert(1, "reference", [str(who.get(row, {}).get("reference") or "") for row in problem_frame["row"]])
    problem_frame.insert(2, "name", [_row_name(who.get(row, {})) for row in problem_frame["row"]])
    plan = Plan(rows, problem_frame.sort_values("row", kind="stable").reset_index(drop=True), source_name)
    found, plan.namesakes = _registry_matches(client, rows) if client is not None else ([], [])
    plan.matches = _match_frame(sorted([*found, *earlier_matches], key=lambda match: int(match["row"])))
    return plan


def _planned_with_known_values(
    record: dict[str, Any], base: Path, placeholder_protocols: bool
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """:func:`_plan_row`, where a value the documentation does not name (a salutation 'Herr') is a problem of its
    row, said in the table, not a Python warning printed above it: a spreadsheet's rows are corrected, not sent to
    see what the registry makes of them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", checks.UndocumentedValueWarning)
        planned, problems = _plan_row(record, base, placeholder_protocols)
    for warning in caught:
        if not issubclass(warning.category, checks.UndocumentedValueWarning):
            warnings.warn(warning.message, warning.category, stacklevel=3)
            continue
        said = str(warning.message).split("; it is sent as it is", 1)[0]
        column = next(
            (
                name
                for name, value in record.items()
                if isinstance(value, str) and value.strip() and said.startswith(value.strip().upper() + " is not")
            ),
            "",
        )
        hint = " (MR for Herr, MS for Frau)" if column == "salutation" else ""
        problems = [*problems, (column, f"{said}: write one of them{hint}.")]
    return planned, problems


def _row_name(record: dict[str, Any]) -> str:
    """The person or company a spreadsheet row names, as typed ('' where it names none)."""
    parts = (
        [record.get("company_name")] if record.get("company_name") else [record.get(k) for k in ("forename", "surname")]
    )
    return " ".join(str(part).strip() for part in parts if part is not None and not pd.isna(part) and str(part).strip())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts; a blank cell is None (never NaN, which a check would take for a number)."""
    return [
        {str(key): None if _blank(value) else value for key, value in row.items()} for row in frame.to_dict("records")
    ]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _plan_row(
    record: dict[str, Any], base: Path, placeholder_protocols: bool
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    values = {**record, "account_holder": record.get("account_holder") or models.default_account_holder(record)}
    body = models.with_investor_defaults(models.from_columns(models.Investor, values, PERSON_GROUPS))
    investor, errors = models.validate(models.Investor, body)
    problems = [(COLUMN_OF.get(path, path), " ".join(messages)) for path, messages in errors.items()]
    identification, protocol = None, None
    if any(record.get(c.name) for c in IDENTIFICATION_COLUMNS):
        ident_values = dict(record)
        if placeholder_protocols and not record.get("id_process_id"):  # the sandbox's placeholder identification
            ident_values["id_process_id"] = f"sandbox-{record['reference']}"
        ident_body = {
            **models.from_columns(models.Identification, ident_values),
            "legitimation_protocol_id": PLACEHOLDER_PROTOCOL_ID,
        }
        checked, id_errors = models.validate(models.Identification, ident_body)
        identification = checked.body() if checked else None
        problems += [(COLUMN_OF.get(path, path), " ".join(messages)) for path, messages in id_errors.items()]
        if record.get("protocol_file"):
            protocol = base / record["protocol_file"]
            if not protocol.is_file():
                problems.append(("protocol_file", f"There is no file at {checks.quote(protocol, 120)}."))
        elif not placeholder_protocols:
            problems.append(("protocol_file", "An identification needs the provider's protocol file."))
    wallet = record.get("wallet") or None
    if wallet and not any(record.get(c.name) for c in IDENTIFICATION_COLUMNS):
        problems.append(("wallet", "A wallet needs a successful identification: fill the id_* columns too."))
    if wallet and not record.get("tax_id"):
        problems.append(("tax_id", "A wallet needs the investor's tax id."))
    address = None
    if wallet == "eth-generic":
        checked_wallet, wallet_errors = models.validate(models.GenericWallet, {"address": record.get("wallet_address")})
        address = checked_wallet.address if checked_wallet else None
        problems += [("wallet_address", " ".join(m)) for m in wallet_errors.values()]
    planned = {
        "row": record["row"],
        "reference": record["reference"],
        "investor": investor.body() if investor else body,
        "identification": identification,
        "protocol": protocol,
        "placeholder": identification is not None and protocol is None,
        "wallet": wallet,
        "address": address,
    }
    return planned, problems


def _registry_matches(client: Client, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The rows that match an investor of the registry, and the numbers of those that only share a name with one."""
    index = client.investors.index()
    matches, namesakes = [], []
    for row in rows:
        match = index.match(row["investor"])
        if match is not None:
            matches.append(_match_row(row, match))
        elif index.has_name_of(row["investor"]):
            namesakes.append(int(row["row"]))
    return matches, namesakes


def _match_row(row: dict[str, Any], match: Match) -> dict[str, Any]:
    """A row of :attr:`Plan.matches`: the row, and the investor (of the registry, or an earlier row's) it matches."""
    return {
        "row": row["row"],
        "reference": row["reference"],
        "name": investor_name(row["investor"]),
        "existing_investor_id": match.existing.get("id"),
        "existing_name": investor_name(match.existing),
        "existing_row": match.existing.get("row"),
        "reason": match.reason,
        "identical": "yes" if match.equal else "no",
    }


def _match_frame(matches: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(matches, columns=MATCH_COLUMNS).astype({"row": "Int64", "existing_row": "Int64"})


def _earlier_rows(rows: list[dict[str, Any]]) -> dict[int, set[int]]:
    """For each row, the earlier rows that share an e-mail, IBAN, or name and birth date with it."""
    index = InvestorIndex()
    earlier: dict[int, set[int]] = {}
    for row in rows:
        earlier[row["row"]] = {other["row"] for other in index.sharing(row["investor"])}
        index.add({**row["investor"], "row": row["row"]})
    return earlier


def _import_row(client: Client, row: dict[str, Any], on_duplicate: OnDuplicate, known: InvestorIndex) -> dict[str, Any]:
    """Create one row's investor, identification and wallet; every key derives from the row's reference."""
    result: dict[str, Any] = {
        "row": row["row"],
        "reference": row["reference"],
        "name": investor_name(row["investor"]),
        "investor_id": None,
        "identification_id": None,
        "wallet_id": None,
        "status": "failed",
        "error": None,
    }

    def key(step: str) -> str:
        return derive_key(client.namespace, f"bulk {step}", row["reference"])

    step = "investor"  # the step being worked on: said with its error
    investor: Record | None = None
    try:
        investor = client.investors.create(
            row["investor"], key=key("investor"), on_duplicate=on_duplicate, known_investors=known
        )
        result["investor_id"], result["investor"] = investor.id, investor  # (the record: for the rows after it)
        already = investor.outcome in ("existed", "replayed", "updated")  # made before this import
        step = "identification"
        identified = (
            already and row["identification"] is not None and client.investors.kyc_status(investor.id) == "SUCCESS"
        )
        made_now = False  # a step this run made for an investor that was there (an earlier run cut short)
        if identified:  # identified before: the identification it has, or the one a killed run's attempt made
            settled = client.investors.settle_unanswered_identification(
                investor.id, row["identification"], key("identification")
            )
            result["identification_id"] = (  # the one this row made (or found) before, as the journal says
                settled.id
                if settled is not None
                else client.done_id(key("identification")) or _successful_identification(client, investor.id)
            )
        elif row["identification"] is not None:
            identification = _identify(client, row, investor, key("identification"), already)
            result["identification_id"] = identification.id
            made_now = identification.outcome == "created"
        if row["wallet"]:
            step = "wallet"
            result["wallet_id"], made = _wallet(client, row, investor, key("wallet"), already)
            made_now = made_now or made
        outcome = OUTCOME_STATUS.get(str(investor.outcome), "already existed")  # (read from the registry: existed)
        result["status"] = "completed" if outcome in ALREADY and made_now else outcome
        if investor.not_applied:  # the row says otherwise than the registry's investor: never changed unasked
            result["error"] = (
                f"The registry's investor has other {', '.join(investor.not_applied)}; the row's were not applied. "
                "To apply them, choose to update existing investors and import again."
            )
    except PossibleDuplicate as exc:
        matched = "its id is given with the row as the investor it matches"
        correct = (
            "if it is the same person whose details changed, correct them in the investor form (notebook 01), which "
            "offers to update the investor it finds."
        )
        advice = (
            f"{exc.message} Choose what to do with such rows and import again."
            if exc.same_party
            else f"The reference {row['reference']} stands for another investor since an earlier import ({matched}), "
            f"and this row describes someone else ({exc.differs}). Nothing was sent: the choice for matching rows does "
            f"not apply to another person. To create this person, give the row a new reference in the spreadsheet; "
            f"{correct}"
            if exc.reason == "the same reference"
            else f"An investor of the registry ({matched}) has {exc.reason} as this row, but {exc.differs}: perhaps "
            "another person, so it is neither used nor updated. Nothing was sent. To create this one as a new person, "
            f"choose to create another investor and import again; {correct}"
        )
        result.update(status="needs a decision", investor_id=exc.existing.get("id"), error=advice)
    except ConflictError as exc:
        unknown = isinstance(exc, OutcomeUnknown)  # (not a conflict of the row's data: review 89)
        result["error"] = (  # the registry's conflict: the row's key was sent before with other data
            f"Row {row['reference']} changed since it was last sent. {exc.message}"
            if exc.status and not unknown
            else str(exc)
        )
        _said_incomplete(result, investor, step, exc, unknown)
    except CashlinkError as exc:
        result["error"] = str(exc)
        _said_incomplete(result, investor, step, exc, isinstance(exc, AmbiguousWrite))
    return result


STEP_MODELS: dict[str, type[models.Model]] = {"identification": models.Identification, "wallet": models.GenericWallet}


def _said_incomplete(
    result: dict[str, Any], investor: Record | None, step: str, exc: CashlinkError, unknown: bool
) -> None:
    """A row whose investor was made (or was there) and whose identification or wallet was refused, or whose answer
    never came (``unknown``), is 'incomplete', not 'failed': its error first says what the registry has for it, then
    the refusal by the sheet's columns, and one thing to do (review 90: a form's 'try again' and its labels)."""
    if investor is None:
        return
    made = result["identification_id"] is not None
    has = (
        "The investor was created now"
        if investor.outcome == "created"
        else "The investor was updated"
        if investor.outcome == "updated"
        else "The investor was there already"
    ) + (", with its identification" if made else "")
    result["status"] = "incomplete"
    if unknown:
        result["error"] = (
            f"{has}; whether its {step} was made is unknown. {result['error']} Import again: the row looks for what "
            "the registry has, and nothing is made twice."
        )
        return
    refusal, cells = _in_columns(exc, step) if not isinstance(exc, ConflictError) else (result["error"], [])
    for hint in FORM_HINTS:  # (review 91: one thing to do, said below)
        refusal = refusal.replace(hint, "")
    todo = f"Correct {' and '.join(cells)} in row {result['row']}" if cells else "Do what this says"
    result["error"] = (
        f"{has}; its {step} was not made. {refusal} {todo}, then import again: the investor is not made twice."
    )


FORM_HINTS = (" Correct the fields listed and try again.", " Check the request and try again.", " Check the id.")
EXTRA_COLUMNS = {"legitimation_protocol_id": "protocol_file"}  # fields the sheet gives otherwise than by value


def _in_columns(exc: CashlinkError, step: str) -> tuple[str, list[str]]:
    """The registry's refusal of a row's step with its fields named as the sheet's columns, and those columns."""
    if not exc.field_errors:
        return str(exc), []
    model = STEP_MODELS.get(step)
    columns = {spec.path: spec.meta.column for spec in models.fields_of(model) if spec.meta.column} if model else {}
    columns.update(EXTRA_COLUMNS if step == "identification" else {})
    named = [
        (columns.get(path) or models.label(path), " ".join(messages)) for path, messages in exc.field_errors.items()
    ]
    said = exc.message
    details = " ".join(
        f"{column}: {message}" + ("" if message.rstrip().endswith((".", "?", "!")) else ".")
        for column, message in named
    )
    return f"{said} {details}", [column for column, _ in named if column in columns.values()]


def _successful_identification(client: Client, investor_id: str) -> str | None:
    """The id of the investor's successful identification (None where the list cannot be read)."""
    try:
        found = client.investors.identifications(investor_id)
    except (NotListed, PermissionDeniedError):
        return None
    done = [i for i in found if identification_status(i) == "SUCCESS"]
    return str(done[0]["id"]) if done else None


def _identify(client: Client, row: dict[str, Any], investor: Record, key: str, already: bool = False) -> Record:
    """The row's identification of ``investor``; for an investor that was there before (``already``), an identical
    identification it has (the same ID document, perhaps made a moment ago by another import) is used."""
    protocol = row["protocol"]
    if protocol is not None:
        document = client.documents.upload(protocol)
    elif row["placeholder"]:  # a dry run that allowed placeholders: only the local sandbox accepts them
        document = client.documents.upload(client.documents.placeholder(f"Protocol {row['reference']}"), "protocol.pdf")
    else:
        raise input_error("the row", {"protocol_file": ["An identification needs the provider's protocol file."]})
    return client.investors.identify(
        investor.id,
        {**row["identification"], "legitimation_protocol_id": document.id},
        key=key,
        on_duplicate="use" if already else "ask",
    )


def _wallet(client: Client, row: dict[str, Any], investor: Record, key: str, already: bool) -> tuple[str, bool]:
    """The row's wallet of ``investor``, and whether this call made it (the registry answered it created now)."""
    if already:
        for wallet in client.investors.wallets(investor.id):
            if (row["wallet"] == "eth-managed" and wallet.get("type") == "eth-managed") or str(
                wallet.get("address", "")
            ).lower() == str(row["address"] or "").lower():
                address = row["address"] if row["wallet"] != "eth-managed" else None  # (perhaps made by a killed
                client.investors.settle_unanswered_wallet(investor.id, key, address)  # run's unanswered attempt)
                return str(wallet["id"]), False
    answer: OnDuplicate = "use" if already else "ask"  # (the one it has, perhaps made by another import)
    if row["wallet"] == "eth-managed":
        made = client.investors.create_managed_wallet(investor.id, key=key, on_duplicate=answer)
    else:
        made = client.investors.create_generic_wallet(investor.id, row["address"], key=key, on_duplicate=answer)
    return str(made.id), made.outcome == "created"


def import_investors(
    client: Client,
    plan: Plan,
    workers: int = 8,
    progress: bool = True,
    on_row_done: Callable[[int], None] | None = None,
    on_duplicate: OnDuplicate = "ask",
) -> pd.DataFrame:
    """Create the plan's rows with at most ``workers`` requests on the wire at once; return one result row per
    spreadsheet row. ``workers + workers // 4`` rows are worked on at once (10 for 8), so that while some prepare a
    request or use an answer, the others keep every one of the ``workers`` places busy.

    Safe to run again after any stop: rows already done are not created twice. A kernel interrupt stops starting
    new rows, waits for the running ones, and returns what was done (the rest marked 'not started'). A row that
    matches an investor the registry already has is handled as ``on_duplicate`` says ('ask': left for a decision,
    even for the same data: another investor may share it, or differ in what the comparison leaves out, a tax id;
    review 64). Each row's status says what happened: 'created',
    'updated', 'already existed', 'replayed' (the registry answered an earlier attempt's key with what that attempt
    made), 'completed' (the investor was there; its identification or wallet was made now),
    'needs a decision', 'incomplete' (the investor was made or there; its identification or wallet was refused, the
    error says why), 'failed' or 'not started'.
    A row that shares an e-mail, IBAN, or name and birth date with earlier rows starts once they are done, and is
    compared with the investors they made too, as if it were imported afterwards (a namesake is asked about).
    """
    from tqdm.std import tqdm

    results: dict[int, dict[str, Any]] = {}  # written by this thread only: rows report through `finished`
    bar = tqdm(total=plan.valid, desc="importing investors", unit=" rows", disable=not progress)
    workers = max(1, workers)
    rows_at_once = workers + workers // 4  # 8 places: 10 rows (a place is idle for ~10% of a request's time)
    executor = ThreadPoolExecutor(max_workers=rows_at_once)
    pending: set[Future[dict[str, Any]]] = set()
    finished: SimpleQueue[Future[dict[str, Any]]] = SimpleQueue()  # each row's future, as it ends
    # read once, now (not at the dry run: someone may have added one of these people since); each row's investor
    # is added as the row ends, before the rows that wait for it start ('create' compares nothing: nothing waits)
    known = client.investors.index()
    waits = {} if on_duplicate == "create" else _earlier_rows(plan.rows)
    waiting_for: dict[int, list[dict[str, Any]]] = {}  # a row's number: the rows that start once it is done
    for row in plan.rows:
        for earlier in waits.get(row["row"], ()):
            waiting_for.setdefault(earlier, []).append(row)
    queue = deque(row for row in plan.rows if not waits.get(row["row"]))
    interrupted = False
    with client.transport.in_flight(workers):
        try:
            while queue or pending:
                while queue and len(pending) < rows_at_once * 2:
                    future = executor.submit(_import_row, client, queue.popleft(), on_duplicate, known)
                    pending.add(future)
                    future.add_done_callback(finished.put)
                future = finished.get()
                pending.discard(future)
                result = future.result()
                results[result["row"]] = result
                made = result.pop("investor", None)
                if made is not None:
                    known.add(made)
                for later in waiting_for.pop(result["row"], []):
                    waits[later["row"]].discard(result["row"])
                    if not waits[later["row"]]:
                        queue.append(later)
                bar.update()
                if on_row_done:
                    on_row_done(len(results))
        except KeyboardInterrupt:
            interrupted = True
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
        results.setdefault(
            row["row"],
            {
                "row": row["row"],
                "reference": row["reference"],
                "name": investor_name(row["investor"]),
                "status": "not started",
                "error": "Interrupted before this row; import again to finish it." if interrupted else None,
            },
        )
    ordered: list[dict[str, Any]] = [results[number] for number in sorted(results)]
    return pd.DataFrame(ordered, columns=RESULT_COLUMNS)
