"""Sandbox settings in one place: environment (``SANDBOX_*``), command line, run-time knobs and the profiles.

A profile decides how the sandbox answers where the API documentation is silent (section 6 of the API reference):
``strict`` keeps the answers the sandbox always gave, ``drf`` plays the other plausible ones (Django REST
Framework defaults). A whole test run switches with ``SANDBOX_PROFILE=drf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8765
DEFAULT_DB = Path(__file__).resolve().parent / "data" / "registry.sqlite3"
MiB = 1024 * 1024

ProfileName = Literal["strict", "drf"]
FaultKind = Literal["error", "429", "drop", "gateway_503"]  # gateway_503: committed, then a gateway's 503
Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"]
DEFAULT_METHODS: list[Method] = ["GET", "POST", "PATCH"]


class Faults(BaseModel):
    """Fault injection for tests and demos. Rates are probabilities per API request (0 = never)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="503 with Retry-After: 0 before the request is processed (the registry's own; a gateway's "
        "503 after a commit is the queue's gateway_503)",
    )
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1, description="429 with Retry-After before processing")
    retry_after: float = Field(default=1.0, ge=0, le=3600, description="seconds sent in Retry-After")
    retry_after_text: str | None = Field(
        default=None,
        max_length=64,
        description="Retry-After sent as this text instead: the spellings a registry may use ('1.5', '-1', an "
        "HTTP date, nonsense)",
    )
    drop_rate: float = Field(default=0.0, ge=0, le=1, description="processed and committed, then the connection is cut")
    latency: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="seconds from an API request's arrival to its answer (the sandbox's work happens within them)",
    )
    methods: list[Method] = Field(default_factory=lambda: list(DEFAULT_METHODS))
    seed: int | None = Field(default=None, description="random seed, for repeatable fault sequences")
    queue: list[FaultKind] = Field(default_factory=list, description="forced faults for the next API requests")


class RuntimeSettings(BaseModel):
    """The settings ``POST /_sandbox/settings`` may change while the sandbox runs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    token_ttl: int = Field(default=3600, ge=-86_400, le=10 * 365 * 86_400, description="access token lifetime, seconds")
    settle_delay: float = Field(
        default=0.0, ge=0, le=3600, description="seconds credits and redemptions stay processing"
    )
    task_outcome: Literal["success", "failed", "unknown"] = "success"
    max_upload_bytes: int = Field(default=10 * MiB, ge=1, le=100 * MiB)
    idempotency_retention: float | None = Field(
        default=None, ge=0, description="seconds an idempotency key is kept; null: the profile's default"
    )


class Settings(BaseSettings, RuntimeSettings):
    """Everything the sandbox can be told at start; environment variables are ``SANDBOX_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="SANDBOX_", env_nested_delimiter="__", extra="ignore", validate_assignment=True
    )

    profile: ProfileName = "strict"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    db: Path = DEFAULT_DB
    admin_token: SecretStr | None = Field(
        default=None, description="token for /_sandbox/*; random per start when unset"
    )
    page_size: int = 20
    max_page_size: int = 1000
    max_json_bytes: int = Field(default=1 * MiB, ge=1024, description="largest request body except uploads")
    seed_demo: bool = True
    faults: Faults = Field(default_factory=Faults)

    def runtime(self) -> RuntimeSettings:
        return RuntimeSettings(**{name: getattr(self, name) for name in RuntimeSettings.model_fields})


class Profile(BaseModel):
    """The answers to the open points of section 6 of the API reference (letters A-K there)."""

    model_config = ConfigDict(frozen=True)

    name: ProfileName
    bare_sub_lists: bool  # A: wallets, identifications, registry statements, signed documents, credits
    refuse_unknown_params: bool  # B: 400 for a query parameter a list does not know (else silently ignored)
    honoured_filters: frozenset[str] | None  # B: None = every declared filter
    page_size_param: bool  # C: honour ?page_size= (capped); else always settings.page_size
    seek_links: bool  # C: `next` carries ?after=<position> so following it is an index seek
    money_decimals: int  # G
    undocumented_fields: bool  # D, E, F: remaining_units, status_changed_at, kyc_status and other extras
    lenient_enums: bool  # H: any document_type / identity_provider string
    transfer_allows_equal: bool  # I: amount <= available (else strictly lower)
    webhook_auth: Literal["bearer", "oauth"]  # J
    idempotent_routes: frozenset[str] | None  # K: None = every POST and PATCH
    idempotency_retention: float | None  # K: seconds; None = forever
    replay_header: bool  # K: Idempotent-Replayed: true on a replay (our invention)


# The drf profile keeps idempotency on the POSTs the documentation names or shows with a key: investors
# (the OpenAPI excerpt), investments, redemptions and transfers (the guides); keys live a day.
PROFILES: dict[str, Profile] = {
    "strict": Profile(
        name="strict",
        bare_sub_lists=True,
        refuse_unknown_params=True,
        honoured_filters=None,
        page_size_param=True,
        seek_links=True,
        money_decimals=2,
        undocumented_fields=True,
        lenient_enums=False,
        transfer_allows_equal=True,
        webhook_auth="bearer",
        idempotent_routes=None,
        idempotency_retention=None,
        replay_header=True,
    ),
    "drf": Profile(
        name="drf",
        bare_sub_lists=False,
        refuse_unknown_params=False,
        honoured_filters=frozenset({"product_id"}),
        page_size_param=False,
        seek_links=False,
        money_decimals=3,
        undocumented_fields=False,
        lenient_enums=True,
        transfer_allows_equal=False,
        webhook_auth="oauth",
        idempotent_routes=frozenset({"create_investor", "create_investment", "create_redemption", "create_transfer"}),
        idempotency_retention=86_400.0,
        replay_header=False,
    ),
}


def admin_token_file(db: Path) -> Path:
    """Where a start's random admin token is written: beside its database, named after it (two sandboxes whose
    databases share a folder keep a token each)."""
    return db.with_name(db.name + ".admin-token")
