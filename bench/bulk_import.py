"""Import spreadsheet rows (investor, protocol upload, identification, managed wallet): 8 workers against one by one
on loopback, and against the ideal bound with 20 ms latency per request.

The ideal bound is rows x requests per row x latency / workers: what the import would take if each request cost only
its latency and the workers were never idle. Requests per row are counted, not assumed: the four writes, and the
look-ups for duplicates a write does where needed (a new investor is looked for among the registry's investors; an
investor this client has just created is known to have no identifications or wallets yet, so those look-ups are
skipped). Goals: within 1.1x the ideal bound at 20 ms, at least 2x faster than one by one on loopback; both by the
fastest run (min / median are printed), as every benchmark here: a machine shared with other work only ever adds time.
On loopback both sides only spend CPU, each in one process: the run also prints the most concurrency can gain there
with the CPU each side used (a request takes at least the busier side's CPU, and both sides' over the machine's cores),
so a miss can be told from a limit of the machine. At 20 ms it also measures this machine's floor for as many
requests held as long (``bench/wire_floor.py``: a bare server and raw sockets), interleaved with the import runs.
The timed runs go without instrumentation; the breakdown of a request's time comes from one more run at 20 ms with a
response hook that times each answer (its work would count as the client's).
Run: ``python -m bench.bulk_import [--quick]``
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from schwifty import IBAN

from bench import minimal_client
from bench.common import OPTIONS, Timings, client_for, cpu_seconds, goal, run_alone, sandbox_with_tenant, timed
from bench.wire_floor import floor_seconds
from helpers.core import models
from helpers.core.config import Config
from helpers.core.resources import placeholder_pdf
from helpers.data import bulk
from sandbox.runner import SandboxProcess

WORKERS = 8
SANDBOX_PIDS: dict[str, int] = {}  # base URL -> process id, for CPU accounting
LATENCY = 0.02


def spreadsheet(path: Path, count: int) -> Path:
    template = next(csv.DictReader(bulk.TEMPLATE.open()))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(template))
        writer.writeheader()
        for number in range(count):
            writer.writerow(
                {
                    **template,
                    "reference": f"B-{number:05d}",
                    "surname": f"Bench {number:05d}",
                    "email": f"bench.{number:05d}@example.com",
                    "iban": IBAN.generate("DE", bank_code="37040044", account_code=str(5320130000 + number)).compact,
                }
            )
    return path


def fresh(box: SandboxProcess, config: Config, tmp: Path, run: int) -> Config:
    """A new distributor and journal: every run imports the same rows into an empty registry."""
    tenant = box.new_client()
    return config.replace(
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        journal_path=tmp / f"journal-{run}.sqlite3",
    )


def import_once(
    config: Config, plan: bulk.Plan, workers: int, cpu: dict[str, float] | None = None, described: bool = True
) -> tuple[float, Counter[str], defaultdict[str, float]]:
    """One import into an empty registry. ``described``: requests are counted and timed per kind by a response hook
    (its work counts as the client's: the loopback runs, where the client's CPU is the limit, go without it)."""
    client = client_for(config)
    sent: Counter[str] = Counter()
    spent: defaultdict[str, float] = defaultdict(float)  # seconds from sending to the answer's headers, per kind

    def count(method: str, url: str, elapsed: float, headers: Mapping[str, str]) -> None:
        path = urlsplit(url).path.rstrip("/").split("/")
        kind = "/".join(part if len(part) < 30 else "{id}" for part in path[-3:])
        sent[f"{method} {kind}"] += 1
        spent[f"{method} {kind}"] += elapsed
        spent["all"] += elapsed
        for part in headers.get("Server-Timing", "").split(","):  # the sandbox's view, with latency
            name, _, duration = part.strip().partition(";dur=")
            if duration:
                spent[f"sandbox {name}"] += float(duration) / 1000

    if described:  # reads: a response hook of requests; writes (sent through urllib3 itself): around their sending
        client.transport.reads.hooks["response"].append(
            lambda response, *_args, **_kwargs: count(
                response.request.method, response.url, response.elapsed.total_seconds(), response.headers
            )
        )
        send_write = client.transport._send_write

        def timed_write(method: str, url: str, *args: Any) -> Any:
            started = time.perf_counter()
            answer = send_write(method, url, *args)  # (returns with the answer's headers, as requests' elapsed)
            count(method, url, time.perf_counter() - started, answer.headers)
            return answer

        client.transport._send_write = timed_write  # type: ignore[method-assign,assignment]
    pid = SANDBOX_PIDS.get(config.base_url, 0)
    own, sandbox, before = cpu_seconds(), cpu_seconds(pid), client.transport.requests_sent
    seconds, results = timed(lambda: bulk.import_investors(client, plan, workers=workers, progress=False))
    if cpu is not None:
        cpu["client"], cpu["sandbox"] = cpu_seconds() - own, cpu_seconds(pid) - sandbox
    assert (results["status"] == "created").all(), results["error"].dropna().head()
    if not described:
        sent["requests"] = client.transport.requests_sent - before
    return seconds, sent, spent


def minimal_rows(plan: bulk.Plan) -> list[minimal_client.Row]:
    """The plan's rows as the minimal client sends them (bodies built beforehand)."""
    return [
        minimal_client.Row(
            json.dumps(models.parse(models.Investor, row["investor"], "the investor").body(), default=str).encode(),
            placeholder_pdf(f"Protocol {row['reference']}"),  # (what the import uploads for a row without a file)
            {k: v for k, v in row["identification"].items() if k != "legitimation_protocol_id"},
        )
        for row in plan.rows
    ]


