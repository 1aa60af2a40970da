"""Redemptions: reduce an investor's holding of a product (FIFO over the investments in the wallet)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sandbox.deps import InvestmentsReader, InvestmentsWriter, JsonOnly, PagingDep, SandboxDep, listing, stored, write
from sandbox.models import ERRORS, Page, Redemption, RedemptionCreate

router = APIRouter(prefix="/v2/redemptions", tags=["redemptions"], responses=ERRORS)


@router.post("/", response_model=Redemption, status_code=201, dependencies=[JsonOnly])
async def create_redemption(
    request: Request, sandbox: SandboxDep, caller: InvestmentsWriter, body: RedemptionCreate
) -> Response:
    return write(
        request,
        sandbox,
        caller,
        "redemption",
        lambda: sandbox.registry.create_redemption(caller.tenant, body),
        body.model_dump(mode="json"),
    )


@router.get("/", response_model=Page[Redemption])
async def list_redemptions(
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
    return listing(request, sandbox, caller, paging, "redemption", filters)


@router.get("/{task_id}/", response_model=Redemption)
async def get_redemption(sandbox: SandboxDep, caller: InvestmentsReader, task_id: str) -> Response:
    return stored(sandbox, "redemption", task_id, caller.tenant, "Redemption")
