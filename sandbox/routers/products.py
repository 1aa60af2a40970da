"""Products and campaigns: created by issuers, read-only for distributors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.deps import PagingDep, ProductsReader, SandboxDep, listing, stored
from sandbox.models import ERRORS, Campaign, Page, Product

router = APIRouter(prefix="/v2", tags=["products"], responses=ERRORS)


@router.get("/products/", response_model=Page[Product])
async def list_products(request: Request, sandbox: SandboxDep, caller: ProductsReader, paging: PagingDep) -> Response:
    return listing(request, sandbox, caller, paging, "product")


@router.get("/products/{product_id}/", response_model=Product)
async def get_product(sandbox: SandboxDep, caller: ProductsReader, product_id: str) -> Response:
    return stored(sandbox, "product", product_id, caller.tenant, "Product")


@router.get("/products/{product_id}/campaigns/", response_model=Page[Campaign])
async def list_product_campaigns(
    request: Request, sandbox: SandboxDep, caller: ProductsReader, paging: PagingDep, product_id: str
) -> Response:
    return listing(request, sandbox, caller, paging, "campaign", fixed={"product_id": product_id})


@router.get("/campaigns/", response_model=Page[Campaign])
async def list_campaigns(
    request: Request, sandbox: SandboxDep, caller: ProductsReader, paging: PagingDep, product_id: str | None = None
) -> Response:
    return listing(request, sandbox, caller, paging, "campaign", {"product_id": product_id})


@router.get("/campaigns/{campaign_id}/", response_model=Campaign)
async def get_campaign(sandbox: SandboxDep, caller: ProductsReader, campaign_id: str) -> Response:
    return stored(sandbox, "campaign", campaign_id, caller.tenant, "Campaign")
