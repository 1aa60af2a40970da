"""The walkthroughs by hand in a real browser (Playwright, Debian's chromium): onboarding, invest and credit,
redemption (a repeated one asks first), and the Voilà app. Screenshots are kept in test-artifacts/screens/."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import helpers
from helpers.core.config import GUIDE_SCOPES
from sandbox.runner import SandboxProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screens"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", "--disable-background-networking"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)"),
]


def _serve(command: list[str], env: dict[str, str], log: Path, url: str) -> subprocess.Popen[bytes]:
    # From the project, as `make lab` and `make app` run (Voilà reads the project's voila.json there).
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # wait until the server answers (its state), bounded
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"{command[2]} did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox, JupyterLab and Voilà on a copy of the notebooks (the committed ones stay without outputs)."""
    tmp = tmp_path_factory.mktemp("screens-browser")
    box = SandboxProcess(port=free_port(), db_path=tmp / "registry.sqlite3")
    box.start()
    workdir = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", workdir)
    (tmp / "protocol.pdf").write_bytes(PDF)
    settings = tmp / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {
        **os.environ,
        **box.client_environment(tmp / "journal.sqlite3", GUIDE_SCOPES),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "MPLBACKEND": "Agg",
    }
    token, lab_port, app_port = secrets.token_hex(16), free_port(), free_port()
    lab = _serve(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--config={ROOT / 'lab_server_config.py'}",  # as `make lab`: notebooks saved without widget state
            f"--port={lab_port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}",
            "--allow-root",
            "--LabApp.expose_app_in_browser=True",  # the tests wait on JupyterLab's state (window.jupyterapp)
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env,
        tmp / "lab.log",
        f"http://127.0.0.1:{lab_port}/api/status?token={token}",
    )
    app = _serve(
        [sys.executable, "-m", "voila", str(workdir), "--no-browser", f"--port={app_port}", "--Voila.ip=127.0.0.1"],
        env,
        tmp / "voila.log",
        f"http://127.0.0.1:{app_port}/",
    )
    try:
        yield {
            "lab": f"http://127.0.0.1:{lab_port}",
            "token": token,
            "app": f"http://127.0.0.1:{app_port}",
            "box": box,
            "tmp": tmp,
        }
    finally:
        for process in (lab, app):
            process.terminate()
            process.wait(15)
        box.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name in ("lab.log", "voila.log"):
            if (tmp / name).exists():
                shutil.copy(tmp / name, ARTIFACTS / name)


@pytest.fixture
def page(servers: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A browser page; its screenshot is kept as <test>-passed.png or <test>-failed.png."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.removeprefix("test_")
    for stale in ARTIFACTS.glob(f"{name}-*.png"):
        stale.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        console: list[str] = []
        tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        failures = request.session.testsfailed
        try:
            yield tab
        finally:
            outcome = "failed" if request.session.testsfailed > failures else "passed"
            try:
                tab.screenshot(path=str(ARTIFACTS / f"{name}-{outcome}.png"), full_page=True)
            finally:
                (ARTIFACTS / f"{name}-console.txt").write_text("\n".join(console))
                browser.close()
                _shut_down_kernels(servers)


def _shut_down_kernels(servers: dict[str, Any]) -> None:
    """The test's notebook kernels end with it (the next test starts on a machine without them)."""
    auth = {"Authorization": f"token {servers['token']}"}
    for session in requests.get(f"{servers['lab']}/api/sessions", headers=auth, timeout=30).json():
        requests.delete(f"{servers['lab']}/api/sessions/{session['id']}", headers=auth, timeout=60)


# JupyterLab's own state (the app is exposed to the page: --LabApp.expose_app_in_browser). A Run All issued before
# the notebook, its session and its kernel are ready does nothing (or asks for a kernel), so it is issued only when
# ready, and again when no cell started.
NOTEBOOK_READY = """(path) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext;
  const kernel = session && session.session && session.session.kernel;
  return Boolean(panel && panel.context && panel.context.isReady && panel.context.path === path
    && panel.content && panel.content.widgets.length
    && session.isReady && !session.pendingInput && kernel && kernel.connectionStatus === 'connected'
    && kernel.status === 'idle');
}"""
# The code cells' execution counts, to tell a new run from an earlier one.
EXECUTION_COUNTS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(cell => cell.model.type === 'code').map(cell => cell.model.executionCount)"""
# A cell of this run is scheduled or running (its model's state, or the prompt's [*]) or has finished since (its count
# differs from before this Run All: on a re-run the cells already have counts). A busy kernel alone is no evidence: it
# is busy for widget messages too.
EXECUTION_STARTED = """(before) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter(cell => cell.model.type === 'code');
  return cells.some((cell, i) => {
    const prompt = cell.promptNode || cell.node.querySelector('.jp-InputPrompt');
    return cell.model.executionState === 'running' || cell.model.executionCount !== before[i]
      || Boolean(prompt && prompt.textContent.includes('*'));
  });
}"""
# No code cell is scheduled or running any more (Run All schedules them all at once) and the kernel is idle: the
# run is over (or stopped at an error).
RUN_FINISHED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === 'idle') && panel.content.widgets
    .every(cell => cell.model.type !== 'code' || cell.model.executionState !== 'running');
}"""


