"""Shared engine: approvals and the append-only audit log in PostgreSQL.

``decide`` is one conditional UPDATE: PostgreSQL's row lock makes a second decision, from any
process, wait for the first and then find the approval no longer pending. Triggers refuse
UPDATE, DELETE and TRUNCATE on ``audit_log`` (``postgres_schema``).
"""

from __future__ import annotations

from typing import Any

import orjson

from grace_chat.approvals.model import Approval, ApprovalState, AuditEntry
from grace_chat.approvals.store import COLUMNS, LAST_SHOWABLE, ReadableRows, approval_from_row
from grace_chat.store.backends.postgres_db import PostgresDatabase


class PostgresApprovalStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self._read_rows = ReadableRows(approval_from_row)

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def create(self, a: Approval) -> None:
        await self.db.execute(
            f"INSERT INTO approvals ({COLUMNS}) "
            f"VALUES ({', '.join(f'${i}' for i in range(1, 14))})",
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

    async def get(self, approval_id: str) -> Approval | None:
        row = await self.db.fetchrow(
            f"SELECT {COLUMNS} FROM approvals WHERE approval_id = $1", approval_id
        )
        found = self._read_rows([row] if row else [])
        return found[0] if found else None

    async def list_approvals(
        self, user_id: str | None, state: ApprovalState | None = None, limit: int = 100
    ) -> list[Approval]:
        where, args = ["true"], list[Any]([limit])
        if user_id is not None:
            args.append(user_id)
            where.append(f"user_id = ${len(args)}")
        if state is not None:
            args.append(state.value)
            where.append(f"state = ${len(args)}")
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM approvals WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC LIMIT $1",
            *args,
        )
        return self._read_rows(rows)

    async def decide(self, decided: Approval) -> tuple[Approval, bool]:
        row = await self.db.fetchrow(
            "UPDATE approvals SET state = $1, decided_at = $2, decided_by = $3, reason = $4 "
            f"WHERE approval_id = $5 AND state = 'pending' RETURNING {COLUMNS}",
            decided.state.value,
            decided.decided_at,
            decided.decided_by,
            decided.reason,
            decided.approval_id,
        )
        if row is not None:
            return approval_from_row(row), True
        stored = await self.get(decided.approval_id)
        if stored is None:
            raise LookupError(f"no approval {decided.approval_id}")
        return stored, False

    async def due(self, now: float) -> list[Approval]:
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM approvals WHERE state = 'pending' AND expires_at <= $1", now
        )
        return self._read_rows(rows)

    async def next_expiry(self, after: float) -> float | None:
        value = await self.db.fetchval(
            "SELECT MIN(expires_at) FROM approvals WHERE state = 'pending' "
            "AND expires_at > $1 AND expires_at < $2",
            after,
            LAST_SHOWABLE,
        )
        return float(value) if value is not None else None

    async def audit(self, e: AuditEntry) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (at, event, actor, subject, approval_id, action_type, agent, "
            "params, trace_id, channel, detail) VALUES ($1, $2, $3, "
            "(SELECT user_id FROM approvals WHERE approval_id = $4), $4, $5, $6, $7, $8, $9, $10)",
            e.at,
            e.event,
            e.actor,
            e.approval_id,
            e.action_type,
            e.agent,
            orjson.dumps(e.params),
            e.trace_id,
            e.channel,
            e.detail,
        )

    async def read_audit(
        self, user_id: str | None, approval_id: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        where, args = ["true"], list[Any]([limit])
        if user_id is not None:
            args.append(user_id)
            where.append(f"subject = ${len(args)}")
        if approval_id is not None:
            args.append(approval_id)
            where.append(f"approval_id = ${len(args)}")
        rows = await self.db.fetch(
            "SELECT at, event, actor, action_type, agent, approval_id, params, trace_id, "
            f"channel, detail FROM audit_log WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT $1",
            *args,
        )
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7], r[8], r[9])
            for r in rows
        ]
