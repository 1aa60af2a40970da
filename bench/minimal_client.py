"""The bulk import's writes from a client that does nothing else: ``workers`` threads, each with one keep-alive
``http.client`` connection, send each row's four writes (investor, protocol upload, identification, managed wallet)
with nothing around them: no journal, no checks, no retries, bodies built beforehand (the same as the import's; it
sends none of the import's few look-ups for duplicates). Against the same sandbox as the
import, what it takes above the ideal bound is what the sandbox and this machine add; with a busy loop before each
write, so that it spends as much CPU per request as the import did, it shows what that CPU alone costs on this
machine's cores, whatever the client does with it."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.common import cpu_seconds

BOUNDARY = "minimal-client-boundary"


@dataclass(frozen=True)
class Row:
    investor: bytes  # the investor's JSON body, as the import sends it
    protocol: bytes  # the protocol's PDF, as the import uploads it
    identification: dict[str, Any]  # the identification's body but its protocol's id

    def upload(self) -> bytes:
        """The protocol upload's multipart body."""
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="protocol.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        )
        return head.encode() + self.protocol + f"\r\n--{BOUNDARY}--\r\n".encode()


def busy(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def import_seconds(
    api_url: str, token: str, rows: list[Row], workers: int, cpu_per_request: float = 0.0
) -> tuple[float, float]:
    """Seconds to send every row's four writes from ``workers`` threads, and this process's CPU seconds meanwhile;
    ``cpu_per_request``: a busy loop of that much CPU before each write."""
    address = urlsplit(api_url)
    prefix = address.path.rstrip("/")
    left = iter(rows)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)

        def post(path: str, body: bytes | None, content_type: str | None) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}", "X-Idempotency-Key": uuid.uuid4().hex}
            if content_type:
                headers["Content-Type"] = content_type
            busy(cpu_per_request)
            connection.request("POST", prefix + path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            if answer.status != 201:
                raise RuntimeError(f"POST {path}: {answer.status} {content[:300]!r}")
            made: dict[str, Any] = json.loads(content)
            return made.get("data", made)

        try:
            while True:
                with lock:
                    row = next(left, None)
                if row is None:
                    return
                investor = post("/investors/", row.investor, "application/json")["id"]
                protocol = post("/documents/", row.upload(), f"multipart/form-data; boundary={BOUNDARY}")["id"]
                identification = json.dumps({**row.identification, "legitimation_protocol_id": protocol})
                post(f"/investors/{investor}/identifications/", identification.encode(), "application/json")
                post(f"/investors/{investor}/wallets/eth-managed/", None, None)
        except BaseException as exc:  # said by the caller
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    cpu, started = cpu_seconds(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if failures:
        raise failures[0]
    return seconds, cpu
