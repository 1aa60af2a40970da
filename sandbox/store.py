"""SQLite storage of the sandbox: one table of JSON objects with indexed reference columns, plus auth tables.

Every object (investor, wallet, investment, redemption, ...) is a row of ``objects``: its JSON answer in ``data``
and the columns the API filters or sums on. Lists are ordered by creation (oldest first):

- ``seq`` is global; every filter has an index that ends in ``seq``, so following ``next`` (``?after=<seq>``) is an
  index seek at page 1 and at page 5,000 alike;
- ``pos`` numbers a distributor's objects of one kind 1, 2, 3, ... and ``ppos`` those of one product, so page
  *N* of a list (unfiltered or by product) starts at a known position: also an index seek, without OFFSET.

An index on a reference column holds only the objects that have that reference (partial, ``IS NOT NULL``): a write
touches the pages of the indexes its object belongs in, not all of them.

Pages are served as stored: the page body is built from the stored JSON text, never parsed and re-encoded.
Counts are computed once per data version (every write bumps it) and reused while nothing changes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "3"
# Version 2 had the same tables; its indexes on reference columns also held the objects without that reference.
PARTIAL_SINCE_3 = (
    "objects_parent",
    "objects_investor",
    "objects_product",
    "objects_campaign",
    "objects_status",
    "objects_wallet",
)
SHARED = "*"  # tenant of objects every distributor sees (the demo products and campaigns)
SHARED_KINDS = frozenset({"product", "campaign"})
REFERENCE_COLUMNS = ("parent_id", "investor_id", "product_id", "campaign_id", "wallet_id", "status", "address")
SEEKABLE_FILTERS = frozenset({"product_id"})  # filters that have a dense position column (none, or these)
MAX_POSITION = 2**62  # beyond any real position; larger page numbers are simply past the end
# A filter on an identifier seeks on that identifier's index, and only on its columns: the other columns are written
# ``+column``, which SQLite's planner cannot seek on. Left to itself, the planner takes the index with the most
# equal columns (kind, tenant, status) and reads every managed wallet of a distributor to find one investor's:
# a write that grows with the registry.
SEEK_BY = {
    "address": ("address",),
    "parent_id": ("parent_id",),
    "investor_id": ("tenant", "investor_id"),
    "wallet_id": ("wallet_id",),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL, tenant TEXT NOT NULL, scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY, client_id TEXT NOT NULL, tenant TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    client_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, stored_at REAL NOT NULL,
    PRIMARY KEY (client_id, method, path, key));
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    parent_id TEXT, investor_id TEXT, product_id TEXT, campaign_id TEXT, wallet_id TEXT, status TEXT, address TEXT,
    pos INTEGER NOT NULL, ppos INTEGER,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, tenant, seq);
CREATE INDEX IF NOT EXISTS objects_parent ON objects (kind, parent_id, seq) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_investor ON objects (kind, tenant, investor_id, seq) WHERE investor_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_product ON objects (kind, tenant, product_id, seq) WHERE product_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_campaign ON objects (kind, tenant, campaign_id, seq) WHERE campaign_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_status ON objects (kind, tenant, status, seq) WHERE status IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_wallet ON objects (kind, wallet_id, seq) WHERE wallet_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_product_status ON objects (kind, tenant, product_id, status, seq)
    WHERE product_id IS NOT NULL AND status IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS objects_pos ON objects (kind, tenant, pos);
CREATE UNIQUE INDEX IF NOT EXISTS objects_ppos ON objects (kind, tenant, product_id, ppos) WHERE ppos IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS objects_address ON objects (address) WHERE address IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_processing ON objects (seq) WHERE status = 'processing';
"""


class DatabaseMismatch(RuntimeError):
    """The database was written by another sandbox version or profile."""


