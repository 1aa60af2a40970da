"""Investments and what hangs off them: signed documents, credits (delivery) and registry statements."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sandbox.deps import (
    InvestmentsReader,
    InvestmentsWriter,
    JsonOnly,
    PagingDep,
    SandboxDep,
    listing,
    stored,
    write,
)
from sandbox.errors import ApiError
from sandbox.models import (
    ERRORS,
    Credit,
    Investment,
    InvestmentCreate,
    InvestmentUpdate,
    Page,
    RegistryStatement,
    SignedDocument,
)

router = APIRouter(prefix="/v2", tags=["investments"], responses=ERRORS)


@router.post("/investments/", response_model=Investment, status_code=201, dependencies=[JsonOnly])
async def create_investment(
    request: Request, sandbox: SandboxDep, caller: InvestmentsWriter, body: InvestmentCreate
) -> Response:
    return write(
        request,
        sandbox,
        caller,
        "investment",
        lambda: sandbox.registry.create_investment(caller.tenant, body),
        body.model_dump(mode="json", exclude_unset=True),
    )


@router.get("/investments/", response_model=Page[Investment])
async def list_investments(
    request: Request,
    sandbox: SandboxDep,
    caller: InvestmentsReader,
    paging: PagingDep,
    product_id: Annotated[str | None, Query(description="documented filter")] = None,
    campaign_id: Annotated[str | None, Query(description="strict profile only")] = None,
    investor_id: Annotated[str | None, Query(description="strict profile only")] = None,
    status: Annotated[str | None, Query(description="strict profile only")] = None,
    wallet: Annotated[str | None, Query(description="strict profile only")] = None,
) -> Response:
    filters = {
        "product_id": product_id,
        "campaign_id": campaign_id,
        "investor_id": investor_id,
        "status": status,
        "wallet": wallet,
    }
    return listing(request, sandbox, caller, paging, "investment", filters, columns={"wallet": "wallet_id"})


@router.get("/investments/{investment_id}/", response_model=Investment)
async def get_investment(sandbox: SandboxDep, caller: InvestmentsReader, investment_id: str) -> Response:
    return stored(sandbox, "investment", investment_id, caller.tenant, "Investment")


@router.patch("/investments/{investment_id}/", response_model=Investment, dependencies=[JsonOnly])
async def update_investment(
    request: Request, sandbox: SandboxDep, caller: InvestmentsWriter, investment_id: str, body: InvestmentUpdate
) -> Response:
    """Set ``accepted_at``, ``paid_at`` or ``wallet`` later; the status moves on as far as the data allows."""
    return write(
        request,
        sandbox,
        caller,
        "investment",
        lambda: sandbox.registry.update_investment(caller.tenant, investment_id, body),
        body.model_dump(mode="json", exclude_unset=True),
        status=200,
    )


@router.get(
    "/investments/{investment_id}/signed-documents/", response_model=list[SignedDocument] | Page[SignedDocument]
)
async def signed_documents(
    request: Request, sandbox: SandboxDep, caller: InvestmentsReader, paging: PagingDep, investment_id: str
) -> Response:
    with sandbox.registry.work():
        items: list[dict[str, Any]] = sandbox.registry.investment(caller.tenant, investment_id)["signed_documents"]
    if sandbox.profile.bare_sub_lists:
        return Response(json.dumps(items), media_type="application/json")
    page, size, _after = paging.read(sandbox.profile, sandbox.settings)
    chunk = items[(page - 1) * size : page * size]
    if page > 1 and not chunk:
        raise ApiError(404, {"detail": "Invalid page."})
    base = f"{request.url.scheme}://{request.url.netloc}{request.scope['state']['original_path']}"
    body = {
        "count": len(items),
        "next": f"{base}?page={page + 1}" if page * size < len(items) else None,
        "previous": (f"{base}?page={page - 1}" if page > 2 else base) if page > 1 else None,
        "results": chunk,
    }
    return Response(json.dumps(body), media_type="application/json")


@router.post("/investments/{investment_id}/credits/", response_model=Credit, status_code=201)
async def credit(request: Request, sandbox: SandboxDep, caller: InvestmentsWriter, investment_id: str) -> Response:
    """Deliver a PAID investment's units to its wallet (a task; immediate unless a settle delay is set)."""
    return write(request, sandbox, caller, "credit", lambda: sandbox.registry.credit(caller.tenant, investment_id), {})


@router.get("/investments/{investment_id}/credits/", response_model=list[Credit] | Page[Credit])
async def list_credits(
    request: Request, sandbox: SandboxDep, caller: InvestmentsReader, paging: PagingDep, investment_id: str
) -> Response:
    with sandbox.registry.work():
        sandbox.registry.investment(caller.tenant, investment_id)
    return listing(request, sandbox, caller, paging, "credit", fixed={"parent_id": investment_id}, bare=True)


@router.get("/credits/{task_id}/", response_model=Credit)
async def get_credit(sandbox: SandboxDep, caller: InvestmentsReader, task_id: str) -> Response:
    return stored(sandbox, "credit", task_id, caller.tenant, "Credit")


@router.get(
    "/investments/{investment_id}/registry-statements/",
    response_model=list[RegistryStatement] | Page[RegistryStatement],
)
async def registry_statements(
    request: Request, sandbox: SandboxDep, caller: InvestmentsReader, paging: PagingDep, investment_id: str
) -> Response:
    with sandbox.registry.work():
        sandbox.registry.investment(caller.tenant, investment_id)
    return listing(
        request, sandbox, caller, paging, "registry_statement", fixed={"parent_id": investment_id}, bare=True
    )
