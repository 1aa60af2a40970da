"""The machine's floor for requests held a fixed time: a bare asyncio server (in its own process, on uvloop as the
sandbox runs) that answers every request ``latency`` after it arrived, and ``workers`` threads that each keep one
raw keep-alive socket and send the next request as soon as the last answer is in. Nothing parses HTTP beyond finding
the end of a message, so what this takes above ``requests x latency / workers`` is what the machine itself adds:
timers that fire late (it holds answers as the sandbox does, :mod:`sandbox.clock`) and processes woken from an idle
core. The bulk import's time is stated against it, measured in the same run, so that a miss of the ideal bound can be
told from this machine's own floor."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import threading
import time
from multiprocessing.connection import Connection

from sandbox.clock import sleep_until

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
REQUEST = b"POST /v2/investors/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"


def _serve(latency: float, port_out: Connection) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # (not on Windows)
        pass

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readexactly(len(REQUEST))
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            await sleep_until(time.perf_counter() + latency)  # as the sandbox holds an answer
            writer.write(ANSWER)

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def floor_seconds(requests: int, workers: int, latency: float) -> float:
    """Seconds ``workers`` raw clients take for ``requests`` requests each held ``latency`` by a bare server."""
    spawn = multiprocessing.get_context("spawn")
    receiving, sending = spawn.Pipe(duplex=False)
    server = spawn.Process(target=_serve, args=(latency, sending), daemon=True)
    server.start()
    try:
        port = receiving.recv()
        left = [requests]
        lock = threading.Lock()

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while True:
                    with lock:
                        if left[0] == 0:
                            return
                        left[0] -= 1
                    sock.sendall(REQUEST)
                    received = b""
                    while len(received) < len(ANSWER):
                        received += sock.recv(4096)

        threads = [threading.Thread(target=client) for _ in range(workers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started
    finally:
        server.kill()
        server.join()
