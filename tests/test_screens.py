"""The display layer for people, the reconciliation's causes and actions, the lookup panel, production confirmation,
and no personal data in executed notebooks (widget state included) or in the HTML report."""

from __future__ import annotations

import html
import json
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import helpers
from helpers.core import api
from helpers.core.records import Record
from helpers.core.transport import Transport, make_retry
from helpers.data import lookup, people, reconcile
from helpers.ui import demo, forms, panels, tables
from tests.sandbox_fixtures import investor_body
from tests.test_forms import PERSON

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "screens"


# --- tables for people --------------------------------------------------------------------------------------------


def test_people_tables_show_no_nan_none_or_lists() -> None:
    records = [
        {
            "id": "7b6d79ea-fef5-515e-9b74-94f68fc63ef3",
            "natural_person": {"forename": "Ada", "surname": "Lovelace", "city": "London"},
            "communication": {"email": "ada@example.com"},
            "kyc_status": "SUCCESS",
            "created_at": "2024-02-03T09:00:00+00:00",
            "signed_documents": [{"document_id": "x"}],
        },
        {"id": "de568dc8-552b-50c2-96a0-96c43d89c33e", "legal_person": {"company_name": "ACME GmbH"}},
    ]
    frame = tables.people_frame(records, tables.INVESTOR_COLUMNS)
    assert frame.columns[0] == "Name" and len(frame.columns) <= 8
    assert frame["Name"].tolist() == ["Ada Lovelace", "ACME GmbH"]
    assert frame.loc[0, "Created"] == "2024-02-03"
    assert "title='7b6d79ea-fef5-515e-9b74-94f68fc63ef3'" in frame.loc[0, "Id"] and "7b6d79ea…" in frame.loc[0, "Id"]
    html = tables.static_html(frame)
    for bad in ("nan", "NaN", "NaT", "None", "[{"):
        assert bad not in html.replace("display:none", "")


def test_a_registrys_text_is_never_markup_in_a_table() -> None:
    """A name, city or reason is text: a registry's '<img …>' is shown as written, never run as HTML (ids keep their
    hover, which is HTML of the toolkit's own). A long unbroken name wraps in its column (review 39)."""
    records = [
        {
            "id": "7b6d79ea-fef5-515e-9b74-94f68fc63ef3",
            "legal_person": {"company_name": "<img src=x onerror=alert(1)> & Co"},
        }
    ]
    frame = tables.people_frame(records, tables.INVESTOR_COLUMNS)
    assert frame.loc[0, "Name"] == "&lt;img src=x onerror=alert(1)&gt; &amp; Co"
    assert "<span class='cl-id' title=" in frame.loc[0, "Id"]
    shown = tables.humanize(
        pd.DataFrame({"cause": ["<b>bold</b>"], "id": ["7b6d79ea-fef5-515e-9b74-94f68fc63ef3"]}), ids=["id"]
    )
    assert shown.loc[0, "cause"] == "&lt;b&gt;bold&lt;/b&gt;" and "title=" in shown.loc[0, "id"]
    from helpers.ui.forms import STYLE

    assert ".cl-long {word-break: break-all;}" in STYLE and "table.dataTable td" not in STYLE
    long = tables.people_frame(
        [{"legal_person": {"company_name": "Ünal " + "Verylongname" * 12}}], tables.INVESTOR_COLUMNS
    )
    # (review 42: numbers broke mid-number in every cell); review 81: a name this long is shortened, whole on hover
    assert (
        long.loc[0, "Name"].startswith("<span title='Ünal Verylongname")
        and "Ünal <span class='cl-long'>" in long.loc[0, "Name"]
    )


@pytest.mark.parametrize(
    "value, shown",
    [
        (None, ""),
        (math.nan, ""),
        (pd.NaT, ""),
        (pd.NA, ""),
        ([1, 2], "2 items"),
        ({"amount": "4000000", "decimals": 3, "currency": "EUR"}, "EUR 4,000.00"),
        (True, "yes"),
        (Decimal("1234.5"), "1,234.5"),
        (datetime(2024, 2, 3, 9, 0, tzinfo=UTC), "2024-02-03 09:00 UTC"),
        (1500, "1,500"),
        (np.int64(1357), "1,357"),  # a frame's cell (review 39: '1357' beside '+1,357')
        (np.float64(2500.0), "2,500"),
        (np.bool_(False), "no"),
    ],
)
def test_cells_read_as_text(value: Any, shown: str) -> None:
    assert tables.text(value) == shown


def test_personal_values_are_masked_in_tables_and_reprs() -> None:
    assert tables.text("DE89370400440532013000", "bank_account.iban") == "DE89 •••• 3000"
    record = Record(
        {"bank_account": {"iban": "DE89370400440532013000"}, "natural_person": {"birth_date": "1985-12-10"}}
    )
    assert "DE89370400440532013000" not in repr(record) and "1985-12-10" not in str(record)


