"""Approvals: a pending question to a person, decided once.

``pending → approved | rejected | expired``; terminal states are immutable, so the first decision
wins and a repeated or late one gets the stored outcome back.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from grace_chat.errors import BadRequest, ConfigError, Conflict
from grace_chat.notifications.model import iso_utc_ts

#: The longest an approval may wait for its decision (``expires_in``, ``[approvals]
#: expire_after``) and the longest a caller may wait for it (``wait``): 30 days, in seconds.
MAX_WAIT_SECONDS = 30 * 86400.0


def seconds(value: object, *, zero: bool = False) -> float | None:
    """``value`` as a number of seconds Grace accepts (finite, positive, or zero when ``zero``,
    and at most ``MAX_WAIT_SECONDS``); ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero):
        return None
    return number if number <= MAX_WAIT_SECONDS else None


def check_duration(value: object, what: str, *, zero: bool = False) -> float:
    """``value`` as seconds, or ``BadRequest`` naming ``what`` and the bounds."""
    number = seconds(value, zero=zero)
    if number is None:
        low = "0 or more" if zero else "more than 0"
        raise BadRequest(
            f"{what} must be a number of seconds, {low} and at most {MAX_WAIT_SECONDS:.0f} "
            "(30 days)"
        )
    return number


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ASK = "ask"


@dataclass(frozen=True, slots=True)
class Approval:
    approval_id: str
    user_id: str
    action_type: str
    agent: str
    params: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    message: str = ""
    state: ApprovalState = ApprovalState.PENDING
    created_at: float = field(default_factory=time.time)
    expires_at: float | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None

    def decide(self, to: ApprovalState, by: str, reason: str | None = None) -> Approval:
        if self.state is not ApprovalState.PENDING or to is ApprovalState.PENDING:
            raise Conflict(f"approval {self.approval_id} is already {self.state.value}")
        return replace(self, state=to, decided_by=by, reason=reason, decided_at=time.time())

    def info(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "user_id": self.user_id,
            "action_type": self.action_type,
            "agent": self.agent,
            "params": self.params,
            "trace_id": self.trace_id,
            "message": self.message,
            "state": self.state.value,
            "created_at": iso_utc_ts(self.created_at),
            "expires_at": iso_utc_ts(self.expires_at) if self.expires_at else None,
            "decided_at": iso_utc_ts(self.decided_at) if self.decided_at else None,
            "decided_by": self.decided_by,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """Which actions need a person: exact action types first, then ``fnmatch`` patterns
    (``read_*``), then ``default``."""

    default: Verdict = Verdict.ASK
    actions: Mapping[str, Verdict] = field(default_factory=dict)
    expire_after: float = 3600.0
    approver: str = "user"

    def verdict(self, action_type: str) -> Verdict:
        if action_type in self.actions:
            return self.actions[action_type]
        for pattern, verdict in self.actions.items():
            if fnmatch.fnmatchcase(action_type, pattern):
                return verdict
        return self.default

    @classmethod
    def from_config(cls, table: Mapping[str, Any], approver: str = "user") -> Policy:
        """``[approvals]``: ``default``, ``expire_after``, ``approver``, ``[approvals.actions]``."""

        def verdict(value: Any, where: str) -> Verdict:
            try:
                return Verdict(value)
            except ValueError:
                raise ConfigError(f"{where} must be allow, deny or ask, not {value!r}") from None

        unknown = set(table) - {"default", "expire_after", "approver", "actions"}
        if unknown:
            raise ConfigError(f"[approvals] has unknown keys: {', '.join(sorted(unknown))}")
        actions = {
            str(k): verdict(v, f"[approvals.actions] {k}")
            for k, v in dict(table.get("actions", {})).items()
        }
        expire = table.get("expire_after", 3600.0)
        expire_after = seconds(expire)
        if expire_after is None:
            raise ConfigError(
                "[approvals] expire_after must be a positive number of seconds, at most "
                f"{MAX_WAIT_SECONDS:.0f} (30 days)"
            )
        return cls(
            default=verdict(table.get("default", "ask"), "[approvals] default"),
            actions=actions,
            expire_after=expire_after,
            approver=str(table.get("approver", approver)),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    event: str  # requested, allowed, denied, approved, rejected, expired, decision_ignored
    actor: str
    action_type: str
    agent: str
    approval_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    channel: str | None = None
    detail: str | None = None

    def info(self) -> dict[str, Any]:
        return {
            "at": iso_utc_ts(self.at),
            "event": self.event,
            "actor": self.actor,
            "action_type": self.action_type,
            "agent": self.agent,
            "approval_id": self.approval_id,
            "params": self.params,
            "trace_id": self.trace_id,
            "channel": self.channel,
            "detail": self.detail,
        }
