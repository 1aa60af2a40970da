"""Hostile input gets a 4xx, never a 500; the administration is closed to everyone without the admin token; no
secret leaves the sandbox. Conventions both profiles share, so each test runs under both."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.runner import ROOT, SandboxProcess, is_up
from tests.sandbox_fixtures import Sandbox, free_port, investor_body
from tests.test_sandbox_api import Api


@pytest.fixture
def api(any_sandbox: Sandbox) -> Api:
    return Api(any_sandbox, any_sandbox.new_client())


def investor_count(api: Api) -> int:
    count: int = api.get("/investors/").json()["count"]
    return count


def test_json_nested_100000_levels_deep(api: Api) -> None:
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        response = requests.post(
            api.url + "/investors/", data=body, timeout=30, headers={**api.headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
    assert investor_count(api) == 0


@pytest.mark.parametrize("name", ["page", "after", "page_size"])
def test_huge_page_numbers(api: Api, any_sandbox: Sandbox, name: str) -> None:
    response = api.get("/investments/", params={name: 10**20})
    if any_sandbox.profile == "strict":
        assert response.status_code == 400 and "larger than any page" in response.json()[name][0], response.text
    elif name == "page":
        assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}
    else:
        assert response.status_code == 200  # the drf profile ignores page_size and after
    assert api.get("/investments/", params={"page": 2**62}).status_code == 404


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "²", ""])
def test_bad_page_numbers(api: Api, any_sandbox: Sandbox, value: str) -> None:
    response = api.get("/investments/", params={"page": value})
    if any_sandbox.profile == "strict":
        assert response.status_code == 400 and "page" in response.json()
    else:
        assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize(
    "credentials", [b"!!!not-base64", base64.b64encode(b"\xff\xfe:\xff"), base64.b64encode(b"no-colon"), b""]
)
def test_token_with_broken_basic_credentials(any_sandbox: Sandbox, credentials: bytes) -> None:
    response = requests.post(
        f"{any_sandbox.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": b"Basic " + credentials},
        timeout=10,
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_token_with_valid_basic_credentials(any_sandbox: Sandbox) -> None:
    response = requests.post(
        f"{any_sandbox.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-distributor", "demo-secret"),
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"bank_account": "DE89370400440532013000"},
        {"communication": ["a@b.de"]},
        {"tax_information": 5},
        {"communication": {"email": {"nested": 1}}},
    ],
)
def test_patch_investor_with_wrong_shapes(api: Api, change: dict[str, Any]) -> None:
    investor = api.post("/investors/", json=investor_body()).json()
    response = api.patch(f"/investors/{investor['id']}/", json=change)
    assert response.status_code == 400, response.text
    assert set(response.json()) == set(change)
    assert api.get(f"/investors/{investor['id']}/").json()["bank_account"] == investor["bank_account"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_bodies_that_are_not_json_are_refused_unparsed(api: Api, content_type: str | None) -> None:
    headers = {**api.headers, "X-Idempotency-Key": f"plain-{content_type}"}
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps(investor_body())
    response = requests.post(api.url + "/investors/", data=body, headers=headers, timeout=10)
    assert response.status_code == 415, response.text
    assert investor_count(api) == 0


def test_bodies_over_the_limit(api: Api) -> None:
    big = json.dumps({**investor_body(), "padding": "x" * (2 * 1024 * 1024)})
    response = requests.post(
        api.url + "/investors/", data=big, timeout=30, headers={**api.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert investor_count(api) == 0


# --- administration ---------------------------------------------------------------------------------------------


def test_administration_needs_the_admin_token(any_sandbox: Sandbox) -> None:
    url = f"{any_sandbox.root}/_sandbox/clients"
    assert requests.post(url, json={}, timeout=5).status_code == 401
    assert requests.post(url, json={}, timeout=5, headers={"Authorization": "Bearer wrong"}).status_code == 401
    api_token = any_sandbox.token()
    assert requests.post(url, json={}, timeout=5, headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
    deliveries = f"{any_sandbox.root}/_sandbox/webhooks/demo-distributor/deliveries"
    assert requests.get(deliveries, timeout=5).status_code == 401
    assert requests.get(deliveries, headers=any_sandbox.admin_headers, timeout=5).status_code == 200
    assert requests.post(url, json={}, headers=any_sandbox.admin_headers, timeout=5).status_code == 200


def test_a_cross_site_text_plain_post_is_refused(any_sandbox: Sandbox) -> None:
    """A browser may send a text/plain POST to any site without asking; administration takes JSON only."""
    body = '{"error_rate": 1}'
    for headers in ({}, any_sandbox.admin_headers):
        response = requests.post(
            f"{any_sandbox.root}/_sandbox/faults",
            data=body,
            timeout=5,
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert response.status_code in (401, 415)
    assert any_sandbox.health()["faults"]["error_rate"] == 0


@pytest.mark.parametrize(
    "host, accepted",
    [
        ("127.0.0.1:{port}", True),
        ("localhost:{port}", True),
        ("[::1]:{port}", True),
        ("localhost", True),
        ("attacker.example:{port}", False),
        ("127.0.0.1.attacker.example", False),
        ("", False),
    ],
)
def test_only_a_loopback_host_header(any_sandbox: Sandbox, host: str, accepted: bool) -> None:
    headers = {"Host": host.format(port=any_sandbox.port)}
    for path in ("/_sandbox/health", "/api/external/v2/products/", "/_sandbox/openapi.json"):
        response = requests.get(any_sandbox.root + path, headers=headers, timeout=5)
        assert (response.status_code != 400) is accepted, (path, response.status_code, response.text)


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("faults", {"error_rate": "often"}, "error_rate"),
        ("faults", {"error_rate": 2}, "error_rate"),
        ("faults", {"queue": ["explode"]}, "queue"),
        ("faults", {"colour": "red"}, "colour"),
        ("settings", {"token_ttl": "long"}, "token_ttl"),
        ("settings", {"settle_delay": -1}, "settle_delay"),
        ("settings", {"task_outcome": "maybe"}, "task_outcome"),
        ("settings", {"port": 1}, "port"),
        ("webhooks", {"client_id": "demo-distributor", "url": "not a url"}, "url"),
        ("bulk", {"client_id": "demo-distributor", "investors": "many"}, "investors"),
        ("investments/x/status", {"status": "DONE"}, "status"),
    ],
)
def test_admin_bodies_are_validated_naming_the_field(
    any_sandbox: Sandbox, path: str, body: dict[str, Any], field: str
) -> None:
    before = any_sandbox.health()
    response = requests.post(
        f"{any_sandbox.root}/_sandbox/{path}", json=body, headers=any_sandbox.admin_headers, timeout=5
    )
    assert response.status_code == 400, response.text
    assert field in response.json(), response.text
    assert any_sandbox.health() == before


def test_bulk_for_an_unknown_client(any_sandbox: Sandbox) -> None:
    response = requests.post(
        f"{any_sandbox.root}/_sandbox/bulk", json={"client_id": "nobody"}, headers=any_sandbox.admin_headers, timeout=5
    )
    assert response.status_code == 404 and "nobody" in response.text


def test_no_secret_in_health(any_sandbox: Sandbox) -> None:
    client = any_sandbox.new_client()
    text = json.dumps(any_sandbox.health())
    for secret in ("demo-secret", "other-secret", client["client_secret"], any_sandbox.admin_token):
        assert secret not in text
    assert set(any_sandbox.health()["seed"]) >= {"client_id", "product_id", "campaign_id", "investors"}


@pytest.mark.parametrize("profile", ["strict", "drf"])
def test_no_secret_in_the_banner_or_the_log(tmp_path: Path, profile: str) -> None:
    """Started by hand without SANDBOX_ADMIN_TOKEN: the token goes to a file only you can read, never the output."""
    port, db = free_port(), tmp_path / "registry.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_ADMIN_TOKEN"}
    log = tmp_path / "out.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(db), "--profile", profile],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not is_up(port) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
            token_file = db.with_name(db.name + ".admin-token")  # (named after its database: one per sandbox)
            token = token_file.read_text().strip()
            assert oct(token_file.stat().st_mode & 0o777) == "0o600"
            box = SandboxProcess(port=port, db_path=db, admin_token=token)
            client = box.new_client()
            box.token(client["client_id"], client["client_secret"])
            requests.post(
                f"{box.base_url}/oauth/token",
                timeout=5,
                data={"grant_type": "client_credentials", "client_id": "demo-distributor", "client_secret": "wrong"},
            )
            requests.get(f"{box.base_url}/v2/investors/", timeout=5, headers={"Authorization": f"Bearer {box.token()}"})
        finally:
            process.terminate()
            process.wait(10)
    text = log.read_text()
    assert f"127.0.0.1:{port}" in text and "admin token" in text
    for secret in ("demo-secret", "other-secret", "wrong", client["client_secret"], token):
        assert secret not in text, secret