def test_humanize_any_frame() -> None:
    frame = pd.DataFrame(
        {"units": pd.array([1, None], dtype="Int64"), "since": [pd.Timestamp("2024-01-01", tz="UTC"), pd.NaT]}
    )
    shown = tables.humanize(frame, {"units": "Units"})
    assert shown.to_dict("list") == {"Units": ["1", ""], "since": ["2024-01-01 00:00 UTC", ""]}


def test_a_long_name_is_shortened_in_a_table_whole_on_hover() -> None:
    """Review 81: a 1,000-letter forename made a dry run's row 18 lines tall; messages are never shortened."""
    name, problem = "A" * 1000 + " Bench", "Use at most 255 characters (this has 1,000). " * 3
    shown = tables.humanize(pd.DataFrame({"name": [name, "Ada Lovelace"], "problem": [problem, "x"]}))
    cell = shown.loc[0, "name"]
    start = f"<span class='cl-long'>{'A' * (tables.LONG_NAME - 20)}</span>"  # (a long word wraps anywhere)
    assert cell.startswith(f"<span title='{name}'>{start}…") and f">{name}</span>" in cell
    assert shown.loc[1, "name"] == "Ada Lovelace" and shown.loc[0, "problem"] == html.escape(problem, quote=False)
    frame = tables.people_frame(
        [{"natural_person": {"forename": "B" * 300, "surname": "Bench"}}], tables.INVESTOR_COLUMNS
    )
    assert frame.loc[0, "Name"].startswith("<span title='" + "B" * 300)
    named = tables.investor_named({"i-1": "C" * 100})({"investor_id": "i-1"})
    assert named.startswith("<span title='" + "C" * 100) and "…" in named


def test_names_are_cut_between_whole_characters_and_html_cells_kept() -> None:
    """Review 82: an unnamed investor's short id in a name column stayed HTML (it was escaped into text); a name is
    never cut between a letter and its accent nor inside an emoji made of several."""
    from helpers.data import bulk, reconcile

    row: dict[str, Any] = dict.fromkeys(reconcile.DETAIL_COLUMNS)
    row.update(category="in_ledger_only", investor_id="3fa85f64-5717-4562-b3fc-2c963f66afa6", product_id="p")
    row.update(ledger_units=5, registry_units=0, difference=-5, cause="c", action="a", message="m")
    report = reconcile.Reconciliation(pd.DataFrame([row], columns=reconcile.DETAIL_COLUMNS), 1, 0, 0)
    assert panels.reconciliation_table(report).loc[0, "Investor"].startswith("<span class='cl-id' title='3fa85f64")
    cut = tables.LONG_NAME - 20
    accented = tables.short_name("e" * (cut - 1) + "e\u0301" + "x" * 40)  # (the accent is the cut's first character)
    shown = accented.split("'>", 1)[1].split("…")[0]  # (what the cell shows, before the whole name hidden)
    assert "\u0301" not in shown and shown.endswith("e" * 10 + "</span>")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    emoji = tables.short_name("F" * (cut - 2) + family + "y" * 40)
    assert tables.short_name(family * tables.LONG_NAME) == family * tables.LONG_NAME  # 80 as people count them
    assert isinstance(tables.short_name("a" + "\u0301" * 200), tables.Html)  # review 91: one character, a line long
    assert emoji.split("'>", 1)[1].split("…")[0].endswith("F</span>")
    for text, kept in (
        ("A" + "\U0001f1e9\U0001f1ea" * 90, "\U0001f1e9\U0001f1ea"),  # flags whole (two regional indicators)
        ("D" + "1\ufe0f\u20e3" * 90, "1\ufe0f\u20e3"),  # keycaps whole
        ("x" + "\u0915\u093f" * 90, "\u0915\u093f"),  # Devanagari: the vowel sign with its letter
        ("x" + "\u1100\u1175\u11b7" * 90, "\u1100\u1175\u11b7"),  # Korean in jamo: the syllable whole
        ("x" + "\u0915\u094d\u0937" * 90, "\u0915\u094d\u0937"),  # a Devanagari conjunct (k-virama-ssa) whole
        ("x" + "\u0e01\u0e33" * 90, "\u0e01\u0e33"),  # Thai: SARA AM with its consonant
    ):
        visible = tables.short_name(text).split("'>", 1)[1].split("…")[0]
        visible = visible.replace("<span class='cl-long'>", "").replace("</span>", "")
        assert visible.endswith(kept) and len(visible) <= tables.LONG_NAME - 20, (text[:3], visible[-6:])
    investor = "aaaaaaaa-5717-4562-b3fc-2c963f66afa6"
    results = pd.DataFrame([dict.fromkeys(bulk.RESULT_COLUMNS)])
    results.loc[0, ["row", "reference", "name", "status", "investor_id"]] = [2, "C", "N", "needs a decision", investor]
    matches = panels.bulk_results_table(results, names={investor: "Z<" * 500}).loc[0, "Matches investor"]
    shown = matches.split("'>", 1)[1].split("…")[0]  # (the whole name only on hover, and hidden for search)
    assert "Z&lt;" * 30 in shown and len(shown) < 400 and "<span class='cl-id'" in matches


