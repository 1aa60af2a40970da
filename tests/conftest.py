"""Fixtures: a real sandbox (subprocess, free loopback port, temporary database) and clients talking HTTP to it.

Each test that needs a clean slate gets its own distributor (a fresh tenant) from the sandbox, so counts are exact
even though one sandbox serves the whole session. The fixtures that need only the sandbox live in
``tests/sandbox_fixtures.py`` (which imports nothing from ``helpers``, for the sandbox's own tests); the ones here
import ``helpers`` when they are used, never when this file is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.runner import SandboxProcess, free_port
from tests.sandbox_fixtures import (
    SIGNED_AT,
    Sandbox,
    _calm_sandbox,
    any_sandbox,
    drf_sandbox,
    identification_body,
    investor_body,
    sandbox,
    session_sandbox,
    started,
    strict_sandbox,
    tenant,
    unique_iban,
    uploaded,
)

if TYPE_CHECKING:
    import helpers
    from helpers.core.config import Config

__all__ = [  # what the tests import from here
    "SIGNED_AT",
    "Sandbox",
    "_calm_sandbox",
    "any_sandbox",
    "client",
    "config",
    "config_for",
    "demo_sandbox",
    "drf_client",
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


@pytest.fixture(scope="module")
def demo_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fresh sandbox of the module's own with the demo seed (notebook parameters and the sample ledger match it),
    and, exported for kernels and notebooks to inherit, every setting a client needs to use it."""
    tmp = tmp_path_factory.mktemp("demo")
    box = SandboxProcess(port=free_port(), db_path=tmp / "registry.sqlite3")
    from helpers.core.config import GUIDE_SCOPES

    box.start()
    try:
        environment = {**box.client_environment(tmp / "journal.sqlite3", GUIDE_SCOPES), "MPLBACKEND": "Agg"}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            yield {"box": box, "tmp": tmp}
    finally:
        box.stop()


def config_for(box: Sandbox, tenant: dict[str, Any], journal: Path) -> Config:
    """Settings of a client of ``tenant`` on ``box``, with its journal at ``journal``."""
    from helpers.core.config import Config

    seeded = box.health()["seed"]
    return Config(
        base_url=box.base_url,
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        campaign_id=seeded["campaign_id"],
        product_id=seeded["product_id"],
        journal_path=journal,
        timeout=10,
        source="test",
    )


@pytest.fixture
def config(sandbox: Sandbox, tenant: dict[str, Any], tmp_path: Path) -> Config:
    return config_for(sandbox, tenant, tmp_path / "journal.sqlite3")


@pytest.fixture
def client(config: Config) -> helpers.Client:
    import helpers

    return helpers.Client(config)


@pytest.fixture
def drf_client(drf_sandbox: Sandbox, tmp_path: Path) -> helpers.Client:
    """A client of a brand-new distributor on a sandbox answering as the drf profile."""
    import helpers

    return helpers.Client(config_for(drf_sandbox, drf_sandbox.new_client(), tmp_path / "drf-journal.sqlite3"))
