"""Where the toolkit connects, read from the environment and `.env` (python-dotenv).

Without any configuration it targets the local sandbox with its demo credentials, so every notebook runs on a fresh
machine. Put the real API's base URL and credentials into `.env` and nothing else changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

# The local sandbox and its demo seed (see sandbox/seed.py; a test keeps the two in step).
SANDBOX_BASE_URL = "http://127.0.0.1:8765/api/external"
SANDBOX_CLIENT_ID = "demo-distributor"
SANDBOX_CLIENT_SECRET = "demo-secret"
SANDBOX_CAMPAIGN_ID = "dd97156f-1bc2-5ac4-ac37-299b7843555e"
SANDBOX_PRODUCT_ID = "1785a98d-63d0-57b7-8c63-2213f5ea275d"
GUIDE_SCOPES = "investors:write investors:read investments:write investments:read documents:write"
DEFAULT_JOURNAL = Path("~/.cache/cashlink-toolkit/journal.sqlite3")

ENV_NAMES = {
    "base_url": "CASHLINK_BASE_URL",
    "client_id": "CASHLINK_CLIENT_ID",
    "client_secret": "CASHLINK_CLIENT_SECRET",
    "scopes": "CASHLINK_SCOPES",
    "campaign_id": "CASHLINK_CAMPAIGN_ID",
    "product_id": "CASHLINK_PRODUCT_ID",
    "api_prefix": "CASHLINK_API_PREFIX",
    "timeout": "CASHLINK_TIMEOUT",
    "journal_path": "CASHLINK_JOURNAL",
}


@dataclass(frozen=True)
class Config:
    """Connection settings. The secret never appears in the repr."""

    base_url: str = SANDBOX_BASE_URL
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = field(default=SANDBOX_CLIENT_SECRET, repr=False)
    scopes: str = GUIDE_SCOPES
    campaign_id: str | None = SANDBOX_CAMPAIGN_ID
    product_id: str | None = SANDBOX_PRODUCT_ID
    api_prefix: str = "/v2"
    timeout: float = 30.0
    journal_path: Path = DEFAULT_JOURNAL
    source: str = "built-in sandbox defaults"

    @property
    def is_sandbox(self) -> bool:
        """True when the API is on this machine (the local sandbox)."""
        return (urlsplit(self.base_url).hostname or "") in {"127.0.0.1", "localhost", "::1"}

    @property
    def api_url(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.api_prefix.strip("/")

    @property
    def token_url(self) -> str:
        return self.base_url.rstrip("/") + "/oauth/token"

    def replace(self, **changes: Any) -> Config:
        return replace(self, **changes)


def load_config(env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Settings from (in order of precedence) ``overrides``, the process environment, then `.env`.

    `.env` is looked for in the current directory and its parents (so notebooks in ``notebooks/`` find the
    project's `.env`). Without one, the defaults target the local sandbox.
    """
    path = Path(env_file) if env_file else Path(find_dotenv(usecwd=True) or ".env")
    file_values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    values: dict[str, Any] = {}
    for name, env_name in ENV_NAMES.items():
        raw = os.environ.get(env_name, file_values.get(env_name))
        if raw not in (None, ""):
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "timeout" in values:
        values["timeout"] = float(values["timeout"])
    if "journal_path" in values:
        values["journal_path"] = Path(values["journal_path"])
    source = str(path) if file_values else ("environment" if values else "built-in sandbox defaults")
    return Config(**values, source=source)