def test_interactive_tables_sort_search_and_page() -> None:
    widget = tables.interactive(pd.DataFrame({"Name": ["a", "b"]}), page_length=25)
    assert type(widget).__name__ == "ITable" and widget._dt_args["pageLength"] == 25


# --- messages ---------------------------------------------------------------------------------------------------


def test_messages_are_whole_once_and_without_jargon() -> None:
    error = helpers.TaskError(
        "The redemption x failed: The ledger rejected it (sandbox task_outcome).. It is not done."
    )
    assert forms.error_sentence(error) == "The redemption x failed: The ledger rejected it. It is not done."
    # review 81: the space before a file's extension stays ('save it as .xlsx'); one before a full stop goes
    assert forms.error_sentence(ValueError("Save it again as .xlsx or as CSV .")) == "Save it again as .xlsx or as CSV."
    # an ellipsis in what the registry said stays one ('...' was read as a doubled full stop and became '.')
    assert forms.error_sentence(ValueError("It said: 'wait...'. Try later..")) == "It said: 'wait...'. Try later."
    said = "The ledger books..2026.csv has 4 problems. There is no file at ../samples/x.csv.."  # review 90
    assert forms.error_sentence(ValueError(said)) == said[:-1]  # (a file's name and a path kept as they are)
    long_iban = "DE89" + "3" * 200
    from helpers.core import checks

    with pytest.raises(checks.CheckError) as caught:
        checks.check_iban(long_iban)
    assert long_iban not in str(caught.value) and str(caught.value).endswith(".")


# --- reconciliation ---------------------------------------------------------------------------------------------


@pytest.fixture
def demo_client(demo_sandbox: dict[str, Any]) -> helpers.Client:
    return helpers.Client(helpers.load_config())


def test_reconciliation_says_who_why_and_what_to_do(demo_client: helpers.Client) -> None:
    report = reconcile.reconcile(demo_client, reconcile.read_ledger(ROOT / "samples" / "ledger_demo.csv"))
    detail = report.differences
    assert detail["investor_name"].notna().all()  # the registry's name where the ledger has none
    assert "Katherine Johnson" in set(detail.loc[detail["category"] == "in_registry_only", "investor_name"])
    assert detail["cause"].notna().all() and detail["action"].notna().all()
    grace = detail[detail["investor_name"] == "Grace Hopper"]
    assert grace["category"].tolist() == ["units_differ", "stuck"]  # together, in this order
    assert grace.index[1] == grace.index[0] + 1 and grace["related"].nunique() == 1
    assert "stuck (paid: " in grace["cause"].iloc[0] and "below: credit it" in grace["action"].iloc[0]
    messages = " ".join(detail["message"])
    assert "nan" not in messages and "(sandbox" not in messages
    summary = report.summary()
    assert (summary["meaning"] != summary["label"]).all() and summary["what_to_do"].str.len().min() > 20
    page = tables.static_html(panels.reconciliation_table(report)) + tables.static_html(panels.summary_table(report))
    assert "NaN" not in page and "NaT" not in page and ">nan<" not in page and "None" not in page
    shown = panels.reconciliation_table(report)  # review 42: a redemption's units read as a holding (Registry)
    redeemed = shown[shown["Difference"].str.startswith("redemption")]
    assert (
        len(redeemed)
        and (redeemed["Registry"] == "").all()
        and redeemed["Difference"].str.contains(" units)", regex=False).all()
    )


def test_html_report_shows_no_nan_or_nat(demo_sandbox: dict[str, Any], tmp_path: Path) -> None:
    from helpers.report import produce

    files = produce(ROOT / "samples" / "ledger_demo.csv", tmp_path / "reports", cell_timeout=120)
    page = files["html"].read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "reconciliation-report.html").write_text(page)
    visible = page.split("<body", 1)[1]
    for bad in (">nan<", ">NaN<", ">NaT<", ">None<", "unknown: nan", "(sandbox"):
        assert bad not in visible, bad
    assert "Likely cause" in visible and "What to do" in visible and "Grace Hopper" in visible


# --- personal data in executed notebooks ------------------------------------------------------------------------


