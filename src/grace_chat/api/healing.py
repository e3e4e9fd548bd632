"""REST for self-heal: ``GET /api/healing``, the recent attempts (the caller's own; an admin's:
everyone's)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.selfheal.component import SelfHeal


class HealingAttempts(BaseModel):
    attempts: list[dict[str, Any]]


def build_healing_router(healer: SelfHeal, caller: CallerDependency) -> APIRouter:
    router = APIRouter(tags=["self-heal"])

    @router.get(
        "/api/healing", response_model=HealingAttempts, summary="Recent self-healing attempts"
    )
    async def attempts(who: Annotated[Identity, Depends(caller)]) -> dict[str, Any]:
        return {"attempts": [a.info() for a in await healer.attempts(who, 50)]}

    return router
