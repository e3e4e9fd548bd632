"""The composition root: builds every part of Grace and hands each only what it uses.

``Grace(settings)`` makes the stores (one engine, from the database URL), the event bus, the
notifier, the hub and its backplane, the identity gate, the task runner, the approval gateway,
the command router, the status board and the background systems (self-heal, learning, guardian,
mission control, the unified chat). No part receives the ``Grace`` itself: each gets the store
contract, the bus, the runner or the gateway it works with, through its constructor; the
composition root registers their commands and status sections. Nothing below imports this
module.

``async with Grace(settings) as grace:`` opens the store, binds the bus to the notifier, starts
every part and makes the module-level helpers (``grace.notify_user``, ``grace.event_bus``) point
at this instance; leaving the block stops the systems, drains pending events, closes every
connection and closes the store. There is no other global state.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from grace_chat import helpers
from grace_chat.approvals.commands import register_approval_commands
from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import Policy
from grace_chat.approvals.rules import add_approval_rules
from grace_chat.approvals.status import approval_status
from grace_chat.auth import Authenticator, Identity, TokenAuthority
from grace_chat.chat.component import Interpreter, UnifiedChat
from grace_chat.cluster import Cluster, cluster_status
from grace_chat.commands import CommandRouter, register_core
from grace_chat.component import Component
from grace_chat.config import Settings
from grace_chat.errors import MissingExtra
from grace_chat.events import EventBus
from grace_chat.extras import installable
from grace_chat.guardian.component import Guardian
from grace_chat.guardian.config import GuardianConfig
from grace_chat.hub.backplane import Backplane, BackplaneFactory, LocalBackplane
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox
from grace_chat.learning.commands import LEARNING_COMMANDS, register_learning_commands
from grace_chat.learning.config import LearningConfig
from grace_chat.learning.supervisor import LearningSupervisor
from grace_chat.metrics import Metrics
from grace_chat.missions.component import MissionControl
from grace_chat.missions.model import missions_from_config
from grace_chat.missions.ownership import MissionOwnership
from grace_chat.notifications.model import Action, Notification, Severity
from grace_chat.notifications.notifier import Notifier
from grace_chat.notifications.rules import Rules, default_rules
from grace_chat.notifications.store import LogFrames
from grace_chat.notifications.types import TypeRegistry, default_types
from grace_chat.selfheal.component import SelfHeal
from grace_chat.selfheal.model import HealingConfig
from grace_chat.status import StatusBoard, register_status_command
from grace_chat.store.engines import Stores, open_stores
from grace_chat.tasks.commands import register_task_commands
from grace_chat.tasks.executors import build_executors
from grace_chat.tasks.model import TaskRecord
from grace_chat.tasks.ownership import TaskOwners, TaskOwnership
from grace_chat.tasks.rules import add_task_rules
from grace_chat.tasks.runner import TaskRunner
from grace_chat.tasks.status import task_status
from grace_chat.tasks.types import TaskFn, TaskTypes
from grace_chat.telemetry import add_system_sources

log = logging.getLogger("grace")

#: The background systems ``Grace`` can build, in the order they start.
SYSTEMS = ("healing", "learning", "guardian", "missions", "chat")


class Grace:
    """One Grace application: every part, wired.

    ``systems`` chooses the background systems: ``True`` (all of ``SYSTEMS`` whose extras are
    installed; one log line for each left out), ``False`` (none: notifications, tasks and
    approvals only) or a collection of their names (``MissingExtra`` when one needs an extra
    that is not installed). ``backplane`` makes
    the backplane from the local hub (default: Redis when ``settings.redis_url`` is set, else
    in-process delivery). ``interpreter`` is the chat's
    hook for sentences its parser does not understand. ``metrics`` (default: a new one) is the
    application's Prometheus registry and instruments.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        types: TypeRegistry | None = None,
        rules: Rules | None = None,
        stores: Stores | None = None,
        backplane: BackplaneFactory | None = None,
        systems: bool | Collection[str] = True,
        interpreter: Interpreter | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        s = self.settings = settings or Settings()
        #: This application's metrics (its own registry), served at ``/metrics``; give the one
        #: the ``stores`` were opened with (``open_stores(settings, metrics)``) to count commits.
        self.metrics = metrics or Metrics()
        self.event_bus = EventBus()
        self.types = types or default_types()
        self.rules = rules or default_rules()
        add_task_rules(self.rules)
        add_approval_rules(self.rules)
        self.stores = stores or open_stores(s, self.metrics)
        self.store = self.stores.notifications
        self.preferences = self.stores.preferences
        self.hub = Hub(self.metrics)
        if backplane is None and s.redis_url:
            from grace_chat.hub.backends.redis import redis_backplane

            backplane = redis_backplane(s.redis_url, LogFrames(self.store), prefix=s.redis_prefix)
        self.backplane: Backplane = (backplane or LocalBackplane)(self.hub)
        self.notifier = Notifier(
            self.store, self.backplane, self.types, self.rules, s.default_recipients
        )
        self.auth = Authenticator(
            secret=s.secret,
            data_dir=s.data_dir,
            ttl=s.token_ttl_seconds,
            no_auth=s.no_auth,
            allowed_origins=s.allowed_origins,
        )
        task_types = TaskTypes()
        task_types.load_config(s.tasks_config)
        self.tasks = TaskRunner(
            self.stores.tasks,
            self.event_bus,
            task_types,
            concurrency=s.task_concurrency,
            cancel_grace=s.cancel_grace_seconds,
            executors=build_executors(
                task_types.executors(),
                celery_broker_url=s.celery_broker_url,
                celery_result_backend=s.celery_result_backend,
                celery_app=s.celery_app,
            ),
        )
        #: Several processes on one database: commands reach the owner of the work, one leader.
        self.cluster: Cluster | None = self.stores.cluster
        self.action_gateway = ActionGateway(
            self.stores.approvals,
            self.event_bus,
            Policy.from_config(s.approvals_config, approver=s.default_user),
            signals=self.cluster,
            expire=self.cluster is None,
            poll=s.cluster_poll_seconds,
        )
        self.task_ownership: TaskOwnership | None = None
        if self.cluster is not None and self.stores.task_owners is not None:
            self._join_cluster(self.cluster, self.stores.task_owners)
        self.status_board = StatusBoard()
        self.status_board.add("tasks", task_status(self.tasks))
        self.status_board.add("approvals", approval_status(self.action_gateway))
        if self.cluster is not None:
            self.status_board.add("cluster", cluster_status(self.cluster))
        self.commands = CommandRouter(self.metrics)
        register_core(self.commands, self.notifier)
        register_task_commands(self.commands, self.tasks)
        register_approval_commands(self.commands, self.action_gateway)
        register_status_command(self.commands, self.status_board)
        self.components: list[Component] = []
        self.started = False
        self.healer: SelfHeal | None = None
        self.learning: LearningSupervisor | None = None
        self.guardian: Guardian | None = None
        self.missions: MissionControl | None = None
        self.chat: UnifiedChat | None = None
        chosen = set(SYSTEMS if systems is True else () if systems is False else systems)
        unknown = chosen - set(SYSTEMS)
        if unknown:
            raise ValueError(f"unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
        #: The systems left out because their extra is not installed, with what it would take;
        #: their routes and commands answer ``unavailable`` naming the extra.
        self.left_out: dict[str, MissingExtra] = {}
        kept = installable(chosen, explicit=systems is not True, left_out=self.left_out)
        #: The background systems this application runs.
        self.systems = frozenset(kept)
        self._build_systems(kept, interpreter)
        if "learning" in self.left_out:
            self.commands.explain(LEARNING_COMMANDS, str(self.left_out["learning"]))
        add_system_sources(
            self.metrics,
            hub=self.hub,
            backplane=self.backplane,
            runner=self.tasks,
            gateway=self.action_gateway,
            learning=self.learning,
            guardian=self.guardian,
        )
        self._stack = AsyncExitStack()

    def _join_cluster(self, cluster: Cluster, owners: TaskOwners) -> None:
        """Tasks hand commands to their owners and move their heartbeats; the leader alone
        expires approvals and interrupts the tasks of dead processes."""
        s = self.settings
        ownership = self.task_ownership = TaskOwnership(
            self.tasks,
            cluster,
            owners,
            self.event_bus,
            owner_timeout=s.cluster_owner_timeout_seconds,
            sweep_interval=s.cluster_heartbeat_seconds,
        )
        self.tasks.elsewhere = ownership
        cluster.beats.append(ownership.heartbeat)
        cluster.add(ownership.sweeper())
        cluster.add(self.action_gateway.expiry())

    def _build_systems(self, chosen: set[str], interpreter: Interpreter | None) -> None:
        s, bus, board, commands = self.settings, self.event_bus, self.status_board, self.commands
        if "healing" in chosen:  # first: it must hear the failures the others report
            self.healer = SelfHeal(
                HealingConfig.from_config(s.section("selfheal")),
                store=self.stores.healing,
                bus=bus,
                runner=self.tasks,
                gateway=self.action_gateway,
                default_user=s.default_user,
            )
            board.add("healing", self.healer.status)
            self.add_component(self.healer)
        if "learning" in chosen:
            config = LearningConfig.from_section(
                s.section("learning"), data_dir=s.data_dir, default_user=s.default_user
            )
            self.learning = LearningSupervisor(
                config,
                knowledge=self.stores.knowledge,
                jobs=self.stores.learning,
                runner=self.tasks,
                bus=bus,
                signals=self.cluster,
            )
            register_learning_commands(commands, self.learning)
            board.add("learning", self.learning.status)
            self.add_component(self.learning)
        if "guardian" in chosen:
            guardian_config = GuardianConfig.from_section(
                s.section("guardian"), disk_path=str(s.data_dir), default_user=s.default_user
            )
            self.guardian = Guardian(guardian_config, bus)
            board.add("guardian", self.guardian.status)
            if self.cluster is not None:
                self.cluster.add(self.guardian)  # checks once per cluster, in the leader
            else:
                self.add_component(self.guardian)
        if "missions" in chosen:
            self.missions = MissionControl(
                missions_from_config(s.section("missions")),
                store=self.stores.missions,
                bus=bus,
                runner=self.tasks,
                healer=self.healer,
            )
            board.add("missions", self.missions.status)
            self.add_component(self.missions)
            if self.cluster is not None and self.stores.mission_owners is not None:
                owned = MissionOwnership(
                    self.missions,
                    self.cluster,
                    self.stores.mission_owners,
                    owner_timeout=s.cluster_owner_timeout_seconds,
                    sweep_interval=s.cluster_heartbeat_seconds,
                )
                self.missions.elsewhere = owned
                self.cluster.add(owned.sweeper())
        if "chat" in chosen:
            self.chat = UnifiedChat(
                commands=commands,
                history=self.stores.chat,
                notifications=self.store,
                runner=self.tasks,
                gateway=self.action_gateway,
                healer=self.healer,
                missions=self.missions,
                interpreter=interpreter,
            )
            commands.register("chat", self.chat.chat_command)
            self.add_component(self.chat)

    def add_component(self, component: Component) -> None:
        if self.started:
            raise RuntimeError("add components before the application starts")
        self.components.append(component)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every part in dependency order. If one fails, the parts already started are
        stopped again before the error propagates."""
        self.auth.open()
        stack = AsyncExitStack()
        try:
            await self.store.open()
            stack.push_async_callback(self.store.close)
            await self.preferences.open()
            await self.backplane.start()
            stack.push_async_callback(self.backplane.stop)
            stack.callback(self.hub.close_all)
            for unsubscribe in self.notifier.subscribe(self.event_bus):
                stack.callback(unsubscribe)
            stack.push_async_callback(self.event_bus.drain)
            await self.tasks.start()
            stack.push_async_callback(self.tasks.stop)
            await self.action_gateway.start()
            stack.push_async_callback(self.action_gateway.stop)
            for component in self.components:
                await component.start()
                stack.push_async_callback(component.stop)
            if self.cluster is not None:  # last: the leader's duties use every part above
                await self.cluster.start()
                stack.push_async_callback(self.cluster.stop)
            helpers.bind(self)
            stack.callback(helpers.unbind, self)
        except BaseException:
            await stack.aclose()
            raise
        if self.settings.no_auth:
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
        return self.auth.tokens

    def identify(
        self, authorization: str | None, cookie: str | None, query_user: str | None
    ) -> Identity | None:
        """Who the request is, from its token; ``None`` when it carries no credentials."""
        return self.auth.identify(authorization, cookie, query_user)

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
        return await self.notifier.mark_read(
            user_id, ids=ids, up_to_seq=up_to_seq, everything=everything, exclude=exclude
        )