def test_an_executed_onboarding_notebook_keeps_no_personal_data(demo_sandbox: dict[str, Any]) -> None:
    from helpers.report import run_notebook

    output = ARTIFACTS / "01_onboard_investor.executed.ipynb"
    run_notebook(ROOT / "notebooks" / "01_onboard_investor.ipynb", output, timeout=120)
    saved = output.read_text()
    notebook = json.loads(saved)
    assert notebook["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]  # widgets saved
    assert "is onboarded" in saved  # the walkthrough ran to its end
    for key in ("surname", "email", "street", "birth_place"):  # nor what names the person (screens kept as state)
        assert str(demo.ONBOARDING[key]) not in saved, f"{key} is in the executed notebook"
    for key in ("iban", "birth_date", "tax_id", "id_document_number", "id_process_id"):
        value = str(demo.ONBOARDING[key])
        assert value not in saved, f"{key} is in the executed notebook"


def test_personal_values_from_a_values_file_stay_out_of_the_executed_notebook(
    demo_sandbox: dict[str, Any], tmp_path: Path
) -> None:
    """papermill writes -p values into the notebook; VALUES_FILE's content is read by the kernel, never written."""
    from helpers.report import run_notebook

    values = {
        "FORENAME": "Valerie",
        "SURNAME": "Filed",
        "BIRTH_DATE": "1977-07-17",
        "EMAIL": "valerie.filed@example.com",
        "IBAN": "DE74370400447777770001",
        "TAX_ID": "98765432109",
        "ID_DOCUMENT_NUMBER": "T22000129",
    }
    (tmp_path / "person.json").write_text(json.dumps(values))
    output = ARTIFACTS / "01_onboard_investor.values_file.ipynb"
    run_notebook(
        ROOT / "notebooks" / "01_onboard_investor.ipynb",
        output,
        {"MODE": "unattended", "VALUES_FILE": str(tmp_path / "person.json")},
        timeout=120,
    )
    saved = output.read_text()
    assert "is onboarded" in saved and "Filed" not in saved  # onboarded from the file; no name kept either
    for key in ("BIRTH_DATE", "IBAN", "TAX_ID", "ID_DOCUMENT_NUMBER", "EMAIL"):
        assert values[key] not in saved, f"{key} is in the executed notebook"
    client = helpers.Client(helpers.load_config())
    assert any(i["communication"]["email"] == values["EMAIL"] for i in client.investors.list())


# --- lookup -----------------------------------------------------------------------------------------------------


def test_lookup_panel_starts_on_any_status_and_searches_on_enter(demo_client: helpers.Client) -> None:
    panel = panels.LookupPanel(demo_client)
    assert panel.status.value == "any" and panel.status.label == "any status"
    panel.search.value = "Grace"  # what Enter does in the browser (continuous_update=False)
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "1 investor matching your search" in shown and "“Grace”" not in shown  # a search may be an e-mail
    assert panel.search.value == "" and panel.clear_button.layout.display is None  # the search in force, said
    assert panel.search.placeholder == "your search is kept"  # (review 71: the box looked unset)
    panel.status.value = "PAID"  # the search stays in force, and the heading says whose investments
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "of this investor, status: Paid" in shown  # review 53: 'in status Rejected by the issuer of this …'
    panel.clear_button.click()  # everyone again (Enter on the emptied box changes nothing in a browser)
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "in the registry" in shown and panel.clear_button.layout.display == "none" and panel.status.value == "PAID"
    assert panel.search.placeholder == "name, e-mail or id"
    panel.status.value = "any"
    panel.search.value = "Grace"
    table = next(w for w in panel.output.children if "Name" in str(getattr(w, "_dt_args", "")))
    assert "Identification" in str(table._dt_args) and "successful" in table._dt_args["data_json"]  # (drf: from the
    masked_iban = panel.investors["bank_account.iban"].iloc[0]  # investor's identifications, sent without it)
    panel.show_personal.value = True  # shown at once, without another Look up
    assert panel.investors["bank_account.iban"].iloc[0] != masked_iban
    table = next(w for w in panel.output.children if "IBAN" in str(getattr(w, "_dt_args", "")))
    iban = panel.investors["bank_account.iban"].iloc[0]
    assert tables.spaced_iban(iban) in table._dt_args["data_json"] and len(tables.spaced_iban(iban).split()) > 4
    panel.search.value = "nobody at all"
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "No investor matches" in shown and "no chart" in shown
    assert not any(type(w).__name__ == "Output" for w in panel.output.children)  # no empty chart
    investment = demo_client.investments.list().to_list()[0]  # review 53: only an investor's id was found
    for typed in (investment["id"], investment["id"][:8].upper(), investment.get("wallet") or investment["id"]):
        panel.search.value = typed
        shown = " ".join(
            getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str)
        )
        assert "1 investor matching your search" in shown, typed  # (its investments with the id: a wallet's all)
        assert re.search(r"\d+ investments? matching your search", shown) and "of this investor" not in shown
        assert panel.investors["id"].tolist() == [investment["investor_id"]]
        assert investment["id"] in panel.investments["id"].tolist()
    panel.search.value = investment["id"]
    panel.status.value = next(s for s in ("PAID", "REJECTED_BY_ISSUER") if s != investment["status"])
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "1 investor matching your search" in shown  # review 56: with a status filter, 'no investor matches'
    assert "0 investments matching your search" in shown