def minimal_import(config: Config, rows: list[minimal_client.Row], cpu_per_request: float = 0.0) -> tuple[float, float]:
    """The minimal client's import into an empty registry: seconds, and its CPU per request."""
    token = client_for(config).transport.token()
    seconds, cpu = minimal_client.import_seconds(config.api_url, token, rows, WORKERS, cpu_per_request)
    return seconds, cpu / (4 * len(rows))


def loopback_ceiling(serial_per_request: float, client_cpu: float, sandbox_cpu: float, requests_sent: float) -> float:
    """How much faster than one by one (``serial_per_request`` seconds) concurrent workers can be on loopback, where
    both sides only spend CPU: each side is one process (one core at most), and both share this machine's cores."""
    client, sandbox = client_cpu / requests_sent, sandbox_cpu / requests_sent
    fastest = max(client, sandbox, (client + sandbox) / (os.cpu_count() or 1))
    return serial_per_request / fastest


def main() -> None:
    rows = OPTIONS.size(500, 40)
    runs = OPTIONS.runs(2, 1)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        plan = bulk.read_investors(spreadsheet(tmp / "rows.csv", rows), placeholder_protocols=True)
        assert plan.valid == rows, plan.summary()
        with sandbox_with_tenant() as (box, config):
            assert box.process is not None
            SANDBOX_PIDS[config.base_url] = box.process.pid
            times: dict[str, list[float]] = {"one by one": [], f"{WORKERS} workers": []}
            used_cpu: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in times}  # client, sandbox, requests
            for run in range(runs):
                for name, workers in (("one by one", 1), (f"{WORKERS} workers", WORKERS)):
                    used: dict[str, float] = {}
                    seconds, sent_now, _spent = import_once(
                        fresh(box, config, tmp, len(times[name]) + 10 * run), plan, workers, used, described=False
                    )
                    times[name].append(seconds)
                    for index, amount in enumerate((used["client"], used["sandbox"], sum(sent_now.values()))):
                        used_cpu[name][index] += amount
            box.faults(latency=LATENCY)
            far_times: list[float] = []
            floor_times: list[float] = []  # this machine's floor for as many requests held as long (interleaved)
            bare: list[float] = []  # the minimal client against this sandbox (interleaved) ...
            busy: list[float] = []  # ... and spending the import's CPU per request
            bare_cpu = busy_cpu = 0.0
            rows_sent = minimal_rows(plan)
            for run in range(runs + 1):  # a shared machine only ever adds time: the goal takes the fastest run
                used = {}
                seconds, counted, _spent = import_once(
                    fresh(box, config, tmp, 99 - run), plan, WORKERS, used, described=False
                )
                far_times.append(seconds)
                if seconds <= min(far_times):
                    cpu, requests_in_fastest = used, sum(counted.values())
                floor_times.append(floor_seconds(sum(counted.values()), WORKERS, LATENCY))
                seconds, bare_cpu = minimal_import(fresh(box, config, tmp, 60 + run), rows_sent)
                bare.append(seconds)
                busy_cpu = used["client"] / sum(counted.values())
                seconds, _cpu = minimal_import(fresh(box, config, tmp, 30 + run), rows_sent, busy_cpu - bare_cpu)
                busy.append(seconds)
            # One more run, with the hook that times each answer by kind, for the breakdown of a request's time.
            _seconds, sent, spent = import_once(fresh(box, config, tmp, 90), plan, WORKERS)
    serial, concurrent = Timings(times["one by one"]), Timings(times[f"{WORKERS} workers"])
    far_away = Timings(far_times)
    far = far_away.min
    requests_sent = sum(sent.values())
    per_row = requests_sent / rows
    ideal = rows * per_row * LATENCY / WORKERS
    print(f"import {rows} rows ({OPTIONS.profile} profile): investor + protocol upload + identification + wallet")
    print(f"  loopback: one by one {serial.s()}, {WORKERS} workers {concurrent.s()}: {serial.ratio(concurrent)} faster")
    for name, (client_cpu, sandbox_cpu, count) in used_cpu.items():
        print(
            f"  CPU per request {name}: client {client_cpu / count * 1000:.2f} ms, sandbox "
            f"{sandbox_cpu / count * 1000:.2f} ms (each side one process: one core at most, {os.cpu_count()} here)"
        )
    ceiling = loopback_ceiling(serial.min * runs / used_cpu["one by one"][2], *used_cpu[f"{WORKERS} workers"])
    print(
        f"  the most {WORKERS} workers can gain here with the CPU each side used (mean of the runs): about "
        f"{ceiling:4.2f}x (a request takes at least the client's CPU, the sandbox's, and both over {os.cpu_count()} "
        f"cores); the goal asks 2x"
    )
    print(
        f"  requests per row: {per_row:.2f} ({requests_sent} in all; mean time to answer at {LATENCY * 1000:.0f} ms, "
        "in one more run with a hook timing each answer):"
    )
    for kind, number in sorted(sent.items(), key=lambda item: -item[1]):
        print(f"    {number / rows:5.2f}  {kind:40} {spent[kind] / number * 1000:6.1f} ms")
    latency, work = (spent[f"sandbox {name}"] / requests_sent * 1000 for name in ("latency", "app"))
    answer = spent["all"] / requests_sent * 1000
    print(
        f"  a request's {answer:.1f} ms to its answer: the sandbox held it {latency:.1f} ms from its arrival (its work "
        f"and queue, {work:.1f} ms, within that; more than {LATENCY * 1000:.0f} ms when its one event loop is busy as "
        f"the time comes), HTTP on both sides and waiting for a core {answer - latency:.1f} ms"
    )
    print(
        f"  {LATENCY * 1000:.0f} ms latency, {WORKERS} workers: {far_away.s()}; ideal bound rows x requests per row x "
        f"latency / workers = {rows} x {per_row:.2f} x {LATENCY} / {WORKERS} = {ideal:6.2f} s: {far / ideal:4.2f}x / "
        f"{far_away.median / ideal:4.2f}x"
    )
    if latency:
        delivered = ideal * latency / (LATENCY * 1000)
        print(
            f"  (with the latency the sandbox really gave, {latency:.1f} ms, that bound is {delivered:.2f} s: "
            f"{far / delivered:4.2f}x; the goal keeps the {LATENCY * 1000:.0f} ms bound)"
        )
    floor = Timings(floor_times)
    print(
        f"  this machine's floor: a bare server holding each answer {LATENCY * 1000:.0f} ms, {WORKERS} raw sockets, as "
        f"many requests: {floor.s()}, {floor.min / ideal:4.2f}x the ideal bound (late timers, cores woken from idle); "
        f"the import takes {far / floor.min:4.2f}x / {far_away.median / floor.median:4.2f}x that floor"
    )
    minimal, minimal_busy = Timings(bare), Timings(busy)
    print(
        f"  a minimal client against this sandbox (the same writes from {WORKERS} threads on http.client, nothing "
        f"else: {bare_cpu * 1000:.2f} ms CPU per request): {minimal.s()}, {minimal.min / ideal:4.2f}x the ideal bound: "
        f"this sandbox's floor here; the import takes {far / minimal.min:4.2f}x / "
        f"{far_away.median / minimal.median:4.2f}x it"
    )
    print(
        f"  the minimal client spending the import's CPU per request ({busy_cpu * 1000:.2f} ms: a busy loop before "
        f"each write): {minimal_busy.s()}, {minimal_busy.min / ideal:4.2f}x the ideal bound: what that CPU alone "
        f"costs on these {os.cpu_count()} cores, shared with the sandbox"
    )
    print(
        f"  CPU per request at {LATENCY * 1000:.0f} ms: client {cpu['client'] / requests_in_fastest * 1000:.2f} ms, "
        f"sandbox {cpu['sandbox'] / requests_in_fastest * 1000:.2f} ms (fastest run; the sandbox's one process: "
        f"{cpu['sandbox']:.2f} s in all, {cpu['sandbox'] / ideal:.0%} of the ideal bound; the client: "
        f"{cpu['client']:.2f} s)"
    )
    goal(
        f"bulk import within 1.1x the ideal bound at {LATENCY * 1000:.0f} ms",
        far / ideal <= 1.1,
        f"{far / ideal:5.3f}x / {far_away.median / ideal:5.3f}x",  # (3 digits: a miss by 0.004 reads as one)
    )
    goal(
        "bulk import at least 2x faster than one by one on loopback",
        serial.min / concurrent.min >= 2,
        f"{serial.min / concurrent.min:5.3f}x / {serial.median / concurrent.median:5.3f}x",
    )


if __name__ == "__main__":
    run_alone("bulk_import")
