"""Self-heal: runs playbooks when tasks fail or the guardian finds a problem.

The person sees the original design's sequence: ❌ failure → 🔧 "Auto-healing deployment failure
(rollback strategy)" → ✅ "Healing complete: Rolled back to version v2.0.5" (or ❌ "Healing
failed: …"). Loop protection: at most ``max_attempts`` attempts per incident (playbook and task
type, or playbook and check) within ``window`` seconds; then it stops, records ``gave_up`` and asks
a person (an approval ``continue_healing``); approving it starts a fresh window. Every attempt is
stored with its outcome and queryable (``GET /api/healing``, the ``healing`` status, the chat).
"""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from grace_chat.approvals.gateway import ActionGateway
from grace_chat.auth import Identity
from grace_chat.events import Event, EventBus, EventType
from grace_chat.selfheal.model import (
    Attempt,
    AttemptStore,
    HealingConfig,
    Outcome,
    Playbook,
    Strategy,
)
from grace_chat.tasks.context import TaskFailed
from grace_chat.tasks.model import TaskState
from grace_chat.tasks.runner import TaskRunner
from grace_chat.tasks.shell import ShellProcess

log = logging.getLogger("grace_chat.selfheal")
RETRY_MARK = ".retry"


def root_of(task_id: str) -> str:
    return task_id.split(RETRY_MARK, 1)[0]


class HealingFailed(Exception):
    pass


