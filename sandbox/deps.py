"""What the routers share: the running sandbox, the authenticated caller, JSON-only bodies, idempotent writes and
pages of lists (as the profile answers them)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema

from sandbox.errors import ApiError
from sandbox.registry import Registry
from sandbox.settings import Profile, Settings
from sandbox.store import MAX_POSITION, Store


def sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


@dataclass
class Sandbox:
    """The running sandbox: settings, profile, database and rules (``app.state.sandbox``)."""

    settings: Settings
    profile: Profile
    store: Store
    registry: Registry
    admin_token: str
    seeded: dict[str, Any] = field(default_factory=dict)
    fault_rng: random.Random | None = None


async def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


@dataclass(frozen=True)
class Caller:
    client_id: str
    tenant: str
    scopes: frozenset[str]


bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")


class Scopes:
    """Dependency: the caller of an API route, authenticated by bearer token, with one of the ``needs`` scopes."""

    def __init__(self, *needs: str) -> None:
        self.needs = needs

    async def __call__(
        self,
        request: Request,
        sandbox: SandboxDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        if credentials is None:
            if request.headers.get("authorization"):
                raise ApiError(401, {"detail": "Invalid token."})
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        rows = sandbox.store.execute("SELECT * FROM tokens WHERE token_sha256 = ?", [sha256(credentials.credentials)])
        if not rows:
            raise ApiError(401, {"detail": "Invalid token."})
        if rows[0]["expires_at"] < time.time():
            raise ApiError(401, {"detail": "The access token has expired."})
        caller = Caller(rows[0]["client_id"], rows[0]["tenant"], frozenset(rows[0]["scopes"].split()))
        if not caller.scopes & set(self.needs):
            raise ApiError(
                403,
                {
                    "detail": "You do not have permission to perform this action "
                    f"(needs scope {' or '.join(self.needs)})."
                },
            )
        return caller


InvestorsReader = Annotated[Caller, Depends(Scopes("investors:read"))]
InvestorsWriter = Annotated[Caller, Depends(Scopes("investors:write"))]
InvestmentsReader = Annotated[Caller, Depends(Scopes("investments:read"))]
InvestmentsWriter = Annotated[Caller, Depends(Scopes("investments:write"))]
ProductsReader = Annotated[Caller, Depends(Scopes("products:read", "investments:read"))]
DocumentsWriter = Annotated[Caller, Depends(Scopes("documents:write"))]
DocumentsReader = Annotated[Caller, Depends(Scopes("documents:write", "investors:read", "investments:read"))]


def is_json(content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


async def json_only(request: Request) -> None:
    """A body must be JSON (``application/json``); anything else is refused with 415, never parsed."""
    if await request.body() and not is_json(request.headers.get("content-type")):
        kind = request.headers.get("content-type", "")
        raise ApiError(415, {"detail": f'Unsupported media type "{kind}" in request.'})


JsonOnly = Depends(json_only)


async def admin(
    request: Request, sandbox: SandboxDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Administration needs the sandbox's admin token (``Authorization: Bearer <admin token>``)."""
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), sandbox.admin_token.encode()):
        raise ApiError(
            401,
            {
                "detail": "Sandbox administration needs the admin token the sandbox printed at start "
                "(or SANDBOX_ADMIN_TOKEN)."
            },
        )
    if request.method == "POST" and not is_json(request.headers.get("content-type")):
        raise ApiError(415, {"detail": "Sandbox administration accepts only application/json bodies."})


# --- writes -------------------------------------------------------------------------------------------------------


def write(
    request: Request,
    sandbox: Sandbox,
    caller: Caller,
    kind: str,
    action: Callable[[], dict[str, Any]],
    fingerprint: Any,
    status: int = 201,
) -> Response:
    """Run a write; under idempotency the same key replays the first answer and a different body is refused."""
    profile, store = sandbox.profile, sandbox.store
    routes = profile.idempotent_routes
    route = getattr(request.scope.get("route"), "name", "")
    key = request.headers.get("x-idempotency-key") if routes is None or route in routes else None
    path, digest = request.scope["path"], sha256(json.dumps(fingerprint, sort_keys=True, default=str))
    retention = sandbox.settings.idempotency_retention
    if retention is None:
        retention = profile.idempotency_retention
    with sandbox.registry.work():
        if key:
            rows = store.execute(
                "SELECT * FROM idempotency WHERE client_id = ? AND method = ? AND path = ? AND key = ?",
                [caller.client_id, request.method, path, key],
            )
            if rows and (retention is None or rows[0]["stored_at"] >= time.time() - retention):
                if rows[0]["body_sha256"] != digest:
                    raise ApiError(
                        422,
                        {
                            "detail": "This idempotency key was already used with a different request "
                            "body; use a new key for a new request."
                        },
                    )
                headers = {"Idempotent-Replayed": "true"} if profile.replay_header else None
                return Response(
                    rows[0]["body"], status_code=rows[0]["status"], media_type="application/json", headers=headers
                )
        payload = json.dumps(sandbox.registry.public(kind, action()))
        if key:
            store.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [caller.client_id, request.method, path, key, digest, status, payload, time.time()],
            )
    return Response(payload, status_code=status, media_type="application/json")


def answer(sandbox: Sandbox, kind: str, action: Callable[[], dict[str, Any]]) -> Response:
    """A read of one object, as the profile shows it."""
    with sandbox.registry.work():
        return Response(json.dumps(sandbox.registry.public(kind, action())), media_type="application/json")


