"""HTTP layer of the sandbox: OAuth2 tokens, scopes, idempotency replay, pagination, and the API routes.

Routes are registered once under ``/v2/``; :class:`sandbox.asgi.SandboxASGI` maps the aliases
(``/api/external``, ``/distributor/v2``, missing trailing slashes) onto them before routing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import seed, webhooks
from sandbox.registry import ApiError, Registry, now_iso
from sandbox.settings import Settings
from sandbox.store import Store

ALL_SCOPES = (
    "investors:read", "investors:write", "investments:read", "investments:write", "documents:write", "products:read",
)
INVESTORS_READ, INVESTORS_WRITE = ("investors:read",), ("investors:write",)
INVESTMENTS_READ, INVESTMENTS_WRITE = ("investments:read",), ("investments:write",)
PRODUCTS_READ = ("products:read", "investments:read")
DOCUMENTS_WRITE = ("documents:write",)
DOCUMENTS_READ = ("documents:write", "investors:read", "investments:read")

def sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()

@dataclass
class Caller:
    client_id: str
    tenant: str
    scopes: frozenset[str]

def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)

def create_app(settings: Settings) -> FastAPI:
    store = Store(settings.db_path)
    registry = Registry(store, settings)
    store.db.executescript(webhooks.SCHEMA)
    with store.transaction():
        seeded = seed.ensure_seed(store, registry) if settings.seed_demo else {}
    webhooks.Dispatcher(store).start()
    app = FastAPI(title="Cashlink registry sandbox", redirect_slashes=False, docs_url="/_sandbox/docs",
                  openapi_url="/_sandbox/openapi.json")
    app.state.store, app.state.registry, app.state.settings, app.state.seeded = store, registry, settings, seeded

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    # --- auth -----------------------------------------------------------------------------------------------------

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
        client_id, secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
        if not client_id and request.headers.get("authorization", "").lower().startswith("basic "):
            decoded = base64.b64decode(request.headers["authorization"][6:]).decode()
            client_id, _, secret = decoded.partition(":")
        rows = store.execute("SELECT * FROM clients WHERE client_id = ?", [client_id])
        if not rows or not secrets.compare_digest(rows[0]["secret_sha256"], sha256(secret)):
            return oauth_error(401, "invalid_client", "Unknown client or wrong secret.")
        allowed = set(rows[0]["scopes"].split())
        requested = set(str(form.get("scope") or "").split()) or allowed
        if requested - allowed:
            return oauth_error(400, "invalid_scope", f"Scopes not allowed: {' '.join(sorted(requested - allowed))}.")
        access_token = secrets.token_urlsafe(32)
        with store.transaction():
            store.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                [sha256(access_token), client_id, rows[0]["tenant"], " ".join(sorted(requested)),
                 time.time() + settings.token_ttl],
            )
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": settings.token_ttl,
                             "scope": " ".join(sorted(requested))})

    def authenticate(request: Request, needs: tuple[str, ...]) -> Caller:
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        scheme, _, token_value = header.partition(" ")
        rows = store.execute("SELECT * FROM tokens WHERE token_sha256 = ?", [sha256(token_value.strip())])
        if scheme.lower() != "bearer" or not rows:
            raise ApiError(401, {"detail": "Invalid token."})
        if rows[0]["expires_at"] < time.time():
            raise ApiError(401, {"detail": "The access token has expired."})
        caller = Caller(rows[0]["client_id"], rows[0]["tenant"], frozenset(rows[0]["scopes"].split()))
        if not caller.scopes & set(needs):
            raise ApiError(403, {"detail": f"You do not have permission to perform this action "
                                           f"(needs scope {' or '.join(needs)})."})
        return caller

    # --- request handling -----------------------------------------------------------------------------------------

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None
        if not isinstance(body, dict):
            raise ApiError(400, {"non_field_errors": ["Expected a JSON object."]})
        return body

    async def write(request: Request, needs: tuple[str, ...], action: Callable[[Caller, Any], dict[str, Any]],
                    status: int = 201, body: Any = None, fingerprint: str | None = None) -> Response:
        """Run a write with idempotency: the same key replays the first 2xx answer; a different body is refused."""
        caller = authenticate(request, needs)
        if body is None:
            body = await json_body(request)
            fingerprint = sha256(json.dumps(body, sort_keys=True))
        key = request.headers.get("x-idempotency-key")
        path = request.scope["path"]
        with store.transaction():
            registry.settle_due()
            if key:
                rows = store.execute("SELECT * FROM idempotency WHERE client_id = ? AND method = ? AND path = ? "
                                     "AND key = ?", [caller.client_id, request.method, path, key])
                if rows:
                    if rows[0]["body_sha256"] != fingerprint:
                        raise ApiError(422, {"detail": "This idempotency key was already used with a different "
                                                       "request body; use a new key for a new request."})
                    return Response(rows[0]["body"], status_code=rows[0]["status"], media_type="application/json",
                                    headers={"Idempotent-Replayed": "true"})
            result = action(caller, body)
            payload = json.dumps(result)
            if key:
                store.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              [caller.client_id, request.method, path, key, fingerprint, status, payload, now_iso()])
        return Response(payload, status_code=status, media_type="application/json")

    def read(request: Request, needs: tuple[str, ...], action: Callable[[Caller], Any]) -> JSONResponse:
        caller = authenticate(request, needs)
        with store.transaction():
            registry.settle_due()
            return JSONResponse(action(caller))

    def page_number(request: Request, name: str, default: int, maximum: int | None = None) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise ApiError(400, {name: [f"'{raw}' is not a positive whole number."]})
        return min(int(raw), maximum) if maximum else int(raw)

    def paginate(request: Request, needs: tuple[str, ...], kind: str, filters: dict[str, str],
                 present: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item) -> JSONResponse:
        caller = authenticate(request, needs)
        page = page_number(request, "page", 1)
        size = page_number(request, "page_size", settings.page_size, settings.max_page_size)
        after = page_number(request, "after", 0) if "after" in request.query_params else None
        with store.transaction():
            registry.settle_due()
            items, count, last = store.page(kind, caller.tenant, (page - 1) * size, size, after, **filters)
            items = [present(item) for item in items]
        if page > 1 and not items:
            raise ApiError(404, {"detail": "Invalid page."})
        base = f"{request.url.scheme}://{request.url.netloc}{request.scope['state']['original_path']}"
        query = {k: v for k, v in request.query_params.items() if k != "after"}

        def link(number: int, after: int | None = None) -> str:
            extra = {"after": after} if after is not None else {}
            return f"{base}?{urlencode({**query, 'page': number, **extra})}"

        return JSONResponse({
            "count": count,
            # `next` also carries the position where this page ended, so following it is an index seek.
            "next": link(page + 1, last) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": items,
        })

    def filters(request: Request, allowed: dict[str, str]) -> dict[str, str]:
        """Query parameters that filter a list, mapped to store columns; unknown ones are refused."""
        chosen = {}
        for name, value in request.query_params.items():
            if name in ("page", "page_size", "after"):
                continue
            if name not in allowed:
                raise ApiError(400, {name: [f"Unknown filter; use one of {', '.join(sorted(allowed))}."]})
            chosen[allowed[name]] = value
        return chosen

    # --- documents ----------------------------------------------------------------------------------------------

    @app.post("/v2/documents/")
    async def upload_document(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            authenticate(request, DOCUMENTS_WRITE)
            raise ApiError(415, {"detail": "Upload the file as multipart/form-data in a part named 'file'."})
        form = await request.form(max_part_size=settings.max_upload_bytes + 1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            authenticate(request, DOCUMENTS_WRITE)
            raise ApiError(400, {"file": ["No file was submitted (multipart part 'file')."]})
        content = await upload.read()
        content_type = (upload.content_type or "").split(";")[0].strip()
        fingerprint = sha256(json.dumps([upload.filename, content_type, sha256(content)]))
        return await write(request, DOCUMENTS_WRITE,
                           lambda caller, _b: registry.upload_document(caller.tenant, upload.filename or "",
                                                                       content_type, content),
                           body={}, fingerprint=fingerprint)

    @app.get("/v2/documents/{document_id}/")
    async def get_document(request: Request, document_id: str) -> JSONResponse:
        def action(caller: Caller) -> dict[str, Any]:
            document = store.get("document", document_id, caller.tenant)
            if document is None:
                raise ApiError(404, {"detail": "Document not found."})
            return document

        return read(request, DOCUMENTS_READ, action)

    # --- investors ----------------------------------------------------------------------------------------------

    @app.post("/v2/investors/")
    async def create_investor(request: Request) -> Response:
        return await write(request, INVESTORS_WRITE, lambda c, body: registry.create_investor(c.tenant, body))

    @app.get("/v2/investors/")
    async def list_investors(request: Request) -> JSONResponse:
        return paginate(request, INVESTORS_READ, "investor", filters(request, {"kyc_status": "status"}))

    @app.get("/v2/investors/{investor_id}/")
    async def get_investor(request: Request, investor_id: str) -> JSONResponse:
        return read(request, INVESTORS_READ, lambda c: registry.investor(c.tenant, investor_id))

    @app.patch("/v2/investors/{investor_id}/")
    async def update_investor(request: Request, investor_id: str) -> Response:
        return await write(request, INVESTORS_WRITE,
                           lambda c, body: registry.update_investor(c.tenant, investor_id, body), status=200)

    @app.post("/v2/investors/{investor_id}/identifications/")
    async def create_identification(request: Request, investor_id: str) -> Response:
        return await write(request, INVESTORS_WRITE,
                           lambda c, body: registry.create_identification(c.tenant, investor_id, body))

    @app.get("/v2/investors/{investor_id}/identifications/")
    async def list_identifications(request: Request, investor_id: str) -> JSONResponse:
        return read(request, INVESTORS_READ, lambda c: registry.identifications(c.tenant, investor_id))

    @app.post("/v2/investors/{investor_id}/benefiting-persons/")
    async def create_benefiting_person(request: Request, investor_id: str) -> Response:
        return await write(request, INVESTORS_WRITE,
                           lambda c, body: registry.create_benefiting_person(c.tenant, investor_id, body))

    @app.post("/v2/investors/{investor_id}/wallets/{kind}/")
    async def create_wallet(request: Request, investor_id: str, kind: str) -> Response:
        if kind not in ("eth-managed", "eth-generic"):
            raise ApiError(404, {"detail": "Wallet type not found; use eth-managed or eth-generic."})
        return await write(request, INVESTORS_WRITE,
                           lambda c, body: registry.create_wallet(c.tenant, investor_id, kind, body))

    @app.get("/v2/investors/{investor_id}/wallets/")
    async def list_wallets(request: Request, investor_id: str) -> JSONResponse:
        return read(request, INVESTORS_READ, lambda c: registry.wallets(c.tenant, investor_id))

    @app.get("/v2/wallets/")
    async def list_all_wallets(request: Request) -> JSONResponse:
        return paginate(request, INVESTORS_READ, "wallet", filters(request, {"investor_id": "parent_id"}),
                        registry.with_balances)

    @app.get("/v2/wallets/{wallet_id}/")
    async def get_wallet(request: Request, wallet_id: str) -> JSONResponse:
        return read(request, INVESTORS_READ, lambda c: registry.wallet(c.tenant, wallet_id))

    # --- products and campaigns ---------------------------------------------------------------------------------

    @app.get("/v2/products/")
    async def list_products(request: Request) -> JSONResponse:
        return paginate(request, PRODUCTS_READ, "product", filters(request, {}))

    @app.get("/v2/products/{product_id}/")
    async def get_product(request: Request, product_id: str) -> JSONResponse:
        return read(request, PRODUCTS_READ, lambda c: registry.product(c.tenant, product_id))

    @app.get("/v2/products/{product_id}/campaigns/")
    async def list_product_campaigns(request: Request, product_id: str) -> JSONResponse:
        return paginate(request, PRODUCTS_READ, "campaign", {"product_id": product_id})

    @app.get("/v2/campaigns/")
    async def list_campaigns(request: Request) -> JSONResponse:
        return paginate(request, PRODUCTS_READ, "campaign", filters(request, {"product_id": "product_id"}))

    @app.get("/v2/campaigns/{campaign_id}/")
    async def get_campaign(request: Request, campaign_id: str) -> JSONResponse:
        return read(request, PRODUCTS_READ, lambda c: registry.campaign(c.tenant, campaign_id))

    # --- investments --------------------------------------------------------------------------------------------

    investment_filters = {"product_id": "product_id", "campaign_id": "campaign_id", "investor_id": "investor_id",
                          "status": "status", "wallet": "wallet_id"}

    @app.post("/v2/investments/")
    async def create_investment(request: Request) -> Response:
        return await write(request, INVESTMENTS_WRITE, lambda c, body: registry.create_investment(c.tenant, body))

    @app.get("/v2/investments/")
    async def list_investments(request: Request) -> JSONResponse:
        return paginate(request, INVESTMENTS_READ, "investment", filters(request, investment_filters))

    @app.get("/v2/investments/{investment_id}/")
    async def get_investment(request: Request, investment_id: str) -> JSONResponse:
        return read(request, INVESTMENTS_READ, lambda c: registry.investment(c.tenant, investment_id))

    @app.patch("/v2/investments/{investment_id}/")
    async def update_investment(request: Request, investment_id: str) -> Response:
        return await write(request, INVESTMENTS_WRITE,
                           lambda c, body: registry.update_investment(c.tenant, investment_id, body), status=200)

    @app.get("/v2/investments/{investment_id}/signed-documents/")
    async def signed_documents(request: Request, investment_id: str) -> JSONResponse:
        return read(request, INVESTMENTS_READ,
                    lambda c: registry.investment(c.tenant, investment_id)["signed_documents"])

    @app.post("/v2/investments/{investment_id}/credits/")
    async def credit(request: Request, investment_id: str) -> Response:
        return await write(request, INVESTMENTS_WRITE, lambda c, _body: registry.credit(c.tenant, investment_id))

    @app.get("/v2/investments/{investment_id}/credits/")
    async def list_credits(request: Request, investment_id: str) -> JSONResponse:
        def action(caller: Caller) -> list[dict[str, Any]]:
            registry.investment(caller.tenant, investment_id)
            return store.all("credit", caller.tenant, parent_id=investment_id)

        return read(request, INVESTMENTS_READ, action)

    @app.get("/v2/credits/{task_id}/")
    async def get_credit(request: Request, task_id: str) -> JSONResponse:
        return read(request, INVESTMENTS_READ, lambda c: registry.task(c.tenant, "credit", task_id))

    @app.get("/v2/investments/{investment_id}/registry-statements/")
    async def registry_statements(request: Request, investment_id: str) -> JSONResponse:
        return read(request, INVESTMENTS_READ, lambda c: registry.registry_statements(c.tenant, investment_id))

    # --- redemptions and transfers ------------------------------------------------------------------------------

    task_filters = {"investor_id": "investor_id", "product_id": "product_id", "status": "status",
                    "wallet_id": "wallet_id"}

    for kind, plural, create in (("redemption", "redemptions", registry.create_redemption),
                                 ("transfer", "transfers", registry.create_transfer)):
        def routes(kind: str = kind, plural: str = plural, create: Callable[..., dict[str, Any]] = create) -> None:
            async def create_task(request: Request) -> Response:
                return await write(request, INVESTMENTS_WRITE, lambda c, body: create(c.tenant, body))

            async def list_tasks(request: Request) -> JSONResponse:
                return paginate(request, INVESTMENTS_READ, kind, filters(request, task_filters))

            async def get_task(request: Request, task_id: str) -> JSONResponse:
                return read(request, INVESTMENTS_READ, lambda c: registry.task(c.tenant, kind, task_id))

            app.add_api_route(f"/v2/{plural}/", create_task, methods=["POST"], name=f"create_{kind}")
            app.add_api_route(f"/v2/{plural}/", list_tasks, methods=["GET"], name=f"list_{kind}s")
            app.add_api_route(f"/v2/{plural}/{{task_id}}/", get_task, methods=["GET"], name=f"get_{kind}")

        routes()

    # --- sandbox administration (loopback only, no auth; not part of the real API) --------------------------------

    @app.get("/_sandbox/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "seed": seeded, "faults": settings.faults.as_dict(),
                "settle_delay": settings.settle_delay, "task_outcome": settings.task_outcome,
                "token_ttl": settings.token_ttl}

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            settings.faults.update(await json_body(request))
        except ValueError as exc:
            raise ApiError(400, {"detail": str(exc)}) from None
        request.app.state.fault_rng = None  # re-seed on next use
        return settings.faults.as_dict()

    @app.post("/_sandbox/settings")
    async def set_settings(request: Request) -> dict[str, Any]:
        changes = await json_body(request)
        for name in changes:
            if name not in ("settle_delay", "task_outcome", "token_ttl", "max_upload_bytes"):
                raise ApiError(400, {name: ["This setting cannot be changed at run time."]})
        for name, value in changes.items():
            setattr(settings, name, value)
        return {name: getattr(settings, name) for name in ("settle_delay", "task_outcome", "token_ttl")}

    @app.post("/_sandbox/tokens/expire")
    async def expire_tokens() -> dict[str, Any]:
        """Expire every issued token now, as if their lifetime had run out (clients must renew transparently)."""
        with store.transaction():
            store.execute("UPDATE tokens SET expires_at = 0")
        return {"expired": True}

    @app.post("/_sandbox/clients")
    async def create_client(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        client_id = body.get("client_id") or f"client-{secrets.token_hex(6)}"
        secret = body.get("client_secret") or secrets.token_urlsafe(24)
        scopes = body.get("scopes") or " ".join(ALL_SCOPES)
        with store.transaction():
            seed.add_client(store, client_id, secret, body.get("tenant") or client_id, scopes)
        return {"client_id": client_id, "client_secret": secret, "tenant": body.get("tenant") or client_id,
                "scopes": scopes}

    @app.post("/_sandbox/webhooks")
    async def set_webhook(request: Request) -> dict[str, Any]:
        """``{"client_id", "url", "token", "max_attempts", "backoff"}``; ``url: null`` removes the target."""
        body = await json_body(request)
        rows = store.execute("SELECT tenant FROM clients WHERE client_id = ?", [str(body.get("client_id"))])
        if not rows:
            raise ApiError(400, {"client_id": ["No such client."]})
        with store.transaction():
            webhooks.configure(store, rows[0]["tenant"], body.get("url"), body.get("token"),
                               int(body.get("max_attempts", 8)), float(body.get("backoff", 1.0)))
        return {"tenant": rows[0]["tenant"], "url": body.get("url")}

    @app.get("/_sandbox/webhooks/{client_id}/deliveries")
    async def webhook_deliveries(client_id: str) -> list[dict[str, Any]]:
        rows = store.execute("SELECT tenant FROM clients WHERE client_id = ?", [client_id])
        return webhooks.deliveries(store, rows[0]["tenant"]) if rows else []

    @app.post("/_sandbox/identifications/{identification_id}/complete")
    async def complete_identification(request: Request, identification_id: str) -> dict[str, Any]:
        body = await json_body(request)
        with store.transaction():
            return registry.complete_identification(identification_id, body.get("result", "success") == "success")

    @app.post("/_sandbox/investments/{investment_id}/status")
    async def force_status(request: Request, investment_id: str) -> dict[str, Any]:
        body = await json_body(request)
        with store.transaction():
            return registry.force_status(investment_id, str(body.get("status")), body.get("changed_at"))

    @app.post("/_sandbox/bulk")
    async def bulk(request: Request) -> dict[str, Any]:
        """Fast fixture: ``{"client_id", "investors", "investments"}`` delivered investments spread over investors."""
        body = await json_body(request)
        with store.transaction():
            return seed.bulk_delivered(store, registry, str(body["client_id"]), int(body.get("investors", 100)),
                                       int(body.get("investments", 1000)))

    return app
