"""Webhooks: every investment status change is POSTed to the distributor's configured URL.

Payload (the documented three fields): ``{"investment_id", "status", "changed_at"}``, sent with the configured
bearer token. Events are written to an outbox in the same transaction as the change and delivered by a background
thread, in order per distributor; a non-2xx answer or a timeout is retried with exponential backoff up to
``max_attempts`` (then the event is marked failed and the next one goes out).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import requests

from sandbox.store import Store

log = logging.getLogger("sandbox.webhooks")

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_targets (
    tenant TEXT PRIMARY KEY, url TEXT NOT NULL, token TEXT, max_attempts INTEGER NOT NULL, backoff REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, tenant TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_result TEXT);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_outbox (state, next_at);
"""


def configure(store: Store, tenant: str, url: str | None, token: str | None = None, max_attempts: int = 8,
              backoff: float = 1.0) -> None:
    """Set (or, with ``url=None``, remove) a distributor's webhook target."""
    if url is None:
        store.execute("DELETE FROM webhook_targets WHERE tenant = ?", [tenant])
        return
    store.execute("INSERT OR REPLACE INTO webhook_targets VALUES (?, ?, ?, ?, ?)",
                  [tenant, url, token, max_attempts, backoff])


def enqueue(store: Store, tenant: str, investment_id: str, status: str, changed_at: str) -> None:
    """Record one event, inside the caller's transaction, if the distributor has a webhook target."""
    if not store.execute("SELECT 1 FROM webhook_targets WHERE tenant = ?", [tenant]):
        return
    payload = json.dumps({"investment_id": investment_id, "status": status, "changed_at": changed_at})
    store.execute("INSERT INTO webhook_outbox (id, tenant, payload, state, next_at) VALUES (?, ?, ?, 'pending', ?)",
                  [str(uuid.uuid4()), tenant, payload, time.time()])


def deliveries(store: Store, tenant: str) -> list[dict[str, Any]]:
    rows = store.execute("SELECT id, payload, state, attempts, last_result FROM webhook_outbox WHERE tenant = ? "
                         "ORDER BY seq", [tenant])
    return [{"id": r["id"], "payload": json.loads(r["payload"]), "state": r["state"], "attempts": r["attempts"],
             "last_result": r["last_result"]} for r in rows]


class Dispatcher(threading.Thread):
    """Delivers due events; the HTTP call happens outside the database lock."""

    def __init__(self, store: Store, interval: float = 0.05) -> None:
        super().__init__(name="webhook-dispatcher", daemon=True)
        self.store = store
        self.interval = interval
        self.session = requests.Session()

    def run(self) -> None:
        while True:
            try:
                self.deliver_due()
            except Exception:  # a broken target must never stop the dispatcher
                log.exception("webhook delivery failed")
            time.sleep(self.interval)

    def deliver_due(self) -> None:
        due = self.store.execute(
            "SELECT o.seq, o.payload, o.attempts, t.url, t.token, t.max_attempts, t.backoff FROM webhook_outbox o "
            "JOIN webhook_targets t ON t.tenant = o.tenant WHERE o.state = 'pending' AND o.next_at <= ? "
            # in order per distributor: a later event waits while an earlier one is being retried
            "AND o.seq = (SELECT MIN(seq) FROM webhook_outbox e WHERE e.tenant = o.tenant AND e.state = 'pending') "
            "ORDER BY o.seq", [time.time()])
        for row in due:
            headers = {"Content-Type": "application/json"}
            if row["token"]:
                headers["Authorization"] = f"Bearer {row['token']}"
            try:
                answer = self.session.post(row["url"], data=row["payload"], headers=headers, timeout=5)
                ok, result = answer.ok, f"HTTP {answer.status_code}"
            except requests.RequestException as exc:
                ok, result = False, type(exc).__name__
            attempts = row["attempts"] + 1
            if ok:
                state, next_at = "delivered", 0.0
            elif attempts >= row["max_attempts"]:
                state, next_at = "failed", 0.0
            else:
                state, next_at = "pending", time.time() + row["backoff"] * 2 ** (attempts - 1)
            with self.store.transaction():
                self.store.execute("UPDATE webhook_outbox SET state = ?, attempts = ?, next_at = ?, last_result = ? "
                                   "WHERE seq = ?", [state, attempts, next_at, result, row["seq"]])
