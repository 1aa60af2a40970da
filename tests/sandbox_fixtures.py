"""Fixtures and sample data for tests that need only the sandbox: a real sandbox (subprocess, free loopback port,
temporary database) in each profile, a fresh distributor per test, request bodies. It imports nothing from
``helpers`` (the sandbox's own tests use it alone); ``tests/conftest.py`` re-exports it for every test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.runner import SandboxProcess, free_port

__all__ = [
    "SIGNED_AT",
    "Sandbox",
    "_calm_sandbox",
    "any_sandbox",
    "drf_sandbox",
    "free_port",
    "identification_body",
    "investor_body",
    "sandbox",
    "session_sandbox",
    "started",
    "strict_sandbox",
    "tenant",
    "unique_iban",
    "uploaded",
]

Sandbox = SandboxProcess  # the name the tests use


def started(tmp_path_factory: pytest.TempPathFactory, profile: str | None) -> Iterator[Sandbox]:
    box = Sandbox(port=free_port(), db_path=tmp_path_factory.mktemp("sandbox") / "registry.sqlite3", profile=profile)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def session_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The session's sandbox, in the profile SANDBOX_PROFILE names (default strict)."""
    yield from started(tmp_path_factory, None)


@pytest.fixture(scope="session")
def sandbox(session_sandbox: Sandbox) -> Sandbox:
    return session_sandbox


def _profiled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, profile: str
) -> Iterator[Sandbox]:
    shared: Sandbox = request.getfixturevalue("session_sandbox")
    if shared.profile == profile:
        yield shared
    else:
        yield from started(tmp_path_factory, profile)


@pytest.fixture(scope="session")
def strict_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox answering as the strict profile (the session's one when that is strict)."""
    yield from _profiled(request, tmp_path_factory, "strict")


@pytest.fixture(scope="session")
def drf_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox answering as the drf profile (the session's one when that is drf)."""
    yield from _profiled(request, tmp_path_factory, "drf")


@pytest.fixture(scope="session", params=["strict", "drf"])
def any_sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """Each profile in turn: for conventions both profiles share."""
    box: Sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    return box


@pytest.fixture(autouse=True)
def _calm_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that turn fault knobs get them turned off again afterwards."""
    boxes = [
        request.getfixturevalue(name)
        for name in ("sandbox", "any_sandbox", "drf_sandbox", "strict_sandbox")
        if name in request.fixturenames
    ]
    yield
    for box in boxes:
        box.reset_faults()


@pytest.fixture
def tenant(sandbox: Sandbox) -> dict[str, Any]:
    """Credentials of a brand-new distributor: it sees no investors but the shared demo product and campaign."""
    return sandbox.new_client()


# --- sample data ------------------------------------------------------------------------------------------------


def unique_iban(seed: str) -> str:
    """A valid German IBAN of its own for each ``seed`` (investors with the same IBAN are duplicates)."""
    from schwifty import IBAN

    number = int(hashlib.sha256(seed.encode()).hexdigest()[:9], 16) % 10**9
    return IBAN.generate("DE", bank_code="37040044", account_code=str(5_300_000_000 + number)).compact


def investor_body(surname: str = "Parker", **changes: Any) -> dict[str, Any]:
    """The guide's investor; another surname gives another person (own e-mail and IBAN)."""
    body = {
        "natural_person": {
            "salutation": "MR",
            "forename": "Peter",
            "surname": surname,
            "birth_date": "2000-08-10",
            "birth_place": "New York",
            "citizenship": "DEU",
            "street": "Hauptstr. 37",
            "city": "Frankfurt",
            "zip": "60316",
            "country": "DEU",
            "phone": "+49 123 456 789",
            "is_pep": False,
        },
        "bank_account": {
            "account_holder": f"Peter {surname}",
            "iban": "DE53500105173569146251" if surname == "Parker" else unique_iban(surname),
            "bic": "GENODEF1ERG",
            "bank": "Commerzbank Frankfurt",
            "country": "DEU",
            "currency": "EUR",
        },
        "tax_information": {"tax_identification_number": "12345678", "non_assessment_certificate": True},
        "communication": {"email": f"peter.{surname.lower().replace(' ', '.')}@example.com", "email_confirmed": True},
        "is_beneficiary": True,
    }
    for path, value in changes.items():
        node = body
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return body


def uploaded(name: str, content: bytes, kind: str) -> tuple[dict[str, Any], ...]:
    """A FileUpload widget's value after a person chose ``name`` (ipywidgets 8)."""
    modified = datetime(2026, 1, 1, tzinfo=UTC)
    return ({"name": name, "type": kind, "size": len(content), "content": content, "last_modified": modified},)


def identification_body(protocol_id: str) -> dict[str, Any]:
    return {
        "document_type": "IDCARD",
        "document_id": "ID123456",
        "document_issuer": "Buergeramt Frankfurt",
        "document_valid_from": "2020-08-10",
        "document_valid_to": "2025-08-10",
        "identity_provider": "POSTIDENT",
        "legitimation_process_id": "string",
        "legitimation_protocol_id": protocol_id,
        "verified_at": "2020-08-10T14:06:22.134Z",
    }


SIGNED_AT = "2021-03-12T07:14:13.630308+00:00"
