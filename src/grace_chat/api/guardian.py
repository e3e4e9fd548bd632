"""REST for the guardian: ``GET /api/guardian`` (open incidents, latest metrics and check results,
recent history). Any authenticated caller may read it."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.guardian.component import Guardian


class GuardianFindings(BaseModel):
    """Open incidents, the latest metrics and check results, recent history."""

    model_config = ConfigDict(extra="allow")
    checks: list[dict[str, Any]]


def build_guardian_router(guardian: Guardian, caller: CallerDependency) -> APIRouter:
    router = APIRouter(tags=["guardian"])

    @router.get("/api/guardian", response_model=GuardianFindings, summary="What the guardian found")
    async def findings(who: Annotated[Identity, Depends(caller)]) -> dict[str, Any]:
        return guardian.findings()

    return router
