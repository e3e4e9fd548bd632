"""The action gateway: holds risky actions until a person decides.

``await request_action(action_type=..., agent=..., params=..., trace_id=...)`` (also named
``request_approval``) asks the policy:
``allow`` answers ``{"approved": True, ...}`` at once, ``deny`` ``{"approved": False, ...}``, and
``ask`` stores a pending approval, tells its person (⚠️ approval_needed with View Details /
Approve / Reject, through the bus's GOVERNANCE_CHECK rule) and answers
``{"approved": False, "approval_id": ..., "status": "pending"}`` — or, with ``wait=seconds``, the
decision if it comes in time. Guarantees: the first decision wins and later ones get the stored
outcome; only the approval's user or an admin decides; pending approvals expire (as a
rejection) after ``expire_after``; every request and decision is in the append-only audit log.
Every duration (``expires_in``, ``wait``, the policy's ``expire_after``) is checked before
anything is stored: a finite number of seconds of at most ``MAX_WAIT_SECONDS`` (30 days), else
``bad_request``.

In a cluster (``signals`` given) several processes share the store: the decision is the store's
conditional update, so the first decision wins across processes; every request and decision is
signalled to every process, so a ``wait`` in one returns when the person decides in another
(and each waiter also reads the store every ``poll`` seconds, in case a signal is lost); the
expirer then runs in the leader only (``expire=False`` here, ``expiry()`` given to the leader),
so an expiry is decided and announced once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

import orjson

from grace_chat.approvals.model import (
    Approval,
    ApprovalState,
    AuditEntry,
    Policy,
    Verdict,
    check_duration,
)
from grace_chat.approvals.store import ApprovalStore
from grace_chat.auth import Identity, check_user_id
from grace_chat.cluster import Signals
from grace_chat.errors import BadRequest, Forbidden, NotFound
from grace_chat.events import Event, EventBus, EventType

log = logging.getLogger("grace_chat.approvals")

#: The expirer looks again at least this often, whatever the next expiry says.
EXPIRY_CHECK_SECONDS = 3600.0


def describe(agent: str, action_type: str, params: dict[str, Any]) -> str:
    """``learning_supervisor``, ``modify_file``, ``{"file_path": "config.yaml"}`` →
    "Learning supervisor wants to modify config.yaml"."""
    who = agent.replace("_", " ").capitalize()
    target = next(
        (str(params[k]) for k in ("file_path", "path", "target", "name", "service") if k in params),
        None,
    )
    verb = action_type.replace("_", " ")
    if target is not None:
        for suffix in (" file", " path", " service"):
            verb = verb.removesuffix(suffix)
        return f"{who} wants to {verb} {target}"
    return f"{who} wants to {verb}"


#: The topic of the cluster's signals about approvals (payload: the approval's id).
TOPIC = "approval"


class ActionGateway:
    def __init__(
        self,
        store: ApprovalStore,
        bus: EventBus,
        policy: Policy | None = None,
        *,
        signals: Signals | None = None,
        expire: bool = True,
        poll: float = 1.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.policy = policy or Policy()
        self.signals = signals
        self.expire = expire
        self.poll = poll
        self._waiters: dict[str, list[asyncio.Future[Approval]]] = {}
        self._wake = asyncio.Event()
        self._expirer: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        if signals is not None:
            signals.subscribe(TOPIC, self._heard)

    async def start(self) -> None:
        await self.store.open()
        if self.expire:
            await self.start_expiry()

    async def start_expiry(self) -> None:
        if self._expirer is None:
            self._wake.set()
            self._expirer = asyncio.get_running_loop().create_task(self._expire_loop())

    async def stop_expiry(self) -> None:
        if self._expirer is not None:
            expirer, self._expirer = self._expirer, None
            expirer.cancel()
            await asyncio.gather(expirer, return_exceptions=True)

    def expiry(self) -> ApprovalExpiry:
        """The expirer as a component of its own (a cluster's leader runs it)."""
        return ApprovalExpiry(self)

    async def stop(self) -> None:
        await self.stop_expiry()
        for check in list(self._checks):
            check.cancel()
        for futures in self._waiters.values():
            for f in futures:
                f.cancel()

    # -- requests -----------------------------------------------------------------------------

    async def request_action(
        self,
        action_type: str,
        agent: str,
        params: dict[str, Any] | None = None,
        trace_id: str | None = None,
        *,
        user_id: str | None = None,
        message: str | None = None,
        wait: float | None = None,
        expires_in: float | None = None,
    ) -> dict[str, Any]:
        params = dict(params or {})
        if not action_type or not agent:
            raise BadRequest("action_type and agent are required")
        lifetime = check_duration(
            self.policy.expire_after if expires_in is None else expires_in, "expires_in"
        )
        patience = None if wait is None else check_duration(wait, "wait", zero=True)
        try:
            orjson.dumps(params)
        except TypeError:
            raise BadRequest("params must be JSON values") from None
        verdict = self.policy.verdict(action_type)
        base = AuditEntry(time.time(), "", agent, action_type, agent, None, params, trace_id)
        if verdict is not Verdict.ASK:
            event = "allowed" if verdict is Verdict.ALLOW else "denied"
            await self.store.audit(_with(base, event=event, detail="policy"))
            return {
                "approved": verdict is Verdict.ALLOW,
                "status": event,
                "approval_id": None,
                "trace_id": trace_id,
            }
        approval = Approval(
            approval_id=f"appr_{uuid.uuid4().hex[:12]}",
            user_id=check_user_id(user_id or self.policy.approver),
            action_type=action_type,
            agent=agent,
            params=params,
            trace_id=trace_id,
            message=message or describe(agent, action_type, params),
            expires_at=time.time() + lifetime,
        )
        await self.store.create(approval)
        await self.store.audit(_with(base, event="requested", approval_id=approval.approval_id))
        self._wake.set()
        if self.signals is not None:
            await self.signals.signal(TOPIC, approval.approval_id)
        await self.bus.publish(
            Event(
                EventType.GOVERNANCE_CHECK,
                source="action_gateway",
                trace_id=trace_id,
                data={
                    "action": "approval_needed",
                    "user_id": approval.user_id,
                    "message": approval.message,
                    "approval_id": approval.approval_id,
                    "action_type": action_type,
                    "agent": agent,
                    "params": params,
                    "trace_id": trace_id,
                    "expires_at": approval.info()["expires_at"],
                },
            )
        )
        if patience:
            with contextlib.suppress(TimeoutError):
                approval = await self.wait_for(approval.approval_id, patience)
        return outcome(approval)

    async def request_approval(
        self,
        action_type: str,
        agent: str,
        params: dict[str, Any] | None = None,
        trace_id: str | None = None,
        *,
        user_id: str | None = None,
        message: str | None = None,
        wait: float | None = None,
        expires_in: float | None = None,
    ) -> dict[str, Any]:
        """Ask a person to approve ``action_type`` by ``agent``: the same call as
        ``request_action``, under the name the product brief gives it.

        The policy answers ``allow`` or ``deny`` at once; ``ask`` stores a pending approval for
        ``user_id`` (default: the policy's approver), notifies that person and answers
        ``{"approved": False, "status": "pending", "approval_id": ...}``, or with ``wait``
        seconds the decision (``approved``, ``rejected``, ``expired``) if it comes in time.
        ``expires_in`` overrides the policy's ``expire_after``.
        """
        return await self.request_action(
            action_type,
            agent,
            params,
            trace_id,
            user_id=user_id,
            message=message,
            wait=wait,
            expires_in=expires_in,
        )

    async def wait_for(self, approval_id: str, timeout: float | None = None) -> Approval:
        """The decided approval; raises ``TimeoutError`` if none comes within ``timeout``."""
        future: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(approval_id, []).append(future)
        try:
            current = await self.store.get(approval_id)
            if current is None:
                raise NotFound(f"no approval {approval_id}")
            if current.state is not ApprovalState.PENDING:
                return current
            async with asyncio.timeout(timeout):
                if self.signals is None:
                    return await future
                while True:  # another process may decide it: its signal, or the store, says so
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll):
                            return await asyncio.shield(future)
                    current = await self.store.get(approval_id)
                    if current is not None and current.state is not ApprovalState.PENDING:
                        return current
        finally:
            waiters = self._waiters.get(approval_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(approval_id, None)

    # -- decisions ----------------------------------------------------------------------------

    async def get(self, approval_id: str, caller: Identity) -> Approval:
        approval = await self.store.get(approval_id)
        if approval is None:
            raise NotFound(f"no approval {approval_id}")
        if approval.user_id != caller.user_id and not caller.admin:
            raise Forbidden(f"approval {approval_id} is not yours to see or decide")
        return approval

    async def decide(
        self,
        approval_id: str,
        caller: Identity,
        approve: bool,
        reason: str | None = None,
        channel: str = "api",
    ) -> tuple[Approval, bool]:
        """Record the decision; returns the stored approval and whether this call decided it."""
        approval = await self.get(approval_id, caller)
        to = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
        if approval.state is not ApprovalState.PENDING:
            stored, changed = approval, False
        else:
            stored, changed = await self.store.decide(approval.decide(to, caller.user_id, reason))
        entry = AuditEntry(
            time.time(),
            to.value if changed else "decision_ignored",
            caller.user_id,
            stored.action_type,
            stored.agent,
            stored.approval_id,
            stored.params,
            stored.trace_id,
            channel,
            None if changed else f"already {stored.state.value}",
        )
        await self.store.audit(entry)
        if changed:
            await self._settled(stored)
        return stored, changed

    async def list_approvals(
        self, caller: Identity, state: ApprovalState | None = None
    ) -> list[Approval]:
        return await self.store.list_approvals(None if caller.admin else caller.user_id, state)

    async def audit_log(self, caller: Identity, approval_id: str | None = None) -> list[AuditEntry]:
        if approval_id is not None:
            await self.get(approval_id, caller)
        return await self.store.read_audit(None if caller.admin else caller.user_id, approval_id)

    async def _settled(self, approval: Approval) -> None:
        self._resolve(approval)
        if self.signals is not None:
            await self.signals.signal(TOPIC, approval.approval_id)
        await self.bus.publish(
            Event(
                EventType.APPROVAL_DECIDED,
                source="action_gateway",
                trace_id=approval.trace_id,
                data={"user_id": approval.user_id, **approval.info()},
            )
        )

    def _resolve(self, approval: Approval) -> None:
        for future in self._waiters.get(approval.approval_id, []):
            if not future.done():
                future.set_result(approval)

    def _heard(self, approval_id: str) -> None:
        """Another process (or this one) created or decided ``approval_id``."""
        self._wake.set()
        if approval_id in self._waiters:
            check = asyncio.get_running_loop().create_task(self._recheck(approval_id))
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)

    async def _recheck(self, approval_id: str) -> None:
        approval = await self.store.get(approval_id)
        if approval is not None and approval.state is not ApprovalState.PENDING:
            self._resolve(approval)

    async def expire_due(self, now: float | None = None) -> list[Approval]:
        expired = []
        for approval in await self.store.due(time.time() if now is None else now):
            stored, changed = await self.store.decide(
                approval.decide(ApprovalState.EXPIRED, "grace", "no decision in time")
            )
            if changed:
                await self.store.audit(
                    AuditEntry(
                        time.time(),
                        "expired",
                        "grace",
                        stored.action_type,
                        stored.agent,
                        stored.approval_id,
                        stored.params,
                        stored.trace_id,
                        "expiry",
                    )
                )
                await self._settled(stored)
                expired.append(stored)
        return expired

    async def _expire_loop(self) -> None:
        while True:
            try:
                now = time.time()
                await self.expire_due(now)
                # after ``now``: a due approval the store could not read must not spin this loop
                upcoming = await self.store.next_expiry(now)
            except Exception:
                log.exception("expiring approvals failed")
                upcoming = time.time() + 5.0
            self._wake.clear()
            delay = None if upcoming is None else max(0.0, upcoming - time.time())
            delay = None if delay is None else min(delay, EXPIRY_CHECK_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()


class ApprovalExpiry:
    """The gateway's expirer as a component (the cluster's leader starts and stops it)."""

    name = "approval expiry"

    def __init__(self, gateway: ActionGateway) -> None:
        self.gateway = gateway

    async def start(self) -> None:
        await self.gateway.start_expiry()

    async def stop(self) -> None:
        await self.gateway.stop_expiry()


def outcome(approval: Approval) -> dict[str, Any]:
    """What ``request_action`` answers, in the shape the original design's callers expect."""
    return {
        "approved": approval.state is ApprovalState.APPROVED,
        "status": approval.state.value,
        "approval_id": approval.approval_id,
        "trace_id": approval.trace_id,
        "reason": approval.reason,
    }


def _with(entry: AuditEntry, **changes: Any) -> AuditEntry:
    return replace(entry, **changes)
