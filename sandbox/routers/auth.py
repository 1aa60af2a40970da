"""``POST /oauth/token``: OAuth2 client credentials (RFC 6749 section 4.4), from the form body or HTTP Basic."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from sandbox.deps import SandboxDep, sha256
from sandbox.models import OAuthError, Token

router = APIRouter(tags=["auth"])


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _basic(header: str) -> tuple[str, str] | None:
    """``Authorization: Basic base64(id:secret)``; ``None`` when it is not valid base64 of UTF-8 text."""
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, IndexError, ValueError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


@router.post(
    "/oauth/token",
    response_model=Token,
    operation_id="oauth_token",
    responses={400: {"model": OAuthError}, 401: {"model": OAuthError}},
)
async def token(
    request: Request,
    sandbox: SandboxDep,
    grant_type: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
) -> JSONResponse:
    """An access token for a client (form fields, or the client's id and secret by HTTP Basic)."""
    if grant_type != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    header = request.headers.get("authorization", "")
    if not client_id and header.lower().startswith("basic "):
        credentials = _basic(header)
        if credentials is None:
            return oauth_error(401, "invalid_client", "The Basic credentials are not base64 of UTF-8 'id:secret'.")
        client_id, client_secret = credentials
    store, settings = sandbox.store, sandbox.settings
    rows = store.execute("SELECT * FROM clients WHERE client_id = ?", [client_id])
    if not rows or not secrets.compare_digest(rows[0]["secret_sha256"], sha256(client_secret)):
        return oauth_error(401, "invalid_client", "Unknown client or wrong secret.")
    allowed = set(rows[0]["scopes"].split())
    requested = set(scope.split()) or allowed
    if requested - allowed:
        return oauth_error(400, "invalid_scope", f"Scopes not allowed: {' '.join(sorted(requested - allowed))}.")
    access_token = secrets.token_urlsafe(32)
    granted = " ".join(sorted(requested))
    with store.transaction():
        store.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
            [sha256(access_token), client_id, rows[0]["tenant"], granted, time.time() + settings.token_ttl],
        )
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": settings.token_ttl, "scope": granted},
        headers={"Cache-Control": "no-store"},
    )
