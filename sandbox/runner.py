"""Start a sandbox in a subprocess and wait until it answers (used by tests, benchmarks and `make lab`)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok
    except requests.RequestException:
        return False


@dataclass
class SandboxProcess:
    """A running sandbox process and its administration endpoints.

    ``profile`` is ``strict`` or ``drf``; without one, ``SANDBOX_PROFILE`` decides (default strict), so a whole test
    run switches with one environment variable. The admin token is chosen here and handed to the process.
    """

    port: int
    db_path: Path
    extra_args: list[str] = field(default_factory=list)
    profile: str | None = None
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.profile = self.profile or os.environ.get("SANDBOX_PROFILE") or "strict"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/external"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def admin(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        """Call ``/_sandbox/<path>`` with the admin token (a JSON body for POST)."""
        kwargs: dict[str, Any] = {"json": body or {}} if method == "POST" else {}
        response = requests.request(
            method, f"{self.root}/_sandbox/{path}", headers=self.admin_headers, timeout=120, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def client_environment(self, journal: Path, scopes: str) -> dict[str, str]:
        """Every ``CASHLINK_*`` setting a client (a kernel, a notebook server) needs to use this sandbox as the demo
        distributor, with its journal at ``journal``: all of them, so that a developer's `.env` cannot send a test
        elsewhere. ``scopes`` is what the client asks for."""
        from sandbox.seed import DEMO_CLIENT_SECRET

        seed = self.health()["seed"]
        return {
            "CASHLINK_BASE_URL": self.base_url,
            "CASHLINK_CLIENT_ID": seed["client_id"],
            "CASHLINK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "CASHLINK_CAMPAIGN_ID": seed["campaign_id"],
            "CASHLINK_PRODUCT_ID": seed["product_id"],
            "CASHLINK_SCOPES": scopes,
            "CASHLINK_API_PREFIX": "/v2",
            "CASHLINK_TIMEOUT": "30",
            "CASHLINK_JOURNAL": str(journal),
        }

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.root}/_sandbox/health", timeout=5).json()
        return answer

    def faults(self, **changes: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.admin("faults", changes)
        return answer

    def reset_faults(self) -> None:
        self.faults(
            error_rate=0,
            rate_limit_rate=0,
            drop_rate=0,
            latency=0,
            queue=[],
            retry_after=0,
            retry_after_text=None,
            seed=None,
            methods=["GET", "POST", "PATCH"],
        )
        self.admin(
            "settings", {"settle_delay": 0, "task_outcome": "success", "token_ttl": 3600, "idempotency_retention": None}
        )

    def new_client(self, **body: Any) -> dict[str, Any]:
        """Credentials of a brand-new distributor (an empty tenant that sees the shared demo product)."""
        answer: dict[str, Any] = self.admin("clients", body)
        return answer

    def token(self, client_id: str = "demo-distributor", secret: str = "demo-secret", scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        if scope:
            data["scope"] = scope
        response = requests.post(f"{self.base_url}/oauth/token", data=data, timeout=10)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def start(self, log: Path | None = None, detach: bool = False) -> None:
        output: IO[bytes] | int = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SANDBOX_ADMIN_TOKEN": self.admin_token,
            "SANDBOX_PROFILE": str(self.profile),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "--port",
                str(self.port),
                "--db",
                str(self.db_path),
                "--quiet",
                *self.extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited with code {self.process.returncode}" + (f"; see {log}" if log else "")
                )
            if is_up(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError("the sandbox did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:  # stuck: it must not outlive its caller
                self.process.kill()
                self.process.wait(10)
