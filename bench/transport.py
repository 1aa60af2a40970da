"""What one request and one journal write cost the client (issue 14's verifications).

* requests' ``trust_env`` looks up proxies and certificate settings in the environment on every request; the
  transport reads them once and turns it off: client CPU per request with it on and off, same sandbox, interleaved;
* the journal commits every write twice (the intent; then its done state with its audit line); with WAL and
  ``synchronous=NORMAL`` a commit does not wait for the disk: time per write against ``synchronous=FULL`` (a sync
  per commit) on the same file, interleaved. Run: ``python -m bench.transport [--quick]``
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.common import OPTIONS, client_for, run_alone, sandbox_with_tenant
from helpers.core.journal import AuditLine, Journal


def request_cpu(session: requests.Session, url: str, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        session.get(url, timeout=10).raise_for_status()
    return (time.process_time() - started) / count


def journal_write(journal: Journal, count: int, offset: int) -> float:
    started = time.perf_counter()
    for number in range(offset, offset + count):
        key = f"bench-{number}"
        journal.record_intent(key, key, "bench", "create investor", "0" * 64)
        journal.record_done(key, "id", AuditLine("bench", "client", "create investor", key, "id", "created"))
    return (time.perf_counter() - started) / count


def main() -> None:
    runs, count = OPTIONS.runs(6, 2), OPTIONS.size(300, 50)
    with sandbox_with_tenant() as (_box, config):
        client = client_for(config)
        url = f"{config.api_url}/products/"
        sessions = {}
        for trust in (True, False):
            session = requests.Session()
            session.trust_env = trust
            session.headers["Authorization"] = f"Bearer {client.transport.token()}"
            sessions[trust] = session
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            for trust, session in sessions.items():
                cpu[trust].append(request_cpu(session, url, count))
    on, off = min(cpu[True]), min(cpu[False])
    print(f"client CPU per request (min of {runs} x {count}): trust_env on {on * 1000:.3f} ms, off {off * 1000:.3f} ms")
    print(f"  reading the environment once saves {(on - off) * 1000:.3f} ms per request ({on / off:4.2f}x)")
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(Path(folder) / "journal.sqlite3")
        seconds: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
        for run in range(runs):
            for mode, values in seconds.items():
                journal._db.execute(f"PRAGMA synchronous={mode}")
                values.append(journal_write(journal, count, (2 * run + (mode == "FULL")) * count))
        journal.close()
    normal, full = statistics.median(seconds["NORMAL"]), statistics.median(seconds["FULL"])
    print(
        f"journal, per write (2 commits; median of {runs} x {count}), WAL: synchronous=NORMAL {normal * 1000:.3f} ms, "
        f"FULL {full * 1000:.3f} ms ({full / normal:4.1f}x)"
    )


if __name__ == "__main__":
    run_alone("transport")
