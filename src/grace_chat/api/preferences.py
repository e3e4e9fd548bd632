"""REST for a person's notification preferences: how each type is shown (alert, silent, mute) and
which cards are archived.

``GET /api/preferences``, ``PUT /api/preferences/types/{type}`` (``{"mode": "mute"}``),
``POST /api/preferences/archive`` and ``/unarchive`` (``{"ids": [...]}``: only the caller's own
notifications; any other id refuses the whole request with ``not_found``). Every change is told
to all of the user's open chats with a ``preferences`` frame, so each of them honours it at once.
"""

from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.errors import NotFound
from grace_chat.frames import NotificationMode, Severity
from grace_chat.hub.backplane import Backplane
from grace_chat.notifications.preferences import DEFAULT_MODE, PreferenceStore, preferences_frame
from grace_chat.notifications.types import TYPE_SCHEMA, TypeRegistry, check_type_name

NotificationId = Annotated[str, Field(min_length=1, max_length=64)]


class TypeInfo(BaseModel):
    name: str
    badge: str
    severity: Severity


class Preferences(BaseModel):
    modes: dict[str, NotificationMode] = Field(description="types given a mode; others: default")
    default: NotificationMode
    archived: list[str] = Field(description="ids of archived notifications, newest first")
    types: list[TypeInfo] = Field(description="the notification types this server knows")


class ModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: NotificationMode


class IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ids: Annotated[list[NotificationId], Field(min_length=1, max_length=1000)]


class Archived(BaseModel):
    changed: list[str] = Field(description="the ids whose archive mark this call changed")


def build_preferences_router(
    preferences: PreferenceStore,
    types: TypeRegistry,
    backplane: Backplane,
    caller: CallerDependency,
) -> APIRouter:
    router = APIRouter(tags=["preferences"])
    Caller = Annotated[Identity, Depends(caller)]

    async def current(user: str) -> dict[str, Any]:
        return {
            "modes": await preferences.modes(user),
            "default": DEFAULT_MODE,
            "archived": await preferences.archived(user),
            "types": [
                {"name": t.name, "badge": t.badge, "severity": t.severity.value}
                for t in types.all()
            ],
        }

    async def tell(user: str, archived: Sequence[str] = (), unarchived: Sequence[str] = ()) -> None:
        frame = preferences_frame(await preferences.modes(user), archived, unarchived)
        backplane.send_control(user, orjson.dumps(frame))

    @router.get("/api/preferences", response_model=Preferences, summary="Notification preferences")
    async def get_preferences(who: Caller) -> dict[str, Any]:
        return await current(who.user_id)

    @router.put(
        "/api/preferences/types/{notification_type}",
        response_model=Preferences,
        summary="Show a type with a desktop alert, silently, or not at all",
    )
    async def set_mode(
        who: Caller,
        notification_type: Annotated[str, Path(max_length=64, json_schema_extra=TYPE_SCHEMA)],
        body: ModeBody,
    ) -> dict[str, Any]:
        await preferences.set_mode(who.user_id, check_type_name(notification_type), body.mode)
        await tell(who.user_id)
        return await current(who.user_id)

    async def mark(who: Identity, ids: list[str], archived: bool) -> dict[str, Any]:
        result = await preferences.archive(who.user_id, ids, archived)
        if result.unknown:
            listed = ", ".join(result.unknown[:5]) + (" …" if len(result.unknown) > 5 else "")
            raise NotFound(f"no notification {listed} in your log; nothing was changed")
        changed = list(result.changed)
        if changed:
            await tell(who.user_id, changed if archived else [], [] if archived else changed)
        return {"changed": changed}

    @router.post("/api/preferences/archive", response_model=Archived, summary="Archive cards")
    async def archive(who: Caller, body: IdsBody) -> dict[str, Any]:
        return await mark(who, body.ids, True)

    @router.post("/api/preferences/unarchive", response_model=Archived, summary="Show cards again")
    async def unarchive(who: Caller, body: IdsBody) -> dict[str, Any]:
        return await mark(who, body.ids, False)

    return router
