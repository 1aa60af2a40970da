"""Sandbox settings: where it listens, where it keeps its data, and the knobs tests turn (all off by default)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765
DEFAULT_DB = Path(__file__).resolve().parent / "data" / "registry.sqlite3"


@dataclass
class Faults:
    """Fault injection for tests and demos. Rates are probabilities per API request (0 = never)."""

    error_rate: float = 0.0  # 503 before the request is processed (nothing written)
    rate_limit_rate: float = 0.0  # 429 with Retry-After before the request is processed
    retry_after: float = 1.0  # seconds sent in Retry-After
    drop_rate: float = 0.0  # the request is processed and committed, then the connection is cut (lost response)
    latency: float = 0.0  # seconds added to every API request, like a far-away server
    methods: tuple[str, ...] = ("GET", "POST", "PATCH")  # which methods the rates apply to
    seed: int | None = None  # random seed, for repeatable fault sequences
    queue: list[str] = field(default_factory=list)  # forced faults for the next API requests: "error"|"429"|"drop"

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if not hasattr(self, key):
                raise ValueError(f"Unknown fault setting '{key}'.")
            setattr(self, key, tuple(value) if key == "methods" else value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db_path: Path = DEFAULT_DB
    token_ttl: int = 3600  # seconds an access token lives
    settle_delay: float = 0.0  # seconds credits, redemptions and transfers stay "processing"
    task_outcome: str = "success"  # "success" | "failed" | "unknown": how tasks end (demos of failure handling)
    max_upload_bytes: int = 10 * 1024 * 1024
    page_size: int = 20
    max_page_size: int = 1000
    seed_demo: bool = True
    faults: Faults = field(default_factory=Faults)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        settings = cls(
            port=int(env.get("SANDBOX_PORT", DEFAULT_PORT)),
            db_path=Path(env.get("SANDBOX_DB", DEFAULT_DB)),
            token_ttl=int(env.get("SANDBOX_TOKEN_TTL", 3600)),
            settle_delay=float(env.get("SANDBOX_SETTLE_DELAY", 0)),
            task_outcome=env.get("SANDBOX_TASK_OUTCOME", "success"),
        )
        settings.faults.error_rate = float(env.get("SANDBOX_ERROR_RATE", 0))
        settings.faults.rate_limit_rate = float(env.get("SANDBOX_RATE_LIMIT_RATE", 0))
        settings.faults.drop_rate = float(env.get("SANDBOX_DROP_RATE", 0))
        settings.faults.latency = float(env.get("SANDBOX_LATENCY", 0))
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings
