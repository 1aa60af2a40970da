"""Investors and what hangs off them: identifications (KYC), benefiting persons and wallets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from sandbox.deps import InvestorsReader, InvestorsWriter, JsonOnly, PagingDep, SandboxDep, answer, listing, write
from sandbox.errors import ApiError
from sandbox.models import (
    ERRORS,
    BenefitingPerson,
    BenefitingPersonCreate,
    GenericWalletCreate,
    Identification,
    IdentificationCreate,
    Investor,
    InvestorCreate,
    InvestorUpdate,
    Page,
    Wallet,
)

router = APIRouter(prefix="/v2", tags=["investors"], responses=ERRORS)


def _dump(body: object) -> object:
    return body.model_dump(mode="json", exclude_unset=True) if hasattr(body, "model_dump") else body


@router.post("/investors/", response_model=Investor, status_code=201, dependencies=[JsonOnly])
async def create_investor(
    request: Request, sandbox: SandboxDep, caller: InvestorsWriter, body: InvestorCreate
) -> Response:
    return write(
        request, sandbox, caller, "investor", lambda: sandbox.registry.create_investor(caller.tenant, body), _dump(body)
    )


@router.get("/investors/", response_model=Page[Investor])
async def list_investors(
    request: Request,
    sandbox: SandboxDep,
    caller: InvestorsReader,
    paging: PagingDep,
    kyc_status: Annotated[str | None, Query(description="strict profile only")] = None,
) -> Response:
    return listing(
        request, sandbox, caller, paging, "investor", {"kyc_status": kyc_status}, columns={"kyc_status": "status"}
    )


@router.get("/investors/{investor_id}/", response_model=Investor)
async def get_investor(sandbox: SandboxDep, caller: InvestorsReader, investor_id: str) -> Response:
    return answer(sandbox, "investor", lambda: sandbox.registry.investor(caller.tenant, investor_id))


@router.patch("/investors/{investor_id}/", response_model=Investor, dependencies=[JsonOnly])
async def update_investor(
    request: Request, sandbox: SandboxDep, caller: InvestorsWriter, investor_id: str, body: InvestorUpdate
) -> Response:
    return write(
        request,
        sandbox,
        caller,
        "investor",
        lambda: sandbox.registry.update_investor(caller.tenant, investor_id, body),
        _dump(body),
        status=200,
    )


@router.post(
    "/investors/{investor_id}/identifications/", response_model=Identification, status_code=201, dependencies=[JsonOnly]
)
async def create_identification(
    request: Request,
    sandbox: SandboxDep,
    caller: InvestorsWriter,
    investor_id: str,
    body: Annotated[IdentificationCreate | None, Body()] = None,
) -> Response:
    """Import an identification done elsewhere (all fields), or start a video identification (empty body)."""
    given = body or IdentificationCreate.model_validate({})
    return write(
        request,
        sandbox,
        caller,
        "identification",
        lambda: sandbox.registry.create_identification(caller.tenant, investor_id, given),
        _dump(given),
    )


@router.get("/investors/{investor_id}/identifications/", response_model=list[Identification] | Page[Identification])
async def list_identifications(
    request: Request, sandbox: SandboxDep, caller: InvestorsReader, paging: PagingDep, investor_id: str
) -> Response:
    with sandbox.registry.work():
        sandbox.registry.investor(caller.tenant, investor_id)
    return listing(request, sandbox, caller, paging, "identification", fixed={"parent_id": investor_id}, bare=True)


@router.post(
    "/investors/{investor_id}/benefiting-persons/",
    response_model=BenefitingPerson,
    status_code=201,
    dependencies=[JsonOnly],
)
async def create_benefiting_person(
    request: Request, sandbox: SandboxDep, caller: InvestorsWriter, investor_id: str, body: BenefitingPersonCreate
) -> Response:
    return write(
        request,
        sandbox,
        caller,
        "benefiting_person",
        lambda: sandbox.registry.create_benefiting_person(caller.tenant, investor_id, body),
        _dump(body),
    )


@router.post("/investors/{investor_id}/wallets/eth-managed/", response_model=Wallet, status_code=201)
async def create_managed_wallet(
    request: Request, sandbox: SandboxDep, caller: InvestorsWriter, investor_id: str
) -> Response:
    """A wallet in Cashlink's custody (no body); at most one per investor."""
    return write(
        request,
        sandbox,
        caller,
        "wallet",
        lambda: sandbox.registry.create_wallet(caller.tenant, investor_id, "eth-managed", None),
        {},
    )


@router.post(
    "/investors/{investor_id}/wallets/eth-generic/", response_model=Wallet, status_code=201, dependencies=[JsonOnly]
)
async def create_generic_wallet(
    request: Request, sandbox: SandboxDep, caller: InvestorsWriter, investor_id: str, body: GenericWalletCreate
) -> Response:
    """The investor's own Ethereum address (EIP-55 checksum checked when mixed case)."""
    return write(
        request,
        sandbox,
        caller,
        "wallet",
        lambda: sandbox.registry.create_wallet(caller.tenant, investor_id, "eth-generic", body),
        _dump(body),
    )


@router.post("/investors/{investor_id}/wallets/{kind}/", include_in_schema=False)
async def unknown_wallet_type(caller: InvestorsWriter, investor_id: str, kind: str) -> Response:
    raise ApiError(404, {"detail": "Wallet type not found; use eth-managed or eth-generic."})


@router.get("/investors/{investor_id}/wallets/", response_model=list[Wallet] | Page[Wallet])
async def list_wallets(
    request: Request, sandbox: SandboxDep, caller: InvestorsReader, paging: PagingDep, investor_id: str
) -> Response:
    with sandbox.registry.work():
        sandbox.registry.investor(caller.tenant, investor_id)
    return listing(
        request,
        sandbox,
        caller,
        paging,
        "wallet",
        fixed={"parent_id": investor_id},
        bare=True,
        decorate=sandbox.registry.with_balances if sandbox.profile.undocumented_fields else None,
    )


@router.get("/wallets/", response_model=Page[Wallet])
async def list_all_wallets(
    request: Request,
    sandbox: SandboxDep,
    caller: InvestorsReader,
    paging: PagingDep,
    investor_id: str | None = None,
) -> Response:
    return listing(
        request,
        sandbox,
        caller,
        paging,
        "wallet",
        {"investor_id": investor_id},
        columns={"investor_id": "parent_id"},
        decorate=sandbox.registry.with_balances if sandbox.profile.undocumented_fields else None,
    )


@router.get("/wallets/{wallet_id}/", response_model=Wallet)
async def get_wallet(sandbox: SandboxDep, caller: InvestorsReader, wallet_id: str) -> Response:
    return answer(sandbox, "wallet", lambda: sandbox.registry.wallet(caller.tenant, wallet_id))
