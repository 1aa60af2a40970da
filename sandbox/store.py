"""SQLite storage of the sandbox: one table of JSON objects with indexed reference columns, plus auth tables.

Every object (investor, wallet, investment, redemption, ...) is a row of ``objects``: its JSON representation in
``data`` and the columns the API filters or sums on. Lists are ordered by ``seq`` (creation order, oldest first) and
every filter has an index that ends in ``seq``, so a page costs the same at page 1 and page 500.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SHARED = "*"  # tenant of objects every distributor sees (the demo products and campaigns)
SHARED_KINDS = frozenset({"product", "campaign"})

REFERENCE_COLUMNS = ("parent_id", "investor_id", "product_id", "campaign_id", "wallet_id", "status", "address")

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL, tenant TEXT NOT NULL, scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY, client_id TEXT NOT NULL, tenant TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    client_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (client_id, method, path, key));
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    parent_id TEXT, investor_id TEXT, product_id TEXT, campaign_id TEXT, wallet_id TEXT, status TEXT, address TEXT,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, tenant, seq);
CREATE INDEX IF NOT EXISTS objects_parent ON objects (kind, parent_id, seq);
CREATE INDEX IF NOT EXISTS objects_investor ON objects (kind, tenant, investor_id, seq);
CREATE INDEX IF NOT EXISTS objects_product ON objects (kind, tenant, product_id, seq);
CREATE INDEX IF NOT EXISTS objects_campaign ON objects (kind, tenant, campaign_id, seq);
CREATE INDEX IF NOT EXISTS objects_status ON objects (kind, tenant, status, seq);
CREATE INDEX IF NOT EXISTS objects_wallet ON objects (kind, wallet_id, product_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS objects_address ON objects (address) WHERE address IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_processing ON objects (seq) WHERE status = 'processing';
"""


class Store:
    """A thread-safe handle on the sandbox database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested uses join the outer transaction."""
        with self.lock:
            self._depth += 1
            if self._depth == 1:
                self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self.db.execute("ROLLBACK")
                raise
            else:
                if self._depth == 1:
                    self.db.execute("COMMIT")
            finally:
                self._depth -= 1

    # --- objects ------------------------------------------------------------------------------------------------

    def insert(self, kind: str, tenant: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        columns = ["kind", "id", "tenant", "data", *refs]
        values = [kind, data["id"], tenant, json.dumps(data), *refs.values()]
        with self.lock:
            self.db.execute(
                f"INSERT INTO objects ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
            )
        return data

    def update(self, object_id: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        sets = ", ".join(["data = ?", *(f"{name} = ?" for name in refs)])
        with self.lock:
            self.db.execute(f"UPDATE objects SET {sets} WHERE id = ?", [json.dumps(data), *refs.values(), object_id])
        return data

    def get(self, kind: str, object_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT data FROM objects WHERE id = ? AND kind = ?"
        params: list[Any] = [object_id, kind]
        if tenant is not None:
            sql += " AND tenant IN (?, ?)"
            params += [tenant, SHARED]
        with self.lock:
            row = self.db.execute(sql, params).fetchone()
        return json.loads(row["data"]) if row else None

    def tenant_of(self, object_id: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT tenant FROM objects WHERE id = ?", [object_id]).fetchone()
        return row["tenant"] if row else None

    def find_by_address(self, address: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            row = self.db.execute("SELECT tenant, data FROM objects WHERE address = ?", [address]).fetchone()
        return (row["tenant"], json.loads(row["data"])) if row else None

    def _where(self, kind: str, tenant: str | None, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses, params = ["kind = ?"], [kind]
        if tenant is not None and kind in SHARED_KINDS:
            clauses.append("tenant IN (?, ?)")
            params += [tenant, SHARED]
        elif tenant is not None:  # plain equality, so the (kind, tenant, ..., seq) indexes also give the order
            clauses.append("tenant = ?")
            params.append(tenant)
        for name, value in filters.items():
            if name not in REFERENCE_COLUMNS:
                raise ValueError(f"cannot filter on {name}")
            clauses.append(f"{name} = ?")
            params.append(value)
        return " AND ".join(clauses), params

    def page(
        self, kind: str, tenant: str | None, offset: int, limit: int, after: int | None = None, **filters: Any
    ) -> tuple[list[dict[str, Any]], int, int | None]:
        """One page of objects, oldest first, the total count, and the position of the page's last object.

        With ``after`` (the position ending the previous page) the page is found through the index, so page 500
        costs what page 1 costs; without it, ``offset`` rows are skipped.
        """
        where, params = self._where(kind, tenant, filters)
        with self.lock:
            count = self.db.execute(f"SELECT COUNT(*) FROM objects WHERE {where}", params).fetchone()[0]
            if after is not None:
                rows = self.db.execute(f"SELECT seq, data FROM objects WHERE {where} AND seq > ? ORDER BY seq "
                                       "LIMIT ?", [*params, after, limit]).fetchall()
            else:
                rows = self.db.execute(f"SELECT seq, data FROM objects WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",
                                       [*params, limit, offset]).fetchall()
        return [json.loads(row["data"]) for row in rows], count, (rows[-1]["seq"] if rows else None)

    def all(self, kind: str, tenant: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        where, params = self._where(kind, tenant, filters)
        with self.lock:
            rows = self.db.execute(f"SELECT data FROM objects WHERE {where} ORDER BY seq", params).fetchall()
        return [json.loads(row["data"]) for row in rows]

    def processing_tasks(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT kind, data FROM objects WHERE status = 'processing' ORDER BY seq"
            ).fetchall()
        return [(row["kind"], json.loads(row["data"])) for row in rows]

    # --- files, meta --------------------------------------------------------------------------------------------

    def put_file(self, file_id: str, content: bytes) -> None:
        with self.lock:
            self.db.execute("INSERT INTO files (id, content) VALUES (?, ?)", [file_id, content])

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()
