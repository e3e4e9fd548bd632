"""REST for the guardian: ``GET /api/guardian`` (open incidents, latest metrics and check results,
recent history). Any authenticated caller may read it."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends

from grace.api.deps import caller_dependency
from grace.auth import Identity

if TYPE_CHECKING:
    from grace.guardian.component import Guardian


def build_guardian_router(guardian: "Guardian") -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(caller_dependency(guardian.grace))]

    @router.get("/api/guardian", tags=["guardian"], summary="What the guardian found")
    async def findings(caller: Caller) -> dict[str, Any]:
        return guardian.findings()

    return router
