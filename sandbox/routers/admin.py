"""Sandbox administration under ``/_sandbox/`` (not part of the real API).

Every route but ``health`` needs the admin token; POSTs take JSON only. Bodies are validated by pydantic, so a bad
value gets a 400 that names the field.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from sandbox import seed, webhooks
from sandbox.checks import OptTimestamp
from sandbox.deps import SandboxDep, admin
from sandbox.errors import ApiError, drf_body
from sandbox.models import InvestmentStatus
from sandbox.registry import now_iso
from sandbox.settings import Faults, RuntimeSettings

health_router = APIRouter(prefix="/_sandbox", include_in_schema=False)
router = APIRouter(prefix="/_sandbox", include_in_schema=False, dependencies=[Depends(admin)])


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewClient(Request):
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    client_secret: str | None = Field(default=None, min_length=1, max_length=200)
    tenant: str | None = Field(default=None, min_length=1, max_length=100)
    scopes: str | None = None


class WebhookTarget(Request):
    """``url: null`` removes the target. Bearer token (strict profile) or OAuth client credentials (drf)."""

    client_id: str
    url: HttpUrl | None
    token: str | None = None
    token_url: HttpUrl | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff: float = Field(default=1.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _oauth_complete(self) -> WebhookTarget:
        if self.token_url and not (self.oauth_client_id and self.oauth_client_secret):
            raise ValueError("OAuth webhooks need token_url, oauth_client_id and oauth_client_secret.")
        return self


class Completion(Request):
    result: Literal["success", "failed"] = "success"


class ForcedStatus(Request):
    status: InvestmentStatus
    changed_at: OptTimestamp = None


class Bulk(Request):
    client_id: str
    investors: int = Field(default=100, ge=1, le=100_000)
    investments: int = Field(default=1000, ge=0, le=1_000_000)


def _tenant(sandbox: SandboxDep, client_id: str) -> str:
    rows = sandbox.store.execute("SELECT tenant FROM clients WHERE client_id = ?", [client_id])
    if not rows:
        raise ApiError(404, {"client_id": [f"No client has the id {client_id!r}."]})
    return str(rows[0]["tenant"])


def _validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, drf_body(exc.errors())) from None


@health_router.get("/health")
async def health(sandbox: SandboxDep) -> dict[str, Any]:
    """Public: the profile, the knobs and the seed's public ids (never a secret)."""
    return {
        "status": "ok",
        "profile": sandbox.profile.name,
        "seed": sandbox.seeded,
        "faults": sandbox.settings.faults.model_dump(),
        **sandbox.settings.runtime().model_dump(),
    }


@router.post("/faults")
async def set_faults(sandbox: SandboxDep, changes: dict[str, Any]) -> dict[str, Any]:
    current = sandbox.settings.faults
    updated = _validated(Faults, {**current.model_dump(), **changes})
    for name in Faults.model_fields:
        setattr(current, name, getattr(updated, name))
    sandbox.fault_rng = None  # re-seeded on next use
    return current.model_dump()


@router.post("/settings")
async def set_settings(sandbox: SandboxDep, changes: dict[str, Any]) -> dict[str, Any]:
    updated = _validated(RuntimeSettings, {**sandbox.settings.runtime().model_dump(), **changes})
    for name in changes:
        setattr(sandbox.settings, name, getattr(updated, name))
    return sandbox.settings.runtime().model_dump()


@router.post("/tokens/expire")
async def expire_tokens(sandbox: SandboxDep) -> dict[str, Any]:
    """Expire every issued token now, as if their lifetime had run out (clients must renew transparently)."""
    with sandbox.store.transaction():
        sandbox.store.execute("UPDATE tokens SET expires_at = 0")
    return {"expired": True}


@router.post("/clients")
async def create_client(sandbox: SandboxDep, body: NewClient) -> dict[str, Any]:
    client_id = body.client_id or f"client-{secrets.token_hex(6)}"
    secret = body.client_secret or secrets.token_urlsafe(24)
    scopes = body.scopes or seed.ALL_SCOPES
    tenant = body.tenant or client_id
    with sandbox.store.transaction():
        seed.add_client(sandbox.store, client_id, secret, tenant, scopes)
    return {"client_id": client_id, "client_secret": secret, "tenant": tenant, "scopes": scopes}


