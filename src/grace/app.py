"""The application object: wires the parts together and owns their lifecycles.

``async with Grace(settings) as grace:`` opens the store, binds the bus to the notifier and makes
the module-level helpers (``grace.notify_user``, ``grace.event_bus``) point at this instance;
leaving the block drains pending events, closes every connection and closes the store. There is
no other global state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any

from grace import helpers
from grace.approvals.commands import register_approval_commands
from grace.approvals.gateway import ActionGateway
from grace.approvals.model import Policy
from grace.approvals.rules import add_approval_rules
from grace.auth import (
    COOKIE_NAME,
    Identity,
    TokenAuthority,
    bearer,
    check_user_id,
    load_or_create_secret,
)
from grace.commands import CommandContext, CommandRouter, register_core
from grace.component import Component
from grace.config import Settings
from grace.errors import BadRequest
from grace.events import EventBus
from grace.hub.backplane import Backplane, LocalBackplane
from grace.hub.hub import Hub
from grace.hub.outbox import Outbox
from grace.notifications.model import Action, Notification, Severity
from grace.notifications.notifier import Notifier
from grace.notifications.rules import Rules, default_rules
from grace.notifications.types import TypeRegistry, default_types
from grace.protocol import Status, dumps
from grace.status import StatusBoard, approval_status, task_status
from grace.store import Stores, open_stores
from grace.tasks.commands import register_task_commands
from grace.tasks.model import TaskRecord
from grace.tasks.rules import add_task_rules
from grace.tasks.runner import TaskRunner
from grace.tasks.types import TaskFn, TaskTypes

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("grace")


class Grace:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        types: TypeRegistry | None = None,
        rules: Rules | None = None,
        stores: Stores | None = None,
        backplane: Backplane | None = None,
        systems: bool = True,
    ) -> None:
        s = self.settings = settings or Settings()
        self.event_bus = EventBus()
        self.types = types or default_types()
        self.rules = rules or default_rules()
        add_task_rules(self.rules)
        add_approval_rules(self.rules)
        self.stores = stores or open_stores(s)
        self.store = self.stores.notifications
        self.hub = Hub()
        self.backplane = backplane or LocalBackplane(self.hub)
        self.notifier = Notifier(
            self.store, self.backplane, self.types, self.rules, self.settings.default_recipients
        )
        task_types = TaskTypes()
        task_types.load_config(s.tasks_config)
        self.tasks = TaskRunner(
            self.stores.tasks,
            self.event_bus,
            task_types,
            concurrency=s.task_concurrency,
            cancel_grace=s.cancel_grace_seconds,
        )
        self.action_gateway = ActionGateway(
            self.stores.approvals,
            self.event_bus,
            Policy.from_config(s.approvals_config, approver=s.default_user),
        )
        self.status_board = StatusBoard()
        self.status_board.add("tasks", task_status(self.tasks))
        self.status_board.add("approvals", approval_status(self.action_gateway))
        self.commands = CommandRouter()
        register_core(self.commands, self)
        register_task_commands(self.commands, self.tasks)
        register_approval_commands(self.commands, self.action_gateway)

        async def status(ctx: CommandContext, cmd: Status) -> dict[str, Any]:
            return await self.status_board.status(ctx.identity)

        self.commands.register("status", status)
        self.components: list[Component] = []
        self.started = False
        if systems:
            install_systems(self)
        self._tokens: TokenAuthority | None = None
        self._stack = AsyncExitStack()
        self.started = False

    def add_component(self, component: Component) -> None:
        if self.started:
            raise RuntimeError("add components before the application starts")
        self.components.append(component)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every part in dependency order. If one fails, the parts already started are
        stopped again before the error propagates."""
        s = self.settings
        self._tokens = TokenAuthority(
            s.secret or load_or_create_secret(s.data_dir), s.token_ttl_seconds
        )
        stack = AsyncExitStack()
        try:
            await self.store.open()
            stack.push_async_callback(self.store.close)
            await self.backplane.start()
            stack.push_async_callback(self.backplane.stop)
            stack.callback(self.hub.close_all)
            for event_type in self.rules.event_types():
                stack.callback(self.event_bus.subscribe(event_type, self.notifier.handle_event))
            stack.push_async_callback(self.event_bus.drain)
            await self.tasks.start()
            stack.push_async_callback(self.tasks.stop)
            await self.action_gateway.start()
            stack.push_async_callback(self.action_gateway.stop)
            for component in self.components:
                await component.start()
                stack.push_async_callback(component.stop)
            helpers.bind(self)
            stack.callback(helpers.unbind, self)
        except BaseException:
            await stack.aclose()
            raise
        if s.no_auth:
            log.warning("authentication is OFF (--no-auth): any local client may act as any user")
        self._stack = stack
        self.started = True

    async def stop(self) -> None:
        """Stop in the reverse order: systems, tasks (running ones become ``interrupted``), pending
        events, connections (their clients resume elsewhere), the store last."""
        if not self.started:
            return
        self.started = False
        await self._stack.aclose()

    async def __aenter__(self) -> Grace:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- identity -----------------------------------------------------------------------------

    @property
    def tokens(self) -> TokenAuthority:
        if self._tokens is None:
            raise RuntimeError("Grace is not started")
        return self._tokens

    def identify(
        self, authorization: str | None, cookie: str | None, query_user: str | None
    ) -> Identity | None:
        """Who the request is, from its token; ``None`` when it carries no credentials.

        Raises ``Unauthenticated`` for a bad or expired token.
        """
        token = bearer(authorization) or cookie
        if token:
            return self.tokens.verify(token)
        if self.settings.no_auth and query_user:
            return Identity(check_user_id(query_user), admin=True)
        return None

    cookie_name = COOKIE_NAME

    # -- the calls applications make ----------------------------------------------------------

    async def notify_user(
        self,
        user_id: str,
        notification_type: str,
        message: str,
        badge: str | None = None,
        data: dict[str, Any] | None = None,
        severity: Severity | str | None = None,
        title: str | None = None,
        actions: Sequence[Action] | None = None,
    ) -> Notification:
        """Store a notification in ``user_id``'s log, then push it to every open chat."""
        return await self.notifier.notify_user(
            user_id, notification_type, message, badge, data, severity, title, actions
        )

    async def start_background_task(
        self,
        task_type: str,
        user_id: str | None = None,
        task_fn: TaskFn | None = None,
        task_id: str | None = None,
        params: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> str:
        """Run work in the background and report on it to ``user_id``; returns the task id."""
        record: TaskRecord = await self.tasks.start_task(
            user_id=user_id or self.settings.default_user,
            task_type=task_type,
            task_fn=task_fn,
            task_id=task_id,
            params=params,
            title=title,
        )
        return record.task_id

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
        exclude: Outbox | None = None,
    ) -> dict[str, Any]:
        """Mark the user's notifications read and tell the user's other open chats."""
        if not ids and up_to_seq is None and not everything:
            raise BadRequest("mark_read needs 'ids', 'up_to_seq' or 'all': true")
        result = await self.store.mark_read(
            user_id, ids=ids, up_to_seq=up_to_seq, everything=everything
        )
        frame = {
            "type": "read",
            "ids": list(ids or ()),
            "up_to_seq": up_to_seq,
            "all": everything,
            "marked": result.marked,
            "unread": result.unread,
        }
        self.hub.send_control(user_id, dumps(frame), exclude=exclude)
        return frame

    # -- serving ------------------------------------------------------------------------------

    def asgi(self) -> FastAPI:
        """A FastAPI app serving this instance, which it starts and stops with its lifespan."""
        from grace.api.app import create_app

        return create_app(self)


def install_systems(grace: Grace) -> None:
    """The reference background systems: learning, guardian, self-heal, mission control and the
    unified chat."""
    from grace.chat.component import install as install_chat
    from grace.guardian import install as install_guardian
    from grace.learning import install as install_learning
    from grace.missions.component import install as install_missions
    from grace.selfheal.component import install as install_selfheal

    healer = install_selfheal(grace)  # first: it must hear the failures the others report
    install_learning(grace)
    install_guardian(grace)
    install_missions(grace, healer)
    install_chat(grace)