def test_lookup_holdings_leave_out_a_wallet_with_nothing_left(client: helpers.Client) -> None:
    """Review 39: 'Holdings: 3 wallets with units' listed a wallet whose units were all redeemed (0)."""
    from tests.test_helpers_client import invest, onboard

    investor_id, wallet_id = onboard(client, "Redeemedall")
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)
    client.redemptions.create(investor_id, wallet_id, 10)
    assert client.holdings(investor_id=investor_id)["units"].tolist() == [0]  # the frame keeps it, for code
    panel = panels.LookupPanel(client)
    panel.search.value = investor_id
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "Holdings: 0 wallets with units" in shown


def test_a_status_filter_the_registry_ignores_is_said_in_the_lookup_not_as_a_warning(
    drf_client: helpers.Client,
) -> None:
    """Review 42: on drf the 'registry ignored the filter' note came as a red stderr box above the lookup, every run."""
    import warnings

    from tests.test_helpers_client import invest, onboard

    client = drf_client
    investor_id, wallet_id = onboard(client, "Filtered")
    client.investments.credit(invest(client, investor_id, wallet_id, 10).id)  # a DELIVERED one, not PAID
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing reaches the notebook's stderr
        panel = panels.LookupPanel(client, status="PAID")
        panel.refresh()
        panel._refresh_shown()  # (the client says it once; the panel says it each time the filter is in force)
    shown = " ".join(getattr(w, "value", "") for w in panel.output.children if isinstance(getattr(w, "value", ""), str))
    assert "Note: The registry does not filter investments by status" in shown and "what is shown is right" in shown


def test_lookup_panel_shows_a_registry_error_as_a_sentence(demo_sandbox: dict[str, Any]) -> None:
    transport = Transport(helpers.load_config(), retry=make_retry(total=0))  # the error at once, not after retries
    panel = panels.LookupPanel(helpers.Client(helpers.load_config(), transport=transport))
    demo_sandbox["box"].faults(error_rate=1.0)
    try:
        panel.search.value = "Grace"  # a search started from the panel (a widget callback)
    finally:
        demo_sandbox["box"].reset_faults()
    (shown,) = panel.output.children
    text = shown.value
    assert "The registry had a problem (503)" in text and "Traceback" not in text
    assert "Trying again (the same button) is safe" in text and "cell" not in text  # review 53: a cell re-run would
    # start the panel afresh


def descendants(widget: Any) -> list[Any]:
    """A widget and every widget inside it."""
    return [widget, *[w for child in getattr(widget, "children", ()) for w in descendants(child)]]


def test_lookup_panel_lists_the_investors_found_by_name(demo_client: helpers.Client) -> None:
    """Review 71: 40 matches came in the registry's order (ProbstBx, ProbstAx, ProbstCx...)."""
    for surname in ("SortcheckZoe", "SortcheckAbe", "SortcheckMia"):
        demo_client.investors.create(investor_body(surname))
    panel = panels.LookupPanel(demo_client)
    panel.search.value = "Sortcheck"
    table = next(w for w in panel.output.children if "Name" in str(getattr(w, "_dt_args", "")))
    shown = table._dt_args["data_json"]
    assert shown.index("SortcheckAbe") < shown.index("SortcheckMia") < shown.index("SortcheckZoe"), shown


def test_lookup_panel_closes_the_tables_a_new_search_replaces(demo_sandbox: dict[str, Any]) -> None:
    """A saved notebook keeps every open widget's state: the tables of earlier searches (everyone's names) must not
    stay open behind the one shown, nor after an error replaced them."""
    from ipywidgets.widgets.widget import _instances  # what Widget.widgets (deprecated) lists: the open widgets

    transport = Transport(helpers.load_config(), retry=make_retry(total=0))  # the error at once, not after retries
    panel = panels.LookupPanel(helpers.Client(helpers.load_config(), transport=transport))
    panel.refresh()
    shown = descendants(panel.output)[1:]
    assert any(type(w).__name__ == "ITable" for w in shown)
    opened = len(_instances)
    for text in ("Grace", "nobody at all"):
        panel.search.value = text  # a search from the panel, as Enter does
        assert panel.search.value == ""  # emptied once read: a saved notebook keeps no typed name or e-mail
    panel.clear_button.click()  # everyone again
    assert len(_instances) == opened  # the same search as the first one: as many widgets open as then
    assert all(w.comm is None for w in shown)  # the first search's tables, messages and chart are closed
    shown = descendants(panel.output)[1:]
    demo_sandbox["box"].faults(error_rate=1.0)
    try:
        panel._refresh_shown()  # the error's sentence replaces the tables: they are closed too
    finally:
        demo_sandbox["box"].reset_faults()
    assert all(w.comm is None for w in shown) and len(panel.output.children) == 1


