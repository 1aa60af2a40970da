"""Transfers (secondary market): units from a managed wallet to any registered address; FIFO on the source."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sandbox.deps import InvestmentsReader, InvestmentsWriter, JsonOnly, PagingDep, SandboxDep, listing, stored, write
from sandbox.models import ERRORS, Page, Transfer, TransferCreate

router = APIRouter(prefix="/v2/transfers", tags=["transfers"], responses=ERRORS)


@router.post("/", response_model=Transfer, status_code=201, dependencies=[JsonOnly])
async def create_transfer(
    request: Request, sandbox: SandboxDep, caller: InvestmentsWriter, body: TransferCreate
) -> Response:
    return write(
        request,
        sandbox,
        caller,
        "transfer",
        lambda: sandbox.registry.create_transfer(caller.tenant, body),
        body.model_dump(mode="json"),
    )


@router.get("/", response_model=Page[Transfer])
async def list_transfers(
    request: Request,
    sandbox: SandboxDep,
    caller: InvestmentsReader,
    paging: PagingDep,
    investor_id: Annotated[str | None, Query(description="strict profile only")] = None,
    product_id: Annotated[str | None, Query(description="strict profile only")] = None,
    status: Annotated[str | None, Query(description="strict profile only")] = None,
    wallet_id: Annotated[str | None, Query(description="strict profile only")] = None,
) -> Response:
    filters = {"investor_id": investor_id, "product_id": product_id, "status": status, "wallet_id": wallet_id}
    return listing(request, sandbox, caller, paging, "transfer", filters)


@router.get("/{task_id}/", response_model=Transfer)
async def get_transfer(sandbox: SandboxDep, caller: InvestmentsReader, task_id: str) -> Response:
    return stored(sandbox, "transfer", task_id, caller.tenant, "Transfer")
