"""A local record (SQLite) of every write sent to the registry: its idempotency key, what was sent, what came back.

Keys are derived from the operation and its content, so running the same notebook cell twice produces the same
key: the journal answers the second run with the object the first run created, and the registry would replay it
anyway. A deliberate repeat asks for a fresh key (``repeat=True``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    operation TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,          -- 'sent': intent recorded, answer not yet seen; 'done': answer stored
    response TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


def canonical(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def derive_key(namespace: str, operation: str, content: Any) -> str:
    """A stable idempotency key: the same operation with the same content gives the same key."""
    return hashlib.sha256(canonical([namespace, operation, content]).encode()).hexdigest()[:32]


def fresh_key(namespace: str, operation: str, content: Any) -> str:
    """A new key for a deliberate repeat of the same operation."""
    return derive_key(namespace, operation, [content, uuid.uuid4().hex])


@dataclass
class Entry:
    key: str
    operation: str
    state: str
    response: Any
    request: str  # canonical JSON of what was sent


class Journal:
    def __init__(self, path: Path | str) -> None:
        path = Path(path).expanduser()
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def get(self, key: str) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT key, operation, state, response, request FROM writes WHERE key = ?",
                                   [key]).fetchone()
        if row is None:
            return None
        return Entry(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4])

    def record_intent(self, key: str, namespace: str, operation: str, request: Any) -> None:
        """Before sending: remember the key, so a crash before the answer still retries with the same key."""
        now = _now()
        with self._lock:
            self._db.execute(
                "INSERT INTO writes VALUES (?, ?, ?, ?, 'sent', NULL, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "updated_at = excluded.updated_at",
                [key, namespace, operation, canonical(request), now, now],
            )

    def record_result(self, key: str, response: Any) -> None:
        with self._lock:
            self._db.execute("UPDATE writes SET state = 'done', response = ?, updated_at = ? WHERE key = ?",
                             [canonical(response), _now(), key])

    def forget(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM writes WHERE key = ?", [key])

    def entries(self, namespace: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT key, operation, state, created_at, updated_at FROM writes"
        params: list[Any] = []
        if namespace:
            sql += " WHERE namespace = ?"
            params.append(namespace)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at", params).fetchall()
        return [dict(zip(("key", "operation", "state", "created_at", "updated_at"), row)) for row in rows]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
