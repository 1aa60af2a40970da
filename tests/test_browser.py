"""JupyterLab in Debian's headless Chromium (Playwright, never a downloaded browser): run the onboarding notebook,
fill in the investor form, submit it, and see the new investor. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

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
from sandbox.runner import SandboxProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (make test installs it)",
    ),
]


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
    env = {
        **os.environ,
        "CASHLINK_BASE_URL": box.base_url,
        "CASHLINK_JOURNAL": str(tmp / "journal.sqlite3"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    log = (tmp / "lab.log").open("wb")
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
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        server.terminate()
        raise RuntimeError(f"JupyterLab did not start: {(tmp / 'lab.log').read_text()[-2000:]}")
    try:
        yield {"url": url, "token": token, "box": box, "tmp": tmp}
    finally:
        server.terminate()
        server.wait(15)
        log.close()
        box.stop()


def test_onboarding_form_in_a_real_browser(lab: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab['url']}/lab/tree/01_onboard_investor.ipynb?token={lab['token']}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
            form = page.locator(".cl-form").first
            expect(form).to_be_visible(timeout=90_000)
            # The defaults were submitted unattended (sandbox); now an analyst enters another investor.
            expect(form.get_by_text("Created: id")).to_be_visible(timeout=60_000)
            form.locator(".cl-field-natural_person-forename input").fill("Grace")
            form.locator(".cl-field-natural_person-surname input").fill("Hopper")
            form.locator(".cl-field-communication-email input").fill("grace.hopper@example")
            form.locator(".cl-field-bank_account-account_holder input").fill("Grace Hopper")
            form.locator(".cl-review").click()
            expect(form.get_by_text("not an e-mail address")).to_be_visible()
            form.locator(".cl-field-communication-email input").fill("grace.hopper@example.com")
            form.locator(".cl-review").click()
            expect(form.locator(".cl-submit")).to_be_enabled()
            form.locator(".cl-submit").click()
            expect(form.get_by_text("Hopper").first).to_be_visible(timeout=30_000)
            status = form.get_by_text(re.compile(r"Created: id [0-9a-f-]{36}"))
            expect(status).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "onboarding-form.png"), full_page=True)
            new_id = re.search(r"[0-9a-f-]{36}", status.inner_text()).group(0)
        finally:
            browser.close()
    client = helpers.Client(
        helpers.load_config(base_url=lab["box"].base_url, journal_path=lab["tmp"] / "check.sqlite3")
    )
    investor = client.investors.get(new_id)
    assert investor["natural_person"]["surname"] == "Hopper"
    assert investor["communication"]["email"] == "grace.hopper@example.com"
