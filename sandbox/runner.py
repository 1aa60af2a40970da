"""Start a sandbox in a subprocess and wait until it answers (used by tests, benchmarks and `make lab`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok
    except requests.RequestException:
        return False


@dataclass
class SandboxProcess:
    """A running sandbox process and its administration endpoints."""

    port: int
    db_path: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/external"

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.post(f"{self.root}/_sandbox/{path}", json=body or {}, timeout=120)
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
        """Credentials of a brand-new distributor (an empty tenant that sees the shared demo product)."""
        return self.admin("clients", body)

    def token(self, client_id: str = "demo-distributor", secret: str = "demo-secret", scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        if scope:
            data["scope"] = scope
        response = requests.post(f"{self.base_url}/oauth/token", data=data, timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def start(self, log: Path | None = None, detach: bool = False) -> None:
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(self.port), "--db", str(self.db_path), "--quiet",
             *self.extra_args],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandbox exited with code {self.process.returncode}" +
                                   (f"; see {log}" if log else ""))
            if is_up(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError("the sandbox did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