@router.post("/webhooks")
async def set_webhook(sandbox: SandboxDep, body: dict[str, Any]) -> dict[str, Any]:
    target: WebhookTarget = _validated(WebhookTarget, body)
    tenant = _tenant(sandbox, target.client_id)
    if target.url is not None:
        wanted = sandbox.profile.webhook_auth
        if wanted == "oauth" and not target.token_url:
            raise ApiError(
                400,
                {
                    "token_url": [
                        (
                            "The drf profile authenticates webhooks with OAuth client "
                            "credentials: give token_url, oauth_client_id, oauth_client_secret."
                        )
                    ]
                },
            )
        if wanted == "bearer" and target.token_url:
            raise ApiError(
                400,
                {
                    "token_url": [
                        "The strict profile authenticates webhooks with a static bearer token: give token instead."
                    ]
                },
            )
    with sandbox.store.transaction():
        webhooks.configure(
            sandbox.store,
            tenant,
            None
            if target.url is None
            else {
                **target.model_dump(),
                "url": str(target.url),
                "token_url": str(target.token_url) if target.token_url else None,
            },
        )
    return {
        "tenant": tenant,
        "url": None if target.url is None else str(target.url),
        "auth": sandbox.profile.webhook_auth,
    }


@router.get("/webhooks/{client_id}/deliveries")
async def webhook_deliveries(sandbox: SandboxDep, client_id: str) -> list[dict[str, Any]]:
    return webhooks.deliveries(sandbox.store, _tenant(sandbox, client_id))


@router.post("/identifications/{identification_id}/complete")
async def complete_identification(sandbox: SandboxDep, identification_id: str, body: Completion) -> dict[str, Any]:
    with sandbox.store.transaction():
        return sandbox.registry.complete_identification(identification_id, body.result == "success")


@router.post("/investments/{investment_id}/status")
async def force_status(sandbox: SandboxDep, investment_id: str, body: ForcedStatus) -> dict[str, Any]:
    with sandbox.store.transaction():
        return sandbox.registry.force_status(investment_id, body.status, body.changed_at)


class NewCampaign(Request):
    """A campaign of the demo product that only one distributor sees (tests of a campaign's rules)."""

    client_id: str
    name: str = Field(min_length=1, max_length=200)
    available_units: int = Field(ge=0)
    min_units: int = Field(default=1, ge=1)
    step_size: int = Field(default=1, ge=1)
    active: bool = True


@router.post("/campaigns")
async def create_campaign(sandbox: SandboxDep, body: NewCampaign) -> dict[str, Any]:
    tenant = _tenant(sandbox, body.client_id)
    product_id = str(sandbox.seeded.get("product_id") or seed.PRODUCT_ID)
    with sandbox.store.transaction():
        product = sandbox.store.get("product", product_id, tenant)
        if product is None:
            raise ApiError(404, {"detail": "The demo product is not there (a database without the seed)."})
        campaign = {
            "id": seed.fixed_id(f"campaign:{tenant}:{body.name}"),
            "product_id": product_id,
            **body.model_dump(exclude={"client_id"}),
            "allocation": body.available_units,
            "price_per_unit": product["issuance_price"],
            "created_at": now_iso(),
        }
        sandbox.store.insert("campaign", tenant, campaign, product_id=product_id)
    return campaign


@router.post("/bulk")
def bulk(sandbox: SandboxDep, body: Bulk) -> dict[str, Any]:
    """Fast fixture: ``{"client_id", "investors", "investments"}`` delivered investments spread over investors.
    Seconds of work for large numbers: a plain function, so FastAPI runs it in its thread pool and the event loop
    goes on answering (``health`` among others) meanwhile. An API request that needs the database waits for this
    transaction on the event loop, though, and every other request with it: seed before sending API traffic."""
    with sandbox.store.transaction():
        return seed.bulk_delivered(sandbox.store, sandbox.registry, body.client_id, body.investors, body.investments)
