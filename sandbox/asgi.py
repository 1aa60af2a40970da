"""The outermost layer of the sandbox: path aliases, simulated latency and fault injection.

Faults apply to API requests only (``/oauth/token`` and ``/v2/...``), never to ``/_sandbox/`` administration.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from typing import Any

from sandbox.settings import Faults

Scope = dict[str, Any]
PREFIXES = ("/api/external", "/distributor")  # stripped in this order; what remains is /oauth/token or /v2/...


def normalise(path: str) -> str:
    """Map every alias of a route to its one registered form: ``/v2/investors/``."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            path = path[len(prefix):]
    if path.startswith("/v2/") and not path.endswith("/"):
        path += "/"
    return path


class SandboxASGI:
    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults
        self.rng: random.Random | None = None
        self.state = app.state

    def _draw(self, method: str) -> str | None:
        faults = self.faults
        if faults.queue:
            return faults.queue.pop(0)
        if method not in faults.methods:
            return None
        if getattr(self.state, "fault_rng", None) is None:
            self.state.fault_rng = random.Random(faults.seed)
        roll = self.state.fault_rng.random()
        for kind, rate in (("error", faults.error_rate), ("429", faults.rate_limit_rate), ("drop", faults.drop_rate)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        original = scope["path"]
        path = normalise(original)
        scope = {**scope, "path": path, "raw_path": path.encode(), "state": {"original_path": original}}
        if not (path.startswith("/v2/") or path == "/oauth/token"):
            return await self.app(scope, receive, send)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        fault = self._draw(scope["method"])
        if fault == "error":
            return await respond(send, 503, {"detail": "The service is temporarily unavailable (sandbox fault)."})
        if fault == "429":
            return await respond(send, 429, {"detail": "Request was throttled (sandbox fault)."},
                                 [(b"retry-after", str(math.ceil(self.faults.retry_after)).encode())])
        if fault == "drop":
            return await self._drop_after_processing(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _drop_after_processing(self, scope: Scope, receive: Any, send: Any) -> None:
        """Let the request commit, then cut the connection before any byte of the answer is sent."""

        async def swallow(_message: dict[str, Any]) -> None:
            return None

        await self.app(scope, receive, swallow)
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:  # not running under uvicorn: answer as a gateway that lost the reply would
            return await respond(send, 502, {"detail": "The response was lost (sandbox fault)."})
        transport.abort()
        await asyncio.sleep(0)


async def respond(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})
