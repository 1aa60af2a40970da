"""The local journal (SQLite) of the writes the toolkit sent, and the append-only audit trail.

* ``operations``: one row per operation identity: the idempotency key sent, a hash of what was sent, the state
  (``sent``: intent recorded, answer not yet seen; ``done``: answered; ``refused``: the registry answered 4xx, so
  it made nothing), the registry's id and, while a session is sending it, that session (``host|pid|thread``):
  another session waits for its answer instead of sending it too. Ids, hashes and states only: no personal data.
  Entries expire after ``days`` (30 by default); the registry's own idempotency and the client's duplicate checks
  do not depend on them.
* ``audit``: every write the toolkit sent and what came of it (time, registry, client id, operation, reference,
  registry id, outcome). Append-only (SQLite triggers refuse updates and deletes); no personal data.

The file is created 0600 in a 0700 folder. A journal written by version 0.1 (table ``writes``, which kept full
bodies) is migrated on first open: its keys are kept, the bodies dropped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from helpers.core.errors import JournalError

VERSION = 6  # 3: operations.owner (the session sending an operation now); 4: sent_at and before; 5, 6: twin
SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    identity TEXT PRIMARY KEY,      -- hash of (registry and client, operation, reference or content)
    key TEXT NOT NULL,              -- the X-Idempotency-Key sent
    namespace TEXT NOT NULL,        -- registry root URL | client id
    operation TEXT NOT NULL,        -- e.g. 'create investor'
    content_hash TEXT NOT NULL,     -- hash of what was sent under this key
    state TEXT NOT NULL,            -- 'sent' | 'done' | 'refused' (the registry answered 4xx: it did not act)
    registry_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    owner TEXT,                     -- 'host|pid|thread' sending it now; NULL once answered or given up
    sent_at TEXT,                   -- when the attempt under this key was first sent, by the registry's clock
    before TEXT,                    -- JSON ids of identical objects there before (a deliberate repeat's)
    twin TEXT                       -- hash of (registry and client, method and path, content): identical writes
);
CREATE INDEX IF NOT EXISTS operations_expiry ON operations (expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    registry TEXT NOT NULL,
    client_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    reference TEXT NOT NULL,
    registry_id TEXT,
    outcome TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
OPERATION_COLUMNS = (
    "identity, key, namespace, operation, content_hash, state, registry_id, created_at, updated_at, expires_at, owner, "
    "sent_at, before"
)
# Another row of the same write (``twin``) under another identity, in flight or done since a moment (parameters:
# twin, identity, now, since).
TWINS = (
    "SELECT 1 FROM operations AS other WHERE other.twin = ? AND other.identity != ? AND other.expires_at >= ? "
    "AND (other.state = 'sent' OR (other.state = 'done' AND other.updated_at >= ?))"
)
ENTRY_COLUMNS = (
    "identity, key, operation, content_hash, state, registry_id, created_at, updated_at, owner, sent_at, before"
)
AUDIT_COLUMNS = ("at", "registry", "client_id", "operation", "reference", "registry_id", "outcome")
AUDIT_INSERT = f"INSERT INTO audit ({', '.join(AUDIT_COLUMNS)}) VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})"


def canonical(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def derive_key(namespace: str, operation: str, identity: Any) -> str:
    """A stable key: the same namespace, operation and identity (a reference, or the content) give the same key.

    Version 0.1 derived its keys the same way, so re-runs after an upgrade send the keys they sent before.
    """
    return hashlib.sha256(canonical([namespace, operation, identity]).encode()).hexdigest()[:32]


def content_hash(namespace: str, content: Any) -> str:
    return hashlib.sha256(canonical([namespace, content]).encode()).hexdigest()


class AuditLine(NamedTuple):
    """A line of the audit trail (its time is added when it is written). No personal data: ids and labels only."""

    registry: str
    client_id: str
    operation: str
    reference: str
    registry_id: str | None
    outcome: str


@dataclass
class Entry:
    identity: str
    key: str
    operation: str
    content_hash: str
    state: str
    registry_id: str | None
    created_at: str
    updated_at: str = ""
    owner: str | None = None  # 'host|pid|thread' of the session sending it right now
    sent_at: str = ""  # when the attempt under this key was first sent (by the registry's clock)
    before: tuple[str, ...] = ()  # ids of identical objects there before that attempt (never what it made)
    fresh: bool = False  # a new attempt this client is about to make (not one found in the journal)
    previous: Entry | None = None  # for a new attempt: the row as read, which its claim compares with


_RENEWED_IF_EXPIRED = ", ".join(
    f"{column} = CASE WHEN expires_at < excluded.updated_at THEN excluded.{column} ELSE {column} END"
    for column in ("key", "namespace", "operation", "content_hash", "registry_id", "created_at")
)


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (``executescript`` would commit the transaction they belong to)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


def _now() -> datetime:
    return datetime.now(UTC)


HOST = socket.gethostname()
# A claim older than this is taken as given up (a session on another host, a reused pid): longer than one write's
# send with its retries after lost answers (4 attempts of at most the 30 s timeout, and pauses).
OWNER_LEASE = timedelta(minutes=5)


def _entry(row: Any) -> Entry:
    """An operation's row (:data:`ENTRY_COLUMNS`) as an :class:`Entry`."""
    identity, key, operation, hashed, state, registry_id, created_at, updated_at, owner, sent_at, before = row
    return Entry(
        identity,
        key,
        operation,
        hashed,
        state,
        registry_id,
        created_at,
        updated_at,
        owner,
        sent_at or "",
        tuple(json.loads(before)) if before else (),
    )


