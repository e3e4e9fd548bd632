"""REST for the unified chat: ``POST /api/unified/chat`` (a sentence in, an answer out) and
``GET /api/unified/chat/history`` (the conversation as the chat shows it)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.chat.component import UnifiedChat


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ChatAnswer(BaseModel):
    """What Grace answered: the text, the intent it understood (``None``: none) and its data."""

    text: str
    intent: str | None
    data: dict[str, Any]


class ChatHistory(BaseModel):
    items: list[dict[str, Any]]


def build_chat_router(chat: UnifiedChat, caller: CallerDependency) -> APIRouter:
    router = APIRouter(tags=["chat"])
    Caller = Annotated[Identity, Depends(caller)]

    @router.post("/api/unified/chat", response_model=ChatAnswer, summary="Say something to Grace")
    async def say(body: ChatBody, who: Caller) -> dict[str, Any]:
        return await chat.ask(who, body.text)

    @router.get(
        "/api/unified/chat/history", response_model=ChatHistory, summary="The conversation so far"
    )
    async def history(
        who: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> dict[str, Any]:
        return {"items": await chat.thread(who, limit)}

    return router
