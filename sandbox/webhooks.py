"""Webhooks: every investment status change is POSTed to the distributor's configured URL.

Payload (the documented three fields): ``{"investment_id", "status", "changed_at"}``. Authentication, as the
documentation offers both: a static bearer token (strict profile), or OAuth client credentials (drf profile): the
sandbox asks the distributor's token URL for a token with the configured client id and secret, then sends it.

Events are written to an outbox in the same transaction as the change and delivered by a background thread, in
order per distributor; a non-2xx answer or a timeout is retried with exponential backoff up to ``max_attempts``
(then the event is marked failed and the next one goes out).
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
    tenant TEXT PRIMARY KEY, url TEXT NOT NULL, token TEXT, token_url TEXT, oauth_client_id TEXT,
    oauth_client_secret TEXT, max_attempts INTEGER NOT NULL, backoff REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, tenant TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_result TEXT);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_outbox (state, next_at);
CREATE INDEX IF NOT EXISTS webhook_pending ON webhook_outbox (tenant, seq) WHERE state = 'pending';
"""
# Each distributor's first pending event, if due: one index seek per distributor with a target, however many
# events wait (it was a scan of every pending event for each pending event, under the store's lock).
DUE = (
    "SELECT o.seq, o.tenant, o.payload, o.attempts, t.url, t.token, t.token_url, t.oauth_client_id, "
    "t.oauth_client_secret, t.max_attempts, t.backoff FROM webhook_targets t JOIN webhook_outbox o "
    "ON o.seq = (SELECT MIN(e.seq) FROM webhook_outbox e WHERE e.tenant = t.tenant AND e.state = 'pending') "
    "WHERE o.next_at <= ? ORDER BY o.seq"
)


def configure(store: Store, tenant: str, target: dict[str, Any] | None) -> None:
    """Set (or, with ``None``, remove) a distributor's webhook target."""
    store.execute("DELETE FROM webhook_targets WHERE tenant = ?", [tenant])
    if target is not None:
        store.execute(
            "INSERT INTO webhook_targets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                tenant,
                target["url"],
                target.get("token"),
                target.get("token_url"),
                target.get("oauth_client_id"),
                target.get("oauth_client_secret"),
                target["max_attempts"],
                target["backoff"],
            ],
        )


def enqueue(store: Store, tenant: str, investment_id: str, status: str, changed_at: str) -> None:
    """Record one event, inside the caller's transaction, if the distributor has a webhook target."""
    if not store.execute("SELECT 1 FROM webhook_targets WHERE tenant = ?", [tenant]):
        return
    payload = json.dumps({"investment_id": investment_id, "status": status, "changed_at": changed_at})
    store.execute(
        "INSERT INTO webhook_outbox (id, tenant, payload, state, next_at) VALUES (?, ?, ?, 'pending', ?)",
        [str(uuid.uuid4()), tenant, payload, time.time()],
    )


def deliveries(store: Store, tenant: str) -> list[dict[str, Any]]:
    rows = store.execute(
        "SELECT id, payload, state, attempts, last_result FROM webhook_outbox WHERE tenant = ? ORDER BY seq", [tenant]
    )
    return [
        {
            "id": r["id"],
            "payload": json.loads(r["payload"]),
            "state": r["state"],
            "attempts": r["attempts"],
            "last_result": r["last_result"],
        }
        for r in rows
    ]


class Dispatcher(threading.Thread):
    """Delivers due events; the HTTP calls happen outside the database lock. Started and stopped by the app."""

    def __init__(self, store: Store, interval: float = 0.05) -> None:
        super().__init__(name="webhook-dispatcher", daemon=True)
        self.store = store
        self.interval = interval
        self.session = requests.Session()
        self.stopping = threading.Event()
        self.tokens: dict[str, tuple[str, float]] = {}  # tenant -> (OAuth access token, expiry)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(10)
        self.session.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.deliver_due()
            except Exception:  # a broken target must never stop the dispatcher
                log.exception("webhook delivery failed")
            self.stopping.wait(self.interval)

    def _oauth_token(self, tenant: str, target: Any) -> str:
        cached = self.tokens.get(tenant)
        if cached and cached[1] > time.time():
            return cached[0]
        answer = self.session.post(
            target["token_url"],
            timeout=5,
            data={
                "grant_type": "client_credentials",
                "client_id": target["oauth_client_id"],
                "client_secret": target["oauth_client_secret"],
            },
        )
        if not answer.ok:
            raise requests.RequestException(f"token URL answered HTTP {answer.status_code}")
        body = answer.json()
        token = str(body["access_token"])
        self.tokens[tenant] = (token, time.time() + max(float(body.get("expires_in") or 300) - 30, 1))
        return token

    def _post(self, row: Any) -> tuple[bool, str]:
        headers = {"Content-Type": "application/json"}
        try:
            if row["token_url"]:
                headers["Authorization"] = f"Bearer {self._oauth_token(row['tenant'], row)}"
            elif row["token"]:
                headers["Authorization"] = f"Bearer {row['token']}"
            answer = self.session.post(row["url"], data=row["payload"], headers=headers, timeout=5)
        except (requests.RequestException, ValueError, KeyError) as exc:
            return False, f"{type(exc).__name__}: {exc}" if isinstance(exc, requests.RequestException) else type(
                exc
            ).__name__
        if answer.status_code == 401:
            self.tokens.pop(row["tenant"], None)  # fetch a new token for the next attempt
        return answer.ok, f"HTTP {answer.status_code}"

    def deliver_due(self) -> None:
        # in order per distributor: a later event waits while an earlier one is being retried
        due = self.store.execute(DUE, [time.time()])
        for row in due:
            ok, result = self._post(row)
            attempts = row["attempts"] + 1
            if ok:
                state, next_at = "delivered", 0.0
            elif attempts >= row["max_attempts"]:
                state, next_at = "failed", 0.0
            else:
                state, next_at = "pending", time.time() + row["backoff"] * 2 ** (attempts - 1)
            with self.store.transaction():
                self.store.execute(
                    "UPDATE webhook_outbox SET state = ?, attempts = ?, next_at = ?, last_result = ? WHERE seq = ?",
                    [state, attempts, next_at, result, row["seq"]],
                )
