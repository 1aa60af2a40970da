"""Fixtures: a real sandbox (subprocess, free loopback port, temporary database) and clients talking HTTP to it.

Each test that needs a clean slate gets its own distributor (a fresh tenant) from the sandbox, so counts are exact
even though one sandbox serves the whole session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import helpers
from helpers.config import Config

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sandbox:
    """A running sandbox process and its administration endpoints."""

    port: int
    db_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/external"

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.post(f"{self.root}/_sandbox/{path}", json=body or {}, timeout=60)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.root}/_sandbox/health", timeout=5).json()

    def faults(self, **changes: Any) -> dict[str, Any]:
        return self.admin("faults", changes)

    def reset_faults(self) -> None:
        self.faults(error_rate=0, rate_limit_rate=0, drop_rate=0, latency=0, queue=[], retry_after=0, seed=None,
                    methods=["GET", "POST", "PATCH"])
        self.admin("settings", {"settle_delay": 0, "task_outcome": "success", "token_ttl": 3600})

    def new_client(self, **body: Any) -> dict[str, Any]:
        return self.admin("clients", body)

    def token(self, client_id: str = "demo-distributor", secret: str = "demo-secret", scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        if scope:
            data["scope"] = scope
        response = requests.post(f"{self.base_url}/oauth/token", data=data, timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(self.port), "--db", str(self.db_path), "--quiet"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandbox exited: {self.process.stdout.read().decode()}")
            try:
                if requests.get(f"{self.root}/_sandbox/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(port=free_port(), db_path=tmp_path_factory.mktemp("sandbox") / "registry.sqlite3")
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _calm_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that turn fault knobs get them turned off again afterwards."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset_faults()


@pytest.fixture
def tenant(sandbox: Sandbox) -> dict[str, Any]:
    """Credentials of a brand-new distributor: it sees no investors but the shared demo product and campaign."""
    return sandbox.new_client()


@pytest.fixture
def config(sandbox: Sandbox, tenant: dict[str, Any], tmp_path: Path) -> Config:
    seeded = sandbox.health()["seed"]
    return Config(base_url=sandbox.base_url, client_id=tenant["client_id"], client_secret=tenant["client_secret"],
                  campaign_id=seeded["campaign_id"], product_id=seeded["product_id"],
                  journal_path=tmp_path / "journal.sqlite3", timeout=10, source="test")


@pytest.fixture
def client(config: Config) -> helpers.Client:
    return helpers.Client(config)


# --- sample data ------------------------------------------------------------------------------------------------

def investor_body(surname: str = "Parker", **changes: Any) -> dict[str, Any]:
    body = {
        "natural_person": {
            "salutation": "MR", "forename": "Peter", "surname": surname, "birth_date": "2000-08-10",
            "birth_place": "New York", "citizenship": "DEU", "street": "Hauptstr. 37", "city": "Frankfurt",
            "zip": "60316", "country": "DEU", "phone": "+49 123 456 789", "is_pep": False,
        },
        "bank_account": {"account_holder": f"Peter {surname}", "iban": "DE53500105173569146251",
                         "bic": "GENODEF1ERG", "bank": "Commerzbank Frankfurt", "country": "DEU", "currency": "EUR"},
        "tax_information": {"tax_identification_number": "12345678", "non_assessment_certificate": True},
        "communication": {"email": "peter@example.com", "email_confirmed": True},
        "is_beneficiary": True,
    }
    for path, value in changes.items():
        node = body
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return body


def identification_body(protocol_id: str) -> dict[str, Any]:
    return {
        "document_type": "IDCARD", "document_id": "ID123456", "document_issuer": "Buergeramt Frankfurt",
        "document_valid_from": "2020-08-10", "document_valid_to": "2025-08-10", "identity_provider": "POSTIDENT",
        "legitimation_process_id": "string", "legitimation_protocol_id": protocol_id,
        "verified_at": "2020-08-10T14:06:22.134Z",
    }


SIGNED_AT = "2021-03-12T07:14:13.630308+00:00"