def run_all_cells(page: Any, notebook: str) -> None:
    """Run → Run All Cells once the notebook is ready (and the current tab); re-issued when no cell started (at most
    three times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    before = None
    for _attempt in range(3):
        page.wait_for_function(NOTEBOOK_READY, arg=notebook, timeout=90_000)
        if before is not None and page.evaluate(EXECUTION_STARTED, before):
            return  # the previous Run All started late (and is over): not a second run
        before = page.evaluate(EXECUTION_COUNTS)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            page.wait_for_function(EXECUTION_STARTED, arg=before, timeout=20_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")  # a menu or dialog left open
    raise AssertionError("Run All Cells was issued three times and no cell started")


def open_and_run(page: Any, servers: dict[str, Any], notebook: str) -> Any:
    """Open a notebook in JupyterLab, run all its cells, and return the walkthrough once the run is over."""
    from playwright.sync_api import expect

    # A workspace of its own: JupyterLab would otherwise reopen the notebooks of earlier tests beside this one.
    workspace = f"screens-{secrets.token_hex(4)}"
    page.goto(f"{servers['lab']}/lab/workspaces/{workspace}/tree/{notebook}?token={servers['token']}")
    run_all_cells(page, notebook)
    page.wait_for_function(RUN_FINISHED, timeout=120_000)
    wizard = page.locator(".cl-wizard:visible, .cl-panel:visible").first
    expect(wizard).to_be_visible(timeout=60_000)
    return wizard


def field(scope: Any, path: str, kind: str = "input") -> Any:
    return scope.locator(f".cl-field-{path.replace('.', '-')} {kind}").first


def upload(page: Any, scope: Any, path: str, file: Path) -> None:
    """Choose a file in a FileUpload field as a person does: click its button and answer the browser's file chooser.
    (ipywidgets 8's upload view is the button itself; its <input type=file> is never put into the page.) Done when
    the button counts the file: the widget has read it and sent it to the kernel."""
    from playwright.sync_api import expect

    button = scope.locator(f"button.cl-field-{path.replace('.', '-')}").first
    with page.expect_file_chooser() as chooser:
        button.click()
    chooser.value.set_files(str(file))
    expect(button).to_contain_text("(1)", timeout=20_000)


def choose(select: Any, part: str) -> None:
    """Pick the option whose label contains ``part``."""
    labels = select.evaluate("s => Array.from(s.options).map(o => o.label)")
    select.select_option(label=next(label for label in labels if part in label))


def review_and_submit(page: Any, scope: Any) -> None:
    from playwright.sync_api import expect

    form = scope.locator(".cl-form:visible").first
    form.locator(".cl-review").click()
    expect(form.locator(".cl-submit")).to_be_enabled(timeout=20_000)
    form.locator(".cl-submit").click()


def test_onboarding_by_hand(page: Any, servers: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    wizard = open_and_run(page, servers, "01_onboard_investor.ipynb")
    expect(wizard.get_by_text("Step 1 of 4: Investor")).to_be_visible()
    expect(wizard.locator(".cl-mode .mod-active, .cl-mode button[aria-pressed='true']").first).to_have_text("By hand")
    assert field(wizard, "bank_account.iban").input_value() == ""  # empty for a person: no demo data
    for path, value in {
        "natural_person.forename": "Grace",
        "natural_person.surname": "Hopper-Browser",
        "natural_person.birth_date": "1976-12-09",
        "natural_person.street": "Hauptstr. 2",
        "natural_person.zip": "60316",
        "natural_person.city": "Frankfurt",
        "bank_account.account_holder": "Grace Hopper",
        "bank_account.iban": "DE57370400445320130777"[:-1] + "8",  # a typo first: the check digits do not match
        "bank_account.bic": "COBADEFFXXX",
        "tax_information.tax_identification_number": "12345678901",
        "communication.email": "grace.browser@example.com",
    }.items():
        field(wizard, path).fill(value)
    for path in ("natural_person.citizenship", "natural_person.country"):
        choose(field(wizard, path, "select"), "(DEU)")
    error = wizard.locator(".cl-row-bank_account-iban .cl-error").first
    expect(error).to_contain_text("Check it against the bank's documents.")  # the whole sentence
    assert error.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the message is cut"
    field(wizard, "bank_account.iban").fill("DE57 3704 0044 5320 1307 77")  # nobody's in the registry
    # The kernel checked the corrected IBAN. (ipywidgets holds back a field's second change until the kernel answered
    # the first, while a click goes at once: Review must not overtake it.)
    expect(error).to_have_text("")
    review_and_submit(page, wizard)
    expect(wizard.get_by_text(re.compile(r"Created now: investor id"))).to_be_visible(timeout=30_000)
    expect(wizard.locator(".cl-review-table")).to_have_count(0)
    wizard.locator(".cl-next").click()
    expect(wizard.get_by_text("Step 2 of 4: Identification")).to_be_visible()
    assert field(wizard, "document_id").input_value() == ""  # not pre-filled with anybody's document
    for path, value in {
        "document_id": "L01X00T47",
        "document_issuer": "Buergeramt Frankfurt",
        "document_valid_from": "2022-01-01",
        "document_valid_to": "2032-01-01",
        "legitimation_process_id": "pi-77",
        "verified_at": "2024-01-15",
    }.items():
        field(wizard, path).fill(value)
    upload(page, wizard, "legitimation_protocol_id", servers["tmp"] / "protocol.pdf")
    review_and_submit(page, wizard)
    expect(wizard.get_by_text(re.compile(r"Created now: identification"))).to_be_visible(timeout=30_000)
    wizard.locator(".cl-next").click()
    review_and_submit(page, wizard)
    expect(wizard.get_by_text(re.compile(r"Created now: wallet"))).to_be_visible(timeout=30_000)
    wizard.locator(".cl-next").click()
    expect(wizard.get_by_text(re.compile(r"The investor \w{8} is onboarded"))).to_be_visible(timeout=30_000)
    assert page.evaluate("document.documentElement.scrollHeight") < 4000  # one output, each result once


def onboarded_investor(servers: dict[str, Any], surname: str, units: int = 0) -> tuple[helpers.Client, str]:
    from helpers.ui import forms
    from tests.test_forms import IDENT, PERSON

    client = helpers.Client(
        helpers.load_config(base_url=servers["box"].base_url, journal_path=servers["tmp"] / f"{surname}.sqlite3")
    )
    person = {**PERSON, "surname": surname, "email": f"{surname.lower()}@example.com", "account_holder": surname}
    from tests.conftest import unique_iban

    person["iban"] = unique_iban(surname)
    investor = forms.InvestorForm(client, person).submit()
    forms.IdentificationForm(client, investor.id, IDENT).submit()
    forms.WalletForm(client, investor.id).submit()
    if units:
        investment = forms.InvestmentForm(
            client,
            {
                "accepted": True,
                "paid": True,
                "investor_id": investor.id,
                "units": units,
                "signed_at": "2024-03-12",
                "document": PDF,
            },
        ).submit()
        client.investments.credit(investment.id)
    return client, investor.id


def test_invest_and_credit_by_hand(page: Any, servers: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    client, investor_id = onboarded_investor(servers, "Investbrowser")
    wizard = open_and_run(page, servers, "02_invest_and_credit.ipynb")
    expect(wizard.get_by_text("Step 1 of 3: Investment")).to_be_visible()
    choose(field(wizard, "investor_id", "select"), "Investbrowser")
    field(wizard, "units").fill("2.5")
    expect(wizard.get_by_text("Units must be a whole number")).to_be_visible()
    field(wizard, "units").fill("120")
    expect(wizard.get_by_text("Units must be a whole number")).to_have_count(0)  # the kernel has 120 (see onboarding)
    field(wizard, "signed_at").fill("2024-03-12")
    for box in ("accepted", "paid"):  # unticked until a person says so
        expect(field(wizard, box, "input[type=checkbox]")).not_to_be_checked()
        field(wizard, box, "input[type=checkbox]").check()
    upload(page, wizard, "signed_document", servers["tmp"] / "protocol.pdf")
    review_and_submit(page, wizard)
    expect(wizard.get_by_text(re.compile(r"Created now: investment"))).to_be_visible(timeout=30_000)
    wizard.locator(".cl-next").click()
    wizard.locator(".cl-credit").click()
    expect(wizard.get_by_text("The investment is delivered")).to_be_visible(timeout=60_000)
    expect(wizard.get_by_text("checks/s")).to_have_count(0)
    wizard.locator(".cl-next").click()
    expect(wizard.get_by_text("Registry statements")).to_be_visible(timeout=30_000)
    delivered = client.investments.list(investor_id=investor_id, status="DELIVERED").to_list()
    assert [i["units"] for i in delivered] == [120]


def test_redemption_by_hand_asks_before_a_repeat(page: Any, servers: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    client, investor_id = onboarded_investor(servers, "Redeembrowser", units=200)
    wizard = open_and_run(page, servers, "04_redeem.ipynb")

    def redeem(held: int) -> None:
        choose(field(wizard, "investor_id", "select"), "Redeembrowser")
        # The balance of the chosen investor's wallet (not the intro's "more than the wallet holds").
        expect(wizard.get_by_text(f"The wallet holds {held} units of the product.")).to_be_visible(timeout=30_000)
        field(wizard, "units").fill("50")
        review_and_submit(page, wizard)

    redeem(200)
    expect(wizard.get_by_text(re.compile(r"Created now: redemption"))).to_be_visible(timeout=60_000)
    wizard.locator(".cl-next").click()
    expect(wizard.get_by_text(re.compile(r"Where the units came from|does not say which investments"))).to_be_visible(
        timeout=30_000
    )
    # review 56: after a click, the tables that name people were withheld as if a program ran the notebook
    expect(wizard.locator(".dataTable, table").get_by_text(re.compile("Redeembrowser")).first).to_be_visible()
    expect(wizard.get_by_text("A table that names people")).to_have_count(0)
    wizard.locator(".cl-start-again").click()
    redeem(150)
    question = wizard.get_by_text(re.compile(r"An identical redemption of 50 units was made today at \d\d:\d\d"))
    expect(question).to_be_visible(timeout=30_000)
    assert len(client.redemptions.list(investor_id=investor_id).to_list()) == 1  # asked before sending
    wizard.locator(".cl-make-another").click()
    expect(wizard.get_by_text(re.compile(r"Created now: redemption"))).to_be_visible(timeout=60_000)
    assert len(client.redemptions.list(investor_id=investor_id).to_list()) == 2
    run_all_cells(page, "04_redeem.ipynb")  # run the notebook again: it sends nothing
    page.wait_for_function(RUN_FINISHED, timeout=120_000)
    expect(page.locator(".cl-wizard:visible").first.get_by_text("Step 1 of 2: Redemption")).to_be_visible(
        timeout=60_000
    )
    assert len(client.redemptions.list(investor_id=investor_id).to_list()) == 2


def test_voila_app_shows_the_walkthrough_without_code(page: Any, servers: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{servers['app']}/")  # the app's home page lists the notebooks (rendered by the server: voila.json)
    expect(page.get_by_text("01_onboard_investor.ipynb")).to_be_visible(timeout=60_000)
    page.goto(f"{servers['app']}/voila/render/01_onboard_investor.ipynb")
    wizard = page.locator(".cl-wizard").first
    expect(wizard).to_be_visible(timeout=120_000)
    expect(wizard.get_by_text("Step 1 of 4: Investor")).to_be_visible()
    expect(wizard.locator(".cl-badge-sandbox").first).to_be_visible()
    assert "walkthrough.Onboarding(" not in page.content()  # the code is hidden
    assert field(wizard, "bank_account.iban").input_value() == ""  # by hand in the app
    field(wizard, "communication.email").fill("not-an-address")
    expect(wizard.get_by_text("This is not an e-mail address; write one such as name@example.com.")).to_be_visible()


def test_the_overview_shows_its_chart_as_a_picture_and_amounts_aligned_right(
    page: Any, servers: dict[str, Any]
) -> None:
    """With MPLBACKEND=Agg (as here, and on servers) a figure displayed as itself is only its text
    ('<Figure size 700x195 with 1 Axes>'); the overview's chart is a PNG picture."""
    from playwright.sync_api import expect

    onboarded_investor(servers, "Chartbrowser", units=5)
    panel = open_and_run(page, servers, "00_connect_and_check.ipynb")
    expect(panel.locator("img[src^='data:image/png']").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"<Figure size"))).to_have_count(0)
    price = panel.locator("td", has_text=re.compile(r"^EUR [0-9]")).first  # amounts right, names left
    expect(price).to_have_css("text-align", "right")
    expect(panel.locator("td", has_text="Solar Bond 2030").first).to_have_css("text-align", "left")