class Store:
    """A thread-safe handle on the sandbox database.

    ``hidden`` names, per kind, the fields left out of every answer (the drf profile's undocumented fields); they
    stay in the stored JSON, which the business rules read, and SQLite removes them when a page is built.
    """

    def __init__(self, path: Path, hidden: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()
        self._depth = 0
        self.hidden = dict(hidden or {})
        self.version = 0  # bumped by every write to objects; counts are cached per version
        self._counts: dict[tuple[Any, ...], tuple[int, int]] = {}
        existing = self.db.execute("SELECT name FROM sqlite_master WHERE name = 'objects'").fetchone()
        if existing and self.get_meta("schema_version") == "2":  # the same data: rebuilt partial, the indexes
            self.db.executescript("".join(f"DROP INDEX IF EXISTS {name};" for name in PARTIAL_SINCE_3))
        elif existing and self.get_meta("schema_version") != SCHEMA_VERSION:
            raise DatabaseMismatch(
                f"{path} was written by an older sandbox; delete it (rm {path}) or use another --db."
            )
        self.db.executescript(SCHEMA)
        self.set_meta("schema_version", SCHEMA_VERSION)

    def close(self) -> None:
        self.db.close()

    def claim(self, profile: str) -> None:
        """Bind the database to a profile: money and stored answers are written in that profile's form."""
        stored = self.get_meta("profile")
        if stored is None:
            self.set_meta("profile", profile)
        elif stored != profile:
            raise DatabaseMismatch(
                f"{self.path} holds data of the {stored} profile; start with --profile {stored} "
                f"or use another --db for {profile}."
            )

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
                    self.version += 1
                raise
            else:
                if self._depth == 1:
                    self.db.execute("COMMIT")
            finally:
                self._depth -= 1

    # --- objects ------------------------------------------------------------------------------------------------

    def _next_positions(self, kind: str, tenant: str, product_id: str | None, count: int = 1) -> tuple[int, int | None]:
        pos = self.db.execute(
            "SELECT COALESCE(MAX(pos), 0) FROM objects WHERE kind = ? AND tenant = ?", [kind, tenant]
        ).fetchone()[0]
        ppos = None
        if product_id is not None:
            ppos = self.db.execute(
                "SELECT COALESCE(MAX(ppos), 0) FROM objects WHERE kind = ? AND tenant = ? "
                "AND product_id = ? AND ppos IS NOT NULL",
                [kind, tenant, product_id],
            ).fetchone()[0]
        return pos + 1, (ppos + 1 if ppos is not None else None)

    def insert(self, kind: str, tenant: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        with self.lock:
            pos, ppos = self._next_positions(kind, tenant, refs.get("product_id"))
            columns = ["kind", "id", "tenant", "data", "pos", "ppos", *refs]
            values = [kind, data["id"], tenant, json.dumps(data), pos, ppos, *refs.values()]
            self.db.execute(
                f"INSERT INTO objects ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
            )
            self.version += 1
        return data

    def insert_many(self, kind: str, tenant: str, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Many objects of one kind at once (``(data, refs)`` pairs with the same ref names): the bulk fixture."""
        if not rows:
            return
        with self.lock:
            pos, _ = self._next_positions(kind, tenant, None)
            product_next: dict[str, int] = {}
            names = list(rows[0][1])
            batch = []
            for offset, (data, refs) in enumerate(rows):
                product = refs.get("product_id")
                ppos = None
                if product is not None:
                    if product not in product_next:
                        product_next[product] = self._next_positions(kind, tenant, product)[1] or 1
                    ppos = product_next[product]
                    product_next[product] += 1
                batch.append(
                    [kind, data["id"], tenant, json.dumps(data), pos + offset, ppos, *(refs[name] for name in names)]
                )
            columns = ["kind", "id", "tenant", "data", "pos", "ppos", *names]
            self.db.executemany(
                f"INSERT INTO objects ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", batch
            )
            self.version += 1

    def update(self, object_id: str, data: dict[str, Any], **refs: Any) -> dict[str, Any]:
        sets = ", ".join(["data = ?", *(f"{name} = ?" for name in refs)])
        with self.lock:
            self.db.execute(f"UPDATE objects SET {sets} WHERE id = ?", [json.dumps(data), *refs.values(), object_id])
            self.version += 1
        return data

    def _tenant_clause(self, tenant: str | None) -> tuple[str, list[Any]]:
        return (" AND tenant IN (?, ?)", [tenant, SHARED]) if tenant is not None else ("", [])

    def get(self, kind: str, object_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        clause, params = self._tenant_clause(tenant)
        with self.lock:
            row = self.db.execute(
                f"SELECT data FROM objects WHERE id = ? AND kind = ?{clause}", [object_id, kind, *params]
            ).fetchone()
        return json.loads(row["data"]) if row else None

    def public(self, kind: str) -> str:
        """SQL for the answer a client sees of a stored object of ``kind`` (hidden fields removed by SQLite)."""
        hidden = self.hidden.get(kind)
        if not hidden:
            return "data"
        return "json_remove(data, " + ", ".join(f"'$.{name}'" for name in hidden) + ")"

    def get_public(self, kind: str, object_id: str, tenant: str | None = None) -> str | None:
        """The stored answer, as JSON text."""
        clause, params = self._tenant_clause(tenant)
        with self.lock:
            row = self.db.execute(
                f"SELECT {self.public(kind)} FROM objects WHERE id = ? AND kind = ?{clause}", [object_id, kind, *params]
            ).fetchone()
        return row[0] if row else None

    def tenant_of(self, object_id: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT tenant FROM objects WHERE id = ?", [object_id]).fetchone()
        return row["tenant"] if row else None

    def find_by_address(self, address: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            row = self.db.execute("SELECT tenant, data FROM objects WHERE address = ?", [address]).fetchone()
        return (row["tenant"], json.loads(row["data"])) if row else None

    def _where(self, kind: str, tenant: str | None, filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        seek = next((columns for name, columns in SEEK_BY.items() if name in filters), None)

        def column(name: str) -> str:
            return name if seek is None or name in seek else f"+{name}"

        clauses, params = ["kind = ?"], [kind]
        if tenant is not None and kind in SHARED_KINDS:
            clauses.append(f"{column('tenant')} IN (?, ?)")
            params += [tenant, SHARED]
        elif tenant is not None:  # plain equality, so the (kind, tenant, ..., seq) indexes also give the order
            clauses.append(f"{column('tenant')} = ?")
            params.append(tenant)
        for name, value in filters.items():
            if name not in REFERENCE_COLUMNS:
                raise ValueError(f"cannot filter on {name}")
            clauses.append(f"{column(name)} = ?")
            params.append(value)
        return " AND ".join(clauses), params

    def page(
        self,
        kind: str,
        tenant: str | None,
        filters: Mapping[str, Any],
        number: int,
        size: int,
        after: int | None = None,
    ) -> tuple[list[sqlite3.Row], bool]:
        """Rows ``(seq, json)`` of page ``number`` (1-based) and whether more follow.

        With ``after`` (the ``seq`` that ended the previous page) the page is an index seek on ``seq``; a page of an
        unfiltered or product-filtered list is an index seek on its position; other filters skip rows (OFFSET).
        """
        where, params = self._where(kind, tenant, filters)
        start = min((number - 1) * size, MAX_POSITION)
        select = f"SELECT seq, {self.public(kind)} AS json FROM objects WHERE {where}"
        if after is not None:
            sql, params = f"{select} AND seq > ? ORDER BY seq LIMIT ?", [*params, min(after, MAX_POSITION), size + 1]
        elif kind not in SHARED_KINDS and tenant is not None and set(filters) <= SEEKABLE_FILTERS:
            column = "ppos" if filters else "pos"
            sql, params = f"{select} AND {column} > ? ORDER BY {column} LIMIT ?", [*params, start, size + 1]
        else:
            sql, params = f"{select} ORDER BY seq LIMIT ? OFFSET ?", [*params, size + 1, start]
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        return rows[:size], len(rows) > size

    def count(self, kind: str, tenant: str | None, filters: Mapping[str, Any]) -> int:
        """How many objects a list has; computed once per data version."""
        key = (kind, tenant, tuple(sorted(filters.items())))
        with self.lock:
            cached = self._counts.get(key)
            if cached and cached[0] == self.version:
                return cached[1]
            where, params = self._where(kind, tenant, filters)
            if kind not in SHARED_KINDS and tenant is not None and set(filters) <= SEEKABLE_FILTERS:
                # objects are never deleted and positions are dense: the last position is the count (a seek,
                # where COUNT(*) reads the whole index: 11 ms at 230,000 investments, after every write)
                column = "ppos" if filters else "pos"
                sql = f"SELECT COALESCE(MAX({column}), 0) FROM objects WHERE {where} AND {column} IS NOT NULL"
            else:
                sql = f"SELECT COUNT(*) FROM objects WHERE {where}"
            total = self.db.execute(sql, params).fetchone()[0]
            if len(self._counts) > 1000:
                self._counts.clear()
            self._counts[key] = (self.version, total)
            return int(total)

    def all(self, kind: str, tenant: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        where, params = self._where(kind, tenant, filters)
        with self.lock:
            rows = self.db.execute(f"SELECT data FROM objects WHERE {where} ORDER BY seq", params).fetchall()
        return [json.loads(row["data"]) for row in rows]

    def processing_tasks(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            rows = self.db.execute("SELECT kind, data FROM objects WHERE status = 'processing' ORDER BY seq").fetchall()
        return [(row["kind"], json.loads(row["data"])) for row in rows]

    # --- files, meta --------------------------------------------------------------------------------------------

    def put_file(self, file_id: str, content: bytes) -> None:
        with self.lock:
            self.db.execute("INSERT INTO files (id, content) VALUES (?, ?)", [file_id, content])

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return None
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()