class SelfHeal:
    name = "healing"

    def __init__(
        self,
        config: HealingConfig,
        *,
        store: AttemptStore,
        bus: EventBus,
        runner: TaskRunner,
        gateway: ActionGateway,
        default_user: str,
    ) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.runner = runner
        self.gateway = gateway
        self.default_user = default_user
        self._jobs: set[asyncio.Task[None]] = set()
        self._outcomes: dict[str, asyncio.Future[bool]] = {}
        self._asked: dict[str, tuple[Playbook, dict[str, Any]]] = {}
        self._fresh_since: dict[str, float] = {}
        self._unsubscribe: list[Any] = []

    async def start(self) -> None:
        await self.store.open()
        bus = self.bus
        self._unsubscribe = [
            bus.subscribe(EventType.TASK_FAILED, self._on_task_failed),
            bus.subscribe(EventType.AGENT_ACTION, self._on_agent_action),
            bus.subscribe(EventType.APPROVAL_DECIDED, self._on_decision),
        ]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        for future in self._outcomes.values():
            if not future.done():
                future.set_result(False)

    # -- what missions ask --------------------------------------------------------------------

    async def outcome(self, task_id: str, timeout: float = 600.0) -> bool | None:
        """Whether healing made the failed task ``task_id`` succeed after all (a retry did);
        ``None`` when no playbook applies to it."""
        future = self._outcomes.get(root_of(task_id))
        if future is None:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            return False

    # -- triggers -----------------------------------------------------------------------------

    def _on_task_failed(self, event: Event) -> None:
        data = event.data
        task_type = str(data.get("task_type", ""))
        playbook = next((p for p in self.config.playbooks if p.matches_task(task_type)), None)
        if playbook is None:
            return
        root = root_of(str(data.get("task_id")))
        self._outcomes.setdefault(root, asyncio.get_running_loop().create_future())
        self._spawn(playbook, {**data, "incident": f"{playbook.name}:{task_type}"})

    def _on_agent_action(self, event: Event) -> None:
        data = event.data
        if data.get("action") != "error_detected":
            return
        check = data.get("check")
        playbook = next((p for p in self.config.playbooks if p.matches_check(check)), None)
        if playbook is not None:
            self._spawn(playbook, {**data, "incident": f"{playbook.name}:{check}"})

    def _on_decision(self, event: Event) -> None:
        data = event.data
        if data.get("action_type") != "continue_healing" or data.get("state") != "approved":
            return
        incident = str(data.get("params", {}).get("incident"))
        asked = self._asked.pop(incident, None)
        if asked is not None:
            self._fresh_since[incident] = time.time()
            self._spawn(*asked)

    def _spawn(self, playbook: Playbook, trigger: dict[str, Any]) -> None:
        job = asyncio.get_running_loop().create_task(self._heal(playbook, trigger))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    # -- healing ------------------------------------------------------------------------------

    async def _heal(self, playbook: Playbook, trigger: dict[str, Any]) -> None:
        incident = trigger["incident"]
        many = trigger.get("user_ids")
        recipients = [str(u) for u in many] if isinstance(many, list) and many else []
        user_id = str(trigger.get("user_id") or (recipients or [self.default_user])[0])
        recipients = recipients or [user_id]
        subject = str(trigger.get("task_type") or trigger.get("check") or "service")
        failed_task = trigger.get("task_id")
        root = root_of(str(failed_task)) if failed_task else None
        since = max(time.time() - self.config.window, self._fresh_since.get(incident, 0.0))
        attempt = Attempt(
            f"heal_{uuid.uuid4().hex[:10]}",
            playbook.name,
            playbook.strategy,
            incident,
            str(failed_task or trigger.get("check")),
            user_id,
        )
        if await self.store.count_since(incident, since) >= self.config.max_attempts:
            await self._give_up(playbook, trigger, attempt, subject, user_id)
            self._settle(root, False)
            return
        await self.store.save(attempt)
        await self._say(
            "healing_triggered",
            recipients,
            playbook,
            f"Auto-healing {subject} failure ({playbook.strategy.value} strategy)",
            trigger=attempt.trigger,
        )
        try:
            detail, healed = await self._run(playbook, trigger, user_id)
        except Exception as exc:
            if not isinstance(exc, HealingFailed | TaskFailed):
                log.exception("playbook %s failed unexpectedly", playbook.name)
            await self.store.save(_finish(attempt, Outcome.FAILED, str(exc)))
            await self._say("healing_failed", recipients, playbook, f"Healing failed: {exc}")
            if playbook.strategy is not Strategy.RETRY:
                self._settle(root, False)
            return
        await self.store.save(_finish(attempt, Outcome.SUCCEEDED, detail))
        await self._say("healing_completed", recipients, playbook, f"Healing complete: {detail}")
        self._settle(root, healed)

    async def _run(
        self, playbook: Playbook, trigger: dict[str, Any], user_id: str
    ) -> tuple[str, bool]:
        """Carry out the strategy; returns (what was done, whether the failed work succeeded)."""
        if playbook.strategy is Strategy.RETRY:
            return await self._retry(playbook, trigger, user_id)
        command = playbook.command
        if playbook.strategy is Strategy.ROLLBACK and command is None:
            spec = self.runner.types.find(str(trigger.get("task_type")))
            command = spec.rollback if spec is not None else None
            if command is None:
                raise HealingFailed(f"task type {trigger.get('task_type')} declares no rollback")
        assert command is not None
        lines: list[str] = []
        shell = ShellProcess(command, None, {"GRACE_FAILED_TASK": str(trigger.get("task_id"))})
        result = await shell.run(lines.append, playbook.timeout)
        default = "rolled back" if playbook.strategy is Strategy.ROLLBACK else "service restarted"
        return str(result.get("output") or default), False

    async def _retry(
        self, playbook: Playbook, trigger: dict[str, Any], user_id: str
    ) -> tuple[str, bool]:
        failed = str(trigger["task_id"])
        root = root_of(failed)
        number = int(failed.rsplit(RETRY_MARK, 1)[1]) + 1 if RETRY_MARK in failed else 1
        await asyncio.sleep(playbook.backoff * 2 ** (number - 1))
        record = await self.runner.start_task(
            user_id=user_id,
            task_type=str(trigger["task_type"]),
            params=dict(trigger.get("params") or {}),
            task_id=f"{root}{RETRY_MARK}{number}",
            title=trigger.get("title"),
            parent=trigger.get("parent"),
        )
        final = await self.runner.wait(record.task_id)
        if final.state is not TaskState.SUCCEEDED:
            raise HealingFailed(f"retry {number} of {root} {final.state.value}: {final.error}")
        return f"retry {number} of {root} succeeded", True

    async def _give_up(
        self,
        playbook: Playbook,
        trigger: dict[str, Any],
        attempt: Attempt,
        subject: str,
        user_id: str,
    ) -> None:
        incident = trigger["incident"]
        window = f"{self.config.window / 60:g} minutes"
        detail = f"{self.config.max_attempts} attempts within {window}"
        await self.store.save(_finish(attempt, Outcome.GAVE_UP, detail))
        await self._say(
            "healing_failed",
            user_id,
            playbook,
            f"Auto-healing stopped for {subject}: {detail}. A person needs to look.",
        )
        if incident in self._asked:
            return
        self._asked[incident] = (playbook, trigger)
        with contextlib.suppress(Exception):
            await self.gateway.request_action(
                "continue_healing",
                "self_heal",
                {"incident": incident, "playbook": playbook.name, "subject": subject},
                user_id=user_id,
                message=f"Self-heal gave up on {subject} after {detail}. Try again?",
            )

    def _settle(self, root: str | None, healed: bool) -> None:
        if root is None:
            return
        future = self._outcomes.pop(root, None)
        if future is not None and not future.done():
            future.set_result(healed)

    async def _say(
        self, action: str, user_id: str | list[str], playbook: Playbook, message: str, **extra: Any
    ) -> None:
        users = user_id if isinstance(user_id, list) else [user_id]
        await self.bus.publish(
            Event(
                EventType.AGENT_ACTION,
                source="self_heal",
                data={
                    "action": action,
                    "user_ids": users,
                    "message": message,
                    "playbook": playbook.name,
                    "strategy": playbook.strategy.value,
                    **extra,
                },
            )
        )

    # -- queries ------------------------------------------------------------------------------

    async def attempts(self, caller: Identity, limit: int = 20) -> list[Attempt]:
        return await self.store.recent(None if caller.admin else caller.user_id, limit)

    async def status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        recent = await self.attempts(caller, 5)
        items = [a.info() for a in recent]
        if not items:
            return {"recent": []}, None
        last = recent[0]
        return {"recent": items}, (
            f"Last self-healing: {last.playbook} ({last.strategy.value}) {last.outcome.value}."
        )


def _finish(attempt: Attempt, outcome: Outcome, detail: str) -> Attempt:
    return replace(attempt, outcome=outcome, detail=detail[:2000], finished_at=time.time())
