"""Module-level helpers with the original design's call shapes, bound to the running ``Grace``.

``Grace.start`` binds its instance here and ``Grace.stop`` unbinds it; calling a helper with no
running instance raises a ``RuntimeError`` that says so. Code that holds a ``Grace`` should call
its methods directly; these exist so that ``await notify_user(user_id=..., ...)`` and
``event_bus.subscribe(...)`` work as written, even at import time of a module.

``notify_user`` starts its work at once and returns the task doing it: ``await notify_user(...)``
gives the stored notification, and a synchronous bus handler that calls it without ``await`` (as
the original design's governance handler does) still notifies; the application's ``stop`` waits
for such calls to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from grace_chat.events import Event, EventBus, EventType, Handler
from grace_chat.notifications.model import Notification


class _Gateway(Protocol):
    async def request_action(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    async def request_approval(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


class Application(Protocol):
    """What the helpers need of a running application (``grace.Grace``)."""

    @property
    def event_bus(self) -> EventBus: ...

    @property
    def action_gateway(self) -> _Gateway: ...

    def notify_user(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Notification]: ...

    async def start_background_task(self, *args: Any, **kwargs: Any) -> str: ...


_bound: list[Application] = []
#: Subscriptions made through ``event_bus`` at import time, before any application runs; each
#: application applies them when it binds.
_module_subscriptions: list[tuple[EventType | None, Handler]] = []
#: What each bound application subscribed from that list, to undo on unbind.
_applied: dict[int, list[tuple[tuple[EventType | None, Handler], Callable[[], None]]]] = {}


def bind(app: Application) -> None:
    _bound.append(app)
    _applied[id(app)] = [
        (entry, app.event_bus.subscribe(*entry)) for entry in _module_subscriptions
    ]


def unbind(app: Application) -> None:
    if app in _bound:
        _bound.remove(app)
    for _, remove in _applied.pop(id(app), []):
        remove()


def current() -> Application:
    if not _bound:
        raise RuntimeError(
            "no running Grace application: start one (`async with Grace(settings)` or "
            "`grace serve`) before calling notify_user / event_bus"
        )
    return _bound[-1]


def notify_user(
    user_id: str,
    notification_type: str,
    message: str,
    badge: str | None = None,
    data: dict[str, Any] | None = None,
    **extra: Any,
) -> asyncio.Task[Notification]:
    app = current()
    return app.event_bus.track(
        app.notify_user(
            user_id=user_id,
            notification_type=notification_type,
            message=message,
            badge=badge,
            data=data,
            **extra,
        )
    )


async def start_background_task(
    task_type: str,
    user_id: str | None = None,
    task_fn: Any = None,
    task_id: str | None = None,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    return await current().start_background_task(
        task_type=task_type,
        user_id=user_id,
        task_fn=task_fn,
        task_id=task_id,
        params=params,
        **extra,
    )


class _GatewayProxy:
    """``action_gateway`` as a module attribute: the running application's gateway."""

    async def request_action(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await current().action_gateway.request_action(*args, **kwargs)

    async def request_approval(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``ActionGateway.request_approval`` of the running application (the same call as
        ``request_action``)."""
        return await current().action_gateway.request_approval(*args, **kwargs)


action_gateway = _GatewayProxy()


class _BusProxy:
    """``event_bus`` as a module attribute: forwards to the running application's bus."""

    def subscribe(self, event_type: EventType | None, handler: Handler) -> Callable[[], None]:
        """Subscribe on the running application, and on every application started later."""
        entry = (event_type, handler)
        _module_subscriptions.append(entry)
        for app in _bound:
            _applied.setdefault(id(app), []).append((entry, app.event_bus.subscribe(*entry)))

        def unsubscribe() -> None:
            if entry in _module_subscriptions:
                _module_subscriptions.remove(entry)
            for applied in _applied.values():
                for item in [a for a in applied if a[0] is entry]:
                    item[1]()
                    applied.remove(item)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        await current().event_bus.publish(event)

    def publish_nowait(self, event: Event) -> None:
        current().event_bus.publish_nowait(event)


event_bus = _BusProxy()
