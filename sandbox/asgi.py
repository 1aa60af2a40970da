"""The outermost layers of the sandbox: loopback ``Host`` only, path aliases, simulated latency and faults.

Faults apply to API requests only (``/oauth/token`` and ``/v2/...``), never to ``/_sandbox/`` administration.
Latency is a response time, as a client measures a registry far away: the time from a request's arrival to its
answer. The request is served at once and its answer held back until then, so the sandbox's own work happens within
the latency instead of on top of it (unless the work takes longer), and concurrent requests wait concurrently
(8 requests with 100 ms latency take about 100 ms, not 800 ms).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import time
from typing import Any

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sandbox.clock import sleep_until
from sandbox.deps import Sandbox

PREFIXES = ("/api/external", "/distributor")  # stripped in this order; what remains is /oauth/token or /v2/...
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ARRIVED = "sandbox.arrival"  # a scope extension: {"at": when the request's first bytes were read (perf_counter)}


class ArrivalStampingProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, noting when each request arrives: as the event loop reads its first bytes, before the
    request waits its turn to be handled. Latency counts from then, so that a request's wait behind the others read
    in the same turn of the loop (those of other connections, or one before it on its own) is within its latency,
    as the sandbox's work is. Bytes the loop has not read yet (it is busy, or uvicorn reads a connection's next
    request only once the one before is answered) are stamped when read: that wait is not within the latency."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions = self.scope.get("extensions") or {}
        extensions[ARRIVED] = {"at": time.perf_counter()}
        self.scope["extensions"] = extensions


def normalise(path: str) -> str:
    """Map every alias of a route to its one registered form: ``/v2/investors/``."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
    if path.startswith("/v2/") and not path.endswith("/"):
        path += "/"
    return path


class SandboxASGI:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sandbox: Sandbox = app.state.sandbox

    def _draw(self, method: str) -> str | None:
        faults = self.sandbox.settings.faults
        if faults.queue:
            return faults.queue.pop(0)
        if method not in faults.methods:
            return None
        if self.sandbox.fault_rng is None:
            self.sandbox.fault_rng = random.Random(faults.seed)
        roll = self.sandbox.fault_rng.random()
        for kind, rate in (("error", faults.error_rate), ("429", faults.rate_limit_rate), ("drop", faults.drop_rate)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        original = scope["path"]
        path = normalise(original)
        scope = {
            **scope,
            "path": path,
            "raw_path": path.encode(),
            "state": {**scope.get("state", {}), "original_path": original},
        }
        if not (path.startswith("/v2/") or path == "/oauth/token"):
            return await self.app(scope, receive, send)
        faults = self.sandbox.settings.faults
        connection_send = send  # the drop fault reaches the connection through it
        send = corked(send)
        arrived = scope.get("extensions", {}).get(ARRIVED, {}).get("at") or time.perf_counter()  # (another server: now)
        answer_at = arrived + faults.latency
        if faults.latency:
            send = held_until(send, arrived, answer_at)
        fault = self._draw(scope["method"])
        if fault == "error":  # the registry's own 503, before it takes the request in: it says when to come back
            return await respond(
                send,
                503,
                {"detail": "The service is temporarily unavailable (sandbox fault)."},
                [(b"retry-after", b"0")],
            )
        if fault == "429":
            return await respond(
                send,
                429,
                {"detail": "Request was throttled (sandbox fault)."},
                [(b"retry-after", (faults.retry_after_text or str(math.ceil(faults.retry_after))).encode())],
            )
        if fault == "drop":
            return await self._drop_after_processing(scope, receive, connection_send, answer_at)
        if fault == "gateway_503":  # a gateway whose upstream reset after committing: 503, no Retry-After
            await self.app(scope, receive, _swallow)
            return await respond(send, 503, {"detail": "upstream connect error or disconnect/reset before headers"})
        return await self.app(scope, receive, send)

    async def _drop_after_processing(self, scope: Scope, receive: Receive, send: Send, answer_at: float) -> None:
        """Let the request commit, then, when the answer would have been sent, cut the connection before any byte of
        it is sent."""

        await self.app(scope, receive, _swallow)
        await sleep_until(answer_at)
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:  # not running under uvicorn: answer as a gateway that lost the reply would
            return await respond(send, 502, {"detail": "The response was lost (sandbox fault)."})
        transport.abort()
        await asyncio.sleep(0)


async def _swallow(_message: Any) -> None:
    """A ``send`` that sends nothing: the answer of a request whose answer is lost."""


def corked(send: Send) -> Send:
    """``send`` that holds an answer's head until its body is written, so that both leave in one segment (uvicorn
    writes them one by one: two packets, and two wake-ups of the client, per answer)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or not hasattr(socket, "TCP_CORK"):  # (not under uvicorn, or not on Linux)
        return send

    async def send_corked(message: Message) -> None:
        if message["type"] == "http.response.start":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            await send(message)
        finally:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    return send_corked


def held_until(send: Send, arrived: float, answer_at: float) -> Send:
    """``send`` that holds the answer back until ``answer_at`` and tells, in a ``Server-Timing`` header, how long the
    request really took from its arrival to its answer (``latency``: never shorter than asked; a little longer when
    the event loop is busy as the time comes) and how much of that was the sandbox's work (``app``): what a benchmark
    needs to tell the sandbox's time from the client's."""

    async def send_held(message: Message) -> None:
        if message["type"] == "http.response.start":
            work = (time.perf_counter() - arrived) * 1000
            await sleep_until(answer_at)
            timing = f"latency;dur={(time.perf_counter() - arrived) * 1000:.2f}, app;dur={work:.2f}".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"server-timing", timing)]}
        await send(message)

    return send_held


async def respond(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def wrap(app: FastAPI) -> ASGIApp:
    """The application behind the sandbox's outer layers (DNS rebinding protection outermost)."""
    return TrustedHostMiddleware(SandboxASGI(app), allowed_hosts=LOOPBACK_HOSTS, www_redirect=False)