def test_notebooks_are_saved_without_widget_state(servers: dict[str, Any]) -> None:
    """JupyterLab's 'Save Widget State Automatically' would keep what was typed in a form and never sent, the
    pickers' names and the lookup tables' e-mails: the server `make lab` starts saves notebooks without it."""
    import requests

    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": {"m1": {"model_name": "TextModel", "state": {"value": "Yvonne Unsentova"}}},
                    "version_major": 2,
                    "version_minor": 0,
                }
            },
        },
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "id": "c1",
                "metadata": {},
                "source": "panel",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2}},
                    }
                ],
            }
        ],
    }
    saved = requests.put(
        f"{servers['lab']}/api/contents/saved-state.ipynb",
        params={"token": servers["token"]},
        json={"type": "notebook", "format": "json", "content": notebook},
        timeout=30,
    )
    assert saved.status_code in (200, 201), saved.text
    on_disk = (servers["tmp"] / "notebooks" / "saved-state.ipynb").read_text()
    assert "Unsentova" not in on_disk and "widget-state" not in on_disk and '"kernelspec"' in on_disk
    assert "widget-view" not in on_disk and "Run the cell again" in on_disk  # not 'model not found' once reopened
    as_text = requests.put(  # from the text editor: a notebook's JSON saved as a file
        f"{servers['lab']}/api/contents/as-text.ipynb",
        params={"token": servers["token"]},
        json={"type": "file", "format": "text", "content": json.dumps(notebook)},
        timeout=30,
    )
    assert as_text.status_code in (200, 201), as_text.text
    assert "Unsentova" not in (servers["tmp"] / "notebooks" / "as-text.ipynb").read_text()