def stored(sandbox: Sandbox, kind: str, object_id: str, tenant: str, label: str) -> Response:
    """A read of one object served as stored (no parsing)."""
    with sandbox.registry.work():
        text = sandbox.store.get_public(kind, object_id, tenant)
    if text is None:
        raise ApiError(404, {"detail": f"{label} not found."})
    return Response(text, media_type="application/json")


# --- lists --------------------------------------------------------------------------------------------------------


def _number(name: str, text: str, minimum: int) -> int:
    if not re.fullmatch(r"[0-9]{1,30}", text.strip()) or int(text) < minimum:
        raise ApiError(400, {name: [f"'{text}' is not a {'positive' if minimum else 'non-negative'} whole number."]})
    if int(text) > MAX_POSITION:
        raise ApiError(400, {name: [f"'{text}' is larger than any page or position ({MAX_POSITION})."]})
    return int(text)


# Taken as text and read by the profile: the strict one refuses a bad number with 400 naming the parameter; the drf
# one answers 404 "Invalid page." for a bad page (as DRF does) and ignores page_size and after altogether.
PageNumber = Annotated[str, WithJsonSchema({"type": "integer", "minimum": 1})]
Position = Annotated[str, WithJsonSchema({"type": "integer", "minimum": 0})]


@dataclass
class Paging:
    """``?page=N`` (1-based); the strict profile also takes ``page_size`` (capped) and ``after`` (from ``next``)."""

    page: str | None = None
    page_size: str | None = None
    after: str | None = None

    def read(self, profile: Profile, settings: Settings) -> tuple[int, int, int | None]:
        """Page number, page size and ``after`` position as the profile reads them."""
        try:
            page = _number("page", self.page, 1) if self.page is not None else 1
        except ApiError:
            if profile.page_size_param:
                raise
            raise ApiError(404, {"detail": "Invalid page."}) from None
        if not profile.page_size_param:
            return page, settings.page_size, None
        size = settings.page_size
        if self.page_size is not None:
            size = min(_number("page_size", self.page_size, 1), settings.max_page_size)
        after = _number("after", self.after, 0) if self.after is not None and profile.seek_links else None
        return page, size, after


async def paging(
    page: Annotated[PageNumber | None, Query(description="page number, 1-based")] = None,
    page_size: Annotated[PageNumber | None, Query(description="items per page (strict profile; capped)")] = None,
    after: Annotated[
        Position | None, Query(description="where the previous page ended (strict profile's next)")
    ] = None,
) -> Paging:
    """The paging query parameters (a coroutine, so FastAPI reads them on the event loop, not in a thread)."""
    return Paging(page, page_size, after)


PagingDep = Annotated[Paging, Depends(paging)]
PAGING = ("page", "page_size", "after")


def listing(
    request: Request,
    sandbox: Sandbox,
    caller: Caller,
    paging: Paging,
    kind: str,
    filters: Mapping[str, str | None] | None = None,
    columns: Mapping[str, str] | None = None,
    fixed: Mapping[str, str] | None = None,
    bare: bool = False,
    decorate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """A list answer: the envelope ``{count, next, previous, results}`` (or, for ``bare`` lists under the strict
    profile, an array), built from the stored JSON text without parsing it.

    ``filters`` are the query parameters the route declares (``None`` = not given), ``columns`` maps them to store
    columns; ``fixed`` are filters from the path (always applied).
    """
    profile, store, settings = sandbox.profile, sandbox.store, sandbox.settings
    declared = filters or {}
    if profile.refuse_unknown_params:
        unknown = sorted(set(request.query_params) - set(PAGING) - set(declared))
        if unknown:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ApiError(
                400, {name: [f"Unknown query parameter; the filters here are: {allowed}."] for name in unknown}
            )
    honoured = profile.honoured_filters
    chosen = {
        (columns or {}).get(name, name): value
        for name, value in declared.items()
        if value is not None and (honoured is None or name in honoured)
    }
    chosen.update(fixed or {})
    tenant = caller.tenant

    def texts(rows: Iterable[Any]) -> list[str]:
        if decorate is None:
            return [row["json"] for row in rows]
        return [json.dumps(decorate(json.loads(row["json"]))) for row in rows]

    with sandbox.registry.work():
        if bare and profile.bare_sub_lists:
            rows, _ = store.page(kind, tenant, chosen, 1, 1_000_000)
            return Response("[" + ",".join(texts(rows)) + "]", media_type="application/json")
        page, size, after = paging.read(profile, settings)
        rows, more = store.page(kind, tenant, chosen, page, size, after)
        if page > 1 and not rows:
            raise ApiError(404, {"detail": "Invalid page."})
        count = store.count(kind, tenant, chosen)
        results = texts(rows)
    base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('state', {}).get('original_path', '')}"
    query = {name: value for name, value in request.query_params.items() if name not in ("page", "after")}

    def link(number: int, **extra: Any) -> str:
        if number == 1 and not profile.seek_links and not query:  # DRF drops page=1 from `previous`
            return base
        params = {**query, **({} if number == 1 and not profile.seek_links else {"page": number}), **extra}
        return f"{base}?{urlencode(params)}"

    next_link = None
    if more:
        next_link = link(page + 1, after=rows[-1]["seq"]) if profile.seek_links else link(page + 1)
    previous = link(page - 1) if page > 1 else None
    body = (
        f'{{"count": {count}, "next": {json.dumps(next_link)}, "previous": {json.dumps(previous)}, '
        f'"results": [{",".join(results)}]}}'
    )
    return Response(body, media_type="application/json")