class TwinInFlight(Exception):
    """Another session is sending the same write under another identity (``entry``), or has just done it."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.identity)
        self.entry = entry


# The operations this process is sending (or claiming) now, per journal file: identity -> the threads' owner strings.
# Another thread of it waits for their answer. A thread is noted before its claim is written, so that no other
# thread finds the claimed row without finding the note.
_sending: dict[str, dict[str, set[str]]] = {}
_sending_changed = threading.Condition()


def _me() -> str:
    """This thread of this process: the session that claims an operation to send it."""
    return f"{HOST}|{os.getpid()}|{threading.get_ident()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if folder.stat().st_uid == os.getuid():
            folder.chmod(0o700)
    except OSError:
        pass


class Journal:
    """Thread-safe access to the journal file (or ``":memory:"``)."""

    def __init__(self, path: Path | str, days: int = 30, wait: float = 30.0) -> None:
        self.path = Path(path).expanduser() if str(path) != ":memory:" else Path(":memory:")
        self.days = days
        self.wait = wait  # seconds to wait for another process that is writing to the same journal
        self._lock = threading.Lock()
        memory = str(self.path) == ":memory:"
        self._file = f":memory:{id(self)}" if memory else str(self.path.resolve())  # for this process's sending
        if not memory:
            _private_folder(self.path.parent)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.path.chmod(0o600)
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=wait)
            self._switch_to_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, consistent always
            self._migrate()
            self._db.execute("DELETE FROM operations WHERE expires_at < ?", [_now().isoformat()])
        except sqlite3.DatabaseError as exc:
            raise self._broken(exc) from None

    def _broken(self, exc: Exception) -> JournalError:
        if "locked" in str(exc):
            return JournalError(
                f"The journal at {self.path} stayed in use by another program for {self.wait:g} s (database is "
                "locked): another notebook or Python session is writing to it. Let it finish, or restart its kernel, "
                "then run again."
            )
        return JournalError(
            f"The journal at {self.path} cannot be read ({exc}). It only lets re-runs skip writes already made; "
            f"the registry does not depend on it. Move it aside (mv '{self.path}' '{self.path}.broken') and run "
            "again: the registry's idempotency and the duplicate checks still keep writes from being made twice."
        )

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from None

    def _write_one(self, sql: str, params: list[Any]) -> int:
        """One statement, its own transaction (SQLite's autocommit): a third of the calls of BEGIN, it, COMMIT, each
        of which lets go of Python's lock while an import's threads wait for it. Returns the rows it changed."""
        with self._lock:
            try:
                return int(self._db.execute(sql, params).rowcount)
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from None

    def _switch_to_wal(self) -> None:
        """Switch to write-ahead logging. Two connections opening the same new file at once make SQLite answer
        "locked" at once instead of waiting (its busy timeout does not cover this switch): try again until it is
        done."""
        deadline = time.monotonic() + self.wait
        pause = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Create the tables, or migrate version 0.1's. One opener migrates; others opening at the same moment wait
        for its write lock, then find the work done."""
        if self._version() >= VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._version() >= VERSION:
                self._db.execute("COMMIT")
                return
            for statement in _statements(SCHEMA):
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(operations)")}
            for column in ("owner", "sent_at", "before", "twin"):  # a journal of version 2 to 4
                if column not in columns:
                    self._db.execute(f"ALTER TABLE operations ADD COLUMN {column} TEXT")
            self._db.execute("DROP INDEX IF EXISTS operations_in_flight")  # version 5's: in flight only
            self._db.execute("CREATE INDEX IF NOT EXISTS operations_twin ON operations (twin, state, updated_at)")
            old = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'writes'").fetchone()
            if old:  # keep version 0.1's keys (so a re-run sends nothing again), drop the bodies it kept in clear
                self._keep_v1_keys(self._db)
                self._db.execute("DROP TABLE writes")
            self._db.execute(f"PRAGMA user_version = {VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        if old:
            self._db.execute("VACUUM")  # the old bodies must not survive in free pages or the write-ahead log
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def adopt(self, legacy: Path) -> int:
        """Take over the keys of version 0.1's machine-wide journal (``~/.cache/cashlink-toolkit/journal.sqlite3``),
        then delete it: it kept request bodies (IBAN, birth date, tax id) in clear. Returns the entries adopted."""
        legacy = legacy.expanduser()
        if not legacy.is_file() or legacy.resolve() == self.path.resolve():
            return 0
        try:
            old = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
            with self._lock:
                count = self._keep_v1_keys(old)
            old.close()
        except sqlite3.DatabaseError:
            return 0
        for part in (legacy, legacy.with_name(legacy.name + "-wal"), legacy.with_name(legacy.name + "-shm")):
            part.unlink(missing_ok=True)
        return count

    def _keep_v1_keys(self, source: sqlite3.Connection) -> int:
        from helpers.core.config import split_base_url

        if not source.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'writes'").fetchone():
            return 0
        expires = (_now() + timedelta(days=self.days)).isoformat()
        rows = source.execute("SELECT key, namespace, operation, request, state, response, created_at FROM writes")
        count = 0
        for key, namespace, operation, request, state, response, created in rows.fetchall():
            count += 1
            url, _sep, client_id = namespace.rpartition("|")
            normalised = f"{split_base_url(url)[0]}|{client_id}"
            content = json.loads(request)
            registry_id = None
            if response:
                answer = json.loads(response)
                registry_id = answer.get("id") if isinstance(answer, dict) else None
            identities = {key, derive_key(normalised, operation, content)}
            for identity in identities:
                self._db.execute(
                    f"INSERT OR IGNORE INTO operations ({OPERATION_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                    [
                        identity,
                        key,
                        normalised,
                        operation,
                        content_hash(normalised, content),
                        "done" if state == "done" else "sent",
                        registry_id,
                        created,
                        _now().isoformat(),
                        expires,
                    ],
                )
        return count

    # --- operations ---------------------------------------------------------------------------------------------

    def get(self, identity: str) -> Entry | None:
        with self._lock:
            try:
                row = self._db.execute(
                    f"SELECT {ENTRY_COLUMNS} FROM operations WHERE identity = ? AND expires_at >= ?",
                    [identity, _now().isoformat()],
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from None
        return _entry(row) if row else None

    def latest_twin(self, twin: str) -> Entry | None:
        """The latest operation done or sent (its answer not come) with the same write (``twin``: see
        :meth:`_claimed`) under any identity: what this journal remembers where the registry offers nothing to look
        in."""
        with self._lock:
            try:
                row = self._db.execute(
                    f"SELECT {ENTRY_COLUMNS} FROM operations WHERE twin = ? AND state IN ('done', 'sent') "
                    "AND expires_at >= ? ORDER BY updated_at DESC LIMIT 1",
                    [twin, _now().isoformat()],
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from None
        return _entry(row) if row else None

    def record_intent(self, identity: str, key: str, namespace: str, operation: str, hashed: str) -> None:
        """Remember an operation under ``key`` (then :meth:`record_done`): one found already done in the registry.
        Writes about to be sent use :meth:`claim`."""
        now = _now()
        self._write_one(  # an expired row is a new operation: every value renewed
            f"INSERT INTO operations ({OPERATION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, 'sent', NULL, ?, ?, ?, NULL, NULL, NULL) ON CONFLICT(identity) DO UPDATE "
            f"SET {_RENEWED_IF_EXPIRED}, updated_at = excluded.updated_at, expires_at = excluded.expires_at, "
            "state = CASE WHEN expires_at < excluded.updated_at OR state = 'refused' THEN 'sent' ELSE state END",
            [
                identity,
                key,
                namespace,
                operation,
                hashed,
                now.isoformat(),
                now.isoformat(),
                (now + timedelta(days=self.days)).isoformat(),
            ],
        )

    def made_by_others(self, identity: str, registry_ids: Iterable[str]) -> set[str]:
        """Those of ``registry_ids`` that the journal records as made by another operation than ``identity``."""
        wanted = sorted(set(registry_ids))
        if not wanted:
            return set()
        with self._lock:
            try:
                rows = self._db.execute(
                    f"SELECT registry_id FROM operations WHERE identity != ? AND registry_id IN "
                    f"({', '.join('?' * len(wanted))})",
                    [identity, *wanted],
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from None
        return {str(row[0]) for row in rows}

    def record_refused(self, identity: str, key: str) -> None:
        """The registry refused the attempt sent with ``key`` (4xx, 503): nothing was made."""
        self._write_one(
            "UPDATE operations SET state = 'refused', updated_at = ?, owner = NULL "
            "WHERE identity = ? AND key = ? AND state = 'sent'",
            [_now().isoformat(), identity, key],
        )
        self._sending_now(identity, False)

    def claim(
        self,
        identity: str,
        key: str,
        namespace: str,
        operation: str,
        hashed: str,
        last: Entry | None,
        before: Iterable[str] = (),
        sent_at: datetime | None = None,
        twin: str | None = None,
        twins_since: datetime | None = None,
    ) -> bool:
        """Before sending: record the intent (so a crash before the answer sends the same key again) and that this
        session sends it. Compare-and-set on ``last``, the row as read: False when another session wrote it
        meanwhile (nothing may be sent then). ``twin``: see :meth:`_claimed`."""
        now = _now()
        if last is None:  # a new row, or an expired one renewed
            statement = self._claim_new(identity, key, namespace, operation, hashed, before, sent_at, twin)
            if twins_since is not None and twin:  # most often no twin: claimed in one statement
                self._sending_now(identity, True)
                try:
                    claimed = self._write_one(
                        *self._claim_new(
                            identity, key, namespace, operation, hashed, before, sent_at, twin, twins_since
                        )
                    )
                except BaseException:
                    self._sending_now(identity, False)
                    raise
                if claimed == 1:
                    return True
                self._sending_now(identity, False)  # a twin, or a row claimed meanwhile: decided below
        else:  # an unanswered attempt found in the journal: sent again with its key
            statement = (
                "UPDATE operations SET owner = ?, updated_at = ?, expires_at = ?, twin = ? WHERE identity = ? "
                "AND key = ? AND state = 'sent' AND content_hash = ? AND owner IS ? AND updated_at = ?",
                [
                    _me(),
                    now.isoformat(),
                    (now + timedelta(days=self.days)).isoformat(),
                    twin,
                    identity,
                    last.key,
                    last.content_hash,
                    last.owner,
                    last.updated_at,
                ],
            )
        return self._claimed(identity, statement, twin, twins_since)

    def _claimed(
        self, identity: str, statement: tuple[str, list[Any]], twin: str | None, twins_since: datetime | None
    ) -> bool:
        """Run the claim ``statement`` for ``identity``; True when it claimed the row. ``twin`` (a hash of the write:
        method, path and content) is recorded, so that another session sending the same write under another
        identity (another reference, a second notebook on this journal) can meet it. With ``twins_since`` (when
        this write's duplicate check read the registry), such a write in flight now, or done since then, raises
        :class:`TwinInFlight`, and nothing is claimed; the look and the claim are then one transaction, so two such
        claims never both pass."""
        self._sending_now(identity, True)
        try:
            if twins_since is None or not twin:
                changed = self._write_one(*statement)
            else:
                with self._transaction() as db:
                    rows = db.execute(
                        f"SELECT {ENTRY_COLUMNS} FROM operations WHERE twin = ? AND identity != ? AND expires_at >= ? "
                        "AND (state = 'sent' OR (state = 'done' AND updated_at >= ?))",
                        [twin, identity, _now().isoformat(), twins_since.isoformat()],
                    ).fetchall()
                    met = next((e for e in map(_entry, rows) if e.state == "done" or self.sending_elsewhere(e)), None)
                    if met is not None:
                        raise TwinInFlight(met)
                    changed = db.execute(*statement).rowcount
        except BaseException:
            self._sending_now(identity, False)
            raise
        if changed != 1:
            self._sending_now(identity, False)
        return changed == 1

    def _claim_new(
        self,
        identity: str,
        key: str,
        namespace: str,
        operation: str,
        hashed: str,
        before: Iterable[str],
        sent_at: datetime | None,
        twin: str | None = None,
        unless_twins_since: datetime | None = None,
    ) -> tuple[str, list[Any]]:
        """The statement that claims a new operation (or renews an expired row), and its parameters; with
        ``unless_twins_since``, only where no other row of the same ``twin`` is in flight or done since then (one
        statement: atomic without a transaction)."""
        now = _now()
        guard, guarded = "", []
        if unless_twins_since is not None:
            guard = f" WHERE NOT EXISTS ({TWINS})"
            guarded = [twin, identity, now.isoformat(), unless_twins_since.isoformat()]
        return (
            f"INSERT INTO operations ({OPERATION_COLUMNS}, twin) "
            f"SELECT ?, ?, ?, ?, ?, 'sent', NULL, ?, ?, ?, ?, ?, ?, ?{guard or ' WHERE true'} "
            "ON CONFLICT(identity) DO UPDATE SET key = excluded.key, namespace = excluded.namespace, "
            "operation = excluded.operation, content_hash = excluded.content_hash, state = 'sent', "
            "registry_id = NULL, created_at = excluded.created_at, updated_at = excluded.updated_at, "
            "expires_at = excluded.expires_at, owner = excluded.owner, sent_at = excluded.sent_at, "
            "before = excluded.before, twin = excluded.twin WHERE operations.expires_at < excluded.updated_at",
            [
                identity,
                key,
                namespace,
                operation,
                hashed,
                now.isoformat(),
                now.isoformat(),
                (now + timedelta(days=self.days)).isoformat(),
                _me(),
                (sent_at or now).isoformat(),
                json.dumps(sorted(before)),
                twin,
                *guarded,
            ],
        )

    def record_new_attempt(
        self,
        identity: str,
        last: Entry,
        key: str,
        hashed: str,
        before: Iterable[str] = (),
        sent_at: datetime | None = None,
        twin: str | None = None,
        twins_since: datetime | None = None,
    ) -> bool:
        """The operation's next attempt, under ``key``, sent by this session: only if its row is still as ``last``
        (compare-and-set; False when another session changed it meanwhile). ``twin``: see :meth:`_claimed`."""
        now = _now()
        statement = (
            "UPDATE operations SET key = ?, content_hash = ?, state = 'sent', registry_id = NULL, updated_at = ?, "
            "expires_at = ?, owner = ?, sent_at = ?, before = ?, twin = ? "
            "WHERE identity = ? AND key = ? AND state = ? AND content_hash = ?",
            [
                key,
                hashed,
                now.isoformat(),
                (now + timedelta(days=self.days)).isoformat(),
                _me(),
                (sent_at or now).isoformat(),
                json.dumps(sorted(before)),
                twin,
                identity,
                last.key,
                last.state,
                last.content_hash,
            ],
        )
        return self._claimed(identity, statement, twin, twins_since)

    def release(self, identity: str) -> bool:
        """If this thread claimed the operation and got no answer (lost, interrupted, or it stopped before sending):
        it stays 'sent', and a later run of any session looks for its outcome and sends it with the same key.
        True when there was such a claim."""
        try:
            return bool(
                self._write_one(
                    "UPDATE operations SET owner = NULL WHERE identity = ? AND owner = ?", [identity, _me()]
                )
            )
        finally:  # even if the journal could not be written: this thread is not sending it any more
            self._sending_now(identity, False)

    def _sending_now(self, identity: str, sending: bool) -> None:
        """Note that this thread sends ``identity`` now, or no longer does (only its own claim is let go)."""
        with _sending_changed:
            threads = _sending.setdefault(self._file, {}).setdefault(identity, set())
            if sending:
                threads.add(_me())
            elif _me() in threads:
                threads.discard(_me())
                if not threads:
                    del _sending[self._file][identity]
                _sending_changed.notify_all()

    def _sending_here(self, identity: str) -> bool:
        """Another thread of this process is sending (or claiming) ``identity``."""
        with _sending_changed:
            return bool(_sending.get(self._file, {}).get(identity, set()) - {_me()})

    def sending_elsewhere(self, entry: Entry) -> bool:
        """Another session (another process, or another thread of this one) is sending this operation now."""
        if entry.state != "sent" or not entry.owner:
            return False
        host, pid, _thread = [*entry.owner.split("|"), "", ""][:3]
        if host == HOST and pid == str(os.getpid()):
            return self._sending_here(entry.identity)
        if host == HOST and pid.isdigit() and not _alive(int(pid)):
            return False  # that process ended before the answer: its attempt is unanswered
        try:
            claimed = datetime.fromisoformat(entry.updated_at)
        except ValueError:
            return False
        return claimed > _now() - OWNER_LEASE

    @staticmethod
    def describe_sender(entry: Entry) -> str:
        """Who is sending the operation and until when its claim holds, in words."""
        host, pid, _thread = [*(entry.owner or "").split("|"), "", ""][:3]
        where = "this process" if host == HOST and pid == str(os.getpid()) else f"process {pid} on host {host}"
        try:
            until = (datetime.fromisoformat(entry.updated_at) + OWNER_LEASE).strftime("%H:%M:%S UTC")
        except ValueError:
            until = "in a few minutes"
        return f"{where}, which started sending it at {entry.updated_at[11:19]} UTC; its claim lapses at {until}"

    def wait_while_sending(self, entry: Entry) -> Entry | None:
        """Wait (up to ``wait`` seconds) until no other session is sending the operation; its row then (still
        being sent elsewhere if the wait ran out)."""
        deadline = time.monotonic() + self.wait
        pause = 0.005
        current: Entry | None = entry
        while current is not None and self.sending_elsewhere(current):
            left = deadline - time.monotonic()
            if left <= 0 or current.owner == _me():  # this very thread is sending it (a call from inside the send)
                break
            if (current.owner or "").startswith(f"{HOST}|{os.getpid()}|"):  # another thread of this process
                with _sending_changed:
                    _sending_changed.wait_for(
                        lambda: not _sending.get(self._file, {}).get(entry.identity, set()) - {_me()}, timeout=left
                    )
            else:
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.2)
            current = self.get(entry.identity)
        return current

    def record_corrected(self, identity: str, hashed: str) -> None:
        """A done operation whose object was updated to new content: running it again with that content is done."""
        self._write_one(
            "UPDATE operations SET content_hash = ?, updated_at = ? WHERE identity = ? AND state = 'done'",
            [hashed, _now().isoformat(), identity],
        )

    def record_done(self, identity: str, registry_id: str | None, audit: AuditLine | None = None) -> None:
        """The operation is done; with ``audit``, its line of the audit trail in the same transaction."""
        with self._transaction() as db:
            db.execute(
                "UPDATE operations SET state = 'done', registry_id = ?, updated_at = ?, owner = NULL "
                "WHERE identity = ?",
                [registry_id, _now().isoformat(), identity],
            )
            if audit is not None:
                self._insert_audit(db, audit)
        self._sending_now(identity, False)

    def settle(self, read: Entry, registry_id: str | None, audit: AuditLine) -> bool:
        """An unanswered operation (``read``: its row as read, no session sending it) recorded as done with what was
        found of it, with its audit line, only if its row is still as read: another session may have claimed it
        since, to send it (compare-and-set). True when it was recorded."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE operations SET state = 'done', registry_id = ?, updated_at = ?, owner = NULL "
                "WHERE identity = ? AND state = 'sent' AND updated_at = ? AND owner IS ?",
                [registry_id, _now().isoformat(), read.identity, read.updated_at, read.owner],
            ).rowcount
            if changed == 1:
                self._insert_audit(db, audit)
        return changed == 1

    # --- audit trail --------------------------------------------------------------------------------------------

    def audit(self, line: AuditLine) -> None:
        self._write_one(AUDIT_INSERT, [_now().isoformat(timespec="seconds"), *line])

    @staticmethod
    def _insert_audit(db: sqlite3.Connection, line: AuditLine) -> None:
        db.execute(AUDIT_INSERT, [_now().isoformat(timespec="seconds"), *line])

    def audit_rows(self, registry: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit"
        params: list[Any] = []
        if registry:
            sql += " WHERE registry = ?"
            params.append(registry)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", params).fetchall()
        return [dict(zip(AUDIT_COLUMNS, row)) for row in rows]

    def export_audit(self, path: str | Path, registry: str | None = None) -> Path:
        """The audit trail as CSV (written to a temporary name, then moved into place)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, AUDIT_COLUMNS)
            writer.writeheader()
            writer.writerows(self.audit_rows(registry))
        partial.replace(target)
        return target

    def close(self) -> None:
        with self._lock:
            self._db.close()
