""" "What is Grace doing?": one answer gathered from every system, as data and a sentence.

Each system owns its section and its wording: it offers a provider ``async (caller) -> (data,
sentence | None)`` that the composition root adds here. The board only composes: it calls each
provider in the order added, puts its data under its name and joins the sentences into the
summary; a provider that fails is reported as unavailable, never breaks the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from grace_chat.auth import Identity
from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.protocol import Status

log = logging.getLogger("grace_chat.status")
Provider = Callable[[Identity], Awaitable[tuple[dict[str, Any], str | None]]]


class StatusBoard:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def add(self, name: str, provider: Provider) -> None:
        self._providers[name] = provider

    async def status(self, caller: Identity) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "status"}
        sentences: list[str] = []
        for name, provider in self._providers.items():
            try:
                data, sentence = await provider(caller)
            except Exception:
                log.exception("status of %s failed", name)
                data, sentence = {"error": "unavailable"}, f"I could not read the {name} status."
            frame[name] = data
            if sentence:
                sentences.append(sentence)
        frame["summary"] = " ".join(sentences) or "Grace is idle."
        return frame


def listed(names: list[str], shown: int = 3) -> str:
    """``a, b, c and 2 more``: how a status sentence names several things."""
    return ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )


def register_status_command(router: CommandRouter, board: StatusBoard) -> None:
    """The ``status`` command: the board's answer for the caller."""

    async def status(ctx: CommandContext, cmd: Status) -> dict[str, Any]:
        return await board.status(ctx.identity)

    router.register("status", status)
