"""Embedded engine: approvals and the append-only audit log in the shared SQLite file.

A row that cannot be read back as an approval whose every field can be shown (an expiry past
year 9999 stored before durations were bounded, a state or params this version does not know)
is left out of every answer and logged once per process; the rows around it are answered.
"""

from __future__ import annotations

import logging
import sqlite3

import orjson

from grace_chat.approvals.model import Approval, ApprovalState, AuditEntry
from grace_chat.approvals.store import COLUMNS, LAST_SHOWABLE, ReadableRows, approval_from_row
from grace_chat.store.backends.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    approval_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    action_type TEXT NOT NULL,
    agent TEXT NOT NULL,
    params BLOB NOT NULL,
    trace_id TEXT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    decided_at REAL,
    decided_by TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS approvals_user ON approvals (user_id, created_at);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (expires_at) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    approval_id TEXT,
    action_type TEXT NOT NULL,
    agent TEXT NOT NULL,
    params BLOB NOT NULL,
    trace_id TEXT,
    channel TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit_log (subject, id);
CREATE INDEX IF NOT EXISTS audit_approval ON audit_log (approval_id, id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


log = logging.getLogger("grace_chat.store.sqlite")


class SQLiteApprovalStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self._read_rows = ReadableRows(approval_from_row)

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def create(self, a: Approval) -> None:
        values = (
            a.approval_id,
            a.user_id,
            a.action_type,
            a.agent,
            orjson.dumps(a.params),
            a.trace_id,
            a.message,
            a.state.value,
            a.created_at,
            a.expires_at,
            a.decided_at,
            a.decided_by,
            a.reason,
        )

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO approvals ({COLUMNS}) VALUES ({','.join('?' * 13)})", values)

        await self.db.write(run)

    async def get(self, approval_id: str) -> Approval | None:
        def run(conn: sqlite3.Connection) -> Approval | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM approvals WHERE approval_id = ?", (approval_id,)
            ).fetchone()
            found = self._read_rows([row] if row else [])
            return found[0] if found else None

        return await self.db.read(run)

    async def list_approvals(
        self, user_id: str | None, state: ApprovalState | None = None, limit: int = 100
    ) -> list[Approval]:
        where, args = ["1 = 1"], []
        if user_id is not None:
            where.append("user_id = ?")
            args.append(user_id)
        if state is not None:
            where.append("state = ?")
            args.append(state.value)

        def run(conn: sqlite3.Connection) -> list[Approval]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM approvals WHERE {' AND '.join(where)} "
                "ORDER BY created_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            return self._read_rows(rows)

        return await self.db.read(run)

    async def decide(self, decided: Approval) -> tuple[Approval, bool]:
        def run(conn: sqlite3.Connection) -> tuple[Approval, bool]:
            changed = conn.execute(
                "UPDATE approvals SET state = ?, decided_at = ?, decided_by = ?, reason = ? "
                "WHERE approval_id = ? AND state = 'pending'",
                (
                    decided.state.value,
                    decided.decided_at,
                    decided.decided_by,
                    decided.reason,
                    decided.approval_id,
                ),
            ).rowcount
            row = conn.execute(
                f"SELECT {COLUMNS} FROM approvals WHERE approval_id = ?", (decided.approval_id,)
            ).fetchone()
            stored = self._read_rows([row])
            return (stored[0] if stored else decided), changed == 1

        return await self.db.write(run)

    async def due(self, now: float) -> list[Approval]:
        def run(conn: sqlite3.Connection) -> list[Approval]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM approvals WHERE state = 'pending' AND expires_at <= ?",
                (now,),
            ).fetchall()
            return self._read_rows(rows)

        return await self.db.read(run)

    async def next_expiry(self, after: float) -> float | None:
        def run(conn: sqlite3.Connection) -> float | None:
            value = conn.execute(
                "SELECT MIN(expires_at) FROM approvals WHERE state = 'pending' "
                "AND expires_at > ? AND expires_at < ?",
                (after, LAST_SHOWABLE),
            ).fetchone()[0]
            return float(value) if value is not None else None

        return await self.db.read(run)

    async def audit(self, e: AuditEntry) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO audit_log (at, event, actor, subject, approval_id, action_type, "
                "agent, params, trace_id, channel, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    e.at,
                    e.event,
                    e.actor,
                    self._subject_of(conn, e),
                    e.approval_id,
                    e.action_type,
                    e.agent,
                    orjson.dumps(e.params),
                    e.trace_id,
                    e.channel,
                    e.detail,
                ),
            )

        await self.db.write(run)

    @staticmethod
    def _subject_of(conn: sqlite3.Connection, e: AuditEntry) -> str | None:
        if e.approval_id is None:
            return None
        row = conn.execute(
            "SELECT user_id FROM approvals WHERE approval_id = ?", (e.approval_id,)
        ).fetchone()
        return str(row[0]) if row else None

    async def read_audit(
        self, user_id: str | None, approval_id: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        where, args = ["1 = 1"], []
        if user_id is not None:
            where.append("subject = ?")
            args.append(user_id)
        if approval_id is not None:
            where.append("approval_id = ?")
            args.append(approval_id)

        def run(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT at, event, actor, action_type, agent, approval_id, params, trace_id, "
                f"channel, detail FROM audit_log WHERE {' AND '.join(where)} "
                "ORDER BY id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [
                AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7], r[8], r[9])
                for r in rows
            ]

        return await self.db.read(run)
