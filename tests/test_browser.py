"""JupyterLab in Debian's headless Chromium (Playwright, never a downloaded browser): run the onboarding notebook,
fill in the investor form, submit it, and see the new investor.

Every wait is on the page's state, never on time. Evidence goes to ``test-artifacts/browser/``: a screenshot named
``onboarding-form-passed.png`` or ``onboarding-form-failed.png`` (stale ones are removed first), the JupyterLab log
and the browser console.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.util.retry import Retry

import helpers
from helpers.core.config import GUIDE_SCOPES, Config
from sandbox.runner import SandboxProcess, free_port
from sandbox.seed import DEMO_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]

# The notebook panel is ready to run: its model is loaded, the kernel is connected and idle. `window.jupyterapp`
# exists because the server runs with --LabApp.expose_app_in_browser.
NOTEBOOK_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext;
  const kernel = session && session.session && session.session.kernel;
  return Boolean(panel && panel.context && panel.context.isReady && panel.content && panel.content.widgets.length
    && session.isReady && !session.pendingInput && kernel && kernel.connectionStatus === 'connected'
    && kernel.status === 'idle');
}"""
# Execution has started: the kernel left 'idle' or a code cell has an execution count (or the '*' of a queued cell).
EXECUTION_STARTED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const started = panel.content.widgets.some(cell => cell.model.type === 'code'
    && (cell.model.executionCount !== null || cell.node.querySelector('.jp-InputPrompt').textContent.includes('*')));
  return started || (kernel && kernel.status !== 'idle');
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (make test installs it)",
    ),
]


def wait_until_up(url: str, token: str, server: subprocess.Popen[bytes]) -> None:
    """Wait until JupyterLab answers /api/status (retries with backoff; fails at once if the server exited)."""
    session = requests.Session()
    session.mount(
        "http://",
        requests.adapters.HTTPAdapter(max_retries=Retry(total=20, connect=20, backoff_factor=0.25, backoff_max=5)),
    )
    try:
        session.get(f"{url}/api/status", params={"token": token}, timeout=10).raise_for_status()
    except requests.RequestException as exc:
        raise RuntimeError(f"JupyterLab did not start (exit code {server.poll()}): {exc}") from None


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox and a JupyterLab server on a copy of the notebooks (the committed ones stay without outputs)."""
    tmp = tmp_path_factory.mktemp("lab")
    box = SandboxProcess(port=free_port(), db_path=tmp / "registry.sqlite3")
    box.start()
    workdir = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", workdir)
    settings = tmp / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    token, port = secrets.token_hex(16), free_port()
    seed = box.health()["seed"]
    env = {
        **os.environ,  # every CASHLINK_* setting, so that a developer's .env cannot send the kernel elsewhere
        "CASHLINK_BASE_URL": box.base_url,
        "CASHLINK_CLIENT_ID": seed["client_id"],
        "CASHLINK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "CASHLINK_CAMPAIGN_ID": seed["campaign_id"],
        "CASHLINK_PRODUCT_ID": seed["product_id"],
        "CASHLINK_SCOPES": GUIDE_SCOPES,
        "CASHLINK_API_PREFIX": "/v2",
        "CASHLINK_TIMEOUT": "30",
        "CASHLINK_JOURNAL": str(tmp / "journal.sqlite3"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "MPLBACKEND": "Agg",
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyterlab.log"
    log = log_path.open("wb")  # the server writes to it until the fixture ends
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}",
            "--allow-root",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            # Kernels on Unix sockets: a TCP port picked for a kernel can be taken by another process before the
            # kernel binds it on a busy machine (see helpers.report.run_notebook).
            "--KernelManager.transport=ipc",
            f"--KernelManager.ip={tmp / 'runtime' / 'kernel'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, token, server)
        yield {"url": url, "token": token, "box": box, "tmp": tmp}
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        box.stop()


def run_all_cells(page: Any) -> None:
    """Run All Cells from the menu once the notebook is ready; if no cell starts, issue the command again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _attempt in range(3):
        page.wait_for_function(NOTEBOOK_READY, timeout=90_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            page.wait_for_function(EXECUTION_STARTED, timeout=20_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")  # close a menu left open, then try again
    raise AssertionError("Run All Cells was issued three times and no cell started")


def test_onboarding_form_in_a_real_browser(lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    for stale in ARTIFACTS.glob("onboarding-form-*.png"):
        stale.unlink()
    console = (ARTIFACTS / "browser-console.log").open("w", encoding="utf-8")
    passed = False
    with sync_playwright() as playwright, console:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda message: console.write(f"{message.type}: {message.text}\n"))
        page.on("pageerror", lambda error: console.write(f"pageerror: {error}\n"))
        try:
            page.goto(f"{lab['url']}/lab/tree/01_onboard_investor.ipynb?token={lab['token']}")
            run_all_cells(page)
            form = page.locator(".cl-form").first
            expect(form).to_be_visible(timeout=90_000)
            # The defaults were submitted unattended (sandbox); now an analyst enters another investor.
            expect(form.get_by_text("Created: id")).to_be_visible(timeout=60_000)
            form.locator(".cl-field-natural_person-forename input").fill("Grace")
            form.locator(".cl-field-natural_person-surname input").fill("Hopper")
            form.locator(".cl-field-communication-email input").fill("grace.hopper@example")
            form.locator(".cl-field-bank_account-account_holder input").fill("Grace Hopper")
            form.locator(".cl-review").click()
            expect(form.get_by_text("not an e-mail address")).to_be_visible(timeout=30_000)
            form.locator(".cl-field-communication-email input").fill("grace.hopper@example.com")
            form.locator(".cl-review").click()
            expect(form.locator(".cl-submit")).to_be_enabled(timeout=30_000)
            form.locator(".cl-submit").click()
            expect(form.get_by_text("Hopper").first).to_be_visible(timeout=60_000)
            status = form.get_by_text(re.compile(r"Created: id [0-9a-f-]{36}"))
            expect(status).to_be_visible(timeout=60_000)
            new_id = re.search(r"[0-9a-f-]{36}", status.inner_text()).group(0)
            passed = True
        finally:
            outcome = "passed" if passed else "failed"
            try:
                page.screenshot(path=str(ARTIFACTS / f"onboarding-form-{outcome}.png"), full_page=True)
            finally:
                browser.close()
    seed = lab["box"].health()["seed"]
    client = helpers.Client(
        Config(
            base_url=lab["box"].base_url,
            client_id=seed["client_id"],
            client_secret=DEMO_CLIENT_SECRET,
            journal_path=lab["tmp"] / "check.sqlite3",
            source="test",
        )
    )
    investor = client.investors.get(new_id)
    assert investor["natural_person"]["surname"] == "Hopper"
    assert investor["communication"]["email"] == "grace.hopper@example.com"
