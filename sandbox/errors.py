"""Error answers in the DRF shape of the API reference (section 1.9), and the handlers that produce them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sandbox.checks import REQUIRED

LOCATIONS = {"body", "query", "path", "header", "cookie"}


class ApiError(Exception):
    """An error answer: HTTP status and a DRF-style JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers


def refused(detail: str, status: int = 400) -> ApiError:
    return ApiError(status, {"detail": detail})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"detail": f"{what} not found."})


def invalid(field: str, message: str) -> ApiError:
    """A 400 for one field; ``field`` may be dotted (``natural_person.zip``)."""
    return ApiError(400, nest([(field.split("."), message)]))


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "missing":
        return REQUIRED
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def nest(errors: Iterable[tuple[Sequence[str], str]]) -> dict[str, Any]:
    """``[(["natural_person", "zip"], "...")]`` -> ``{"natural_person": {"zip": ["..."]}}``."""
    nested: dict[str, Any] = {}
    for path, message in errors:
        node = nested
        *parents, leaf = list(path) or ["non_field_errors"]
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {"non_field_errors": child} if isinstance(child, list) else {}
            node = child
        target = node.get(leaf)
        if isinstance(target, dict):
            target.setdefault("non_field_errors", []).append(message)
        else:
            node.setdefault(leaf, []).append(message)
    return nested


def drf_body(errors: Sequence[Any]) -> dict[str, Any]:
    """Pydantic/FastAPI validation errors as the API's error body."""
    for error in errors:
        if error["type"] == "json_invalid":
            return {"detail": f"JSON parse error - {error.get('ctx', {}).get('error', 'invalid JSON')}"}
    pairs = []
    for error in errors:
        loc = list(error["loc"])
        path = [str(part) for part in (loc[1:] if loc and loc[0] in LOCATIONS else loc)]
        if not path and error["type"] in ("model_attributes_type", "dict_type", "model_type"):
            pairs.append((path, "Expected a JSON object."))
        else:
            pairs.append((path, _message(error)))
    return nest(pairs)


def install(app: FastAPI) -> None:
    """Every error becomes a DRF-style JSON body; validation errors are 400, as the API answers them."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(drf_body(exc.errors()), status_code=400)

    @app.exception_handler(ValidationError)
    async def body_invalid(_request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(drf_body(exc.errors()), status_code=400)