# --- production -------------------------------------------------------------------------------------------------


def test_production_writes_that_move_units_ask_for_a_stronger_confirmation(
    client: helpers.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    investor = forms.InvestorForm(client, PERSON).submit()
    forms.IdentificationForm(
        client,
        investor.id,
        {
            "document_id": "L01X00T47",
            "document_issuer": "Amt",
            "document_valid_from": "2022-01-01",
            "document_valid_to": "2032-01-01",
            "id_process_id": "p",
            "identified_on": "2024-01-15",
            "protocol": b"%PDF-1.4 p",
        },
    ).submit()
    forms.WalletForm(client, investor.id).submit()
    investment = forms.InvestmentForm(
        client,
        {
            "accepted": True,
            "paid": True,
            "investor_id": investor.id,
            "units": 10,
            "signed_at": "2024-03-12",
            "document": b"%PDF-1.4 s",
        },
    ).submit()
    client.investments.credit(investment.id)
    monkeypatch.setattr(type(client.config), "environment", property(lambda _self: "production"))
    form = forms.RedemptionForm(client, {"investor_id": investor.id, "units": 3})
    assert "cl-badge-production" in form.header.value  # which registry: visible where the write starts
    assert form.click_submit() is None and "PRODUCTION" in form.status.value
    [confirm] = form.choices.children
    assert confirm.description == "Confirm on production"
    confirm.click()
    assert form.result is not None and form.result["status"] == "success"
    assert "Created now" in form.status.value and form.status.value.count("Created now") == 1


def test_the_overview_shows_what_holds_on_the_registry(demo_client: helpers.Client) -> None:
    overview = panels.Overview(demo_client)
    shown = " ".join(getattr(child, "value", "") for child in overview.children)
    assert "What holds on this registry" in shown and "page_size=2" in shown and "SANDBOX" in shown
    assert {row["check"] for row in overview.findings} >= {"API prefix", "page size", "investment filters", "fields"}
    # review 86: a product's type as a word (the Products table showed BOND)
    assert [api.in_words("product_type", t) for t in ("BOND", "SUBORDINATED_LOAN")] == ["Bond", "Subordinated loan"]


def test_a_column_empty_in_every_row_is_left_out_of_a_screen() -> None:
    from helpers.ui import tables

    records = [{"id": "a", "communication": {"email": "a@example.com"}}, {"id": "b"}]
    frame = tables.people_frame(records, tables.INVESTOR_COLUMNS)  # no kyc_status (drf), no city, no name
    assert "Identification" not in frame.columns and "City" not in frame.columns
    assert list(frame["E-mail"]) == ["a@example.com", ""]
    assert "Name" in tables.people_frame([], tables.INVESTOR_COLUMNS).columns  # no rows: every header
    statements = [
        {"id": "s", "remaining_units": 300},
        {"id": "t", "remaining_amount": {"amount": "30000000", "currency": "EUR", "decimals": 3}},
    ]
    assert list(tables.people_frame(statements, tables.STATEMENT_COLUMNS)["Remaining"]) == [
        "300 units",
        "EUR 30,000.00",
    ]
    investment = {"units": 120, "investment_amount": {"amount": "120000000", "currency": "EUR", "decimals": 3}}
    shown = tables.people_frame(tables.of_investment(statements, investment), tables.STATEMENT_COLUMNS)
    assert list(shown["Remaining"]) == ["300 units", "30 units"]  # review 62: drf's statements showed money


def test_the_toolkits_warning_prints_as_a_sentence_without_a_path_or_code() -> None:
    """In a notebook or a Voilà app, Python's default format shows the kernel's temporary file and a code line."""
    import subprocess
    import sys

    code = (
        "import warnings, helpers.ui\n"
        "from helpers.core.client import FilterIgnoredWarning\n"
        "warnings.warn('The registry ignored the filter.', FilterIgnoredWarning)\n"
        "warnings.warn('other warnings keep their form', UserWarning)\n"
        "from helpers.core.config import SettingIgnoredWarning\n"
        "warnings.warn('CASHLINK_TIMOUT is no setting.', SettingIgnoredWarning)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.splitlines() == ["Note: The registry ignored the filter."]  # review 53: not a red box
    assert "<string>:4: UserWarning: other warnings keep their form" in done.stderr.splitlines()[0]
    assert "Note: CASHLINK_TIMOUT is no setting." in done.stderr.splitlines()  # (review: a plain warning's form)


def test_static_tables_align_text_left_and_numbers_right() -> None:
    """JupyterLab aligns every cell of an HTML table right: names and sentences read badly so."""
    shown = tables.static_html(
        pd.DataFrame({"Row": ["3", "4"], "Problem": ["Repeats row 2.", "No such day."], "Books": ["1,500", ""]})
    )
    name = re.search(r"class=\"dataframe cl-table (cl-t[0-9a-f]{8})\"", shown).group(1)  # type: ignore[union-attr]
    assert f".{name} td, .{name} th {{text-align: left !important;" in shown
    right = re.findall(rf"\.{name} td:nth-child\((\d)\)[^{{]*\{{text-align: right", shown)
    assert right == ["1", "3"]  # Row and Books; Problem stays left


def test_a_panels_error_is_a_sentence_and_where_without_a_class_name() -> None:
    """The reconciliation's ledger upload showed 'SpreadsheetError: ...' and no row; a person reads the sentence and
    the rows and columns to fix."""
    from helpers.data import reconcile
    from helpers.data.ledger import SpreadsheetError

    some_id = "7b6d79ea-fef5-515e-9b74-94f68fc63ef3"
    bad = f"investor_id,product_id,units\n{some_id},{some_id},1.000\n".encode()
    with pytest.raises(SpreadsheetError) as caught:
        reconcile.read_ledger(bad, "books.csv")
    shown = panels.error_html(caught.value)
    assert "SpreadsheetError" not in shown and "nothing of it was used" in shown
    assert "<td>2</td>" in shown and "units" in shown and "can be read two ways" in shown


def test_charts_of_counts_have_whole_ticks() -> None:
    from helpers.ui.charts import status_chart

    figure = status_chart(pd.DataFrame({"status": ["PAID", "DELIVERED"], "investments": [1, 2]}))
    assert figure is not None and all(tick == int(tick) for tick in figure.axes[0].get_xticks())


def test_holdings_name_their_product(demo_client: helpers.Client) -> None:
    """The holdings table names the product (it showed a short id), and its heading says what it counts."""
    panel = panels.LookupPanel(demo_client)
    panel.refresh()  # everyone
    shown = " ".join(str(getattr(w, "value", "")) for w in panel.output.children)
    assert "with units (of delivered investments)" in shown
    holdings = [w for w in panel.output.children if "Units held" in str(getattr(w, "_dt_args", ""))]
    product = demo_client.products.get(demo_client.config.product_id)["name"]
    assert holdings and any(product in w._dt_args["data_json"] for w in holdings)


def test_a_lookup_panel_given_a_search_keeps_it_out_of_its_box(demo_client: helpers.Client) -> None:
    """Notebook 03 gives SEARCH to the panel and calls refresh(): the search is not in the (saved) box."""
    panel = panels.LookupPanel(demo_client, "Grace")
    investors, _investments = panel.refresh()
    assert panel.search.value == "" and panel.query == "Grace" and len(investors) == 1


def test_look_up_clicked_right_after_typing_is_the_typed_search(demo_client: helpers.Client) -> None:
    """Typing an e-mail and clicking 'Look up' (no Enter): the box sends its text as it loses focus, which searches
    and empties it; the click that follows is the same search (before: it showed everyone)."""
    panel = panels.LookupPanel(demo_client)
    panel.search.value = "Grace"  # the box's text, sent as it loses focus
    panel.button.click()  # the click that made it lose focus
    assert len(panel.investors) == 1 and panel.query == "Grace"
    panel.show_personal.value = True  # review 39: later, Look up with the box empty showed everyone (IBANs too)
    panel.button.click()  # it is the search in force, read again; everyone is 'Clear the search'
    assert len(panel.investors) == 1 and panel.query == "Grace"
    panel.clear_button.click()
    assert len(panel.investors) > 1 and panel.query == ""


def test_a_click_is_a_persons_and_a_programs_run_shows_no_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 56: a widget's event carries no front end's metadata, and the tables a click built were withheld."""
    import IPython

    parent: dict[str, Any] = {}
    kernel = type("Kernel", (), {"get_parent": lambda self, _channel: parent})()
    shell = type("Shell", (), {"kernel": kernel})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(people, "_PERSON_SEEN", [])
    parent.update(header={"msg_type": "execute_request"}, metadata={"cellId": "c1"})  # a JupyterLab console's
    assert tables.names_may_show()
    monkeypatch.setattr(people, "_PERSON_SEEN", [])
    parent.update(header={"msg_type": "execute_request"}, metadata={})  # papermill's, nbclient's
    assert not tables.names_may_show() and "A table that names people" in tables.static_html(
        pd.DataFrame({"Name": ["Ada"]}), names_people=True
    )
    parent.update(header={"msg_type": "comm_msg"}, content={"data": {"method": "update", "state": {"outputs": []}}})
    assert not tables.names_may_show()  # an Output widget's sync, which nbclient sends itself (review 57)
    parent.update(content={"data": {"method": "custom", "content": {"event": "click"}}})  # a click (JupyterLab, Voilà)
    assert tables.names_may_show()
    parent.update(header={"msg_type": "execute_request"}, metadata={})  # later cells of that person's kernel too
    assert tables.names_may_show() and "Ada" in tables.static_html(pd.DataFrame({"Name": ["Ada"]}), names_people=True)


def test_a_long_static_table_scrolls_in_a_box_with_every_row() -> None:
    """Review 86: a dry run's 'Rows ready to import' of 5,000 rows was 5,000 lines tall."""
    long = tables.static_html(pd.DataFrame({"Row": range(2, 5002), "Name": "Ada"}))
    assert "overflow-y:auto" in long and long.count("<td>Ada</td>") == 5000  # every row
    assert "overflow-y" not in tables.static_html(pd.DataFrame({"Row": range(2, 12)}))
    assert "position: sticky" in long and "@media print" in long  # review 87: its header in sight; printed whole


def test_a_record_shown_in_a_programs_run_masks_names_and_is_never_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 86: a record displayed in a cell (``client.investors.get(...)``) put the investor's name, e-mail and
    street into the notebook a program ran, and into one a person saved."""
    import IPython

    from helpers.saving import PERSONAL, without_widget_state

    parent: dict[str, Any] = {"header": {"msg_type": "execute_request"}, "metadata": {}}  # nbclient's, papermill's
    kernel = type("Kernel", (), {"get_parent": lambda self, _channel: parent})()
    shell = type("Shell", (), {"kernel": kernel})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(people, "_PERSON_SEEN", [])
    record = Record(
        {
            "id": "7b6d79ea-fef5-515e-9b74-94f68fc63ef3",
            "natural_person": {"forename": "Ada", "surname": "Lovelace", "birth_date": "1985-12-10"},
            "communication": {"email": "ada@example.com"},
        }
    )
    data, metadata = record._repr_mimebundle_()
    for shown in data.values():
        assert all(value not in shown for value in ("Ada", "Lovelace", "ada@", "1985")), shown
    parent["metadata"] = {"cellId": "c1"}  # a person's JupyterLab: names shown, the birth date still masked
    data, metadata = record._repr_mimebundle_()
    assert "Lovelace" in data["text/html"] and "Lovelace" in data["text/plain"] and "1985" not in data["text/html"]
    notebook = {"cells": [{"outputs": [{"output_type": "display_data", "data": data, "metadata": metadata}]}]}
    without_widget_state({"type": "notebook", "content": notebook})
    assert "Lovelace" not in str(notebook) and metadata == {PERSONAL: True}
    # review 87: in a list (IPython's pretty printer, an output that cannot be marked) names are masked always
    import IPython.lib.pretty

    assert "Lovelace" not in IPython.lib.pretty.pretty([record]) and "Lovelace" not in IPython.lib.pretty.pretty(
        {1: record}
    )


def test_a_result_card_shows_its_own_id_whole_and_the_ids_it_names_short() -> None:
    """Review 62: a card named its investor, campaign, product and wallet by four whole ids."""
    own, other = "3fa85f64-5717-4562-b3fc-2c963f66afa6", "4fa85f64-5717-4562-b3fc-2c963f66afa6"
    card = forms.record_card([("Id", own), ("Investor", other), ("Units", "120")])
    assert f"<td>{own}</td>" in card and f"<td>{other}</td>" not in card
    later = forms.record_card([("Investment id", other), ("Redemption id", forms.OwnId(own))])  # reviews 64, 65: the
    assert f"<td>{own}</td>" in later and f"<td>{other}</td>" not in later  # own id, wherever; another's, short
    assert f"title='{other}'><code>4fa85f64…</code>" in card and "<td>120</td>" in card


def test_a_second_import_click_keeps_what_the_first_completed() -> None:
    """Review 64: a row whose identification and wallet the first click made read 'already existed' after the second
    click (retrying a failed row), and was counted among that click's rows."""
    columns = ["row", "reference", "name", "investor_id", "identification_id", "wallet_id", "status", "error"]
    first = pd.DataFrame(
        [
            [2, "A", "x", "inv-a", "idn-a", "w-a", "completed", None],
            [3, "B", "y", "inv-b", "idn-b", "w-b", "created", None],
            [4, "C", "z", None, None, None, "failed", "registry down"],
        ],
        columns=columns,
    )
    second = first.assign(status=["already existed", "already existed", "created"], error=None)
    merged, kept = panels._kept_outcomes(first, second)
    assert kept == {2, 3} and list(merged["status"]) == ["completed", "created", "created"]


@pytest.mark.parametrize(
    "typed", ["Hopper, Grace", "grace  hopper", "HOPPER grace", "Hop\u00adper", "Grace\u200b Hopper"]
)
def test_a_search_finds_a_name_in_any_order_case_and_spacing(demo_client: helpers.Client, typed: str) -> None:
    """Review 88: 'Lovelace, Ada' and 'ada  lovelace' (two spaces) found no one."""
    panel = panels.LookupPanel(demo_client)
    panel.search.value = typed
    assert len(panel.investors) == 1 and "Hopper" in lookup.searchable(
        demo_client.investors.get(panel.investors["id"][0])
    )
